/**
 * A cluster on one machine for end-to-end tests: N "hosts" that are Linux
 * network namespaces on a private bridge, each running `nextmini agent` with
 * its own address, and one `nextmini controller` in the root namespace on the
 * bridge address. `stop()` removes everything and checks nothing is left.
 *
 * Layout (k is a free third octet of 10.250.0.0/16, picked per cluster):
 *
 *   root ns:  bridge nmcb<id> 10.250.k.1/24, controller on 10.250.k.1:<port>
 *   host i:   netns nmhost-<id>-h<i>, eth0 10.250.k.(10+i)/24 (veth nmcv<id>h<i>
 *             on the bridge), default route via 10.250.k.1, agent named h<i>
 *
 * The bridge and root-side veths start with "nmc", not the agents' "nmt": they are
 * the test bed's own, removed by `stop()`, and must not look like an agent's
 * stray TUN to `nextmini cleanup` or to another test's leftover check. Host
 * namespaces start with "nmhost-", never "nm:", which agents own.
 *
 * Agents are started with `nsenter --net=<host netns>` rather than
 * `ip netns exec`: `ip netns exec` also gives the program a private (slave)
 * mount namespace, so the node namespaces an agent mounts under /run/netns
 * would be invisible outside it (root sees empty files that `ip netns exec`
 * refuses with "Invalid argument") and would vanish with the agent on SIGKILL.
 * Entering only the network namespace keeps the agent in the machine's mount
 * namespace, as on a real host: its node namespaces outlive a killed agent.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { launcherArgv, runCmd, type Launcher, type Result } from "./up.ts";

export interface ClusterOptions {
  hosts: number;
  /** how the nextmini program is started (default: the compiled dist/nextmini) */
  launcher?: Launcher;
  /**
   * Agent heartbeat period. Neither `nextmini controller` nor `nextmini agent`
   * has a flag for it yet, so setting it fails loudly rather than being ignored.
   */
  heartbeatMs?: number;
  /** agent names are <hostPrefix><i>; clusters running at the same time need different prefixes */
  hostPrefix?: string;
}

export interface ClusterHost {
  /** the agent's name, h<i> */
  name: string;
  /** the Linux network namespace standing for this host */
  netns: string;
  /** this host's address on the cluster bridge */
  address: string;
  /** the agent's NEXTMINI_STATE_DIR */
  stateDir: string;
  /** the agent's stdout and stderr (appended across restarts) */
  log: string;
  /** pid of the running agent, undefined when it is not running */
  readonly pid: number | undefined;
  running(): boolean;
  /** sends `signal` to the agent without waiting (SIGSTOP and SIGCONT freeze and thaw it) */
  signal(signal: NodeJS.Signals): void;
  /** sends `signal` to the agent and waits (bounded) for it to exit; resolves to its exit code */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** stops the agent if it runs, starts it again with the same name and state dir, and waits until it is up */
  restart(timeoutMs?: number): Promise<void>;
  /** runs a command inside this host's network namespace */
  run(argv: string[], env?: Record<string, string>, timeoutMs?: number): Promise<Result>;
}

export interface Cluster {
  id: string;
  /** the controller's base URL, e.g. http://10.250.7.1:40123 */
  url: string;
  port: number;
  token: string;
  joinToken: string;
  /** the controller's NEXTMINI_STATE_DIR */
  stateDir: string;
  controllerLog: string;
  bridge: string;
  /** e.g. 10.250.7.0/24 */
  subnet: string;
  /** argv that runs nextmini (the compiled binary or bun main.ts) */
  bin: string[];
  hosts: ClusterHost[];
  host(name: string): ClusterHost;
  api(method: string, pathname: string, body?: unknown): Promise<Response>;
  /** api() that throws on a non-2xx answer and parses the JSON body */
  json<T>(method: string, pathname: string, body?: unknown): Promise<T>;
  /** runs `nextmini ARGS` in the root namespace, pointed at this controller */
  cli(args: string[], timeoutMs?: number): Promise<Result>;
  /** SIGTERM to the controller, then the same command again (same port, same state dir); waits for /health */
  restartController(timeoutMs?: number): Promise<void>;
  /** waits until GET /hosts shows every named host up, seen at or after `since` (ms since epoch) */
  waitHostsUp(names?: string[], since?: number, timeoutMs?: number): Promise<void>;
  /** the last lines of every log, for a failing test's message */
  logs(lines?: number): string;
  /** removes agents, namespaces, links, processes and temp dirs; throws if anything is left. Safe to call twice. */
  stop(): Promise<void>;
}

