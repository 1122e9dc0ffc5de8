/**
 * Remote exec and cp over a real two-host cluster (compiled binary, agents x1
 * and x2 in their own network namespaces): `nextmini exec --api` streams a
 * node's output through the controller and exits with its code; the NDJSON
 * stream delivers the first line while the command still runs; stdin reaches
 * the command; a client that disconnects gets the command killed; `nextmini
 * cp` moves a 20 MB file into a node on the other host and back unchanged,
 * copies stdin in and a file out to stdout, and fails clearly on a missing file.
 *
 * The tests share one cluster and run in order.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { netnsUnavailable } from "../helpers/env.ts";
import { SharedCluster, waitFor, type Cluster } from "../helpers/cluster.ts";

const NS = "default";
const PINS = [
  { name: "n1", host: "x1" },
  { name: "n2", host: "x2" },
];

const shared = new SharedCluster();
const c = (): Cluster => shared.c;
const withLogs = (step: () => Promise<void>) => shared.withLogs(step);
let dir = "";
/** a name no other run uses, for files this test puts in the machine's /tmp through node n2 */
const tag = `nextmini-exec-test-${process.pid}-${randomBytes(3).toString("hex")}`;
const inNode = `/tmp/${tag}.bin`;

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** `nextmini ARGS` pointed at the cluster, with bytes on its stdin (cluster.cli gives it none). */
async function cliWithStdin(args: string[], stdin: Uint8Array): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("NEXTMINI_")) env[k] = v;
  const proc = Bun.spawn([...c().bin, ...args], {
    stdin,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...env, NEXTMINI_CONTROLLER: c().url, NEXTMINI_TOKEN: c().token, NEXTMINI_STATE_DIR: c().stateDir },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

/** Whether a process whose command line contains `needle` runs on this machine. */
function running(needle: string): boolean {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").includes(needle)) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

describe.skipIf(netnsUnavailable !== undefined)("exec and cp across hosts", () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "nextmini-exec-test-"));
    await shared.start({ hosts: 2, hostPrefix: "x" });
    await withLogs(async () => {
      const put = await c().api("PUT", `/namespaces/${NS}/topology`, { nodes: PINS, links: [{ a: "n1", b: "n2" }] });
      expect(put.status, await put.clone().text()).toBeLessThan(300);
      let rows: { name: string; host: string; state: string }[] = [];
      await waitFor(
        async () => (rows = await c().json("GET", `/namespaces/${NS}/nodes`)).length === 2 && rows.every((n) => n.state === "running"),
        20_000,
        () => `nodes not running: ${JSON.stringify(rows)}`,
      );
      expect(rows.map((r) => `${r.name}@${r.host}`).sort()).toEqual(["n1@x1", "n2@x2"]);
    });
  }, 60_000);

  afterAll(async () => {
    rmSync(inNode, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
    await shared.stop();
  }, 60_000);

  test("exec through the agent prints stdout and stderr and exits with the command's code", () =>
    withLogs(async () => {
      const r = await c().cli(["exec", "--api", "n2", "--", "sh", "-c", "echo a; sleep 1; echo b >&2; exit 3"], 20_000);
      expect(r.stdout).toBe("a\n");
      expect(r.stderr).toBe("b\n");
      expect(r.exitCode).toBe(3);
    }), 30_000);

  test("the streamed answer gives the first line while the command still runs", () =>
    withLogs(async () => {
      const started = Date.now();
      const res = await c().api("POST", `/namespaces/${NS}/nodes/n2/exec`, {
        command: ["sh", "-c", "echo first; sleep 1; echo last >&2; exit 3"],
        stream: true,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/x-ndjson");
      const seen: { at: number; line: unknown }[] = [];
      let buffered = "";
      for await (const text of res.body!.pipeThrough(new TextDecoderStream())) {
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          seen.push({ at: Date.now() - started, line: JSON.parse(buffered.slice(0, nl)) });
          buffered = buffered.slice(nl + 1);
        }
      }
      expect(seen.map((s) => s.line)).toEqual([{ stream: "stdout", data: "first\n" }, { stream: "stderr", data: "last\n" }, { exitCode: 3 }]);
      // the command sleeps 1 s between its lines: the first must not wait for the end
      expect(seen[2].at - seen[0].at).toBeGreaterThan(700);
    }), 30_000);

  test("stdin that is not a terminal is streamed to the command", () =>
    withLogs(async () => {
      const r = await cliWithStdin(["exec", "--api", "n2", "--", "sh", "-c", "wc -l; cat >&2"], new TextEncoder().encode("one\ntwo\nthree\n"));
      expect(r.stdout.trim()).toBe("3");
      expect(r.exitCode, r.stderr).toBe(0);
    }), 30_000);

  test("a client that goes away gets the command, and what it started, killed on the agent", () =>
    withLogs(async () => {
      const marker = `${tag}-cancel`;
      const abort = new AbortController();
      const res = await fetch(`${c().url}/api/v1/namespaces/${NS}/nodes/n2/exec`, {
        method: "POST",
        headers: { authorization: `Bearer ${c().token}`, "content-type": "application/json" },
        // the marker in both shells' argv lets the test find them; the inner one is a child the command started
        body: JSON.stringify({ command: ["sh", "-c", `echo started; sh -c 'sleep 30; : ${marker}'; : ${marker}`], stream: true, timeoutMs: 60_000 }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      await reader.read(); // the "started" line: the command runs
      expect(running(marker)).toBe(true);
      abort.abort();
      await waitFor(() => !running(marker), 10_000, () => `the command (${marker}) still runs after the client left`);
    }), 30_000);

  test("cp copies 20 MB into a node on the other host and back out unchanged", () =>
    withLogs(async () => {
      const src = path.join(dir, "data.bin");
      writeFileSync(src, randomBytes(20 * 1024 * 1024));
      const up = await c().cli(["cp", src, `n2:${inNode}`], 60_000);
      expect(up.exitCode, up.stderr).toBe(0);
      const out = path.join(dir, "out");
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      // a destination directory gets the source's base name
      const down = await c().cli(["cp", `n2:${inNode}`, out], 60_000);
      expect(down.exitCode, down.stderr).toBe(0);
      const copied = path.join(out, path.basename(inNode));
      expect(existsSync(copied)).toBe(true);
      expect(sha256(copied)).toBe(sha256(src));
      // the node saw the same bytes
      const inside = await c().cli(["exec", "--api", "n2", "--", "sha256sum", inNode], 20_000);
      expect(inside.stdout.split(" ")[0]).toBe(sha256(src));
    }), 120_000);

  test("cp with '-' copies stdin into a node and a file out to stdout", () =>
    withLogs(async () => {
      const file = `/tmp/${tag}-stdin.txt`;
      try {
        const up = await cliWithStdin(["cp", "-", `n2:${file}`], new TextEncoder().encode("from stdin\n"));
        expect(up.exitCode, up.stderr).toBe(0);
        const down = await c().cli(["cp", `n2:${file}`, "-"], 20_000);
        expect(down.exitCode, down.stderr).toBe(0);
        expect(down.stdout).toBe("from stdin\n");
      } finally {
        rmSync(file, { force: true });
      }
    }), 30_000);

  test("cp of a missing file fails with a message naming it, and leaves nothing behind", () =>
    withLogs(async () => {
      const missing = `/tmp/${tag}-missing`;
      const r = await c().cli(["cp", `n2:${missing}`, dir], 20_000);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(`no file ${missing} on node n2 (host x2)`);
      expect(r.stderr).toContain("file_not_found");
      expect(readdirSync(dir).filter((n) => n.includes("missing"))).toEqual([]);
    }), 30_000);
});
