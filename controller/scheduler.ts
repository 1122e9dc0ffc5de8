/**
 * @module
 * The scheduler: minimega's placement rules as one pure function. Facts in
 * (the namespace's hosts, every node already on them, the load kind, the
 * launch groups in queue order), a plan `[{node, host}]` or a typed error out;
 * no clock, no randomness, no I/O, so the same facts always give the same
 * plan, and a failure places nothing.
 *
 * Rules, in the order they apply:
 * - Load per host is the commit of every node on it, across all namespaces:
 *   cpucommit = vcpus / cpus, memcommit = memory / total memory, netcommit =
 *   link ends (a group's expected `links` per node counts for nodes being
 *   placed).
 * - Hosts are tried in order: not full under some node's coschedule limit
 *   first, then least load, then fewest nodes, then name.
 * - Groups are placed pinned first (schedule, or colocate with a node that
 *   already has a host), then those with a coschedule limit (lowest first),
 *   then those with more nodes colocated on them, then larger groups, then
 *   queue order. Groups colocating with a queued node wait for it.
 * - Each node goes to the first host in that order that it fits on, together
 *   with every node colocated on it, recursively. Fitting means no coschedule
 *   limit breaks: the node's own, its followers', or any node's already on the
 *   host. Unlike minimega, a limit steers the choice rather than only failing
 *   it; the schedule fails only when no host fits.
 *
 * Cost: O(N log H) for N nodes over H hosts while the best host fits; a node
 * whose limits rule out the best hosts looks at up to H of them.
 */
import {
  DEFAULT_MEMORY_MB,
  DEFAULT_VCPUS,
  NO_COSCHEDULE_LIMIT,
  type LaunchGroupInput,
} from "../protocol/launch.ts";
import { bundleDemands, bundleMembers, childrenOf, findColocateCycle } from "./scheduler-colocate.ts";
import {
  colocateCycle,
  duplicateNode,
  type HostChoice,
  noHostFits,
  noHosts,
  type ScheduleError,
  scheduleWithColocate,
  unknownColocate,
  unusableHost,
} from "./scheduler-errors.ts";
import { IndexedHeap } from "./scheduler-heap.ts";
import { type Breach, type Demand, HostLoads, type LoadKind, type SchedulerHost } from "./scheduler-load.ts";

export type { ScheduleError, ScheduleErrorCode } from "./scheduler-errors.ts";
export type { LoadKind, SchedulerHost } from "./scheduler-load.ts";

/** A node that already has a host, in any namespace: it loads that host. */
export type NodeOnHost = {
  readonly host: string;
  /** named in errors when its coschedule limit is the one that blocks */
  readonly name?: string;
  readonly vcpus?: number;
  readonly memoryMB?: number;
  /** link ends (netcommit) */
  readonly links?: number;
  readonly coschedule?: number;
};

/** A launch group as the scheduler reads it (the fields of protocol/launch.ts that place nodes). */
export type GroupToPlace = Pick<LaunchGroupInput, "vcpus" | "memoryMB" | "schedule" | "coschedule" | "colocate" | "links"> & {
  readonly names: readonly string[];
};

export type ScheduleInput = {
  readonly load: LoadKind;
  /** the hosts of the namespace */
  readonly hosts: readonly SchedulerHost[];
  /** every node that already has a host, across all namespaces (nodes on other hosts are ignored) */
  readonly existing: readonly NodeOnHost[];
  /** this namespace's nodes that already have a host, name to host: where colocate may point besides the queue */
  readonly placed: ReadonlyMap<string, string>;
  /** in queue order */
  readonly groups: readonly GroupToPlace[];
};

export type PlanEntry = { node: string; host: string };

/** The plan lists nodes in queue order (group by group, names in group order), whatever order they were placed in. */
export type ScheduleResult = { ok: true; plan: PlanEntry[] } | { ok: false; error: ScheduleError };

const UNPINNED = -1;

function demandOf(
  name: string | undefined,
  n: { readonly vcpus?: number; readonly memoryMB?: number; readonly links?: number; readonly coschedule?: number },
): Demand {
  const c = n.coschedule ?? NO_COSCHEDULE_LIMIT;
  return {
    nodes: 1,
    vcpus: n.vcpus ?? DEFAULT_VCPUS,
    memoryMB: n.memoryMB ?? DEFAULT_MEMORY_MB,
    links: n.links ?? 0,
    coschedule: c < 0 ? Infinity : c,
    limitOf: name,
  };
}

