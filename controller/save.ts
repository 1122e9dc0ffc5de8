/**
 * @module
 * A namespace as a topology document (GET /namespaces/{ns}/save): applied to
 * an empty namespace it recreates the same nodes (names, kinds, addresses,
 * hosts, MTUs, placement fields), links (shaping per direction), routes and transports. Values
 * are written with units ("100Mbit", "10ms") when the unit string parses back
 * to exactly the stored number, else as the number, so a saved document is
 * both readable and exact.
 */
import type { LinkEntryInput, ShapingOverridesInput, TopologyDocumentInput } from "../protocol/topology.ts";
import { DEFAULT_SHAPING, type LinkSpec, type Shaping } from "../protocol/state.ts";
import { formatDuration, formatFraction, formatRate, parseDuration, parseFraction, parseRate, type Parsed } from "../protocol/units.ts";
import type { NamespaceRecord } from "./store.ts";

export function saveDocument(ns: NamespaceRecord): TopologyDocumentInput {
  const doc: TopologyDocumentInput = {
    name: ns.name,
    subnet: ns.subnet,
    transport: ns.settings.transport,
    ...(ns.settings.hostTransports.length > 0 ? { transports: ns.settings.hostTransports } : {}),
    nodes: ns.nodes.map((n) => ({
      name: n.name,
      kind: n.kind,
      ip: n.ip,
      host: n.host,
      mtu: n.mtu,
      ...(n.vcpus === undefined ? {} : { vcpus: n.vcpus }),
      ...(n.memoryMB === undefined ? {} : { memoryMB: n.memoryMB }),
      ...(n.coschedule === undefined ? {} : { coschedule: n.coschedule }),
      ...(n.colocate === undefined ? {} : { colocate: n.colocate }),
      ...(n.command === undefined ? {} : { command: n.command }),
    })),
    links: ns.links.map(saveLink),
    routes: ns.routes.map((r) => (r.edges ? { id: r.id, edges: r.edges, weight: r.weight } : { id: r.id, path: r.path, weight: r.weight })),
    ...(ns.settings.paths !== "shortest" ? { paths: ns.settings.paths } : {}),
    ...(ns.pins.length > 0 ? { pins: ns.pins } : {}),
  };
  return doc;
}

/** Fields both directions share go on the link; the ones that differ go under ab and ba. */
function saveLink(l: LinkSpec): LinkEntryInput {
  const same = (k: keyof Shaping) => l.ab[k] === l.ba[k];
  const both = fields(l.ab, (k) => same(k) && l.ab[k] !== DEFAULT_SHAPING[k]);
  const ab = fields(l.ab, (k) => !same(k));
  const ba = fields(l.ba, (k) => !same(k));
  return {
    id: l.id,
    a: l.a,
    b: l.b,
    ...(l.state === "down" ? { state: "down" as const } : {}),
    ...both,
    ...(Object.keys(ab).length > 0 ? { ab, ba } : {}),
  };
}

/** The fields of `s` that `keep` selects, with units where they are exact. */
function fields(s: Shaping, keep: (k: keyof Shaping) => boolean): ShapingOverridesInput {
  return {
    ...(keep("bandwidth") ? { bandwidth: exact(s.bandwidth, formatRate, parseRate) } : {}),
    ...(keep("delay") ? { delay: exact(s.delay, formatDuration, parseDuration) } : {}),
    ...(keep("jitter") ? { jitter: exact(s.jitter, formatDuration, parseDuration) } : {}),
    ...(keep("loss") ? { loss: exact(s.loss, formatFraction, parseFraction) } : {}),
    ...(keep("queue") ? { queue: s.queue } : {}),
    ...(keep("reorder") ? { reorder: s.reorder } : {}),
  };
}

function exact(value: number, format: (v: number) => string, parse: (s: string) => Parsed): number | string {
  if (value === 0) return 0; // formatRate(0) is "unlimited", which is not an input
  const text = format(value);
  const back = parse(text);
  return back.ok && back.value === value ? text : value;
}
