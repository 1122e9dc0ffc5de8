/**
 * @module
 * What the scheduler (controller/scheduler.ts) is told, gathered from stored
 * state: the hosts of a namespace with their sizes and liveness, and every
 * node already on a host with what it commits. Shared by launches, schedule
 * runs, topology documents and GET /hosts, so the commits a host listing
 * shows are the ones the scheduler balances. Also turns scheduler errors into
 * API errors.
 */
import { DEFAULT_MEMORY_MB, DEFAULT_VCPUS, NO_COSCHEDULE_LIMIT } from "../protocol/launch.ts";
import { ApiError } from "../protocol/errors.ts";
import type { LinkSpec, NodeSpec } from "../protocol/state.ts";
import type { NodeOnHost, ScheduleError, ScheduleErrorCode, SchedulerHost } from "./scheduler.ts";
import type { HostRecord } from "./store.ts";

/**
 * The hosts a namespace may place nodes on, as the scheduler sees them: its
 * pool, or (without one) every host that ever joined. Hosts that are not
 * connected are passed too, marked so, so that a node pinned to one fails
 * naming it as down rather than as unknown.
 */
export function schedulerHosts(pool: readonly string[] | undefined, known: readonly HostRecord[], up: readonly string[]): SchedulerHost[] {
  const facts = new Map(known.map((h) => [h.name, h.facts]));
  const connected = new Set(up);
  const names = pool ?? [...new Set([...known.map((h) => h.name), ...up])].sort();
  return names.map((name) => ({
    name,
    cpus: facts.get(name)?.cpus ?? 0,
    memTotalMB: facts.get(name)?.memTotalMB ?? 0,
    connected: connected.has(name),
  }));
}

/** Link ends per node: the netcommit a node adds to its host. */
export function linkEnds(links: readonly Pick<LinkSpec, "a" | "b">[]): Map<string, number> {
  const ends = new Map<string, number>();
  for (const l of links) {
    ends.set(l.a, (ends.get(l.a) ?? 0) + 1);
    ends.set(l.b, (ends.get(l.b) ?? 0) + 1);
  }
  return ends;
}

type Placed = Pick<NodeSpec, "name" | "host" | "vcpus" | "memoryMB" | "coschedule">;

/** A node on its host with what it commits there, defaults filled in as the scheduler fills them. */
export function nodeOnHost(n: Placed, links: number): Required<NodeOnHost> {
  return {
    host: n.host,
    name: n.name,
    vcpus: n.vcpus ?? DEFAULT_VCPUS,
    memoryMB: n.memoryMB ?? DEFAULT_MEMORY_MB,
    links,
    coschedule: n.coschedule ?? NO_COSCHEDULE_LIMIT,
  };
}

/** Every node of these namespaces that has a host, with its commits (link ends from its own namespace's links). */
export function nodesOnHosts(namespaces: readonly { nodes: readonly Placed[]; links: readonly LinkSpec[] }[]): Required<NodeOnHost>[] {
  const out: Required<NodeOnHost>[] = [];
  for (const ns of namespaces) {
    const ends = linkEnds(ns.links);
    for (const n of ns.nodes) if (n.host !== "") out.push(nodeOnHost(n, ends.get(n.name) ?? 0));
  }
  return out;
}

/**
 * HTTP status per scheduler error. 409: the request is fine but the cluster
 * as it is cannot take it (a host is full or down, a name is already taken,
 * the same answer a duplicate launch gets). 422: the request contradicts
 * itself or names what does not exist. 503 for no connected host at all:
 * the service cannot place anything until an agent joins, which is how the
 * API answered it before the scheduler existed.
 */
const STATUS: Record<ScheduleErrorCode, 409 | 422 | 503> = {
  no_host_fits: 409,
  host_down: 409,
  duplicate_node: 409,
  no_hosts: 503,
  unknown_host: 422,
  unknown_colocate: 422,
  schedule_with_colocate: 422,
  colocate_cycle: 422,
};

/** The scheduler's error as an API error with its code and sentence; `namespace` goes into the hint for no_hosts. */
export function scheduleFailure(e: ScheduleError, namespace: string): ApiError {
  const message =
    e.code === "no_hosts"
      ? `${e.message}; start an agent (\`nextmini agent\`) pointing at this controller, or add connected hosts with POST /namespaces/${namespace}/hosts`
      : e.message;
  return new ApiError(STATUS[e.code], e.code, message, e.details);
}