/** The fields of GET /hosts the helper reads. */
export interface HostRow {
  name: string;
  address: string;
  state: string;
  cpus: number;
  memTotalMB: number;
  lastSeen: string;
}

const NETNS_DIR = "/run/netns";
const SUBNET_BASE = "10.250";
const BRIDGE_PREFIX = "nmcb";
const VETH_PREFIX = "nmcv";
const HOSTNS_PREFIX = "nmhost-";
const STOP_WAIT_MS = 10_000;

/** Third octets taken by clusters of this process, so two at once never share a subnet. */
const usedOctets = new Set<number>();

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  if (opts.heartbeatMs !== undefined) {
    throw new Error("startCluster: heartbeatMs cannot be set: nextmini controller/agent have no heartbeat flag yet");
  }
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 99) throw new Error(`startCluster: hosts must be 1..99, got ${opts.hosts}`);
  const bin = launcherArgv(opts.launcher ?? "compiled");
  const prefix = opts.hostPrefix ?? "h";
  // 6 base-36 characters: short enough for 15-character interface names, random enough for parallel runs
  const id = (randomBytes(4).readUInt32BE() % 36 ** 6).toString(36).padStart(6, "0");
  const octet = await pickOctet();
  const bridge = `${BRIDGE_PREFIX}${id}`;
  const gateway = `${SUBNET_BASE}.${octet}.1`;
  const root = mkdtempSync(path.join(tmpdir(), `nextmini-cluster-${id}-`));
  const stateDir = path.join(root, "controller");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const controllerLog = path.join(root, "controller.log");

  // what exists so far; stop() undoes exactly this, so a half-started cluster is cleaned too
  const made = { bridge: false, netns: [] as string[], veths: [] as string[] };
  let controller: Subprocess | undefined;
  let port = 0;
  let token = "";
  let joinToken = "";
  const hosts: HostImpl[] = [];
  const url = () => `http://${gateway}:${port}`;

  const api = (method: string, pathname: string, body?: unknown): Promise<Response> =>
    fetch(`${url()}/api/v1${pathname}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });

  const json = async <T>(method: string, pathname: string, body?: unknown): Promise<T> => {
    const res = await api(method, pathname, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${pathname}: HTTP ${res.status}: ${text.slice(0, 1000)}`);
    return JSON.parse(text) as T;
  };

  const logs = (lines = 40): string =>
    [["controller", controllerLog] as const, ...hosts.map((h) => [h.name, h.log] as const)]
      .map(([who, file]) => `--- ${who} (${file}) ---\n${tail(file, lines)}`)
      .join("\n");

  const startController = async (timeoutMs: number) => {
    const proc = spawnLogged([...bin, "controller", "--listen", `${gateway}:${port}`, "--store", "sqlite", "--state-dir", stateDir], {}, controllerLog);
    controller = proc;
    await waitFor(
      async () => {
        if (exited(proc)) {
          // say what the bridge looked like: a vanished address means something removed our link
          const dev = await runCmd(["ip", "-o", "addr", "show", "dev", bridge], {}, 5000);
          throw new Error(`the controller exited (${proc.exitCode ?? proc.signalCode}); ${bridge}: ${dev.stdout.trim() || dev.stderr.trim()}\n${tail(controllerLog, 40)}`);
        }
        try {
          return (await fetch(`${url()}/api/v1/health`, { signal: AbortSignal.timeout(1000) })).ok;
        } catch {
          return false;
        }
      },
      timeoutMs,
      () => `the controller's /api/v1/health never answered\n${tail(controllerLog, 40)}`,
    );
  };

  const waitHostsUp = async (names = hosts.map((h) => h.name), since = 0, timeoutMs = 30_000) => {
    let last: HostRow[] = [];
    await waitFor(
      async () => {
        for (const h of hosts) {
          if (names.includes(h.name) && !h.running()) throw new Error(`agent ${h.name} exited (${h.exitStatus()})\n${tail(h.log, 40)}`);
        }
        try {
          last = await json<HostRow[]>("GET", "/hosts");
        } catch {
          return false; // the controller may be restarting
        }
        return names.every((n) => last.some((r) => r.name === n && r.state === "up" && Date.parse(r.lastSeen) >= since));
      },
      timeoutMs,
      () => `hosts ${names.join(",")} not all up; GET /hosts: ${JSON.stringify(last)}\n${logs()}`,
    );
  };

  const hostContext: HostContext = { bin, url, waitUp: (names, since, timeoutMs) => waitHostsUp(names, since, timeoutMs) };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const problems: string[] = [];
      const step = async (what: string, f: () => Promise<void>) => {
        try {
          await f();
        } catch (e) {
          problems.push(`${what}: ${(e as Error).message}`);
        }
      };
      // agents first, while the controller still answers, so they remove their nodes themselves;
      // SIGCONT first, because a frozen (SIGSTOPped) agent would sit on SIGTERM until SIGKILLed
      for (const h of hosts) if (h.running()) h.signal("SIGCONT");
      await Promise.all(hosts.map((h) => step(`stopping agent ${h.name}`, async () => void (await h.kill("SIGTERM", STOP_WAIT_MS)))));
      // the safety net for agents that were SIGKILLed or died, run inside the host as on a real machine
      for (const h of hosts) {
        await step(`cleanup on ${h.name}`, async () => {
          const r = await h.run([...bin, "cleanup", "--agent", h.name], {}, 30_000);
          if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}`);
        });
      }
      if (controller) {
        const proc = controller;
        await step("stopping the controller", () => stopProcess(proc, STOP_WAIT_MS));
      }
      // every agent is gone, so a TUN still in a host would have outlived its process: a product bug
      for (const h of hosts) {
        await step(`links of ${h.name}`, async () => {
          const r = await runCmd(["ip", "-n", h.netns, "-o", "link", "show"], {}, 5000);
          const tuns = r.stdout.split("\n").filter((l) => /^\d+:\s+nmt/.test(l));
          if (tuns.length > 0) throw new Error(`TUN devices left in ${h.netns}: ${tuns.map((l) => l.split(":")[1].trim()).join(", ")}`);
        });
      }
      for (const veth of made.veths) await step(`deleting ${veth}`, () => quiet(["ip", "link", "del", veth]));
      for (const ns of made.netns) {
        await step(`deleting netns ${ns}`, async () => {
          await killInside(ns);
          await quiet(["ip", "netns", "del", ns]);
        });
      }
      if (made.bridge) await step(`deleting ${bridge}`, () => quiet(["ip", "link", "del", bridge]));
      // the kernel tears a deleted namespace's devices down asynchronously: give it a moment before judging
      let left: string[] = [];
      await waitFor(async () => (left = await leftoversOf(id, hosts.map((h) => h.name))).length === 0, 5000, () => "").catch(() => undefined);
      if (left.length > 0) problems.push(`left behind: ${left.join(", ")}`);
      if (problems.length > 0) {
        // the logs stay for the investigation when stop() itself failed
        throw new Error(`cluster ${id} did not stop cleanly (logs kept in ${root}):\n${problems.join("\n")}\n${logs(20)}`);
      }
      rmSync(root, { recursive: true, force: true });
      usedOctets.delete(octet);
    })();
    return stopping;
  };

  try {
    await mustRun(["ip", "link", "add", bridge, "type", "bridge"]);
    made.bridge = true;
    await mustRun(["ip", "addr", "add", `${gateway}/24`, "dev", bridge]);
    await mustRun(["ip", "link", "set", bridge, "up"]);
    for (let i = 1; i <= opts.hosts; i++) {
      const name = `${prefix}${i}`;
      const netns = `${HOSTNS_PREFIX}${id}-${name}`;
      const veth = `${VETH_PREFIX}${id}${name}`;
      if (veth.length > 15) throw new Error(`interface name ${veth} is longer than 15 characters: use a shorter hostPrefix`);
      await mustRun(["ip", "netns", "add", netns]);
      made.netns.push(netns);
      await mustRun(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
      made.veths.push(veth);
      await mustRun(["ip", "link", "set", veth, "master", bridge, "up"]);
      const address = `${SUBNET_BASE}.${octet}.${10 + i}`;
      await mustRun(["ip", "-n", netns, "-batch", "-"], {
        stdin: `link set lo up\naddr add ${address}/24 dev eth0\nlink set eth0 up\nroute add default via ${gateway}\n`,
      });
      const dir = path.join(root, name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      hosts.push(new HostImpl(name, netns, address, dir, path.join(root, `${name}.log`), hostContext));
    }

    port = await freePort(gateway);
    await startController(30_000);
    token = readFileSync(path.join(stateDir, "token"), "utf8").trim();
    joinToken = readFileSync(path.join(stateDir, "join-token"), "utf8").trim();
    for (const h of hosts) h.start(joinToken);
    await waitHostsUp(undefined, 0, 30_000);
  } catch (e) {
    await stop().catch((s: Error) => console.error(`cleaning up a cluster that failed to start: ${s.message}`));
    throw new Error(`startCluster failed: ${(e as Error).message}`);
  }

  const cliEnv = { NEXTMINI_CONTROLLER: url(), NEXTMINI_TOKEN: token, NEXTMINI_STATE_DIR: stateDir };
  return {
    id,
    url: url(),
    port,
    token,
    joinToken,
    stateDir,
    controllerLog,
    bridge,
    subnet: `${SUBNET_BASE}.${octet}.0/24`,
    bin,
    hosts,
    host(name) {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no host ${name} in cluster ${id}`);
      return h;
    },
    api,
    json,
    cli: (args, timeoutMs) => runCmd([...bin, ...args], { ...cleanEnv(), ...cliEnv }, timeoutMs),
    async restartController(timeoutMs = 30_000) {
      if (controller) await stopProcess(controller, STOP_WAIT_MS);
      await startController(timeoutMs);
    },
    waitHostsUp,
    logs,
    stop,
  };
}

