/**
 * @module
 * Where the nodes a topology document adds (or moves to another host) go:
 * the scheduler over the namespace's hosts, each such node a launch group of
 * one in document order. A node's `host` pins it, its vcpus, memoryMB,
 * coschedule and colocate count as they do for launches, and the document's
 * links are its netcommit. Nodes the document keeps stay where they are and
 * load their hosts like every node of every other namespace. A node with both
 * `host` and `colocate` is pinned, and the two must agree.
 */
import { ApiError } from "../protocol/errors.ts";
import type { ResolvedTopology } from "../protocol/topology-resolve.ts";
import { type GroupToPlace, type LoadKind, schedule, type SchedulerHost } from "./scheduler.ts";
import { linkEnds, nodeOnHost, nodesOnHosts, scheduleFailure } from "./scheduling-facts.ts";
import type { NamespaceRecord } from "./store.ts";

export type DocumentPlacement = {
  namespace: string;
  topo: ResolvedTopology;
  /** the namespace as it is, if it exists */
  before: NamespaceRecord | undefined;
  /** every other namespace */
  others: readonly NamespaceRecord[];
  hosts: readonly SchedulerHost[];
  load: LoadKind;
};

/** Host per node of the document, kept nodes included; throws the scheduler's error as an ApiError. */
export function placeDocumentNodes(p: DocumentPlacement): Map<string, string> {
  const old = new Map((p.before?.nodes ?? []).map((n) => [n.name, n.host]));
  const ends = linkEnds(p.topo.links);
  const hosts = new Map<string, string>();
  const kept = [];
  const groups: GroupToPlace[] = [];
  for (const n of p.topo.nodes) {
    const prev = old.get(n.name);
    if (prev !== undefined && (n.host === undefined || n.host === prev)) {
      hosts.set(n.name, prev);
      kept.push(nodeOnHost({ ...n, host: prev }, ends.get(n.name) ?? 0));
    } else {
      groups.push({
        names: [n.name],
        schedule: n.host,
        vcpus: n.vcpus,
        memoryMB: n.memoryMB,
        coschedule: n.coschedule,
        // a pin wins over colocate here; checkPinnedColocations holds them to agree
        colocate: n.host === undefined ? n.colocate : undefined,
        links: ends.get(n.name) ?? 0,
      });
    }
  }
  const result = schedule({
    load: p.load,
    hosts: p.hosts,
    existing: [...nodesOnHosts(p.others), ...kept],
    placed: new Map(hosts),
    groups,
  });
  if (!result.ok) throw scheduleFailure(result.error, p.namespace);
  for (const { node, host } of result.plan) hosts.set(node, host);
  checkPinnedColocations(p.topo, hosts);
  return hosts;
}

/**
 * A document may give a node both `host` and `colocate` (a saved namespace
 * does, for every colocated node): the pin places it, and the two must agree.
 */
function checkPinnedColocations(topo: ResolvedTopology, hosts: ReadonlyMap<string, string>): void {
  const issues: string[] = [];
  for (const n of topo.nodes) {
    if (n.host === undefined || n.colocate === undefined) continue;
    const there = hosts.get(n.colocate);
    if (there !== undefined && there !== hosts.get(n.name)) {
      issues.push(`node "${n.name}" is on host "${hosts.get(n.name)}" but colocates with "${n.colocate}", which is on host "${there}"`);
    }
  }
  if (issues.length > 0) {
    throw new ApiError(422, "colocate_conflict", `${issues.join("; ")}; give host or colocate, or hosts that agree`, { issues });
  }
}
