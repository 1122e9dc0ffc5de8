/**
 * @module
 * Route sets as pure functions, shared by the controller (validation, listings)
 * and the agents (which compile them into forwarding tables): the paths a route
 * holds (one for a path route, every source-to-destination path of a DAG route),
 * and the equal-cost shortest paths of every pair for `paths: ecmp`. Both
 * halves must derive the same paths from the same state, in the same order, or
 * packets crossing hosts would continue on different routes; so everything here
 * orders by name and depends on nothing but its arguments.
 */
import type { LinkSpec, RouteSpec } from "./state.ts";

/** A DAG route may hold at most this many source-to-destination paths. */
export const MAX_DAG_PATHS = 64;
/** An ecmp route set keeps at most this many of a pair's equal-cost paths (the first in name order). */
export const MAX_ECMP_PATHS = 16;
/** Hops of all ecmp paths of a namespace together, beyond which the namespace is refused `paths: ecmp`. */
export const MAX_ECMP_HOPS = 4_000_000;

type Edge = readonly [string, string];

/** Whether a link carries traffic (absent state: up). */
export function linkUp(link: Pick<LinkSpec, "state">): boolean {
  return link.state !== "down";
}

/** The source and destination of a route. */
export function routeEnds(route: Pick<RouteSpec, "path">): [string, string] {
  return [route.path[0], route.path[route.path.length - 1]];
}

/** Every path a route holds: its path, or each path through its DAG in name order. */
export function routePaths(route: Pick<RouteSpec, "path" | "edges">): string[][] {
  if (route.edges === undefined) return [route.path];
  const [src, dst] = routeEnds(route);
  return dagPaths(route.edges, src, dst, MAX_DAG_PATHS).paths;
}

/** Every node a route can visit (its DAG's nodes, or its path's). */
export function routeNodes(route: Pick<RouteSpec, "path" | "edges">): string[] {
  if (route.edges === undefined) return route.path;
  return [...new Set(route.edges.flat())];
}

/** Every hop of a route as [from, to]. */
export function routeHops(route: Pick<RouteSpec, "path" | "edges">): Edge[] {
  if (route.edges !== undefined) return route.edges;
  return route.path.slice(1).map((to, i) => [route.path[i], to] as const);
}

/**
 * The paths from `src` to `dst` through a DAG, children in name order, at most
 * `limit` (`truncated` says there were more); [] when dst is unreachable.
 */
export function dagPaths(edges: readonly Edge[], src: string, dst: string, limit: number): { paths: string[][]; truncated: boolean } {
  const children = new Map<string, string[]>();
  for (const [a, b] of edges) {
    const list = children.get(a) ?? [];
    list.push(b);
    children.set(a, list);
  }
  for (const list of children.values()) list.sort();
  const paths: string[][] = [];
  let truncated = false;
  const walk = (at: string, trail: string[]): void => {
    if (truncated) return;
    if (at === dst) {
      if (paths.length === limit) truncated = true;
      else paths.push(trail);
      return;
    }
    // a cycle would recurse forever; dagIssues refuses one, this only guards
    if (trail.length > edges.length + 1) return;
    for (const next of children.get(at) ?? []) walk(next, [...trail, next]);
  };
  walk(src, [src]);
  return { paths, truncated };
}

/**
 * A route given as edges: a DAG from one node to another (dagIssues says
 * what is wrong with it, into `issues`), with its first path as `path`; edges
 * that form a single chain give a plain path route.
 */
export function dagRoute(id: string, weight: number, edges: readonly Edge[], field: string, issues: string[]): RouteSpec {
  const found = dagIssues(edges, field);
  if (found.length > 0) {
    issues.push(...found);
    return { id, path: [], weight };
  }
  const sources = new Set(edges.map((e) => e[0]));
  for (const [, to] of edges) sources.delete(to);
  const sinks = new Set(edges.map((e) => e[1]));
  for (const [from] of edges) sinks.delete(from);
  const { paths } = dagPaths(edges, [...sources][0], [...sinks][0], MAX_DAG_PATHS);
  if (paths.length === 1) return { id, path: paths[0], weight };
  return { id, path: paths[0], weight, edges: edges.map(([a, b]) => [a, b] as [string, string]) };
}

/**
 * Problems with `edges` as a unicast DAG route, as sentences naming `field`:
 * exactly one source and one destination, no cycle, no node visited twice on a
 * path, every edge on some source-to-destination path, at most MAX_DAG_PATHS paths.
 */
