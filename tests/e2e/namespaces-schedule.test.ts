/**
 * Namespaces and the scheduler over three compiled agents (s1..s3, each in its
 * own host network namespace on a bridge), driven through the CLI:
 *
 * - queue launch groups in a namespace with queueing on, dry-run, move some
 *   nodes in the stored plan, schedule, and find every node on the host the
 *   edited plan says, both in GET .../nodes and in the agents' own view; the
 *   schedule status has one completed run;
 * - deleting that namespace removes its nodes' network namespaces on all
 *   three hosts (first: the coschedule limits of its nodes hold for every
 *   namespace, so they would keep the next test's pins off their hosts);
 * - two namespaces with nodes foo and bar each, on two hosts: stopping all in
 *   one leaves the other pinging across the hosts; start, kill, rm;
 * - deleting one of them removes its network namespaces on every host and
 *   leaves the other's.
 *
 * The agents' own view: an agent names each node's Linux network namespace
 * nm:<agent>:<namespace>:<node>. Agents run in host network namespaces but in
 * the machine's mount namespace, so /run/netns here shows every agent's nodes,
 * each under the name of the agent that built it.
 *
 * The tests run in order and share one cluster.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { z } from "zod";
import type { NodeRow } from "../../protocol/api.ts";
import { PlanEntry, ScheduleStatusRow } from "../../protocol/launch.ts";
import { netnsUnavailable } from "../helpers/env.ts";
import { SharedCluster, waitFor, waitRunning, type Cluster } from "../helpers/cluster.ts";
import type { Result } from "../helpers/up.ts";

const PREFIX = "s";
const EXP = "exp";

const shared = new SharedCluster();
const c = (): Cluster => shared.c;
const withLogs = (step: () => Promise<void>) => shared.withLogs(step);

/** `nextmini ARGS`, which must succeed; answers its stdout. */
async function cli(args: string[]): Promise<string> {
  const r: Result = await c().cli(args, 30_000);
  if (r.exitCode !== 0) throw new Error(`nextmini ${args.join(" ")} exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const nodes = (ns: string) => c().json<NodeRow[]>("GET", `/namespaces/${ns}/nodes`);

/**
 * The nodes of `ns` as the agents built them: node name to the agent whose
 * name is in the node's network namespace. A node two agents built would
 * show up twice, so it is kept as a list.
 */
function agentView(ns: string): Map<string, string[]> {
  const view = new Map<string, string[]>();
  const names = existsSync("/run/netns") ? readdirSync("/run/netns") : [];
  for (const name of names) {
    const m = /^nm:([^:]+):([^:]+):(.+)$/.exec(name);
    if (!m || m[2] !== ns || !new RegExp(`^${PREFIX}\\d+$`).test(m[1])) continue;
    view.set(m[3], [...(view.get(m[3]) ?? []), m[1]]);
  }
  return view;
}

/** Waits until every node of `ns` (or those in `only`) is in state `wanted`. */
async function waitStates(ns: string, wanted: string, only?: string[]): Promise<NodeRow[]> {
  let rows: NodeRow[] = [];
  await waitFor(
    async () => (rows = await nodes(ns)).filter((r) => only === undefined || only.includes(r.name)).every((r) => r.state === wanted),
    20_000,
    () => `nodes of ${ns} not ${wanted}: ${JSON.stringify(rows)}`,
  );
  return rows;
}

/** Waits until no agent holds a network namespace for a node of `ns`. */
async function waitNoNetns(ns: string): Promise<void> {
  await waitFor(
    () => agentView(ns).size === 0,
    20_000,
    () => `network namespaces of ${ns} left: ${JSON.stringify([...agentView(ns)])}`,
  );
}

/** Pings bar from foo in `ns` through `nextmini exec`; the exit code. */
async function ping(ns: string): Promise<number> {
  const bar = (await nodes(ns)).find((n) => n.name === "bar");
  if (!bar) throw new Error(`no bar in ${ns}`);
  const r = await c().cli(["exec", "-n", ns, "foo", "--", "ping", "-c", "2", "-i", "0.2", "-W", "1", bar.ip.split("/")[0]], 20_000);
  return r.exitCode;
}

/** Every node of `ns` is in the agents' view exactly once, under the agent the controller placed it on. */
function expectAgentsHold(ns: string, rows: readonly NodeRow[]): void {
  const view = agentView(ns);
  expect(Object.fromEntries(view)).toEqual(Object.fromEntries(rows.map((r) => [r.name, [r.host]])));
}

describe.skipIf(netnsUnavailable !== undefined)("namespaces and the scheduler over three hosts", () => {
  beforeAll(async () => {
    await shared.start({ hosts: 3, hostPrefix: PREFIX });
  }, 60_000);

  afterAll(async () => {
    await shared.stop();
  }, 60_000);

  test("queue, dry-run, move, schedule: every node runs on the host of the edited plan", () =>
    withLogs(async () => {
      await cli(["ns", "create", EXP, "--queueing", "true"]);
      const launches = [
        ["web[1-3]"],
        ["--count", "2", "--vcpus", "2", "--coschedule", "1"],
        ["db", "--schedule", "s3"],
        ["cache", "--colocate", "db"],
      ];
      for (const args of launches) expect(await cli(["node", "launch", ...args, "-n", EXP])).toStartWith("queued ");
      const queued = await nodes(EXP);
      expect(queued.map((r) => r.name).sort()).toEqual(["cache", "db", "node-1", "node-2", "web1", "web2", "web3"]);
      expect(queued.every((r) => r.state === "queued")).toBe(true);

      const parsePlan = (out: string) => new Map(z.array(PlanEntry).parse(JSON.parse(out)).map((p) => [p.node, p.host]));
      const planned = parsePlan(await cli(["schedule", "--dry-run", "-n", EXP, "-o", "json"]));
      expect(planned.size).toBe(7);
      // the scheduler's rules: the pin, the colocation, node-N each with at most one other node on its host
      expect(planned.get("db")).toBe("s3");
      expect(planned.get("cache")).toBe("s3");
      for (const n of ["node-1", "node-2"]) {
        expect([...planned.values()].filter((h) => h === planned.get(n)).length).toBeLessThanOrEqual(2);
      }
      // a dry run launches nothing
      expect((await nodes(EXP)).every((r) => r.state === "queued")).toBe(true);

      // web1 and web2 to db's host, and cache away from db to node-1's host, which cannot be s3 (coschedule 1 with db and cache there)
      const cacheTo = planned.get("node-1") ?? "";
      expect(cacheTo).not.toBe("s3");
      parsePlan(await cli(["schedule", "move", "web[1-2]", "s3", "-n", EXP, "-o", "json"]));
      const edited = parsePlan(await cli(["schedule", "move", "cache", cacheTo, "-n", EXP, "-o", "json"]));
      const expected = new Map(planned);
      for (const n of ["web1", "web2"]) expected.set(n, "s3");
      expected.set("cache", cacheTo);
      expect(Object.fromEntries(edited)).toEqual(Object.fromEntries(expected));
      expect([...expected].filter(([n, h]) => planned.get(n) !== h).length).toBeGreaterThanOrEqual(2);
      expect(Object.fromEntries(parsePlan(await cli(["schedule", "show", "-n", EXP, "-o", "json"])))).toEqual(Object.fromEntries(expected));

      const scheduled = await cli(["schedule", "-n", EXP]);
      expect(scheduled).toMatch(/^NODE\s+HOST/);
      const rows = await waitRunning<NodeRow>(c(), EXP, 40_000);
      expect(Object.fromEntries(rows.map((r) => [r.name, r.host]))).toEqual(Object.fromEntries(expected));
      expectAgentsHold(EXP, rows);

      const status = z.array(ScheduleStatusRow).parse(JSON.parse(await cli(["schedule", "status", "-n", EXP, "-o", "json"])));
      expect(status).toHaveLength(1);
      expect(status[0]).toMatchObject({ state: "completed", launched: 7, failures: 0, total: 7, hosts: new Set(expected.values()).size });
      expect(status[0].end).toBeString();
      // the queue and the plan are used up
      expect(JSON.parse(await cli(["node", "queue", "-n", EXP, "-o", "json"]))).toEqual([]);
      expect(JSON.parse(await cli(["schedule", "show", "-n", EXP, "-o", "json"]))).toEqual([]);
    }), 60_000);

  test("deleting the namespace removes its network namespaces on all three hosts", () =>
    withLogs(async () => {
      expect(new Set([...agentView(EXP).values()].flat())).toEqual(new Set(["s1", "s2", "s3"]));
      expect(await cli(["ns", "delete", EXP])).toStartWith(`deleted namespace ${EXP}: 7 nodes`);
      await waitNoNetns(EXP);
      expect((await c().json<{ name: string }[]>("GET", "/namespaces")).map((n) => n.name)).not.toContain(EXP);
    }), 30_000);

  test("two namespaces with foo and bar each: stop all in one, the other keeps pinging across hosts; start, kill, rm", () =>
    withLogs(async () => {
      // both namespaces use both hosts, crosswise, so each host holds a node of each
      const layout = { one: { foo: "s1", bar: "s2" }, two: { foo: "s2", bar: "s1" } };
      for (const [ns, place] of Object.entries(layout)) {
        await cli(["ns", "create", ns]);
        for (const [node, host] of Object.entries(place)) expect(await cli(["node", "launch", node, "--schedule", host, "-n", ns])).toStartWith("launched 1 node(s)");
        await c().json("POST", `/namespaces/${ns}/links`, { a: "foo", b: "bar" });
      }
      expect(await cli(["node", "launch", "w[1-3]", "--schedule", "s3", "-n", "one"])).toStartWith("launched 3 node(s)");
      for (const ns of ["one", "two"]) expectAgentsHold(ns, await waitRunning<NodeRow>(c(), ns, 30_000));
      expect(await ping("one")).toBe(0);
      expect(await ping("two")).toBe(0);

      expect((await cli(["node", "stop", "all", "-n", "one"])).trim()).toBe(
        "stopping 5 node(s) in namespace one: foo, bar, w1, w2, w3; 'nextmini nodes -n one' shows their state",
      );
      await waitStates("one", "stopped");
      await waitNoNetns("one");
      const two = await nodes("two");
      expect(two.map((r) => r.state)).toEqual(["running", "running"]);
      expectAgentsHold("two", two);
      expect(await ping("two")).toBe(0);

      expect(await cli(["node", "start", "all", "-n", "one"])).toStartWith("starting 5 node(s) in namespace one");
      expectAgentsHold("one", await waitRunning<NodeRow>(c(), "one", 30_000));
      expect(await ping("one")).toBe(0);

      expect(await cli(["node", "kill", "w[1-2]", "-n", "one"])).toStartWith("killing 2 node(s) in namespace one: w1, w2;");
      await waitStates("one", "stopped", ["w1", "w2"]);
      const refused = await c().cli(["node", "rm", "foo", "-n", "one"], 30_000);
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain("node_not_stopped");
      expect((await cli(["node", "rm", "w[1-2]", "-n", "one"])).trim()).toBe("removed 2 node(s) from namespace one: w1, w2 (with 0 link(s) and 0 route(s))");
      const one = await nodes("one");
      expect(one.map((r) => r.name)).toEqual(["foo", "bar", "w3"]);
      expectAgentsHold("one", one);
      expect(await ping("one")).toBe(0);
      expect(await ping("two")).toBe(0);
    }), 90_000);

  test("deleting one of them removes its network namespaces on every host; the other's stay and keep pinging", () =>
    withLogs(async () => {
      expect(new Set([...agentView("one").values()].flat())).toEqual(new Set(["s1", "s2", "s3"]));
      expect(await cli(["ns", "delete", "one"])).toStartWith("deleted namespace one: 3 nodes, 1 links");
      await waitNoNetns("one");
      expect((await c().json<{ name: string }[]>("GET", "/namespaces")).map((n) => n.name)).not.toContain("one");
      const two = await nodes("two");
      expect(two.map((r) => r.state)).toEqual(["running", "running"]);
      expectAgentsHold("two", two);
      expect(await ping("two")).toBe(0);
    }), 30_000);
});
