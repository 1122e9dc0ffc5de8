/**
 * Compiles a namespace's routing into the flat arrays the forwarder picks
 * routes with: the next-hop table, and for every pair that has a route set
 * (explicit routes, or equal-cost paths with `paths: ecmp`) its members, each
 * member's paths as runs of link directions, the pins, and which directions
 * are down. This part of the tables can be replaced while packets are queued
 * (Forwarder.setRouting): queued packets carry a position in `routeHops`,
 * which `hopDst` lets the forwarder check against the new tables.
 *
 * Words: a route set has members (one per explicit route, or one per ecmp
 * path); a member has paths (one, or a DAG route's several); a flow takes one
 * member by weight, then one of its paths.
 */
import type { NamespaceState } from "../../protocol/state.ts";
import { ecmpPaths, linkUp, routeEnds, routePaths } from "../../protocol/paths.ts";
import { IP_PROTOCOLS } from "../../protocol/pins.ts";

/** Ints per compiled pin: src, dst (node ids, -1 any), proto (-1 any), srcPort, dstPort (-1 any), member. */
export const PIN_INTS = 6;

/** The member name of ecmp paths (explicit members carry their route id). */
export const ECMP_MEMBER = "ecmp";

export interface RoutingTables {
  /** per namespace, n*n: direction to take at node i toward node j, or -1 */
  nextDir: Int32Array[];
  /** per namespace, n*n: the route set of pair i -> j, or -1 (the next-hop tables route it) */
  pairSet: Int32Array[];
  /** set -> its members: setFirst[s] .. setFirst[s] + setCount[s] - 1 */
  setFirst: Int32Array;
  setCount: Int32Array;
  /** member -> weight, and its paths: memberFirst[m] .. memberFirst[m] + memberCount[m] - 1 */
  memberWeight: Float64Array;
  memberFirst: Int32Array;
  memberCount: Int32Array;
  /** member -> route id, or ECMP_MEMBER */
  memberName: string[];
  /** member -> 1 when one of its paths is live */
  memberLive: Uint8Array;
  /** path -> its first position in routeHops, its hop count, its member */
  pathStart: Int32Array;
  pathLen: Int32Array;
  pathMember: Int32Array;
  /** path -> 1 when every hop of it is up: only such paths take new flows */
  pathLive: Uint8Array;
  /** path -> what identifies it across table changes: member name and directions */
  pathKey: string[];
  /** the directions of every path, one run after another */
  routeHops: Int32Array;
  /** position in routeHops -> the destination node of the path holding it */
  hopDst: Int32Array;
  /** direction -> 1 when its link is down: everything offered to it is dropped */
  dirDown: Uint8Array;
  /** per namespace, its pins (PIN_INTS each) in order, user-space flows' first */
  pins: Int32Array[];
  /** namespace -> its first position in routeHops (frames between agents count from it) */
  nsRouteBase: Int32Array;
}

/** What one namespace's compile needs from the rest of the tables. */
export interface NamespaceIndex {
  /** node name -> index within the namespace */
  index: Map<string, number>;
  /** global id of the namespace's first node */
  base: number;
  /** "from>to" -> direction id */
  dirOf: Map<string, number>;
  /** direction id -> 1 when its link is down (every direction compiled so far) */
  dirDown: readonly number[];
}

/** Builds RoutingTables one namespace at a time, in the order the namespaces are given. */
export class RoutingBuilder {
  readonly #nextDir: Int32Array[] = [];
  readonly #pairSet: Int32Array[] = [];
  readonly #setFirst: number[] = [];
  readonly #setCount: number[] = [];
  readonly #memberWeight: number[] = [];
  readonly #memberFirst: number[] = [];
  readonly #memberCount: number[] = [];
  readonly #memberName: string[] = [];
  readonly #pathStart: number[] = [];
  readonly #pathLen: number[] = [];
  readonly #pathMember: number[] = [];
  readonly #pathLive: number[] = [];
  readonly #pathKey: string[] = [];
  readonly #hops: number[] = [];
  readonly #hopDst: number[] = [];
  readonly #pins: Int32Array[] = [];
  readonly #nsRouteBase: number[] = [];