/** What a host needs from its cluster: how to start nextmini, where the controller is, how to wait for it. */
interface HostContext {
  bin: string[];
  url(): string;
  waitUp(names: string[], since: number, timeoutMs: number): Promise<void>;
}

class HostImpl implements ClusterHost {
  #proc: Subprocess | undefined;
  #joinToken = "";

  constructor(
    readonly name: string,
    readonly netns: string,
    readonly address: string,
    readonly stateDir: string,
    readonly log: string,
    private readonly ctx: HostContext,
  ) {}

  get pid(): number | undefined {
    return this.running() ? this.#proc?.pid : undefined;
  }

  running(): boolean {
    return this.#proc !== undefined && !exited(this.#proc);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.#proc || exited(this.#proc)) throw new Error(`agent ${this.name} is not running`);
    this.#proc.kill(signal);
  }

  exitStatus(): string {
    return String(this.#proc?.exitCode ?? this.#proc?.signalCode ?? "not started");
  }

  start(joinToken: string): void {
    this.#joinToken = joinToken;
    this.#proc = spawnLogged(
      inNetns(this.netns, [...this.ctx.bin, "agent", "--controller", this.ctx.url(), "--join-token", joinToken, "--name", this.name]),
      { NEXTMINI_STATE_DIR: this.stateDir },
      this.log,
    );
  }

