/**
 * @module
 * The flows of a namespace as agents take them: the ones not yet ended, each
 * with the window its sender may keep in flight (protocol/flow.ts, windowFor)
 * worked out from the links its packets cross: its weight's share of what
 * the flows through its bottleneck may keep in flight together (windowFor),
 * so that they keep it busy without overflowing it (lwIP repairs losses
 * slowly). Windows change as flows come and end; agents apply
 * them to running senders. Pure: the next-hop table comes in.
 */
import { askedFields, windowFor, type FlowRecord, type FlowSpec } from "../protocol/flow.ts";
import type { LinkSpec, NextHops, Shaping } from "../protocol/state.ts";
import type { NamespaceRecord } from "./store.ts";

/**
 * What a node's TCP stack holds of unacknowledged data well, over all the flows
 * it sends: lwIP's pools hold 5.7 MiB of it (wasm/README.md), and lwIP 2.1
 * walks the whole unacknowledged queue on every output, so past a few MiB a
 * stack slows down however fast the path is (bench/flows: 16 flows of 4 MiB
 * each moved 0.8 Gbit/s, of 256 KiB each 3.1 Gbit/s).
 */
const STACK_WINDOW_BYTES = 4 * 1024 * 1024;
/** the least window a flow gets however many share its bottleneck: four full segments */
const MIN_WINDOW_BYTES = 4 * 1460;
/** a flow's window on a path without a bandwidth limit (there is no BDP to size it by) */
const UNLIMITED_WINDOW_BYTES = 512 * 1024;

export function flowSpecs(ns: NamespaceRecord, hops: NextHops): FlowSpec[] {
  const active = ns.flows.filter((f) => f.ended === undefined);
  const paths = active.map((f) => pathShaping(ns, hops, f));
  // flows through the same bottleneck share what it holds, in proportion to their weights
  const sharing = new Map<string, { weights: number; flows: number }>();
  active.forEach((f, i) => {
    const p = paths[i];
    if (!p) return;
    const s = sharing.get(p.bottleneck) ?? { weights: 0, flows: 0 };
    sharing.set(p.bottleneck, { weights: s.weights + f.weight, flows: s.flows + 1 });
  });
  // and flows from one node share its stack
  const fromNode = new Map<string, number>();
  for (const f of active) fromNode.set(f.src, (fromNode.get(f.src) ?? 0) + 1);
  return active.map((f, i) => {
    const p = paths[i];
    const group = p ? (sharing.get(p.bottleneck) ?? { weights: f.weight, flows: 1 }) : undefined;
    const path =
      p && group
        ? Math.max(MIN_WINDOW_BYTES, Math.floor((windowFor(p.bandwidth, p.rtt * 1000, p.queue, group.flows) * f.weight) / group.weights))
        : UNLIMITED_WINDOW_BYTES;
    const window = Math.min(path, Math.floor(STACK_WINDOW_BYTES / (fromNode.get(f.src) ?? 1)));
    return {
      id: f.id,
      src: f.src,
      dst: f.dst,
      port: f.port,
      weight: f.weight,
      ...askedFields(f),
      window,
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

/** The shaping from `a` to `b` of the link between them, and that direction's name. */
function direction(links: LinkSpec[], a: string, b: string): { s: Shaping; key: string } | undefined {
  for (const l of links) {
    if (l.a === a && l.b === b) return { s: l.ab, key: `${l.id}/ab` };
    if (l.a === b && l.b === a) return { s: l.ba, key: `${l.id}/ba` };
  }
  return undefined;
}

/** A flow's bottleneck (the slowest direction it crosses) and round trip; undefined on unlimited paths. */
function pathShaping(ns: NamespaceRecord, hops: NextHops, f: FlowRecord): { bottleneck: string; bandwidth: number; queue: number; rtt: number } | undefined {
  const path = flowPath(ns, hops, f);
  if (path === undefined) return undefined;
  let slowest: { s: Shaping; key: string } | undefined;
  let rtt = 0;
  for (let i = 0; i + 1 < path.length; i++) {
    const fwd = direction(ns.links, path[i], path[i + 1]);
    const back = direction(ns.links, path[i + 1], path[i]);
    if (!fwd || !back) return undefined;
    rtt += fwd.s.delay + back.s.delay;
    if (fwd.s.bandwidth > 0 && (slowest === undefined || fwd.s.bandwidth < slowest.s.bandwidth)) slowest = fwd;
  }
  if (slowest === undefined) return undefined;
  return { bottleneck: slowest.key, bandwidth: slowest.s.bandwidth, queue: slowest.s.queue, rtt };
}
