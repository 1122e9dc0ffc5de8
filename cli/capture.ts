/**
 * `nextmini capture ACTION`: packet captures through the API. `start` begins
 * one on a node or a link, `ls` lists them, `stop` stops a running one (and
 * removes a stopped one), `get` downloads a capture's pcap file from whatever
 * host wrote it, for Wireshark or `tcpdump -r`.
 */
import { CaptureDeleted, CaptureRow } from "../protocol/capture.ts";
import { createClient } from "./client.ts";
import { saveDownload } from "./cp.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, type CommandSpec, str, UsageError, type Values } from "./options.ts";

const ACTIONS = ["start", "ls", "stop", "get"] as const;
type Action = (typeof ACTIONS)[number];

export const spec: CommandSpec = {
  name: "capture",
  usage: `capture ${ACTIONS.join("|")} [ID] [options]`,
  summary: "Capture packets of a node or a link into a pcap file; list, stop and download captures.",
  description: [
    "start --node N | --link ID [--file F]   start a capture; the file is written on the host carrying the packets",
    "                                        (default <agent state dir>/captures/<ns>-<id>.pcap there)",
    "ls                                      the namespace's captures with host, state, packets and bytes",
    "stop ID                                 stop a capture (its file stays for 'get'); on a stopped one, remove it",
    "                                        from the list (the file stays on its host)",
    "get ID [-o FILE]                        download the pcap file (default ./<ns>-<id>.pcap; -o - writes stdout)",
  ].join("\n"),
  options: {
    node: { type: "string", help: "start: capture what this node sends and is delivered", value: "NODE" },
    link: { type: "string", help: "start: capture both directions of this link (its id, see 'nextmini links')", value: "ID" },
    file: { type: "string", help: "start: the pcap file on the capturing host (absolute)", value: "PATH" },
    // -o is the listing format for ls, start and stop, and the file for get: no default, each action has its own
    output: { type: "string", short: "o", help: "ls, start, stop: table, json or csv (default table); get: the file to write", value: "FORMAT|FILE" },
    columns: { type: "string", help: "ls: comma-separated columns to show", value: "A,B" },
    ...CLIENT,
    ...COMMON,
  },
  examples: [
    "nextmini capture start --link a:b",
    "nextmini capture start --node h1 --file /tmp/h1.pcap -n exp1",
    "nextmini capture ls",
    "nextmini capture stop c1",
    "nextmini capture get c1 -o link.pcap && tcpdump -nr link.pcap",
  ],
};

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [action, id, ...extra] = positionals;
  if (!ACTIONS.includes(action as Action)) throw new UsageError(`capture needs an action: ${ACTIONS.join(", ")}; run 'nextmini capture --help'`);
  const takesId = action === "stop" || action === "get";
  if (takesId && id === undefined) throw new UsageError(`capture ${action} needs the capture's id, like c1 (see 'nextmini capture ls')`);
  const unexpected = takesId ? extra : [id, ...extra].filter((a) => a !== undefined);
  if (unexpected.length > 0) throw new UsageError(`capture ${action} got unexpected arguments: ${unexpected.join(" ")}`);
  const ns = str(values, "namespace");
  const format = typeof values.output === "string" ? values.output : "table";
  const client = createClient(values);
  switch (action as Action) {
    case "start": {
      if ((values.node === undefined) === (values.link === undefined)) throw new UsageError("capture start needs --node NODE or --link ID, not both");
      const body = Object.fromEntries(Object.entries({ node: values.node, link: values.link, file: values.file }).filter(([, v]) => v !== undefined));
      const answer: unknown = await client.json("POST", `/namespaces/${ns}/captures`, body);
      if (format === "json") {
        console.log(JSON.stringify(answer, null, 2));
        return 0;
      }
      const row = CaptureRow.parse(answer);
      console.log(`capture ${row.id} of ${what(row)} started: writing ${row.file} on ${row.hosts.join(", ")}; stop it with 'nextmini capture stop ${row.id}${nsFlag(ns)}'`);
      return 0;
    }
    case "ls":
      await printList({ ...values, output: format }, `/namespaces/${ns}/captures`);
      return 0;
    case "stop": {
      const answer: unknown = await client.json("DELETE", `/namespaces/${ns}/captures/${encodeURIComponent(id)}`);
      if (format === "json") {
        console.log(JSON.stringify(answer, null, 2));
        return 0;
      }
      const row = CaptureDeleted.parse(answer);
      if (row.removed) console.log(`capture ${row.id} removed from the list; its file ${row.file} stays on ${row.hosts.join(", ")}`);
      else console.log(`capture ${row.id} of ${what(row)} stopped; fetch it with 'nextmini capture get ${row.id}${nsFlag(ns)}'`);
      return 0;
    }
    case "get": {
      const to = typeof values.output === "string" ? values.output : `${ns}-${id}.pcap`;
      const res = await client.request("GET", `/namespaces/${ns}/captures/${encodeURIComponent(id)}/file`);
      await saveDownload(res, to, `capture ${id}`);
      if (to !== "-") console.error(`wrote ${to}`);
      return 0;
    }
  }
}

function what(row: CaptureRow): string {
  return row.node !== undefined ? `node ${row.node}` : `link ${row.link ?? ""}`;
}

function nsFlag(ns: string): string {
  return ns === "default" ? "" : ` -n ${ns}`;
}