export function schedule(input: ScheduleInput): ScheduleResult {
  const fail = (error: ScheduleError): ScheduleResult => ({ ok: false, error });
  const hosts = new HostLoads(input.load, input.hosts);
  for (const e of input.existing) {
    const h = hosts.indexOf(e.host);
    if (h !== undefined) hosts.add(h, demandOf(e.name, e));
  }

  // Every queued node as an integer, in queue order.
  const groups = input.groups;
  const names: string[] = [];
  const groupOf: number[] = [];
  const index = new Map<string, number>();
  for (let g = 0; g < groups.length; g++) {
    for (const name of groups[g].names) {
      if (index.has(name) || input.placed.has(name)) return fail(duplicateNode(name, input.placed.has(name)));
      index.set(name, names.length);
      names.push(name);
      groupOf.push(g);
    }
  }
  if (names.length === 0) return { ok: true, plan: [] };

  // Each group's fixed host (pinned, or following a node that already has one) or its queued leader.
  const pin = new Int32Array(groups.length).fill(UNPINNED);
  const choice: HostChoice[] = groups.map(() => ({ by: "least-loaded" }));
  const parent = new Int32Array(names.length).fill(-1);
  for (let g = 0; g < groups.length; g++) {
    const { names: members, schedule: pinned, colocate } = groups[g];
    if (members.length === 0) continue;
    const first = members[0];
    if (pinned !== undefined && colocate !== undefined) return fail(scheduleWithColocate(first, pinned, colocate));
    if (pinned !== undefined) {
      const h = hosts.indexOf(pinned);
      if (h === undefined || !hosts.isConnected(h)) return fail(unusableHost(first, pinned, h === undefined ? "unknown" : "down"));
      pin[g] = h;
      choice[g] = { by: "schedule" };
    } else if (colocate !== undefined) {
      const leader = index.get(colocate);
      if (leader !== undefined) {
        for (const name of members) parent[index.get(name) as number] = leader;
        continue;
      }
      const where = input.placed.get(colocate);
      if (where === undefined) return fail(unknownColocate(first, colocate));
      const h = hosts.indexOf(where);
      if (h === undefined || !hosts.isConnected(h)) {
        return fail(unusableHost(first, where, h === undefined ? "unknown" : "down", colocate));
      }
      pin[g] = h;
      choice[g] = { by: "colocate", target: colocate };
    }
  }
  const cycle = findColocateCycle(parent);
  if (cycle !== undefined) return fail(colocateCycle(cycle.map((i) => names[i])));

  const children = childrenOf(parent);
  const bundle = bundleDemands(
    parent,
    children,
    names.map((name, i) => demandOf(name, groups[groupOf[i]])),
  );

  // Groups that choose a host (those following a queued node come along with it), in placing order.
  const firstNode = new Int32Array(groups.length);
  for (let i = names.length - 1; i >= 0; i--) firstNode[groupOf[i]] = i;
  const leaders: number[] = [];
  const limitRank: number[] = [];
  const followers: number[] = [];
  for (let g = 0; g < groups.length; g++) {
    const size = groups[g].names.length;
    const c = groups[g].coschedule ?? NO_COSCHEDULE_LIMIT;
    limitRank.push(c < 0 ? Infinity : c);
    let f = 0;
    for (let k = 0; k < size; k++) f += bundle[firstNode[g] + k].nodes - 1;
    followers.push(f);
    if (size > 0 && parent[firstNode[g]] < 0) leaders.push(g);
  }
  leaders.sort((a, b) => {
    const pinnedA = pin[a] !== UNPINNED;
    if (pinnedA !== (pin[b] !== UNPINNED)) return pinnedA ? -1 : 1;
    if (limitRank[a] !== limitRank[b]) return limitRank[a] < limitRank[b] ? -1 : 1;
    if (followers[a] !== followers[b]) return followers[b] - followers[a];
    if (groups[a].names.length !== groups[b].names.length) return groups[b].names.length - groups[a].names.length;
    return a - b;
  });

  const heap = new IndexedHeap(hosts.size, (a, b) => hosts.less(a, b));
  for (let h = 0; h < hosts.size; h++) if (hosts.isConnected(h)) heap.push(h);
  if (heap.size === 0) return fail(noHosts(names[0]));

  const hostOf = new Int32Array(names.length).fill(-1);
  for (const g of leaders) {
    for (let i = firstNode[g], end = i + groups[g].names.length; i < end; i++) {
      const d = bundle[i];
      let h = pin[g];
      if (h !== UNPINNED) {
        const b = hosts.breach(h, d);
        if (b !== undefined) return fail(noHostFits(names[i], hosts.names[h], choice[g], b));
      } else {
        const found = firstFit(heap, hosts, d);
        if (typeof found !== "number") return fail(noHostFits(names[i], hosts.names[found.host], choice[g], found.breach));
        h = found;
      }
      hosts.add(h, d);
      heap.update(h);
      for (const m of bundleMembers(i, children)) hostOf[m] = h;
    }
  }

  return { ok: true, plan: names.map((node, i) => ({ node, host: hosts.names[hostOf[i]] })) };
}

/**
 * The first host in order that `d` fits on, or the first host tried and the
 * limit that ruled it out. Hosts skipped on the way go back into the heap. A
 * full host takes nothing and full hosts sort last, so meeting one ends the
 * search.
 */
function firstFit(heap: IndexedHeap, hosts: HostLoads, d: Demand): number | { host: number; breach: Breach } {
  let refused: { host: number; breach: Breach } | undefined;
  const skipped: number[] = [];
  let found: number | undefined;
  for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
    const breach = hosts.breach(top, d);
    if (breach === undefined) {
      found = top;
      break;
    }
    refused ??= { host: top, breach };
    if (hosts.isFull(top)) break;
    skipped.push(heap.pop() as number);
  }
  for (const s of skipped) heap.push(s);
  return found ?? (refused as { host: number; breach: Breach });
}
