/**
 * `nextmini exec NODE -- CMD...`: runs a program inside a node. When the node's
 * network namespace is on this machine the program runs directly, attached to
 * this terminal (interactive, streaming); otherwise through the API on the
 * node's agent, printing its output when it ends.
 */
import { CLIENT, COMMON, type CommandSpec, type Values, str, UsageError } from "./options.ts";
import { createClient } from "./client.ts";
import { netnsUsable } from "../agent/sys/netns.ts";

export const spec: CommandSpec = {
  name: "exec",
  usage: "exec NODE -- COMMAND [ARGS...]",
  summary: "Run a command inside a node's network namespace; exits with the command's exit code.",
  options: {
    timeout: { type: "string", help: "seconds before a command run through the API is killed", value: "S", default: "300" },
    ...CLIENT,
    ...COMMON,
  },
  examples: ["nextmini exec h2 -- iperf3 -s -D", "nextmini exec h1 -- ping -c 5 10.0.0.3"],
};

interface NodeRow {
  name: string;
  state: string;
  netns?: string;
}

export async function main(values: Values, positionals: string[]): Promise<number> {
  const [node, ...command] = positionals;
  if (!node || command.length === 0) throw new UsageError("exec needs a node and a command: nextmini exec NODE -- COMMAND [ARGS...]");
  const namespace = str(values, "namespace");
  const client = createClient(values);
  const nodes = await client.json<NodeRow[]>("GET", `/namespaces/${namespace}/nodes`);
  const row = nodes.find((n) => n.name === node);
  if (!row) throw new UsageError(`no node "${node}" in namespace ${namespace}; nodes: ${nodes.map((n) => n.name).join(", ") || "(none)"}`);
  if (row.netns && netnsUsable(row.netns)) {
    const proc = Bun.spawn(["ip", "netns", "exec", row.netns, ...command], { stdio: ["inherit", "inherit", "inherit"] });
    return await proc.exited;
  }
  const r = await client.json<{ exitCode: number; stdout: string; stderr: string }>("POST", `/namespaces/${namespace}/nodes/${node}/exec`, {
    command,
    timeoutMs: Number(values.timeout) * 1000,
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}
