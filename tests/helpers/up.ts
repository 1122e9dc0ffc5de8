/**
 * Starts `nextmini up` on a topology as a real process, from source (bun main.ts)
 * or through the compiled dist/nextmini, in a private state dir on a free port,
 * and gives tests the API, `nextmini exec` and teardown. Teardown checks that no
 * namespace or TUN device of the run is left behind.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export type Launcher = "source" | "compiled";

const ROOT = path.resolve(import.meta.dir, "../..");
const BUN = process.execPath;

export function launcherArgv(launcher: Launcher): string[] {
  if (launcher === "compiled") {
    const bin = path.join(ROOT, "dist/nextmini");
    if (!existsSync(bin)) throw new Error("dist/nextmini is missing: run 'bun run scripts/build.ts' (npm test does)");
    return [bin];
  }
  return [BUN, path.join(ROOT, "main.ts")];
}

export interface Result {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Up {
  url: string;
  token: string;
  stateDir: string;
  agent: string;
  /** runs `nextmini ARGS` against this network */
  cli(args: string[], timeoutMs?: number): Promise<Result>;
  exec(node: string, command: string[], timeoutMs?: number): Promise<Result>;
  api(method: string, pathname: string, body?: unknown): Promise<Response>;
  down(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = server.port;
  server.stop(true);
  return port!;
}

export async function runCmd(argv: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Result> {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...env } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const exitCode = await proc.exited;
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

let counter = 0;

/** `args`: more options for `nextmini up` (such as `--pool 1MB`) */
export async function up(topologyYaml: string, launcher: Launcher, opts: { args?: string[] } = {}): Promise<Up> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "nextmini-test-"));
  const file = path.join(stateDir, "topology.yaml");
  writeFileSync(file, topologyYaml);
  const port = await freePort();
  const agent = `t${process.pid % 10000}x${counter++}`;
  const url = `http://127.0.0.1:${port}`;
  // a fixed seed makes loss and jitter draws repeatable from run to run
  const env = { NEXTMINI_STATE_DIR: stateDir, NEXTMINI_CONTROLLER: url, NEXTMINI_SEED: "1" };
  const argv = launcherArgv(launcher);
  const cli = (args: string[], timeoutMs?: number) => runCmd([...argv, ...args], env, timeoutMs);
  const started = await cli(["up", file, "--listen", `127.0.0.1:${port}`, "--name", agent, ...(opts.args ?? [])], 120_000);
  if (started.exitCode !== 0) {
    rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`nextmini up failed (${started.exitCode}):\n${started.stdout}\n${started.stderr}`);
  }
  const token = readFileSync(path.join(stateDir, "token"), "utf8").trim();
  return {
    url,
    token,
    stateDir,
    agent,
    cli,
    exec: (node, command, timeoutMs) => cli(["exec", node, "--", ...command], timeoutMs),
    api: (method, pathname, body) =>
      fetch(`${url}/api/v1${pathname}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    async down() {
      const r = await cli(["down"], 60_000);
      rmSync(stateDir, { recursive: true, force: true });
      if (r.exitCode !== 0) throw new Error(`nextmini down failed: ${r.stderr}`);
      const left = await leftovers(agent);
      if (left.length > 0) throw new Error(`left behind after down: ${left.join(", ")}`);
    },
  };
}

/** Namespaces and TUN devices of `agent` still on the machine. */
export async function leftovers(agent: string): Promise<string[]> {
  const ns = await runCmd(["ip", "netns", "list"], {});
  const links = await runCmd(["ip", "-o", "link", "show"], {});
  return [
    ...ns.stdout.split("\n").filter((l) => l.startsWith(`nm:${agent}:`)),
    ...links.stdout.split("\n").filter((l) => /^\d+:\s+nmt/.test(l)).map((l) => l.split(":")[1].trim()),
  ];
}