  add(ns: NamespaceState, at: NamespaceIndex): void {
    const { index, base, dirOf } = at;
    const n = ns.nodes.length;
    const dirDown = (dir: number) => at.dirDown[dir] === 1;
    this.#nsRouteBase.push(this.#hops.length);

    const table = new Int32Array(n * n).fill(-1);
    for (const [name, row] of Object.entries(ns.nextHops)) {
      const i = index.get(name);
      if (i === undefined) continue;
      for (let j = 0; j < n && j < row.length; j++) {
        if (row[j] === "") continue;
        table[i * n + j] = dirOf.get(`${name}>${row[j]}`) ?? -1;
      }
    }
    this.#nextDir.push(table);

    const pairSet = new Int32Array(n * n).fill(-1);
    // the members of each pair's set, in route order; a path whose hops are not all links is skipped
    const members = new Map<number, { name: string; weight: number; paths: number[][] }[]>();
    const routeCell = new Map<string, number>();
    // a path's directions, or undefined when a hop is no link (the controller validates routes; such a path is skipped)
    const runOf = (path: readonly string[]): number[] | undefined => {
      const run: number[] = [];
      for (let h = 0; h + 1 < path.length; h++) {
        const dir = dirOf.get(`${path[h]}>${path[h + 1]}`);
        if (dir === undefined) return undefined;
        run.push(dir);
      }
      return run;
    };
    for (const route of ns.routes) {
      const [s, t] = routeEnds(route);
      const src = index.get(s);
      const dst = index.get(t);
      if (src === undefined || dst === undefined) continue;
      const paths = routePaths(route)
        .map(runOf)
        .filter((run) => run !== undefined);
      if (paths.length === 0) continue;
      const cell = src * n + dst;
      const list = members.get(cell) ?? [];
      routeCell.set(route.id, cell);
      list.push({ name: route.id, weight: route.weight, paths });
      members.set(cell, list);
    }
    if (ns.paths === "ecmp") {
      const names = ns.nodes.map((x) => x.name);
      const { sets } = ecmpPaths(names, ns.links);
      for (const [cell, paths] of sets) {
        // explicit routes for a pair replace its computed set
        if (members.has(cell)) continue;
        // computed over the same links, so every hop is one
        const runs = paths.map((p) => runOf(p.map((i) => names[i]))!);
        members.set(
          cell,
          runs.map((run) => ({ name: ECMP_MEMBER, weight: 1, paths: [run] })),
        );
      }
    }
    const memberId = new Map<string, number>();
    for (const cell of [...members.keys()].sort((x, y) => x - y)) {
      const list = members.get(cell)!;
      pairSet[cell] = this.#setFirst.length;
      this.#setFirst.push(this.#memberWeight.length);
      this.#setCount.push(list.length);
      const dst = base + (cell % n);
      for (const m of list) {
        const member = this.#memberWeight.length;
        if (m.name !== ECMP_MEMBER) memberId.set(m.name, member);
        this.#memberWeight.push(m.weight);
        this.#memberFirst.push(this.#pathStart.length);
        this.#memberCount.push(m.paths.length);
        this.#memberName.push(m.name);
        for (const run of m.paths) {
          this.#pathStart.push(this.#hops.length);
          this.#pathLen.push(run.length);
          this.#pathMember.push(member);
          this.#pathLive.push(run.every((dir) => !dirDown(dir)) ? 1 : 0);
          this.#pathKey.push(`${m.name}|${run.join(",")}`);
          for (const dir of run) {
            this.#hops.push(dir);
            this.#hopDst.push(dst);
          }
        }
      }
    }
    this.#pairSet.push(pairSet);

    const pins: number[] = [];
    const addPin = (p: { src?: string; dst?: string; proto?: keyof typeof IP_PROTOCOLS; srcPort?: number; dstPort?: number; route: string }) => {
      const member = memberId.get(p.route);
      const cell = routeCell.get(p.route);
      if (member === undefined || cell === undefined) return;
      // a pin holds only for flows between its route's ends
      const src = base + Math.floor(cell / n);
      const dst = base + (cell % n);
      if (p.src !== undefined && index.get(p.src) !== src - base) return;
      if (p.dst !== undefined && index.get(p.dst) !== dst - base) return;
      pins.push(src, dst, p.proto === undefined ? -1 : IP_PROTOCOLS[p.proto], p.srcPort ?? -1, p.dstPort ?? -1, member);
    };
    // a user-space flow's route is a pin on its TCP port
    for (const f of ns.flows) if (f.route !== undefined) addPin({ src: f.src, dst: f.dst, proto: "tcp", dstPort: f.port, route: f.route });
    for (const p of ns.pins) addPin(p);
    this.#pins.push(Int32Array.from(pins));
  }

  finish(dirDown: readonly number[]): RoutingTables {
    return {
      nextDir: this.#nextDir,
      pairSet: this.#pairSet,
      setFirst: Int32Array.from(this.#setFirst),
      setCount: Int32Array.from(this.#setCount),
      memberWeight: Float64Array.from(this.#memberWeight),
      memberFirst: Int32Array.from(this.#memberFirst),
      memberCount: Int32Array.from(this.#memberCount),
      memberName: this.#memberName,
      memberLive: Uint8Array.from(this.#memberCount.map((count, m) => {
        const first = this.#memberFirst[m];
        return this.#pathLive.slice(first, first + count).some((live) => live === 1) ? 1 : 0;
      })),
      pathStart: Int32Array.from(this.#pathStart),
      pathLen: Int32Array.from(this.#pathLen),
      pathMember: Int32Array.from(this.#pathMember),
      pathLive: Uint8Array.from(this.#pathLive),
      pathKey: this.#pathKey,
      routeHops: Int32Array.from(this.#hops),
      hopDst: Int32Array.from(this.#hopDst),
      dirDown: Uint8Array.from(dirDown),
      pins: this.#pins,
      nsRouteBase: Int32Array.from(this.#nsRouteBase),
    };
  }
}
