/**
 * Nothing is left behind: SIGINT on a foreground `nextmini up` removes every
 * namespace and TUN it made; after SIGKILL (nothing can clean up),
 * `nextmini cleanup --agent` removes the leftovers, including programs still
 * running inside the nodes.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { netnsUnavailable } from "../helpers/env.ts";
import { launcherArgv, leftovers, runCmd, up } from "../helpers/up.ts";

const TOPOLOGY = "nodes: [c1, c2, c3]\nlinks:\n  - { a: c1, b: c2, delay: 1ms }\n  - { a: c2, b: c3 }\n";

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const limit = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > limit) throw new Error("timed out");
    await Bun.sleep(100);
  }
}

describe.skipIf(netnsUnavailable !== undefined)("clean up", () => {
  test("SIGINT on a foreground up removes its namespaces and TUN devices", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nextmini-test-"));
    const file = path.join(dir, "t.yaml");
    writeFileSync(file, TOPOLOGY);
    const agent = `sig${process.pid % 10000}`;
    const proc = Bun.spawn([...launcherArgv("compiled"), "up", file, "--foreground", "--listen", "127.0.0.1:0", "--name", agent], {
      env: { ...process.env, NEXTMINI_STATE_DIR: dir },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await waitFor(() => existsSync(path.join(dir, "up.ready")), 60_000);
      expect((await leftovers(agent)).length).toBe(3);
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(0);
      expect(await leftovers(agent)).toEqual([]);
      expect(existsSync(path.join(dir, "up.pid"))).toBe(false);
    } finally {
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  test("after SIGKILL, cleanup removes the leftovers and the programs inside", async () => {
    const net = await up(TOPOLOGY, "compiled");
    const pid = Number(readFileSync(path.join(net.stateDir, "up.pid"), "utf8"));
    const bg = await net.exec("c1", ["sh", "-c", "sleep 300 >/dev/null 2>&1 &"]);
    expect(bg.exitCode).toBe(0);
    process.kill(pid, "SIGKILL");
    await waitFor(async () => (await runCmd(["kill", "-0", String(pid)], {})).exitCode !== 0, 10_000);
    expect((await leftovers(net.agent)).length).toBe(3);
    const dry = await net.cli(["cleanup", "--agent", net.agent, "--dry-run"]);
    expect(dry.stdout).toContain(`would remove netns nm:${net.agent}:default:c1`);
    expect((await leftovers(net.agent)).length).toBe(3);
    const r = await net.cli(["cleanup", "--agent", net.agent]);
    expect(r.exitCode).toBe(0);
    expect(await leftovers(net.agent)).toEqual([]);
    const sleepers = await runCmd(["pgrep", "-f", "^sleep 300$"], {});
    expect(sleepers.stdout.trim()).toBe("");
    rmSync(net.stateDir, { recursive: true, force: true });
  }, 90_000);
});