export function dagIssues(edges: readonly Edge[], field: string): string[] {
  const issues: string[] = [];
  const nodes = new Set(edges.flat());
  const hasParent = new Set(edges.map((e) => e[1]));
  const hasChild = new Set(edges.map((e) => e[0]));
  const sources = [...nodes].filter((n) => !hasParent.has(n)).sort();
  const sinks = [...nodes].filter((n) => !hasChild.has(n)).sort();
  edges.forEach(([a, b], i) => {
    if (a === b) issues.push(`${field}[${i}]: an edge cannot go from ${a} to itself`);
  });
  const seen = new Set<string>();
  edges.forEach(([a, b], i) => {
    if (seen.has(`${a}\n${b}`)) issues.push(`${field}[${i}]: the edge ${a} -> ${b} is given twice`);
    seen.add(`${a}\n${b}`);
  });
  if (sources.length !== 1) {
    issues.push(`${field}: a route's edges must start at one node (found ${sources.length === 0 ? "none: the edges form a cycle" : sources.join(", ")})`);
  }
  if (sinks.length !== 1) {
    issues.push(`${field}: a route's edges must end at one node (found ${sinks.length === 0 ? "none: the edges form a cycle" : sinks.join(", ")})`);
  }
  if (issues.length > 0) return issues;
  if (hasCycle(edges)) return [`${field}: the edges form a cycle`];
  const { paths, truncated } = dagPaths(edges, sources[0], sinks[0], MAX_DAG_PATHS);
  if (truncated) return [`${field}: the edges hold more than ${MAX_DAG_PATHS} paths from ${sources[0]} to ${sinks[0]} (the bound of one route)`];
  const used = new Set(paths.flatMap((p) => p.slice(1).map((to, j) => `${p[j]}\n${to}`)));
  edges.forEach(([a, b], i) => {
    if (!used.has(`${a}\n${b}`)) issues.push(`${field}[${i}]: the edge ${a} -> ${b} is on no path from ${sources[0]} to ${sinks[0]}`);
  });
  return issues;
}

function hasCycle(edges: readonly Edge[]): boolean {
  const children = new Map<string, string[]>();
  for (const [a, b] of edges) children.set(a, [...(children.get(a) ?? []), b]);
  const state = new Map<string, 1 | 2>();
  const visit = (n: string): boolean => {
    const s = state.get(n);
    if (s === 1) return true;
    if (s === 2) return false;
    state.set(n, 1);
    for (const c of children.get(n) ?? []) if (visit(c)) return true;
    state.set(n, 2);
    return false;
  };
  return edges.some(([a]) => visit(a));
}

/**
 * The equal-cost shortest paths (by hop count, over the links that are up) of
 * every ordered pair that has more than one, as node indices; pairs with a
 * single shortest path are left to the next-hop tables. Paths come in name
 * order of their hops, at most MAX_ECMP_PATHS per pair. Keys: src * n + dst.
 * `hopBudget` bounds the work: the function stops and returns `exceeded` once
 * the paths' hops pass it.
 */
export function ecmpPaths(
  names: readonly string[],
  links: readonly Pick<LinkSpec, "a" | "b" | "state">[],
  hopBudget = MAX_ECMP_HOPS,
): { sets: Map<number, number[][]>; hops: number; exceeded: boolean } {
  const n = names.length;
  const index = new Map(names.map((name, i) => [name, i]));
  const adjacency: number[][] = names.map(() => []);
  for (const l of links) {
    if (!linkUp(l)) continue;
    const a = index.get(l.a);
    const b = index.get(l.b);
    if (a === undefined || b === undefined || a === b) continue;
    adjacency[a].push(b);
    adjacency[b].push(a);
  }
  for (const list of adjacency) list.sort((x, y) => (names[x] < names[y] ? -1 : names[x] > names[y] ? 1 : 0));
  const sets = new Map<number, number[][]>();
  const dist = new Int32Array(n);
  const count = new Float64Array(n);
  const queue = new Int32Array(n);
  let hops = 0;
  for (let dst = 0; dst < n; dst++) {
    // distances to dst, then the number of shortest paths from every node to it
    dist.fill(-1);
    count.fill(0);
    dist[dst] = 0;
    count[dst] = 1;
    let head = 0;
    let tail = 0;
    queue[tail++] = dst;
    while (head < tail) {
      const u = queue[head++];
      for (const v of adjacency[u]) {
        if (dist[v] === -1) {
          dist[v] = dist[u] + 1;
          queue[tail++] = v;
        }
        if (dist[v] === dist[u] + 1) count[v] += count[u];
      }
    }
    for (let src = 0; src < n; src++) {
      if (src === dst || count[src] < 2) continue;
      const paths: number[][] = [];
      const walk = (at: number, trail: number[]): void => {
        if (paths.length === MAX_ECMP_PATHS) return;
        if (at === dst) {
          paths.push(trail);
          return;
        }
        for (const v of adjacency[at]) if (dist[v] === dist[at] - 1) walk(v, [...trail, v]);
      };
      walk(src, [src]);
      sets.set(src * n + dst, paths);
      hops += paths.length * dist[src];
      if (hops > hopBudget) return { sets, hops, exceeded: true };
    }
  }
  return { sets, hops, exceeded: false };
}
