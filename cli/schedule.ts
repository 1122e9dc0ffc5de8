/**
 * `nextmini schedule [ACTION]`: the namespace's schedule through the API.
 * Without an action it places the queue (`--dry-run` only stores and shows
 * the plan); `show` prints the stored plan, `move NODES HOST` edits it and
 * `status` lists the runs.
 */
import { z } from "zod";
import { alignTable } from "../controller/format.ts";
import { PlanEntry } from "../protocol/launch.ts";
import { createClient } from "./client.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, OUTPUT, type CommandSpec, str, UsageError, type Values } from "./options.ts";

const ACTIONS = ["show", "move", "status"] as const;
type Action = (typeof ACTIONS)[number];

export const spec: CommandSpec = {
  name: "schedule",
  usage: `schedule [${ACTIONS.join("|")}] [options]`,
  summary: "Place the namespace's queued nodes on hosts (or dry-run, edit the plan, list runs).",
  description: [
    "(no action)        place every queued node and launch it; with --dry-run store and show the plan only",
    "show               the plan a dry run stored (as moves left it)",
    "move NODES HOST    put planned nodes (a name, range like vm[1-2], or comma list) on HOST in the stored plan",
    "status             one row per schedule run: start, end, state, launched, failures, total, hosts",
  ].join("\n"),
  options: {
    "dry-run": { type: "boolean", help: "store and show the plan without launching" },
    ...OUTPUT,
    ...CLIENT,
    ...COMMON,
  },
  examples: [
    "nextmini schedule --dry-run -n exp1",
    "nextmini schedule move 'vm[1-2]' h3 -n exp1",
    "nextmini schedule -n exp1",
    "nextmini schedule status -n exp1 -o csv",
  ],
};

/** A plan as the API answered it, in -o's format. */
function printPlan(values: Values, answer: unknown): void {
  const plan = z.array(PlanEntry).parse(answer);
  const format = str(values, "output");
  if (format === "json") console.log(JSON.stringify(plan, null, 2));
  else if (format === "csv") process.stdout.write(["node,host", ...plan.map((p) => `${p.node},${p.host}`)].map((l) => `${l}\n`).join(""));
  else process.stdout.write(alignTable([["NODE", "HOST"], ...plan.map((p) => [p.node, p.host])]));
}

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [action, ...args] = positionals;
  if (action !== undefined && !ACTIONS.includes(action as Action)) {
    throw new UsageError(`unknown schedule action "${action}": give none (to schedule), or ${ACTIONS.join(", ")}`);
  }
  const expected = action === "move" ? 2 : 0;
  if (args.length !== expected) {
    throw new UsageError(action === "move" ? "schedule move needs NODES and HOST: nextmini schedule move 'vm[1-2]' h3" : `unexpected arguments: ${args.join(" ")}`);
  }
  if (values["dry-run"] === true && action !== undefined) throw new UsageError("--dry-run goes with 'nextmini schedule' alone");
  const ns = str(values, "namespace");
  const client = createClient(values);
  switch (action as Action | undefined) {
    case undefined:
      printPlan(values, await client.json("POST", `/namespaces/${ns}/schedule`, { dryRun: values["dry-run"] === true }));
      return 0;
    case "show":
      await printList(values, `/namespaces/${ns}/schedule`);
      return 0;
    case "move":
      printPlan(values, await client.json("POST", `/namespaces/${ns}/schedule/move`, { nodes: args[0], host: args[1] }));
      return 0;
    case "status":
      await printList(values, `/namespaces/${ns}/schedule/status`);
      return 0;
  }
}
