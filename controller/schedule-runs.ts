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
 * come back and build it.
 */
import type { ScheduleRun, ScheduleStatusRow } from "../protocol/launch.ts";
import type { NodeSpec, NodeState } from "../protocol/state.ts";

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

/** A running run with its live counts, settled (final counts, `end`, names dropped) when nothing of it is pending. */
function progress(run: ScheduleRun, nodes: ReadonlyMap<string, NodeSpec>, observe: Observe, now: number): ScheduleRun {
  if (run.state !== "running") return run;
  let launched = 0;
  let failures = 0;
  let pending = 0;
  for (const name of run.nodes) {
    const node = nodes.get(name);
    if (node === undefined || (node.desired ?? "running") !== "running") continue;
    const state = observe(node);
    if (state === "running") launched++;
    else if (state === "error") failures++;
    else pending++;
  }
  if (pending > 0) return { ...run, launched, failures };
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
