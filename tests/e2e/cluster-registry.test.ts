/**
 * The host registry over a real (one-machine) cluster: three compiled agents in
 * their own network namespaces join a controller on a bridge; a wrong join token
 * is refused; nodes pinned to hosts run there; a SIGKILLed agent's host goes
 * down and its nodes lost, then come back when it restarts; a frozen agent
 * (SIGSTOP: its socket stays open) goes down once its heartbeats stop and
 * comes back when thawed; a restarted
 * controller gets its agents back without help; exec reaches a node directly
 * and through its agent. Uses the controller's default 5 s heartbeat timeout.
 *
 * The tests run in order and share one cluster: each step starts from what the
 * previous one left.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { netnsUnavailable } from "../helpers/env.ts";
import { SharedCluster, waitFor, type Cluster, type HostRow } from "../helpers/cluster.ts";

interface NodeRow {
  name: string;
  host: string;
  ip: string;
  state: string;
}

const NS = "default";
const PINS = [
  { name: "n1", host: "h1" },
  { name: "n2", host: "h2" },
  { name: "n3", host: "h3" },
];
/** the controller's default heartbeat timeout, plus slack for the sweep and the poll */
const DOWN_WITHIN_MS = 5000 + 1000;

const shared = new SharedCluster();
const c = (): Cluster => shared.c;
const withLogs = (step: () => Promise<void>) => shared.withLogs(step);

const hosts = () => c().json<HostRow[]>("GET", "/hosts");
const nodes = () => c().json<NodeRow[]>("GET", `/namespaces/${NS}/nodes`);

/** How many times a namespace is mounted under /run/netns: 1 is a live namespace, 0 a stale file or none. */
function mounts(netns: string): number {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l.split(" ")[4] === `/run/netns/${netns}`).length;
}

/** For a failure message: every mount of that name, and whether the file is there. */
function mountLines(netns: string): string {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(netns));
  return `mounts of ${netns}: ${JSON.stringify(lines)}; in /run/netns: ${existsSync(`/run/netns/${netns}`)}`;
}

