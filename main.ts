#!/usr/bin/env bun
/**
 * nextmini: one executable holding the controller (HTTP API + agent socket) and
 * the dataplane agent. This file only dispatches subcommands; each lives in
 * cli/<verb>.ts and calls into controller/ or agent/.
 */
import { help, parse, UsageError, type CommandSpec, type Values } from "./cli/options.ts";
import { ClientError } from "./cli/client.ts";
import { VERSION } from "./version.ts";
import { TopologyError } from "./protocol/topology.ts";
import * as controller from "./cli/controller.ts";
import * as agent from "./cli/agent.ts";
import * as up from "./cli/up.ts";
import * as down from "./cli/down.ts";
import * as exec from "./cli/exec.ts";
import * as cp from "./cli/cp.ts";
import * as cleanup from "./cli/cleanup.ts";
import * as ns from "./cli/ns.ts";
import * as node from "./cli/node.ts";
import * as schedule from "./cli/schedule.ts";
import * as capture from "./cli/capture.ts";
import * as flow from "./cli/flow.ts";
import { nodes, links } from "./cli/list.ts";
import { hosts } from "./cli/hosts.ts";
import { conversations, stats, top } from "./cli/monitor.ts";
import { routes, pins, link } from "./cli/routing.ts";

interface Command {
  spec: CommandSpec;
  main: (values: Values, positionals: string[]) => Promise<number>;
}

const COMMANDS: Command[] = [up, down, exec, cp, nodes, links, link, routes, pins, hosts, ns, node, schedule, capture, flow, conversations, stats, top, controller, agent, cleanup];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length), 7);
  return [
    `nextmini ${VERSION}: network emulation over one binary (controller + dataplane agent)`,
    "",
    "Usage: nextmini COMMAND [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
    `  ${"version".padEnd(width)}  Print the version.`,
    "",
    "Run 'nextmini COMMAND --help' for a command's options.",
  ].join("\n");
}

async function dispatch(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === "version" || name === "--version") {
    console.log(`nextmini ${VERSION}`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.spec.name === name);
  if (!cmd) {
    console.error(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const { values, positionals } = parse(cmd.spec, rest);
  if (values.help) {
    console.log(help(cmd.spec));
    return 0;
  }
  return cmd.main(values, positionals);
}

try {
  process.exitCode = await dispatch(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError || e instanceof ClientError) {
    console.error(`nextmini: ${e.message}`);
    process.exitCode = 2;
  } else if (e instanceof TopologyError) {
    console.error(e.message);
    process.exitCode = 2;
  } else {
    console.error(`nextmini: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  }
}
// background timers (agent backoff, servers) must not keep a finished command alive
process.exit(process.exitCode ?? 0);
