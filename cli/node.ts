/**
 * `nextmini node ACTION`: launching nodes and their lifecycle through the API.
 * `launch` starts them at once, or queues them when the namespace queues
 * launches; `queue` lists what is queued and `flush` empties the queue
 * without launching; `start`, `stop`, `kill` and `rm` act on existing nodes
 * (a name, a range or `all`). Scheduling the queue is `nextmini schedule`.
 */
import { z } from "zod";
import { NodeRow } from "../protocol/api.ts";
import { LaunchGroup } from "../protocol/launch.ts";
import { createClient } from "./client.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, OUTPUT, type CommandSpec, numberFrom, str, UsageError, type Values } from "./options.ts";

const ACTIONS = ["launch", "queue", "flush", "start", "stop", "kill", "rm"] as const;
type Action = (typeof ACTIONS)[number];

/** Actions that set what the controller wants of existing nodes (POST .../nodes/{target}/{action}). */
const LIFECYCLE = ["start", "stop", "kill"] as const;
type Lifecycle = (typeof LIFECYCLE)[number];
const DOING: Record<Lifecycle, string> = { start: "starting", stop: "stopping", kill: "killing" };

/** Actions on existing nodes, which need NAMES (or all). */
const TARGETED: ReadonlySet<string> = new Set([...LIFECYCLE, "rm"]);

const Lifecycled = z.object({ action: z.enum(LIFECYCLE), nodes: z.array(z.string()) });
const Removed = z.object({ nodes: z.array(z.string()), links: z.array(z.string()), routes: z.array(z.string()) });

export const spec: CommandSpec = {
  name: "node",
  usage: `node ${ACTIONS.join("|")} [NAMES] [options]`,
  summary: "Launch nodes (at once, or into the namespace's queue), list or flush the queue; start, stop, kill, remove nodes.",
  description: [
    "launch NAMES|--count N   launch nodes named by a range like vm[1-4], or N nodes named node-N;",
    "                         with the namespace's queueing on they wait for 'nextmini schedule'",
    "queue                    the queued launch groups, in order",
    "flush                    empty the queue without launching anything",
    "start NAMES|all          bring stopped nodes up again, with the same addresses and links",
    "stop NAMES|all           stop the programs in the nodes (SIGTERM, then SIGKILL after 3 s) and tear the nodes down;",
    "                         they stay listed as stopped",
    "kill NAMES|all           like stop, with SIGKILL at once",
    "rm NAMES|all             remove stopped or failed nodes, with their links and the routes through them",
  ].join("\n"),
  options: {
    count: { type: "string", help: "launch: this many nodes, named node-N", value: "N" },
    kind: { type: "string", help: "launch: netns, host or userspace (default netns)", value: "KIND" },
    vcpus: { type: "string", help: "launch: virtual cpus each node commits (default 1)", value: "N" },
    memory: { type: "string", help: "launch: memory each node commits, in MB (default 2048)", value: "MB" },
    schedule: { type: "string", help: "launch: pin the nodes to this host", value: "HOST" },
    coschedule: { type: "string", help: "launch: at most N other nodes on a node's host; 0 alone, -1 no limit", value: "N" },
    colocate: { type: "string", help: "launch: put the nodes on the host of this node", value: "NODE" },
    ...OUTPUT,
    ...CLIENT,
    ...COMMON,
  },
  examples: [
    "nextmini node launch 'vm[1-8]' --vcpus 2 --memory 1024 -n exp1",
    "nextmini node launch --count 4 --coschedule 0",
    "nextmini node launch db --schedule h3",
    "nextmini node queue -n exp1",
    "nextmini node flush -n exp1",
    "nextmini node stop all -n exp1",
    "nextmini node rm 'vm[1-4]' -n exp1",
  ],
};

/** The launch request the flags describe; the controller validates it (ranges, limits, names). */
function launchBody(values: Values, names: string | undefined): Record<string, unknown> {
  const count = numberFrom(values, "count", true);
  if ((names === undefined) === (count === undefined)) throw new UsageError("node launch needs NAMES (like vm[1-4]) or --count N, not both");
  const fields: Record<string, unknown> = {
    names,
    count,
    kind: values.kind,
    vcpus: numberFrom(values, "vcpus", true),
    memoryMB: numberFrom(values, "memory", true),
    schedule: values.schedule,
    coschedule: numberFrom(values, "coschedule", true),
    colocate: values.colocate,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** The nodes a lifecycle action names, for the URL path: a range's brackets and commas are escaped. */
function target(action: string, names: string | undefined): string {
  if (names === undefined) throw new UsageError(`node ${action} needs the nodes: a name, a range like 'vm[1-4]', or all`);
  return encodeURIComponent(names);
}

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [action, names, ...extra] = positionals;
  if (!ACTIONS.includes(action as Action)) throw new UsageError(`node needs an action: ${ACTIONS.join(", ")}; run 'nextmini node --help'`);
  if (extra.length > 0 || ((action === "queue" || action === "flush") && names !== undefined)) {
    throw new UsageError(`node ${action} got unexpected arguments: ${[names, ...extra].filter(Boolean).join(" ")}`);
  }
  // a missing target is a usage error before any token or controller is needed
  if (TARGETED.has(action)) target(action, names);
  const ns = str(values, "namespace");
  const client = createClient(values);
  switch (action as Action) {
    case "launch": {
      const res = await client.request("POST", `/namespaces/${ns}/nodes`, launchBody(values, names));
      const answer: unknown = await res.json();
      if (str(values, "output") === "json") {
        console.log(JSON.stringify(answer, null, 2));
      } else if (res.status === 202) {
        const group = LaunchGroup.parse(answer);
        console.log(`queued ${group.names.length} node(s) in namespace ${ns}: ${group.names.join(", ")}; place them with 'nextmini schedule -n ${ns}'`);
      } else {
        const rows = z.array(NodeRow).parse(answer);
        console.log(`launched ${rows.length} node(s) in namespace ${ns}: ${rows.map((r) => `${r.name} on ${r.host} (${r.ip})`).join(", ")}`);
      }
      return 0;
    }
    case "queue":
      await printList(values, `/namespaces/${ns}/queue`);
      return 0;
    case "flush": {
      const groups = z.array(LaunchGroup).parse(await client.json("DELETE", `/namespaces/${ns}/queue`));
      const count = groups.reduce((n, g) => n + g.names.length, 0);
      console.log(`flushed ${count} queued node(s) in ${groups.length} group(s) from namespace ${ns}`);
      return 0;
    }
    case "start":
    case "stop":
    case "kill": {
      const answer: unknown = await client.json("POST", `/namespaces/${ns}/nodes/${target(action, names)}/${action}`);
      if (str(values, "output") === "json") {
        console.log(JSON.stringify(answer, null, 2));
        return 0;
      }
      const r = Lifecycled.parse(answer);
      // the controller only changed what it wants; agents act on it next, so say it is under way
      console.log(`${DOING[r.action]} ${r.nodes.length} node(s) in namespace ${ns}: ${r.nodes.join(", ")}; 'nextmini nodes -n ${ns}' shows their state`);
      return 0;
    }
    case "rm": {
      const answer: unknown = await client.json("DELETE", `/namespaces/${ns}/nodes/${target(action, names)}`);
      if (str(values, "output") === "json") {
        console.log(JSON.stringify(answer, null, 2));
        return 0;
      }
      const r = Removed.parse(answer);
      console.log(`removed ${r.nodes.length} node(s) from namespace ${ns}: ${r.nodes.join(", ")} (with ${r.links.length} link(s) and ${r.routes.length} route(s))`);
      return 0;
    }
  }
}
