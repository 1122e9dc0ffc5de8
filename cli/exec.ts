/**
 * `nextmini exec NODE -- CMD...`: runs a program inside a node. When the node's
 * network namespace is on this machine the program runs directly, attached to
 * this terminal; otherwise through the API on the node's agent, with output
 * printed as it arrives (NDJSON lines of POST .../exec with stream: true) and
 * stdin, when it is not a terminal, streamed to the program.
 */
import { ExecLine } from "../protocol/api.ts";
import { CLIENT, COMMON, type CommandSpec, type Values, str, UsageError } from "./options.ts";
import { type Client, ClientError, createClient } from "./client.ts";
import { netnsUsable } from "../agent/sys/netns.ts";

export const spec: CommandSpec = {
  name: "exec",
  usage: "exec NODE -- COMMAND [ARGS...]",
  summary: "Run a command inside a node's network namespace; exits with the command's exit code.",
  description: [
    "When the node's network namespace is on this machine the command runs directly (ip netns exec),",
    "attached to this terminal. Otherwise it runs on the node's agent through the controller: its output",
    "is printed as it arrives, as UTF-8 text (copy binary files with 'nextmini cp'), and when stdin is",
    "not a terminal it is streamed to the command as it is read, not read whole first; a command that",
    "does not read it still ends when it exits. --api takes that path even for a node on this machine.",
  ].join("\n"),
  options: {
    api: { type: "boolean", help: "run through the controller and the node's agent even when the node's namespace is on this machine" },
    timeout: { type: "string", help: "seconds before a command run through the API is killed (exit code 124)", value: "S", default: "300" },
    ...CLIENT,
    ...COMMON,
  },
  examples: ["nextmini exec h2 -- iperf3 -s -D", "nextmini exec h1 -- ping -c 5 10.0.0.3", "nextmini exec h1 -- sh -c 'wc -l' < /etc/services"],
};

interface NodeRow {
  name: string;
  state: string;
  netns?: string;
}

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [node, ...command] = positionals;
  if (!node || command.length === 0) throw new UsageError("exec needs a node and a command: nextmini exec NODE -- COMMAND [ARGS...]");
  const seconds = Number(values.timeout);
  if (!(seconds > 0) || seconds > 86_400) throw new UsageError(`--timeout must be a number of seconds from 0 to 86400, got "${String(values.timeout)}"`);
  const namespace = str(values, "namespace");
  const client = createClient(values);
  const nodes = await client.json<NodeRow[]>("GET", `/namespaces/${namespace}/nodes`);
  const row = nodes.find((n) => n.name === node);
  if (!row) throw new UsageError(`no node "${node}" in namespace ${namespace}; nodes: ${nodes.map((n) => n.name).join(", ") || "(none)"}`);
  if (!values.api && row.netns && netnsUsable(row.netns)) {
    const proc = Bun.spawn(["ip", "netns", "exec", row.netns, ...command], { stdio: ["inherit", "inherit", "inherit"] });
    return await proc.exited;
  }
  const res = await remoteExec(client, `/namespaces/${namespace}/nodes/${node}/exec`, command, Math.round(seconds * 1000));
  return await printLines(res);
}

/** Starts the exec with stream: true; stdin that is not a terminal becomes the raw request body. */
function remoteExec(client: Client, pathname: string, command: string[], timeoutMs: number): Promise<Response> {
  if (process.stdin.isTTY) return client.request("POST", pathname, { command, timeoutMs, stream: true });
  const query = new URLSearchParams(command.map((arg): [string, string] => ["command", arg]));
  query.set("timeoutMs", String(timeoutMs));
  query.set("stream", "true");
  return client.upload("POST", `${pathname}?${query}`, Bun.stdin.stream());
}

/** Writes each output line to stdout or stderr as it comes; returns the exit code from the last line. */
async function printLines(res: Response): Promise<number> {
  if (!res.body) throw new ClientError("the controller answered the exec without a body");
  let buffered = "";
  for await (const text of res.body.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const exitCode = await printLine(line);
      if (exitCode !== undefined) return exitCode;
    }
  }
  throw new ClientError("the controller ended the exec's output without an exit code (was it restarted?)");
}

async function printLine(text: string): Promise<number | undefined> {
  let parsed: ExecLine;
  try {
    parsed = ExecLine.parse(JSON.parse(text));
  } catch {
    throw new ClientError(`unexpected line in the exec's output: ${text.slice(0, 200)}`);
  }
  if ("exitCode" in parsed) return parsed.exitCode;
  if ("error" in parsed) throw new ClientError(`${parsed.error.message} (${parsed.error.code})`);
  // awaited so that output is out before the process exits with the command's code
  await Bun.write(parsed.stream === "stdout" ? Bun.stdout : Bun.stderr, parsed.data);
  return undefined;
}