  async kill(signal: NodeJS.Signals = "SIGTERM", timeoutMs = STOP_WAIT_MS): Promise<number | null> {
    const proc = this.#proc;
    if (!proc || exited(proc)) return proc?.exitCode ?? null;
    proc.kill(signal);
    const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(timeoutMs).then(() => false)]);
    if (!done) {
      proc.kill("SIGKILL");
      await proc.exited;
      throw new Error(`agent ${this.name} ignored ${signal} for ${timeoutMs} ms and was SIGKILLed`);
    }
    return proc.exitCode;
  }

  async restart(timeoutMs = 30_000): Promise<void> {
    if (this.running()) await this.kill("SIGTERM");
    // the old agent is gone, so a host seen at or after this instant is the new one
    const since = Date.now();
    this.start(this.#joinToken);
    await this.ctx.waitUp([this.name], since, timeoutMs);
  }

  run(argv: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Result> {
    return runCmd(inNetns(this.netns, argv), { ...cleanEnv(), ...env }, timeoutMs);
  }
}

/** Everything this cluster may have left: its host namespaces, its agents' node namespaces, its links. */
async function leftoversOf(id: string, agents: string[]): Promise<string[]> {
  const names = existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [];
  const links = await runCmd(["ip", "-o", "link", "show"], {});
  return [
    ...names.filter((n) => n.startsWith(`${HOSTNS_PREFIX}${id}-`) || agents.some((a) => n.startsWith(`nm:${a}:`))),
    ...links.stdout
      .split("\n")
      .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? "")
      .filter((n) => n === `${BRIDGE_PREFIX}${id}` || n.startsWith(`${VETH_PREFIX}${id}`)),
  ];
}

