/**
 * @module
 * Launching and scheduling nodes (minimega's `vm launch`, queue, `ns
 * schedule`): a launch either runs the scheduler at once and creates the
 * nodes, or, with the namespace's queueing on, appends a launch group to its
 * queue; a schedule places the whole queue (or follows the plan a dry run
 * stored and moves edited) and creates every node in one commit. Every
 * schedule is all or nothing: a failure creates nothing and leaves the queue
 * as it was. The placing itself is controller/scheduler.ts; the status
 * history is schedule-runs.ts.
 *
 * The queue, the plan and the run history are no agent's business, so
 * changes to them alone go straight to the store; only creating nodes goes
 * through Namespaces.replace, which pushes the new state to the hosts.
 */
import { ApiError } from "../protocol/errors.ts";
import {
  DEFAULT_MEMORY_MB,
  DEFAULT_VCPUS,
  type LaunchGroup,
  type LaunchRequest,
  launchNames,
  NO_COSCHEDULE_LIMIT,
  type PlanEntry,
  type ScheduleStatusRow,
} from "../protocol/launch.ts";
import { namesOf } from "./name-lists.ts";
import type { NodeSpec } from "../protocol/state.ts";
import { DEFAULT_MTU, TopologyError } from "../protocol/topology.ts";
import { addressNewNodes } from "../protocol/topology-resolve.ts";
import type { AgentHub } from "./hub.ts";
import type { Namespaces } from "./namespaces.ts";
import { appendRun, failedRun, launchedRun, settleRuns, statusRow } from "./schedule-runs.ts";
import { schedule, type ScheduleResult, type SchedulerHost } from "./scheduler.ts";
import { unusableHost } from "./scheduler-errors.ts";
import { nodesOnHosts, scheduleFailure, schedulerHosts } from "./scheduling-facts.ts";
import type { NamespaceRecord, Store } from "./store.ts";

export type SchedulingDeps = {
  namespaces: Namespaces;
  hub: Pick<AgentHub, "upHosts" | "observeNode">;
  store: Store;
  /** milliseconds since the epoch, for status rows */
  now?: () => number;
};

/** A launch with queueing off creates nodes; with it on, it queues a group. */
export type LaunchResult = { created: NodeSpec[] } | { queued: LaunchGroup };

export class Scheduling {
  readonly #namespaces: Namespaces;
  readonly #hub: SchedulingDeps["hub"];
  readonly #store: Store;
  readonly #now: () => number;

  constructor(deps: SchedulingDeps) {
    this.#namespaces = deps.namespaces;
    this.#hub = deps.hub;
    this.#store = deps.store;
    this.#now = deps.now ?? Date.now;
  }

