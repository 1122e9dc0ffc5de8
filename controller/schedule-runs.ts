/**
 * @module
 * The schedule status history (GET /namespaces/{ns}/schedule/status): one
 * run per schedule that launched nodes or failed before launching. A run is
 * `running` until every node it launched has settled, meaning its agent
 * reports it running or in error, or the node no longer wants to run
 * (stopped, killed or removed since); it then becomes `completed`, or
 * `failed` when any node failed. Nothing tells the controller when that
 * happens, so runs are settled when they are read (and whenever scheduling
 * touches the namespace); `end` is the first time the controller saw the run
 * settled. A node on a host that is down is `lost`, not settled: its host may
 * come back and build it. While a run is running its namespace cannot be
 * deleted (schedulerBusy, the hook Namespaces.delete consults).
 */
import type { ScheduleRun, ScheduleStatusRow } from "../protocol/launch.ts";
import type { NodeSpec, NodeState } from "../protocol/state.ts";
import type { AgentHub } from "./hub.ts";
import type { NamespaceRecord, Store } from "./store.ts";

/** Enough history for any experiment's bookkeeping, without letting a script that launches forever grow the record forever. */
export const MAX_RUNS = 1000;

/** What a node's agent reports for it. */
export type Observe = (node: NodeSpec) => NodeState;

export function launchedRun(now: number, nodes: readonly NodeSpec[]): ScheduleRun {
  return {
    start: now,
    state: "running",
    nodes: nodes.map((n) => n.name),
    total: nodes.length,
    launched: 0,
    failures: 0,
    hosts: new Set(nodes.map((n) => n.host)).size,
  };
}

export function failedRun(now: number, error: string): ScheduleRun {
  return { start: now, end: now, state: "failed", nodes: [], total: 0, launched: 0, failures: 0, hosts: 0, error };
}

export function appendRun(runs: readonly ScheduleRun[], run: ScheduleRun): ScheduleRun[] {
  return [...runs, run].slice(-MAX_RUNS);
}

/** How a running run's nodes stand now; nodes that no longer want to run count nowhere, as they settled by being stopped. */
function tally(run: ScheduleRun, nodes: ReadonlyMap<string, NodeSpec>, observe: Observe): { launched: number; failures: number; pending: string[] } {
  let launched = 0;
  let failures = 0;
  const pending: string[] = [];
  for (const name of run.nodes) {
    const node = nodes.get(name);
    if (node === undefined || (node.desired ?? "running") !== "running") continue;
    const state = observe(node);
    if (state === "running") launched++;
    else if (state === "error") failures++;
    else pending.push(name);
  }
  return { launched, failures, pending };
}

/** A running run with its live counts, settled (final counts, `end`, names dropped) when nothing of it is pending. */
function progress(run: ScheduleRun, nodes: ReadonlyMap<string, NodeSpec>, observe: Observe, now: number): ScheduleRun {
  if (run.state !== "running") return run;
  const { launched, failures, pending } = tally(run, nodes, observe);
  if (pending.length > 0) return { ...run, launched, failures };
  return { ...run, launched, failures, nodes: [], end: now, state: failures > 0 ? "failed" : "completed" };
}

/**
 * The runs with live counts, and whether any of them settled just now (the
 * caller stores them then, so a settled run keeps its counts and end).
 */
export function settleRuns(
  runs: readonly ScheduleRun[],
  nodes: readonly NodeSpec[],
  observe: Observe,
  now: number,
): { runs: ScheduleRun[]; settled: boolean } {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let settled = false;
  const out = runs.map((run) => {
    const next = progress(run, byName, observe, now);
    if (run.state === "running" && next.state !== "running") settled = true;
    return next;
  });
  return { runs: out, settled };
}

/**
 * Why the namespace's scheduler still runs (a run whose nodes have not all
 * settled), or undefined when none does: deleting the namespace then would
 * tear down nodes its agents are still building and lose the run's outcome.
 * The sentence names the pending nodes and how to end the run without
 * waiting, since a node on a host that never comes back keeps it running.
 */
export function runningReason(ns: Pick<NamespaceRecord, "name" | "runs" | "nodes">, observe: Observe): string | undefined {
  const byName = new Map(ns.nodes.map((n) => [n.name, n]));
  const running = ns.runs
    .filter((run) => run.state === "running")
    .map((run) => ({ run, ...tally(run, byName, observe) }))
    .filter((r) => r.pending.length > 0);
  if (running.length === 0) return undefined;
  const runs = running.map(
    ({ run, launched, failures, pending }) =>
      `the run started ${new Date(run.start).toISOString()} has ${launched} of ${run.total} nodes running, ${failures} failed and ${pending.length} not yet up (${summarize(pending)})`,
  );
  return `its scheduler is still launching nodes: ${runs.join("; ")}; wait until they run or fail (nextmini schedule status -n ${ns.name}), or stop or kill them (nextmini node kill all -n ${ns.name}) and delete again`;
}

/**
 * The `busy` hook of NamespacesOptions (server.ts and the test harness wire
 * it): reads the record from the store, so it can be built before the
 * Namespaces it is handed to, and keeps namespaces.ts free of scheduling.
 */
export function schedulerBusy(store: Pick<Store, "getNamespace">, hub: Pick<AgentHub, "observeNode">): (namespace: string) => string | undefined {
  return (name) => {
    const ns = store.getNamespace(name);
    return ns && runningReason(ns, (n) => hub.observeNode(n.host, name, n.name).state);
  };
}

function summarize(names: readonly string[]): string {
  return names.length <= 5 ? names.join(", ") : `${names.slice(0, 5).join(", ")} and ${names.length - 5} more`;
}

export function statusRow(run: ScheduleRun): ScheduleStatusRow {
  return {
    start: new Date(run.start).toISOString(),
    ...(run.end === undefined ? {} : { end: new Date(run.end).toISOString() }),
    state: run.state,
    launched: run.launched,
    failures: run.failures,
    total: run.total,
    hosts: run.hosts,
    ...(run.error === undefined ? {} : { error: run.error }),
  };
}
