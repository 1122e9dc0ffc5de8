/**
 * `nextmini up FILE`: the controller and an agent in one process, with the
 * topology applied. By default it starts itself in the background, waits until
 * every node runs, prints them and returns, so the next command can use the
 * network; `--foreground` keeps it attached. `nextmini down` stops it.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startController } from "../controller/server.ts";
import { startAgent } from "../agent/agent.ts";
import { quietGc } from "../agent/sys/quiet-gc.ts";
import { loadTopologyFile } from "../protocol/topology-parse.ts";
import { resolveTopology } from "../protocol/topology-resolve.ts";
import { COMMON, type CommandSpec, type Values, str, UsageError, seedFrom, DATAPLANE, dataplaneFrom } from "./options.ts";
import { createClient } from "./client.ts";
import { alive, printTokens, tokenBanner, readPid, removePid, selfArgv, waitForSignal, writePid } from "./lifecycle.ts";
import { defaultHostName } from "./agent.ts";
import { flowTable, watchFlows } from "./flow-progress.ts";

export const spec: CommandSpec = {
  name: "up",
  usage: "up FILE [options]",
  summary: "Start a controller and an agent on this machine and build the topology in FILE (YAML or JSON).",
  description: "Returns once every node runs; the network stays up until 'nextmini down'. Needs root for netns nodes.",
  options: {
    listen: { type: "string", env: "NEXTMINI_LISTEN", help: "address and port of the API", value: "ADDR:PORT", default: "127.0.0.1:7400" },
    namespace: { type: "string", short: "n", env: "NEXTMINI_NAMESPACE", help: "namespace to build the topology in", value: "NS", default: "default" },
    name: { type: "string", env: "NEXTMINI_NAME", help: "this host's name (default: the hostname)", value: "NAME" },
    foreground: { type: "boolean", short: "f", help: "stay attached; Ctrl-C tears the network down" },
    timeout: { type: "string", help: "seconds to wait for every node to run", value: "S", default: "120" },
    seed: { type: "string", env: "NEXTMINI_SEED", help: "seed for loss and jitter draws, for repeatable runs (default: random)", value: "N" },
    "no-offload": { type: "boolean", env: "NEXTMINI_NO_OFFLOAD", help: "plain TUN packets instead of 64 KB TSO reads" },
    ...DATAPLANE,
    ...COMMON,
  },
  examples: ["nextmini up examples/line.yaml", "nextmini up examples/dumbbell.yaml --foreground"],
};

const readyFile = (stateDir: string) => path.join(stateDir, "up.ready");
/** what a background `up`'s parent needs to follow the document's flows: the API's URL, the namespace, the flow ids */
const flowsFile = (stateDir: string) => path.join(stateDir, "up.flows");
const logFile = (stateDir: string) => path.join(stateDir, "up.log");

export async function main(values: Values, positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) throw new UsageError("up needs a topology file: nextmini up FILE");
  // a bad document (its shape, names, links, addresses) is reported before anything starts
  resolveTopology(await loadTopologyFile(file), { fileName: file });
  const stateDir = str(values, "state-dir");
  const running = readPid(stateDir);
  if (running !== undefined) throw new UsageError(`nextmini is already up (pid ${running}); run 'nextmini down' first`);
  return values.foreground ? foreground(values, file) : background(values, file, stateDir);
}

async function background(values: Values, file: string, stateDir: string): Promise<number> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  rmSync(readyFile(stateDir), { force: true });
  rmSync(flowsFile(stateDir), { force: true });
  const out = openSync(logFile(stateDir), "w");
  const args = process.argv.slice(process.argv.indexOf("up") + 1).filter((a) => a !== "--foreground" && a !== "-f");
  const child = Bun.spawn([...selfArgv(), "up", ...args, "--foreground"], {
    stdio: ["ignore", out, out],
    env: { ...process.env, NEXTMINI_STATE_DIR: stateDir },
    detached: true,
  });
  closeSync(out);
  child.unref();
  const limit = Date.now() + (Number(values.timeout) + 30) * 1000;
  while (Date.now() < limit) {
    if (existsSync(readyFile(stateDir))) {
      process.stdout.write(readFileSync(readyFile(stateDir), "utf8"));
      if (!existsSync(flowsFile(stateDir))) return 0;
      const { url, namespace, ids } = JSON.parse(readFileSync(flowsFile(stateDir), "utf8")) as { url: string; namespace: string; ids: string[] };
      return followFlows(createClient({ ...values, controller: url }), namespace, ids);
    }
    if (child.exitCode !== null || !alive(child.pid)) {
      console.error(`nextmini up failed; its log (${logFile(stateDir)}):\n${readFileSync(logFile(stateDir), "utf8").trimEnd()}`);
      return 1;
    }
    await Bun.sleep(100);
  }
  console.error(`nextmini up did not finish in time; see ${logFile(stateDir)}`);
  return 1;
}