  launch(namespace: string, req: LaunchRequest): LaunchResult {
    const ns = this.#namespaces.get(namespace);
    if (req.command !== undefined && req.kind === "userspace") {
      const issue = "command: a userspace node has no kernel interface to run a program against; launch netns or host nodes to run one";
      throw new ApiError(422, "invalid_request", issue, { issues: [issue] });
    }
    const taken = new Set([...ns.nodes.map((n) => n.name), ...ns.queue.flatMap((g) => g.names)]);
    const { names, next } = launchNames(req, ns.nextNode, (n) => taken.has(n));
    const duplicates = new Set<string>();
    const seen = new Set<string>();
    for (const n of names) {
      if (taken.has(n) || seen.has(n)) duplicates.add(n);
      seen.add(n);
    }
    if (duplicates.size > 0) {
      const list = [...duplicates].map((n) => `"${n}"`).join(", ");
      throw new ApiError(409, "node_exists", `namespace "${namespace}" already has (running or queued) or is given twice: ${list}`, {
        nodes: [...duplicates],
      });
    }
    const { names: _names, count: _count, ...fields } = req;
    const group: LaunchGroup = { ...fields, names };

    if (ns.settings.queueing) {
      // a pin outside the namespace is a typo best caught now; whether the host is up is the schedule's question
      if (group.schedule !== undefined && !this.#hosts(ns).some((h) => h.name === group.schedule)) {
        throw scheduleFailure(unusableHost(names[0], group.schedule, "unknown"), namespace);
      }
      this.#store.putNamespace({ ...ns, queue: [...ns.queue, group], nextNode: next });
      return { queued: group };
    }
    return this.#run(ns, () => {
      const result = this.#schedule(ns, [group]);
      if (!result.ok) throw scheduleFailure(result.error, namespace);
      return { created: this.#create({ ...ns, nextNode: next }, [group], result.plan) };
    });
  }

  queue(namespace: string): LaunchGroup[] {
    return this.#namespaces.get(namespace).queue;
  }

  /** Empties the queue without launching (and drops the plan made for it); answers what was queued. */
  flush(namespace: string): LaunchGroup[] {
    const ns = this.#namespaces.get(namespace);
    this.#store.putNamespace({ ...withoutPlan(ns), queue: [] });
    return ns.queue;
  }

  /**
   * Places the queue. A dry run stores and answers the plan; otherwise the
   * stored plan is followed as it is (after checking it still fits the queue
   * and the hosts) or the scheduler runs, and every queued node is created.
   */
  schedule(namespace: string, dryRun: boolean): PlanEntry[] {
    const ns = this.#namespaces.get(namespace);
    if (ns.queue.length === 0) {
      throw new ApiError(409, "queue_empty", `namespace "${namespace}" has nothing queued; launch nodes with queueing on first`);
    }
    if (dryRun) {
      const result = this.#schedule(ns, ns.queue);
      if (!result.ok) throw scheduleFailure(result.error, namespace);
      this.#store.putNamespace({ ...ns, plan: result.plan });
      return result.plan;
    }
    return this.#run(ns, () => {
      const plan = ns.plan === undefined ? this.#planQueue(ns) : this.#checkPlan(ns, ns.plan);
      this.#create({ ...withoutPlan(ns), queue: [] }, ns.queue, plan);
      return plan;
    });
  }

  /** The plan a dry run stored, as moves left it; [] when there is none. */
  plan(namespace: string): PlanEntry[] {
    return this.#namespaces.get(namespace).plan ?? [];
  }

  /** Puts planned nodes (a name, range or comma list) on another host of the namespace in the stored plan. */
  move(namespace: string, nodes: string, host: string): PlanEntry[] {
    const ns = this.#namespaces.get(namespace);
    if (ns.plan === undefined) {
      throw new ApiError(409, "no_plan", `namespace "${namespace}" has no stored plan; dry-run first: POST /namespaces/${namespace}/schedule {"dryRun": true}`);
    }
    const names = namesOf(nodes, "nodes");
    const pool = this.#namespaces.hostsOf(ns);
    if (!pool.includes(host)) {
      throw new ApiError(422, "unknown_host", `host "${host}" is not a host of namespace "${namespace}" (its hosts: ${pool.join(", ") || "none"})`, {
        host,
        hosts: pool,
      });
    }
    const planned = new Set(ns.plan.map((p) => p.node));
    const missing = names.filter((n) => !planned.has(n));
    if (missing.length > 0) {
      throw new ApiError(422, "not_in_plan", `not in the stored plan of namespace "${namespace}": ${missing.map((n) => `"${n}"`).join(", ")}`, {
        nodes: missing,
      });
    }
    const moving = new Set(names);
    const plan = ns.plan.map((p) => (moving.has(p.node) ? { node: p.node, host } : p));
    this.#store.putNamespace({ ...ns, plan });
    return plan;
  }

  /** One row per run, oldest first, with live counts for runs still running. */
  status(namespace: string): ScheduleStatusRow[] {
    const ns = this.#namespaces.get(namespace);
    const observe = (n: NodeSpec) => this.#hub.observeNode(n.host, ns.name, n.name).state;
    const { runs, settled } = settleRuns(ns.runs, ns.nodes, observe, this.#now());
    if (settled) this.#store.putNamespace({ ...ns, runs });
    return runs.map(statusRow);
  }

  #hosts(ns: NamespaceRecord): SchedulerHost[] {
    return schedulerHosts(ns.hosts, this.#store.listHosts(), this.#hub.upHosts());
  }

  #schedule(ns: NamespaceRecord, groups: readonly LaunchGroup[]): ScheduleResult {
    return schedule({
      load: ns.settings.load,
      hosts: this.#hosts(ns),
      existing: nodesOnHosts(this.#namespaces.list()),
      placed: new Map(ns.nodes.map((n) => [n.name, n.host])),
      groups,
    });
  }

  #planQueue(ns: NamespaceRecord): PlanEntry[] {
    const result = this.#schedule(ns, ns.queue);
    if (!result.ok) throw scheduleFailure(result.error, ns.name);
    return result.plan;
  }

  /** A stored plan is followed as it is, but only for exactly the queued nodes and onto connected hosts of the namespace. */
  #checkPlan(ns: NamespaceRecord, plan: PlanEntry[]): PlanEntry[] {
    const queued = ns.queue.flatMap((g) => g.names);
    const planned = new Set(plan.map((p) => p.node));
    const inQueue = new Set(queued);
    const issues: string[] = [];
    const unplanned = queued.filter((n) => !planned.has(n));
    if (unplanned.length > 0) issues.push(`queued but not in the plan: ${unplanned.join(", ")}`);
    const gone = [...planned].filter((n) => !inQueue.has(n));
    if (gone.length > 0) issues.push(`in the plan but no longer queued: ${gone.join(", ")}`);
    // a topology document may have made a node of the same name since the dry run
    const made = new Set(ns.nodes.map((n) => n.name));
    const clash = queued.filter((n) => made.has(n));
    if (clash.length > 0) issues.push(`already in the namespace: ${clash.join(", ")}`);
    const hosts = new Map(this.#hosts(ns).map((h) => [h.name, h]));
    for (const host of new Set(plan.map((p) => p.host))) {
      const h = hosts.get(host);
      if (h === undefined) issues.push(`host ${host} is no longer a host of the namespace`);
      else if (!h.connected) issues.push(`host ${host} is not connected`);
    }
    if (issues.length > 0) {
      throw new ApiError(
        409,
        "plan_invalid",
        `the stored plan of namespace "${ns.name}" cannot be followed: ${issues.join("; ")}; dry-run again or move the nodes`,
        { issues },
      );
    }
    return plan;
  }

  /** Creates the groups' nodes where `plan` says, in one commit of `after` (the namespace with its queue and plan as they should end). */
  #create(after: NamespaceRecord, groups: readonly LaunchGroup[], plan: readonly PlanEntry[]): NodeSpec[] {
    const hostOf = new Map(plan.map((p) => [p.node, p.host]));
    let addresses: { name: string; index: number; ip: string }[];
    try {
      addresses = addressNewNodes(
        groups.flatMap((g) => g.names),
        after.subnet,
        after.nodes,
      );
    } catch (e) {
      if (!(e instanceof TopologyError)) throw e;
      throw new ApiError(409, "no_address", `namespace "${after.name}" cannot address the new nodes: ${e.issues.join("; ")}`, { issues: e.issues });
    }
    const address = new Map(addresses.map((a) => [a.name, a]));
    const created = groups.flatMap((g) =>
      g.names.map((name): NodeSpec => {
        const a = address.get(name);
        const host = hostOf.get(name);
        if (a === undefined || host === undefined) throw new Error(`internal: node ${name} has no ${a === undefined ? "address" : "planned host"}`);
        return { name, kind: g.kind ?? "netns", index: a.index, ip: a.ip, host, mtu: DEFAULT_MTU, ...placementOf(g), ...(g.command ? { command: g.command } : {}) };
      }),
    );
    this.#namespaces.replace({ ...after, nodes: [...after.nodes, ...created], runs: appendRun(after.runs, launchedRun(this.#now(), created)) });
    return created;
  }

  /** A run that launches nodes; one that fails before launching (an ApiError) is recorded as a failed run of `ns`. */
  #run<T>(ns: NamespaceRecord, launch: () => T): T {
    try {
      return launch();
    } catch (e) {
      if (e instanceof ApiError) this.#store.putNamespace({ ...ns, runs: appendRun(ns.runs, failedRun(this.#now(), e.message)) });
      throw e;
    }
  }
}

/** The fields a node keeps from its launch group: those that differ from the defaults (absent means default). */
function placementOf(g: LaunchGroup): Pick<NodeSpec, "vcpus" | "memoryMB" | "coschedule" | "colocate"> {
  return {
    ...(g.vcpus === DEFAULT_VCPUS ? {} : { vcpus: g.vcpus }),
    ...(g.memoryMB === DEFAULT_MEMORY_MB ? {} : { memoryMB: g.memoryMB }),
    ...(g.coschedule === NO_COSCHEDULE_LIMIT ? {} : { coschedule: g.coschedule }),
    ...(g.colocate === undefined ? {} : { colocate: g.colocate }),
  };
}

function withoutPlan(ns: NamespaceRecord): NamespaceRecord {
  const { plan: _, ...rest } = ns;
  return rest;
}
