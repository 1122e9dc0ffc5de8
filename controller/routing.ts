/**
 * @module
 * Routing as pure functions of a namespace's nodes and links: the default
 * shortest-path next hops every agent forwards by, checks on explicit routes,
 * and a path walker for tests and inspection. Nothing here reads a clock or
 * the store, so the same topology always yields the same tables.
 */
import type { NextHops } from "../protocol/state.ts";

type Named = { readonly name: string };
type Edge = { readonly a: string; readonly b: string };
type PathRoute = { readonly id: string; readonly path: readonly string[]; readonly edges?: readonly (readonly [string, string])[] };

/**
 * Next hops by hop count for every ordered pair of nodes. One BFS per source
 * (O(N·(N+E)) overall) that carries each node's first hop along; neighbours are
 * visited in name order, so among equally short paths the one through the
 * smallest-named neighbour wins, whatever order the links were given in.
 *
 * `nextHop[n][i]` is the neighbour of n toward `nodes[i]`, or "" for n itself
 * and for destinations n cannot reach. Links naming unknown nodes, self-loops
 * and parallel links are ignored here; validation reports them elsewhere.
 */
export function computeNextHops(nodes: readonly Named[], links: readonly Edge[]): NextHops {
  const n = nodes.length;
  const names = nodes.map((x) => x.name);
  const index = new Map<string, number>();
  names.forEach((name, i) => index.set(name, i));

  const adjacency: number[][] = names.map(() => []);
  for (const l of links) {
    const a = index.get(l.a);
    const b = index.get(l.b);
    if (a === undefined || b === undefined || a === b) continue;
    adjacency[a].push(b);
    adjacency[b].push(a);
  }
  for (const list of adjacency) {
    list.sort((x, y) => (names[x] < names[y] ? -1 : names[x] > names[y] ? 1 : 0));
  }

  const firstHop = new Int32Array(n);
  const queue = new Int32Array(n);
  const result: NextHops = {};
  for (let src = 0; src < n; src++) {
    firstHop.fill(-1);
    let head = 0;
    let tail = 0;
    firstHop[src] = src; // marks the source visited; written out as "" below
    for (const nb of adjacency[src]) {
      if (firstHop[nb] !== -1) continue; // a parallel link
      firstHop[nb] = nb;
      queue[tail++] = nb;
    }
    while (head < tail) {
      const u = queue[head++];
      for (const v of adjacency[u]) {
        if (firstHop[v] !== -1) continue;
        firstHop[v] = firstHop[u];
        queue[tail++] = v;
      }
    }
    const row = new Array<string>(n);
    for (let dst = 0; dst < n; dst++) row[dst] = dst === src || firstHop[dst] === -1 ? "" : names[firstHop[dst]];
    result[names[src]] = row;
  }
  return result;
}

/**
 * Problems with explicit routes, as "path: reason" sentences naming the route:
 * every consecutive pair must be joined by a link, a path may not visit a node
 * twice, ids must be unique, and (when `nodeNames` is given) every node must
 * exist. A DAG route (`edges`, its shape checked by protocol/paths.ts's
 * dagIssues) must have every edge along a link between known nodes. An empty
 * array means the routes are valid.
 */
export function validateRoutes(
  routes: readonly PathRoute[],
  links: readonly Edge[],
  nodeNames?: Iterable<string>,
): string[] {
  const issues: string[] = [];
  const linked = new Set<string>();
  for (const l of links) {
    linked.add(pairKey(l.a, l.b));
    linked.add(pairKey(l.b, l.a));
  }
  const known = nodeNames ? new Set(nodeNames) : undefined;
  const ids = new Set<string>();
  routes.forEach((r, i) => {
    const label = `route "${r.id}" ([${i}])`;
    if (ids.has(r.id)) issues.push(`[${i}].id: duplicate route id "${r.id}"`);
    ids.add(r.id);
    if (r.edges !== undefined) {
      r.edges.forEach(([a, b], j) => {
        for (const name of [a, b]) if (known && !known.has(name)) issues.push(`[${i}].edges[${j}]: route "${r.id}" names "${name}", which is not a node`);
        if (!linked.has(pairKey(a, b))) issues.push(`[${i}].edges[${j}]: route "${r.id}" goes ${a} -> ${b}, but no link joins ${a} and ${b}`);
      });
      return;
    }
    if (r.path.length < 2) {
      issues.push(`[${i}].path: ${label} needs at least two nodes`);
      return;
    }
    const seen = new Set<string>();
    r.path.forEach((name, j) => {
      if (known && !known.has(name)) issues.push(`[${i}].path[${j}]: ${label} names "${name}", which is not a node`);
      if (seen.has(name)) issues.push(`[${i}].path[${j}]: ${label} visits "${name}" twice`);
      seen.add(name);
    });
    for (let j = 1; j < r.path.length; j++) {
      const from = r.path[j - 1];
      const to = r.path[j];
      if (!linked.has(pairKey(from, to))) {
        issues.push(`[${i}].path[${j}]: ${label} goes ${from} -> ${to}, but no link joins ${from} and ${to}`);
      }
    }
  });
  return issues;
}

/**
 * The nodes a packet from `src` visits on its way to `dst` under `nextHops`,
 * both ends included; [] when dst is unreachable (or a name is unknown), [src]
 * when src is dst. Stops after nodes.length hops so a corrupt table cannot loop.
 */
export function pathBetween(nextHops: NextHops, nodes: readonly Named[], src: string, dst: string): string[] {
  const di = nodes.findIndex((x) => x.name === dst);
  if (di === -1 || nextHops[src] === undefined) return [];
  const path = [src];
  let at = src;
  while (at !== dst) {
    if (path.length > nodes.length) return [];
    const next = nextHops[at]?.[di];
    if (!next) return [];
    path.push(next);
    at = next;
  }
  return path;
}

function pairKey(a: string, b: string): string {
  // "\n" cannot occur in a node name, so the key is unambiguous
  return `${a}\n${b}`;
}
