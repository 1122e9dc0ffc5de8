/**
 * `nextmini flow ACTION`: user-space flows through the API. `add` starts one
 * (the dataplane's own TCP stacks send and receive it), `ls` lists them with
 * their figures, `show` one with its throughput over time, `watch` follows
 * them to the end, `rm` stops a running one or removes an ended one.
 */
import { FlowRow } from "../protocol/flow.ts";
import { formatRate } from "../protocol/units.ts";
import { createClient } from "./client.ts";
import { flowTable, watchFlows } from "./flow-progress.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, type CommandSpec, numberFrom, str, UsageError, type Values } from "./options.ts";

const ACTIONS = ["add", "ls", "show", "watch", "rm"] as const;
type Action = (typeof ACTIONS)[number];

export const spec: CommandSpec = {
  name: "flow",
  usage: `flow ${ACTIONS.join("|")} [ID] [options]`,
  summary: "Start user-space TCP flows between nodes, list them with their completion times, watch and stop them.",
  description: [
    "add --src A --dst B (--bytes SIZE | --seconds S) [--rate R] [--weight W] [--route ID] [--port P] [--wait]",
    "                            start a flow; A or B must be a userspace node (its TCP stack runs the flow);",
    "                            to a netns node give the --port its program listens on",
    "ls                          the namespace's flows: state, bytes delivered, throughput, completion time",
    "show ID                     one flow, with its throughput every 100 ms",
    "watch [ID...]               a progress line per flow until all have ended, then their table",
    "rm ID                       stop a running flow; on an ended one, remove it from the list",
  ].join("\n"),
  options: {
    src: { type: "string", help: "add: the node that sends", value: "NODE" },
    dst: { type: "string", help: "add: the node that receives", value: "NODE" },
    bytes: { type: "string", help: "add: how much to send, like 100MB", value: "SIZE" },
    seconds: { type: "string", help: "add: or how long to send, like 10s", value: "TIME" },
    rate: { type: "string", help: "add: send at most this fast, like 10Mbit", value: "RATE" },
    weight: { type: "string", help: "add: share of a congested link, in proportion (default 1)", value: "W" },
    route: { type: "string", help: "add: pin the flow to this route (its id)", value: "ID" },
    port: { type: "string", help: "add: the destination port (default: one per flow)", value: "PORT" },
    wait: { type: "boolean", help: "add: follow the flow until it ends" },
    output: { type: "string", short: "o", help: "table, json or csv (default table)", value: "FORMAT" },
    columns: { type: "string", help: "ls: comma-separated columns to show", value: "A,B" },
    ...CLIENT,
    ...COMMON,
  },
  examples: [
    "nextmini flow add --src u1 --dst u2 --bytes 100MB --wait",
    "nextmini flow add --src u1 --dst h2 --port 5201 --seconds 10 --rate 10Mbit",
    "nextmini flow ls",
    "nextmini flow show f1 -o json",
  ],
};

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [action, ...rest] = positionals;
  if (!ACTIONS.includes(action as Action)) throw new UsageError(`flow needs an action: ${ACTIONS.join(", ")}; run 'nextmini flow --help'`);
  const takesId = action === "show" || action === "rm";
  if (takesId && rest.length !== 1) throw new UsageError(`flow ${action} needs one flow id, like f1 (see 'nextmini flow ls')`);
  if ((action === "add" || action === "ls") && rest.length > 0) throw new UsageError(`flow ${action} got unexpected arguments: ${rest.join(" ")}`);
  const ns = str(values, "namespace");
  const format = typeof values.output === "string" ? values.output : "table";
  const client = createClient(values);
  switch (action as Action) {
    case "add": {
      if (typeof values.src !== "string" || typeof values.dst !== "string") throw new UsageError("flow add needs --src NODE and --dst NODE");
      const body = Object.fromEntries(
        Object.entries({
          src: values.src,
          dst: values.dst,
          bytes: values.bytes,
          seconds: values.seconds,
          rate: values.rate,
          weight: numberFrom(values, "weight"),
          route: values.route,
          port: numberFrom(values, "port", true),
        }).filter(([, v]) => v !== undefined),
      );
      const row = FlowRow.parse(await client.json("POST", `/namespaces/${ns}/flows`, body));
      if (format === "json" && !values.wait) {
        console.log(JSON.stringify(row, null, 2));
        return 0;
      }
      const what = row.bytes !== undefined ? `${row.bytes} bytes` : `${row.seconds} s`;
      console.error(`flow ${row.id} started: ${row.src} -> ${row.dst} port ${row.port}, ${what}${row.rate ? ` at ${formatRate(row.rate)}` : ""}`);
      if (!values.wait) return 0;
      return summarize(client, ns, await watchFlows(client, ns, { ids: [row.id] }), format);
    }
    case "ls":
      await printList({ ...values, output: format }, `/namespaces/${ns}/flows`);
      return 0;
    case "show": {
      const row = FlowRow.parse(await client.json("GET", `/namespaces/${ns}/flows/${encodeURIComponent(rest[0])}`));
      if (format === "json") {
        console.log(JSON.stringify(row, null, 2));
        return 0;
      }
      const { samples, ...fields } = row;
      for (const [k, v] of Object.entries(fields)) console.log(`${k.padEnd(15)} ${String(v)}`);
      console.log("\nthroughput (ms since start, Mbit/s):");
      for (const s of samples ?? []) console.log(`${String(Math.round(s.at)).padStart(8)} ${(s.bps / 1e6).toFixed(2).padStart(10)}`);
      return 0;
    }
    case "watch": {
      const rows = await watchFlows(client, ns, rest.length > 0 ? { ids: rest } : {});
      return summarize(client, ns, rows, format);
    }
    case "rm": {
      const answer = (await client.json("DELETE", `/namespaces/${ns}/flows/${encodeURIComponent(rest[0])}`)) as { id: string; removed: boolean };
      console.log(answer.removed ? `flow ${answer.id} removed from the list` : `flow ${answer.id} stopped`);
      return 0;
    }
  }
}

/** The table of the flows watched; exit 1 when any failed. */
async function summarize(client: ReturnType<typeof createClient>, ns: string, rows: FlowRow[], format: string): Promise<number> {
  console.log(await flowTable(client, ns, rows.map((r) => r.id), format));
  return rows.some((r) => r.state === "failed") ? 1 : 0;
}
