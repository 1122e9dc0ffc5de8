/**
 * Launching nodes: the body of POST /namespaces/{ns}/nodes and the launch
 * group it becomes once names are expanded (what the queue holds and what the
 * scheduler, controller/scheduler.ts, places). The placement fields and their
 * defaults are minimega's: vcpus, memory, schedule (pin to a host), coschedule
 * (at most N other nodes on the host) and colocate (same host as a node).
 */
import { z } from "zod";
import { expandRange, Name } from "./names.ts";
import { NodeKind } from "./state.ts";
import { NameOrRange } from "./topology.ts";

export const DEFAULT_VCPUS = 1;
export const DEFAULT_MEMORY_MB = 2048;
/** coschedule -1: any number of other nodes may share the host */
export const NO_COSCHEDULE_LIMIT = -1;
/** Same cap as range expressions, so `count` cannot ask for more than `names` could. */
export const MAX_LAUNCH_COUNT = 100000;

const placementFields = {
  vcpus: z.number().int().positive().default(DEFAULT_VCPUS).describe("virtual cpus the node commits on its host"),
  memoryMB: z.number().int().positive().default(DEFAULT_MEMORY_MB).describe("memory the node commits on its host, in MB"),
  schedule: Name.optional().describe("pin every node of the group to this host of the namespace"),
  coschedule: z
    .number()
    .int()
    .min(NO_COSCHEDULE_LIMIT)
    .default(NO_COSCHEDULE_LIMIT)
    .describe("at most this many other nodes on the chosen host; 0 = alone, -1 = no limit"),
  colocate: Name.optional().describe("put every node of the group on the host of this node (queued or placed)"),
};

// A colocated node follows its target wherever that goes; a pin on top could only contradict it.
const notPinnedAndColocated = {
  check: (g: { schedule?: string; colocate?: string }) => g.schedule === undefined || g.colocate === undefined,
  message: "give schedule or colocate, not both: a colocated node goes wherever the node it follows goes",
};

/** POST /namespaces/{ns}/nodes: `names` (a range expression) or `count`, never both. */
export const LaunchRequest = z
  .strictObject({
    names: NameOrRange.optional().describe('the nodes to launch, like "a[0-3]"'),
    count: z.number().int().positive().max(MAX_LAUNCH_COUNT).optional().describe("launch this many nodes named node-N"),
    kind: NodeKind.optional(),
    command: z.array(z.string()).min(1).optional().describe("run this in each node once it is up"),
    ...placementFields,
  })
  .refine((r) => (r.names === undefined) !== (r.count === undefined), {
    message: "give exactly one of names (a name or range like \"a[0-3]\") or count",
  })
  .refine(notPinnedAndColocated.check, { message: notPinnedAndColocated.message, path: ["colocate"] });
export type LaunchRequest = z.infer<typeof LaunchRequest>;

/**
 * A launch group: one request with its names expanded. `links` is how many
 * link ends each node of the group is expected to have; the netcommit load
 * counts it before the links exist (a topology document knows it, a bare
 * launch does not and leaves it out, counting 0).
 */
export const LaunchGroup = z
  .strictObject({
    names: z.array(Name).min(1),
    kind: NodeKind.optional(),
    command: z.array(z.string()).min(1).optional(),
    ...placementFields,
    links: z.number().int().nonnegative().optional().describe("link ends each node is expected to have (netcommit)"),
  })
  .refine(notPinnedAndColocated.check, { message: notPinnedAndColocated.message, path: ["colocate"] });
export type LaunchGroup = z.infer<typeof LaunchGroup>;
/** A launch group as callers may write it: the defaulted fields may be left out. */
export type LaunchGroupInput = z.input<typeof LaunchGroup>;

/**
 * The names a request stands for: its range expanded, or `node-N` counting on
 * from the namespace's counter `next`, skipping names `taken` says are in use
 * (a node someone named node-5 by hand keeps its name; the count moves past
 * it). `next` is where the counter stands afterwards: it only grows, so a
 * count name is never handed out twice, even after its node is removed.
 */
export function launchNames(
  req: Pick<LaunchRequest, "names" | "count">,
  next: number,
  taken: (name: string) => boolean = () => false,
): { names: string[]; next: number } {
  if (req.names !== undefined) return { names: expandRange(req.names), next };
  const names: string[] = [];
  let n = next;
  while (names.length < (req.count ?? 0)) {
    const name = `node-${n++}`;
    if (!taken(name)) names.push(name);
  }
  return { names, next: n };
}

/** One entry of a schedule plan: where a queued node goes. */
export const PlanEntry = z.strictObject({ node: Name, host: Name });
export type PlanEntry = z.infer<typeof PlanEntry>;

/** POST /namespaces/{ns}/schedule (an empty body means {}). */
export const ScheduleRequest = z.strictObject({
  dryRun: z.boolean().default(false).describe("store and return the plan without launching"),
});
export type ScheduleRequest = z.infer<typeof ScheduleRequest>;

/** POST /namespaces/{ns}/schedule/move: edits the plan a dry run stored. */
export const ScheduleMove = z.strictObject({
  nodes: z.string().min(1).describe('planned nodes: a name, a range like "vm[1-2]" or a comma list'),
  host: Name.describe("a host of the namespace"),
});
export type ScheduleMove = z.infer<typeof ScheduleMove>;

export const RUN_STATES = ["running", "completed", "failed"] as const;

/**
 * One schedule run as the store keeps it. `nodes` lists what it launched
 * until every one of them has settled (running or error); the counts are
 * then final and the names are dropped, so a long history stays small.
 * Times are milliseconds since the epoch.
 */
export const ScheduleRun = z.strictObject({
  start: z.number(),
  end: z.number().optional(),
  state: z.enum(RUN_STATES),
  nodes: z.array(Name).default([]),
  total: z.number().int().nonnegative(),
  launched: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  hosts: z.number().int().nonnegative(),
  /** why a run failed before launching anything */
  error: z.string().optional(),
});
export type ScheduleRun = z.infer<typeof ScheduleRun>;

/**
 * GET /namespaces/{ns}/schedule/status: one row per run (minimega's columns).
 * launched and failures count the run's nodes that their agents report
 * running and in error; `hosts` is how many hosts the run placed nodes on.
 */
export const ScheduleStatusRow = z.object({
  start: z.string().describe("ISO 8601"),
  end: z.string().optional().describe("ISO 8601; absent while running"),
  state: z.enum(RUN_STATES),
  launched: z.number().int(),
  failures: z.number().int(),
  total: z.number().int(),
  hosts: z.number().int(),
  error: z.string().optional(),
});
export type ScheduleStatusRow = z.infer<typeof ScheduleStatusRow>;
