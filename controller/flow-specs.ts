/**
 * @module
 * The flows of a namespace as agents take them: the ones not yet ended, each
 * with the window its sender may keep in flight (protocol/flow.ts, windowFor)
 * worked out from the links its packets cross, so a sender never overflows
 * the bottleneck's queue on its own. Pure: the next-hop table comes in.
 */
import { windowFor, type FlowRecord, type FlowSpec } from "../protocol/flow.ts";
import type { LinkSpec, NextHops, Shaping } from "../protocol/state.ts";
import type { NamespaceRecord } from "./store.ts";

export function flowSpecs(ns: NamespaceRecord, hops: NextHops): FlowSpec[] {
  return ns.flows
    .filter((f) => f.ended === undefined)
    .map((f) => {
      const window = flowWindow(ns, hops, f);
      return {
        id: f.id,
        src: f.src,
        dst: f.dst,
        port: f.port,
        weight: f.weight,
        ...(f.bytes !== undefined ? { bytes: f.bytes } : {}),
        ...(f.seconds !== undefined ? { seconds: f.seconds } : {}),
        ...(f.rate !== undefined ? { rate: f.rate } : {}),
        ...(f.route !== undefined ? { route: f.route } : {}),
        ...(window !== undefined ? { window } : {}),
      };
    });
}

/** The nodes a flow's packets visit from src to dst: its pinned route, else the next hops; undefined when unreachable. */
export function flowPath(ns: NamespaceRecord, hops: NextHops, f: Pick<FlowRecord, "src" | "dst" | "route">): string[] | undefined {
  if (f.route !== undefined) return ns.routes.find((r) => r.id === f.route)?.path;
  const explicit = ns.routes.find((r) => r.path[0] === f.src && r.path[r.path.length - 1] === f.dst);
  if (explicit) return explicit.path;
  const index = new Map(ns.nodes.map((n, i) => [n.name, i]));
  const dst = index.get(f.dst);
  if (dst === undefined) return undefined;
  const path = [f.src];
  for (let at = f.src; at !== f.dst; ) {
    const next = hops[at]?.[dst];
    if (!next || path.length > ns.nodes.length) return undefined;
    path.push(next);
    at = next;
  }
  return path;
}

/** The shaping from `a` to `b` of the link between them. */
function direction(links: LinkSpec[], a: string, b: string): Shaping | undefined {
  for (const l of links) {
    if (l.a === a && l.b === b) return l.ab;
    if (l.a === b && l.b === a) return l.ba;
  }
  return undefined;
}

/** BDP plus half the bottleneck's queue, with the round trip over the path and back; undefined on unlimited paths. */
function flowWindow(ns: NamespaceRecord, hops: NextHops, f: FlowRecord): number | undefined {
  const path = flowPath(ns, hops, f);
  if (path === undefined) return undefined;
  let bottleneck: Shaping | undefined;
  let rtt = 0;
  for (let i = 0; i + 1 < path.length; i++) {
    const fwd = direction(ns.links, path[i], path[i + 1]);
    const back = direction(ns.links, path[i + 1], path[i]);
    if (!fwd || !back) return undefined;
    rtt += fwd.delay + back.delay;
    if (fwd.bandwidth > 0 && (bottleneck === undefined || fwd.bandwidth < bottleneck.bandwidth)) bottleneck = fwd;
  }
  if (bottleneck === undefined) return undefined;
  return windowFor(bottleneck.bandwidth, rtt * 1000, bottleneck.queue);
}
