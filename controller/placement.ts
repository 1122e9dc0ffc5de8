/**
 * @module
 * Where new nodes go, as a pure function: a node keeps the host it already
 * has; a new node goes to the host it names if that host is up, else to the up
 * host with the fewest nodes (counting every namespace and the nodes placed
 * so far in this call), ties broken by host name. The full minimega-style
 * scheduler (commits, coschedule, colocate) will replace the "fewest nodes"
 * rule; this keeps the same shape: facts in, a plan out.
 */

export type PlacementRequest = { name: string; host?: string };

export type Placement =
  | { ok: true; hosts: Map<string, string> }
  | { ok: false; unplaced: string[] };

/**
 * @param nodes the nodes to place, in order; `host` is a request, not a pin
 * @param up hosts that can take nodes now
 * @param load nodes already on each host (hosts missing count as 0)
 */
export function placeNodes(
  nodes: readonly PlacementRequest[],
  up: readonly string[],
  load: ReadonlyMap<string, number>,
): Placement {
  const hosts = new Map<string, string>();
  if (nodes.length === 0) return { ok: true, hosts };
  if (up.length === 0) return { ok: false, unplaced: nodes.map((n) => n.name) };
  const counts = new Map(up.map((h) => [h, load.get(h) ?? 0]));
  const sorted = [...up].sort();
  for (const n of nodes) {
    let host = n.host !== undefined && counts.has(n.host) ? n.host : undefined;
    if (host === undefined) {
      host = sorted[0];
      for (const h of sorted) if ((counts.get(h) ?? 0) < (counts.get(host) ?? 0)) host = h;
    }
    hosts.set(n.name, host);
    counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  return { ok: true, hosts };
}