async function ipv4Of(netns: string): Promise<string> {
  const proc = Bun.spawn(["ip", "-n", netns, "-4", "-o", "addr", "show", "dev", "eth0"], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out;
}

/** Comparable view of the node listing: what must survive a controller restart. */
function essentials(rows: NodeRow[]) {
  return rows.map(({ name, host, ip, state }) => ({ name, host, ip, state })).sort((a, b) => a.name.localeCompare(b.name));
}

describe.skipIf(netnsUnavailable !== undefined)("cluster registry", () => {
  beforeAll(async () => {
    await shared.start({ hosts: 3 });
  }, 60_000);

  afterAll(async () => {
    // the last test stops the cluster and checks it; this only matters when a test failed before it
    await shared.stop();
  }, 60_000);

  test("three agents join: GET /hosts shows h1..h3 up with their size and address", () =>
    withLogs(async () => {
      const rows = await hosts();
      expect(rows.map((h) => h.name).sort()).toEqual(["h1", "h2", "h3"]);
      for (const row of rows) {
        expect(row.state).toBe("up");
        expect(row.cpus).toBeGreaterThanOrEqual(1);
        expect(row.memTotalMB).toBeGreaterThan(0);
        expect(row.address).toContain(c().host(row.name).address);
      }
    }));

  test("an agent with a wrong join token exits non-zero, says so, and never joins", () =>
    withLogs(async () => {
      const started = Date.now();
      const r = await c()
        .host("h1")
        .run([...c().bin, "agent", "--controller", c().url, "--join-token", "wrong", "--name", "bad", "--data-port", "0"], { NEXTMINI_STATE_DIR: c().host("h1").stateDir }, 15_000);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(10_000); // it ended by itself, not by runCmd's kill
      expect(r.exitCode).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toContain("join token");
      expect((await hosts()).map((h) => h.name)).not.toContain("bad");
    }));

  test("nodes pinned to h1, h2, h3 run there, each in its own namespace", () =>
    withLogs(async () => {
      const put = await c().api("PUT", `/namespaces/${NS}/topology`, { nodes: PINS, links: [] });
      expect(put.status, await put.clone().text()).toBeLessThan(300);
      let rows: NodeRow[] = [];
      await waitFor(
        async () => (rows = await nodes()).length === 3 && rows.every((n) => n.state === "running"),
        20_000,
        () => `nodes not running: ${JSON.stringify(rows)}`,
      );
      for (const pin of PINS) {
        const row = rows.find((n) => n.name === pin.name);
        expect(row?.host).toBe(pin.host);
        const netns = `nm:${pin.host}:${NS}:${pin.name}`;
        expect(mounts(netns), mountLines(netns)).toBe(1);
        expect(await ipv4Of(netns)).toContain(`inet ${row?.ip.split("/")[0]}/`);
      }
    }), 30_000);

  test("SIGKILL h2: h2 goes down and n2 lost; restarted, n2 runs again with one namespace and no stray TUN", () =>
    withLogs(async () => {
      const h2 = c().host("h2");
      const killedAt = Date.now();
      await h2.kill("SIGKILL");
      let hostRows: HostRow[] = [];
      let nodeRows: NodeRow[] = [];
      await waitFor(
        async () => {
          hostRows = await hosts();
          nodeRows = await nodes();
          return hostRows.find((h) => h.name === "h2")?.state === "down" && nodeRows.find((n) => n.name === "n2")?.state === "lost";
        },
        DOWN_WITHIN_MS,
        () => `h2 not down or n2 not lost: ${JSON.stringify(hostRows)} ${JSON.stringify(nodeRows)}`,
      );
      expect(Date.now() - killedAt).toBeLessThanOrEqual(DOWN_WITHIN_MS);
      // the other hosts are unaffected
      expect(hostRows.filter((h) => h.name !== "h2").map((h) => h.state)).toEqual(["up", "up"]);
      expect(nodeRows.filter((n) => n.name !== "n2").map((n) => n.state)).toEqual(["running", "running"]);

      await h2.restart();
      await waitFor(
        async () => (nodeRows = await nodes()).find((n) => n.name === "n2")?.state === "running",
        15_000,
        () => `n2 not running again: ${JSON.stringify(nodeRows)}`,
      );
      const netns = "nm:h2:default:n2";
      expect(mounts(netns), mountLines(netns)).toBe(1);
      const n2 = nodeRows.find((n) => n.name === "n2");
      expect(await ipv4Of(netns)).toContain(`inet ${n2?.ip.split("/")[0]}/`);
      const links = await c().host("h2").run(["ip", "-o", "link"], {}, 10_000);
      expect(links.exitCode).toBe(0);
      const stray = links.stdout.split("\n").filter((l) => /^\d+:\s+nmt/.test(l));
      expect(stray).toEqual([]);
    }), 40_000);

  test("SIGSTOP h3: no heartbeat for 5 s makes h3 down and n3 lost; SIGCONT brings both back", () =>
    withLogs(async () => {
      const h3 = c().host("h3");
      const frozenAt = Date.now();
      h3.signal("SIGSTOP");
      try {
        let hostRows: HostRow[] = [];
        let nodeRows: NodeRow[] = [];
        await waitFor(
          async () => {
            hostRows = await hosts();
            nodeRows = await nodes();
            return hostRows.find((h) => h.name === "h3")?.state === "down" && nodeRows.find((n) => n.name === "n3")?.state === "lost";
          },
          DOWN_WITHIN_MS + 1000,
          () => `h3 not down or n3 not lost: ${JSON.stringify(hostRows)} ${JSON.stringify(nodeRows)}`,
        );
        const elapsed = Date.now() - frozenAt;
        // the last heartbeat left at most one period (1 s) before the freeze, so the 5 s timeout ends 4 to 5 s after it
        expect(elapsed).toBeGreaterThanOrEqual(3500);
        expect(elapsed).toBeLessThanOrEqual(DOWN_WITHIN_MS);
      } finally {
        h3.signal("SIGCONT");
      }
      let hostRows: HostRow[] = [];
      let nodeRows: NodeRow[] = [];
      await waitFor(
        async () => {
          hostRows = await hosts();
          nodeRows = await nodes();
          return hostRows.find((h) => h.name === "h3")?.state === "up" && nodeRows.find((n) => n.name === "n3")?.state === "running";
        },
        10_000,
        () => `h3 not back: ${JSON.stringify(hostRows)} ${JSON.stringify(nodeRows)}`,
      );
    }), 30_000);

  test("a restarted controller gets its agents back by themselves and shows the same nodes", () =>
    withLogs(async () => {
      const before = essentials(await nodes());
      expect(before.every((n) => n.state === "running")).toBe(true);
      const restartedAt = Date.now();
      await c().restartController();
      // agents retry with a backoff capped at 5 s; allow a few rounds
      await c().waitHostsUp(["h1", "h2", "h3"], restartedAt, 20_000);
      let after: ReturnType<typeof essentials> = [];
      await waitFor(
        async () => JSON.stringify((after = essentials(await nodes()))) === JSON.stringify(before),
        15_000,
        () => `nodes differ after the restart:\nbefore ${JSON.stringify(before)}\nafter  ${JSON.stringify(after)}`,
      );
      expect(after).toEqual(before);
    }), 50_000);

  test("exec: the CLI runs in n1 from the root namespace; the API runs in n3 through agent h3", () =>
    withLogs(async () => {
      const n1 = (await nodes()).find((n) => n.name === "n1");
      const r = await c().cli(["exec", "n1", "--", "ip", "-4", "addr", "show", "eth0"], 20_000);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(`inet ${n1?.ip.split("/")[0]}/`);

      const res = await c().api("POST", `/namespaces/${NS}/nodes/n3/exec`, { command: ["hostname"] });
      const body = (await res.json()) as { exitCode: number; stdout: string; stderr: string };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.exitCode, body.stderr).toBe(0);
      expect(body.stdout.trim()).not.toBe("");
    }), 30_000);

  test("stop() ends every agent and leaves no namespace, link or process behind", () =>
    withLogs(async () => {
      const pids = c().hosts.map((h) => h.pid);
      // stop() throws when anything of the cluster is left
      await c().stop();
      for (const pid of pids) expect(pid === undefined || !alive(pid)).toBe(true);
    }), 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