/** A free 10.250.<k>.0/24: not on any interface of the machine and not used by this process. */
async function pickOctet(): Promise<number> {
  const addrs = await runCmd(["ip", "-o", "-4", "addr", "show"], {});
  const taken = new Set(usedOctets);
  for (const m of addrs.stdout.matchAll(/inet 10\.250\.(\d+)\./g)) taken.add(Number(m[1]));
  // start at a random octet so parallel test processes rarely race for the same one
  const start = Math.floor(Math.random() * 250);
  for (let n = 0; n < 250; n++) {
    const k = 1 + ((start + n) % 250);
    if (!taken.has(k)) {
      usedOctets.add(k);
      return k;
    }
  }
  throw new Error("no free /24 left in 10.250.0.0/16");
}

async function freePort(hostname: string): Promise<number> {
  const server = Bun.serve({ port: 0, hostname, fetch: () => new Response("") });
  const port = server.port;
  server.stop(true);
  if (port === undefined) throw new Error(`no free port on ${hostname}`);
  return port;
}

function inNetns(netns: string, argv: string[]): string[] {
  return ["nsenter", `--net=${NETNS_DIR}/${netns}`, "--", ...argv];
}

/** The test runner's environment without NEXTMINI_* settings, which would otherwise leak into every process. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("NEXTMINI_")) env[k] = v;
  return env;
}

function spawnLogged(argv: string[], env: Record<string, string>, log: string): Subprocess {
  const fd = openSync(log, "a");
  try {
    return Bun.spawn(argv, { stdin: "ignore", stdout: fd, stderr: fd, env: { ...cleanEnv(), ...env } });
  } finally {
    closeSync(fd);
  }
}

function exited(proc: Subprocess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** SIGTERM, then SIGKILL after `ms`; resolves once the process is gone. */
async function stopProcess(proc: Subprocess, ms: number): Promise<void> {
  if (exited(proc)) return;
  proc.kill("SIGTERM");
  const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
  if (!done) {
    proc.kill("SIGKILL");
    await proc.exited;
    throw new Error(`pid ${proc.pid} ignored SIGTERM for ${ms} ms and was SIGKILLed`);
  }
}

/** Kills what still runs in a host namespace (a straggling agent or test command) so it can go. */
async function killInside(netns: string): Promise<void> {
  const pids = await runCmd(["ip", "netns", "pids", netns], {}, 5000);
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function mustRun(argv: string[], opts: { stdin?: string } = {}): Promise<void> {
  const proc = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${stderr.trim()}`);
}

/** Like mustRun, for teardown: something already gone is fine, anything else is reported. */
async function quiet(argv: string[]): Promise<void> {
  const r = await runCmd(argv, {}, 10_000);
  if (r.exitCode !== 0 && !/Cannot find device|No such file|does not exist/i.test(r.stderr)) {
    throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr.trim()}`);
  }
}

/**
 * One cluster shared by the tests of a file: started in beforeAll, stopped in
 * afterAll. `c` throws a clear error in the tests when beforeAll failed, and
 * `withLogs` makes a failing step carry every log's tail, so CI output says why.
 */
export class SharedCluster {
  #cluster: Cluster | undefined;

  async start(opts: ClusterOptions): Promise<Cluster> {
    this.#cluster = await startCluster(opts);
    return this.#cluster;
  }

  get c(): Cluster {
    if (!this.#cluster) throw new Error("the cluster did not start (see beforeAll)");
    return this.#cluster;
  }

  /** Safe when start() failed or stop() already ran. */
  async stop(): Promise<void> {
    await this.#cluster?.stop();
  }

  async withLogs(step: () => Promise<void>, lines = 30): Promise<void> {
    try {
      await step();
    } catch (e) {
      const err = e as Error;
      err.message = `${err.message}\n${this.#cluster?.logs(lines) ?? ""}`;
      throw err;
    }
  }
}

/**
 * Waits until every node of `namespace` is running (a controller that is
 * restarting counts as not yet); resolves to the last listing, as the API gave it.
 */
export async function waitRunning<T extends { state: string }>(cluster: Cluster, namespace: string, timeoutMs = 30_000): Promise<T[]> {
  let rows: T[] = [];
  await waitFor(
    async () => {
      try {
        rows = await cluster.json<T[]>("GET", `/namespaces/${namespace}/nodes`);
      } catch {
        return false;
      }
      return rows.length > 0 && rows.every((r) => r.state === "running");
    },
    timeoutMs,
    () => `nodes of ${namespace} not all running: ${JSON.stringify(rows)}\n${cluster.logs(20)}`,
  );
  return rows;
}

/** Polls `cond` every 100 ms until true; throws `why()` after `ms`. An exception from `cond` ends the wait. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const limit = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > limit) throw new Error(`timed out after ${ms} ms: ${why()}`);
    await Bun.sleep(100);
  }
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
}
