/**
 * `nextmini ns ACTION [NAME]`: namespaces (experiments) through the API:
 * ls, create, show, set, hosts, delete. NAME defaults to -n/--namespace, so
 * `nextmini ns show -n exp1` and `nextmini ns show exp1` say the same.
 */
import { CLIENT, COMMON, OUTPUT, type CommandSpec, type Values, str, UsageError } from "./options.ts";
import { createClient } from "./client.ts";
import { printList } from "./list.ts";
import type { HostRunRow } from "../protocol/api.ts";

const ACTIONS = ["ls", "create", "show", "set", "hosts", "delete", "run"] as const;
type Action = (typeof ACTIONS)[number];

export const spec: CommandSpec = {
  name: "ns",
  usage: `ns ${ACTIONS.join("|")} [NAME] [options]`,
  summary: "Create, list, change and delete namespaces (experiments) and the hosts they hold.",
  description: [
    "ls                 every namespace with its hosts, nodes, queueing and load",
    "create NAME        a new namespace: --hosts (default every connected host), --queueing, --load, --subnet, --transport",
    "show [NAME]        one namespace with its settings and counts",
    "set [NAME]         change --queueing and --load",
    "hosts [NAME]       --add and --remove hosts (a name, a range like h[1-3], a comma list, or all)",
    "delete [NAME]      stop and remove everything the namespace has on every host; default comes back empty",
    "run -- CMD...      run CMD on every host of the namespace (-n), not in a node; prints each host's output",
  ].join("\n"),
  options: {
    hosts: { type: "string", help: "create: the namespace's hosts", value: "EXPR" },
    add: { type: "string", help: "hosts: connected hosts to add, or all", value: "EXPR" },
    remove: { type: "string", help: "hosts: hosts to remove, or all", value: "EXPR" },
    queueing: { type: "string", help: "create, set: queue launches until scheduled (true or false)", value: "BOOL" },
    load: { type: "string", help: "create, set: what the scheduler balances: cpucommit, memcommit or netcommit", value: "KIND" },
    subnet: { type: "string", help: "create: where node addresses come from (default 10.0.0.0/16)", value: "CIDR" },
    transport: { type: "string", help: "create: between hosts: tcp, udp or quic", value: "T" },
    ...OUTPUT,
    ...CLIENT,
    ...COMMON,
  },
  examples: [
    "nextmini ns create exp1 --hosts 'h[1-3]' --queueing true",
    "nextmini ns hosts exp1 --add h4",
    "nextmini ns ls -o csv",
    "nextmini ns run -n exp1 -- uname -r",
    "nextmini ns delete exp1",
  ],
};

function bool(values: Values, name: string): boolean | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new UsageError(`--${name} takes true or false, got "${String(v)}"`);
}

/** Only the options the user gave, as an API body. */
function pick(values: Values, names: string[]): Record<string, string | boolean> {
  const body: Record<string, string | boolean> = {};
  for (const name of names) {
    const v = name === "queueing" ? bool(values, name) : values[name];
    if (v !== undefined) body[name] = v;
  }
  return body;
}

/** A namespace object as `key  value` lines (table), or JSON. */
function printObject(values: Values, obj: Record<string, unknown>): void {
  if (str(values, "output") === "json") {
    console.log(JSON.stringify(obj, null, 2));
    return;
  }
  const width = Math.max(...Object.keys(obj).map((k) => k.length));
  for (const [k, v] of Object.entries(obj)) {
    const text = Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(",") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
    console.log(`${k.padEnd(width)}  ${text}`);
  }
}

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [action, given, ...extra] = positionals;
  if (!ACTIONS.includes(action as Action)) throw new UsageError(`ns needs an action: ${ACTIONS.join(", ")}; run 'nextmini ns --help'`);
  if (extra.length > 0 && action !== "run") throw new UsageError(`ns ${action} takes one name, got also: ${extra.join(" ")}`);
  const client = createClient(values);
  const name = given ?? str(values, "namespace");
  switch (action as Action) {
    case "ls":
      await printList(values, "/namespaces");
      return 0;
    case "create":
      if (given === undefined) throw new UsageError("ns create needs a name: nextmini ns create NAME");
      printObject(values, await client.json("POST", "/namespaces", { name, ...pick(values, ["hosts", "queueing", "load", "subnet", "transport"]) }));
      return 0;
    case "show":
      printObject(values, await client.json("GET", `/namespaces/${name}`));
      return 0;
    case "set": {
      const body = pick(values, ["queueing", "load"]);
      if (Object.keys(body).length === 0) throw new UsageError("ns set needs --queueing or --load");
      printObject(values, await client.json("PATCH", `/namespaces/${name}`, body));
      return 0;
    }
    case "hosts": {
      const body = pick(values, ["add", "remove"]);
      if (Object.keys(body).length === 0) throw new UsageError("ns hosts needs --add or --remove");
      printObject(values, await client.json("POST", `/namespaces/${name}/hosts`, body));
      return 0;
    }
    case "delete": {
      const r = await client.json<{ name: string; nodes: string[]; links: number }>("DELETE", `/namespaces/${name}`);
      console.log(`deleted namespace ${r.name}: ${r.nodes.length} nodes, ${r.links} links`);
      return 0;
    }
    case "run":
      return runOnHosts(values, positionals.slice(1));
  }
}

/** `ns run -- CMD...`: each host's output under a header line; exits 1 unless every host exited 0. */
async function runOnHosts(values: Values, command: string[]): Promise<number> {
  if (command.length === 0) throw new UsageError("ns run needs a command: nextmini ns run -n NS -- COMMAND [ARGS...]");
  const rows = await createClient(values).json<HostRunRow[]>("POST", `/namespaces/${str(values, "namespace")}/run`, { command });
  if (str(values, "output") === "json") {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    for (const r of rows) {
      console.log(`== ${r.host}: ${r.error ?? `exit ${r.exitCode}`}`);
      if (r.stdout) process.stdout.write(r.stdout.endsWith("\n") ? r.stdout : `${r.stdout}\n`);
      if (r.stderr) process.stderr.write(r.stderr.endsWith("\n") ? r.stderr : `${r.stderr}\n`);
    }
  }
  return rows.every((r) => r.exitCode === 0) ? 0 : 1;
}
