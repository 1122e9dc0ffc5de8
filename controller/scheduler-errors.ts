/**
 * @module
 * Why a schedule failed, as data: a snake_case `code`, a sentence naming the
 * node, host and limit involved, and `details` with the same facts for
 * programs. Shaped so a route can hand it to ApiError (protocol/errors.ts) as
 * it is; which HTTP status each code deserves is the route's call.
 */
import type { Breach } from "./scheduler-load.ts";

export type ScheduleError =
  | { code: "duplicate_node"; message: string; details: { node: string } }
  | { code: "schedule_with_colocate"; message: string; details: { node: string; schedule: string; colocate: string } }
  | { code: "unknown_colocate"; message: string; details: { node: string; colocate: string } }
  | { code: "colocate_cycle"; message: string; details: { nodes: string[] } }
  /** a pinned host, or the host of a colocate target, that is not a host of the namespace */
  | { code: "unknown_host"; message: string; details: { node: string; host: string; colocate?: string } }
  /** the same, for a host of the namespace whose agent is not connected */
  | { code: "host_down"; message: string; details: { node: string; host: string; colocate?: string } }
  | { code: "no_hosts"; message: string; details: { node: string } }
  | {
      code: "no_host_fits";
      message: string;
      details: { node: string; host: string; limit: number; limitOf?: string; others: number };
    };

export type ScheduleErrorCode = ScheduleError["code"];

const q = (name: string) => `"${name}"`;
const nodes = (n: number) => `${n} other node${n === 1 ? "" : "s"}`;

export function duplicateNode(node: string, alreadyPlaced: boolean): ScheduleError {
  const where = alreadyPlaced ? "already exists in this namespace" : "appears more than once among the nodes to place";
  return { code: "duplicate_node", message: `node ${q(node)} ${where}`, details: { node } };
}

export function scheduleWithColocate(node: string, schedule: string, colocate: string): ScheduleError {
  return {
    code: "schedule_with_colocate",
    message: `node ${q(node)} sets both schedule (${q(schedule)}) and colocate (${q(colocate)}): a colocated node goes wherever the node it follows goes, so it cannot be pinned as well`,
    details: { node, schedule, colocate },
  };
}

export function unknownColocate(node: string, colocate: string): ScheduleError {
  return {
    code: "unknown_colocate",
    message: `node ${q(node)} colocates with ${q(colocate)}, which is neither being placed nor placed in this namespace`,
    details: { node, colocate },
  };
}

export function colocateCycle(names: string[]): ScheduleError {
  const message =
    names.length === 1
      ? `node ${q(names[0])} colocates with itself, so it has no host to follow`
      : `nodes ${names.map(q).join(", ")} colocate with one another in a ring, so none of them has a host to follow`;
  return { code: "colocate_cycle", message, details: { nodes: names } };
}

/** A pinned host (or, with `colocate`, the host of the node it follows) that cannot take it. */
export function unusableHost(node: string, host: string, problem: "unknown" | "down", colocate?: string): ScheduleError {
  const what = colocate === undefined ? `is scheduled on host ${q(host)}` : `colocates with ${q(colocate)}, which is on host ${q(host)}`;
  const details = { node, host, ...(colocate === undefined ? {} : { colocate }) };
  return problem === "unknown"
    ? { code: "unknown_host", message: `node ${q(node)} ${what}, which is not a host of this namespace`, details }
    : { code: "host_down", message: `node ${q(node)} ${what}, which is not connected`, details };
}

export function noHosts(node: string): ScheduleError {
  return { code: "no_hosts", message: `no connected host in this namespace to place node ${q(node)} on`, details: { node } };
}

/** How the host in a no-fit error was picked. */
export type HostChoice = { by: "least-loaded" } | { by: "schedule" } | { by: "colocate"; target: string };

export function noHostFits(node: string, host: string, choice: HostChoice, b: Breach): ScheduleError {
  const opening =
    choice.by === "least-loaded"
      ? `node ${q(node)} fits on no host: on ${q(host)}, the least-loaded,`
      : choice.by === "schedule"
        ? `node ${q(node)} cannot go on host ${q(host)}, where it is scheduled:`
        : `node ${q(node)} cannot go on host ${q(host)}, where ${q(choice.target)} that it colocates with is:`;
  const who =
    b.limitOf === undefined
      ? "a node already there"
      : b.alreadyOnHost
        ? `${q(b.limitOf)}, already there,`
        : b.limitOf === node
          ? q(node)
          : `${q(b.limitOf)}, colocated with it,`;
  return {
    code: "no_host_fits",
    message: `${opening} ${who} would share the host with ${nodes(b.others)} but allows at most ${b.coschedule} (coschedule ${b.coschedule})`,
    details: {
      node,
      host,
      limit: b.coschedule,
      ...(b.limitOf === undefined ? {} : { limitOf: b.limitOf }),
      others: b.others,
    },
  };
}