async function foreground(values: Values, file: string): Promise<number> {
  const stateDir = str(values, "state-dir");
  const namespace = str(values, "namespace");
  const log = (l: string) => console.error(l);
  quietGc((line) => log(`nextmini: ${line}`));
  const doc = await loadTopologyFile(file);
  const ctl = await startController({ listen: str(values, "listen"), stateDir, store: "memory", log });
  writePid(stateDir);
  const agent = await startAgent({
    controller: ctl.url,
    joinToken: ctl.joinToken,
    name: typeof values.name === "string" ? values.name : defaultHostName(),
    offload: values["no-offload"] !== true,
    seed: seedFrom(values),
    ...dataplaneFrom(values),
    // the embedded agent has no peers; any free port keeps two `up`s from colliding
    dataPort: 0,
    captureDir: path.join(stateDir, "captures"),
    logDir: path.join(stateDir, "logs"),
    log,
  });
  let code = 0;
  const shutdown = async () => {
    console.error("tearing down: removing nodes and TUN devices");
    await agent.stop();
    await ctl.stop();
    removePid(stateDir);
    rmSync(readyFile(stateDir), { force: true });
    rmSync(flowsFile(stateDir), { force: true });
  };
  try {
    await withTimeout(agent.connected, 15_000, "the embedded agent did not join the controller");
    const client = createClient({ ...values, controller: ctl.url, token: ctl.apiToken });
    const applied = await client.json<{ flows: string[] }>("PUT", `/namespaces/${namespace}/topology`, doc);
    await waitRunning(client, namespace, Number(values.timeout) * 1000);
    const table = await client.text(`/namespaces/${namespace}/nodes?format=table`);
    // the tokens are shown once: a background `up` hands them to its parent through the ready file
    const banner = ctl.createdTokens ? `${tokenBanner(ctl.apiToken, ctl.joinToken, stateDir)}\n` : "";
    const flows = applied.flows;
    const next = flows.length > 0 ? `Flows ${flows.join(", ")} are running; see them with: nextmini flow ls` : `Try: nextmini exec ${firstNode(table)} -- ip addr`;
    const summary = `${banner}${table.trimEnd()}\n\nnextmini is up: API ${ctl.url}, namespace ${namespace}. ${next}; stop with: nextmini down\n`;
    if (flows.length > 0) writeFileSync(flowsFile(stateDir), JSON.stringify({ url: ctl.url, namespace, ids: flows }));
    writeFileSync(readyFile(stateDir), summary);
    if (values.foreground) {
      process.stdout.write(summary);
      if (flows.length > 0) await followFlows(client, namespace, flows);
    }
  } catch (e) {
    console.error(`nextmini up: ${(e as Error).message}`);
    code = 1;
  }
  if (code === 0) await waitForSignal();
  await shutdown();
  return code;
}

async function waitRunning(client: ReturnType<typeof createClient>, namespace: string, timeoutMs: number): Promise<void> {
  const limit = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const nodes = await client.json<{ name: string; state: string; error?: string }[]>("GET", `/namespaces/${namespace}/nodes`);
    const running = nodes.filter((n) => n.state === "running").length;
    const failed = nodes.filter((n) => n.state === "error");
    if (failed.length > 0) throw new Error(`nodes failed: ${failed.map((n) => `${n.name}${n.error ? ` (${n.error})` : ""}`).join(", ")}`);
    if (running === nodes.length) return;
    const line = `building: ${running}/${nodes.length} nodes running`;
    if (line !== last) console.error(line);
    last = line;
    if (Date.now() > limit) throw new Error(`timed out: ${line}`);
    await Bun.sleep(100);
  }
}

/** A progress line per flow until all have ended, then their table of completion times; 1 when any failed. */
async function followFlows(client: ReturnType<typeof createClient>, namespace: string, ids: string[]): Promise<number> {
  console.error(`running ${ids.length} flow${ids.length === 1 ? "" : "s"}:`);
  const rows = await watchFlows(client, namespace, { ids });
  process.stdout.write(`\n${await flowTable(client, namespace, ids)}\n`);
  const failed = rows.filter((r) => r.state === "failed").length;
  const verdict = failed > 0 ? `${failed} of ${rows.length} flows failed` : `all ${rows.length} flows finished`;
  process.stdout.write(`\n${verdict}; the network stays up until 'nextmini down'\n`);
  return failed > 0 ? 1 : 0;
}

function firstNode(table: string): string {
  return table.split("\n")[1]?.split(/\s+/)[0] ?? "NODE";
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms))]);
}
