/**
 * Node lifecycle on a real agent: two namespaces each with nodes foo and bar;
 * stopping all in one ends the programs in its nodes and removes their
 * network namespaces while the other keeps pinging; starting brings them back
 * at the same addresses; killed nodes can then be removed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { netnsUnavailable } from "../helpers/env.ts";
import { waitFor } from "../helpers/cluster.ts";
import { runCmd, up, type Up } from "../helpers/up.ts";

const TOPOLOGY = "nodes: [foo, bar]\nlinks: [{ a: foo, b: bar, delay: 1ms }]\n";

describe.skipIf(netnsUnavailable !== undefined)("node lifecycle", () => {
  let net: Up;

  beforeAll(async () => {
    net = await up(TOPOLOGY, "source");
    const res = await net.api("PUT", "/namespaces/two/topology", { nodes: ["foo", "bar"], links: [{ a: "foo", b: "bar" }] });
    expect(res.status).toBe(200);
    await states("two", ["running"]);
  }, 120_000);

  afterAll(async () => {
    await net?.down();
  }, 60_000);

  const ping = (ns: string) => net.cli(["exec", "-n", ns, "foo", "--", "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.2"], 20_000);
  const post = async (path: string) => expect((await net.api("POST", path)).status).toBe(200);

  /** waits until every node of `ns` (or only those named in `only`) is in one of the `wanted` states */
  async function states(ns: string, wanted: string[], only?: string[]): Promise<void> {
    let rows: { name: string; state: string }[] = [];
    await waitFor(
      async () =>
        (rows = (await (await net.api("GET", `/namespaces/${ns}/nodes`)).json()) as typeof rows)
          .filter((r) => only === undefined || only.includes(r.name))
          .every((r) => wanted.includes(r.state)),
      20_000,
      () => `namespace ${ns} nodes not ${wanted.join("/")}: ${JSON.stringify(rows)}`,
    );
  }

  const netnsOf = async (ns: string) =>
    (await runCmd(["ip", "netns", "list"], {})).stdout.split("\n").filter((l) => l.startsWith(`nm:${net.agent}:${ns}:`));

  test("stop all in one namespace: its programs end and its nodes are torn down; the other namespace still pings", async () => {
    await states("default", ["running"]);
    const started = await net.cli(["exec", "foo", "--", "sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"], 10_000);
    const pid = Number(started.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    expect((await ping("default")).exitCode).toBe(0);

    await post("/namespaces/default/nodes/all/stop");
    await states("default", ["stopped"]);
    expect(await netnsOf("default")).toEqual([]);
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await ping("two")).exitCode).toBe(0);
    expect((await ping("default")).exitCode).not.toBe(0);
  }, 60_000);

  test("start brings the nodes back at the same addresses; kill, then remove", async () => {
    await post("/namespaces/default/nodes/all/start");
    await states("default", ["running"]);
    expect((await ping("default")).exitCode).toBe(0);

    await post("/namespaces/default/nodes/bar/kill");
    await states("default", ["stopped"], ["bar"]);
    expect((await net.api("DELETE", "/namespaces/default/nodes/foo")).status).toBe(409);
    const removed = await net.api("DELETE", "/namespaces/default/nodes/bar");
    expect(await removed.json()).toEqual({ nodes: ["bar"], links: ["foo:bar"], routes: [] });
    expect((await netnsOf("default")).length).toBe(1);
    expect((await ping("two")).exitCode).toBe(0);
  }, 60_000);

  test("ns run runs a command on the namespace's host, outside any node", async () => {
    const r = await net.cli(["ns", "run", "-n", "two", "--", "sh", "-c", 'echo $((6*7)); echo "netns=$(ip netns identify $$)"'], 20_000);
    expect(r.exitCode).toBe(0);
    // in a node, `ip netns identify` would name the node's namespace; on the host it names none
    expect(r.stdout.trim().split("\n")).toEqual([`== ${net.agent}: exit 0`, "42", "netns="]);
    const failed = await net.cli(["ns", "run", "-n", "two", "--", "false"], 20_000);
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toContain(`== ${net.agent}: exit 1`);
  }, 30_000);

  test("a node launched with a command runs it, with its output in the agent's log dir, again after a restart of the node", async () => {
    const launch = await net.api("POST", "/namespaces/two/nodes", { names: "srv", command: ["sh", "-c", "echo hello from $(ip -4 -o addr show eth0 | awk '{print $4}'); exec sleep 600"] });
    expect(launch.status).toBe(201);
    await states("two", ["running"], ["srv"]);
    const log = path.join(net.stateDir, "logs", "two-srv.log");
    await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes("hello from 10.0.0.3/16"), 10_000, () => `log: ${existsSync(log) ? readFileSync(log, "utf8") : "(none)"}`);
    const pids = async () => (await runCmd(["ip", "netns", "pids", `nm:${net.agent}:two:srv`], {})).stdout.trim().split(/\s+/).filter(Boolean);
    expect((await pids()).length).toBe(1);

    await post("/namespaces/two/nodes/srv/stop");
    await states("two", ["stopped"], ["srv"]);
    await waitFor(() => readFileSync(log, "utf8").includes("the command was killed by SIGTERM"), 10_000, () => readFileSync(log, "utf8"));
    await post("/namespaces/two/nodes/srv/start");
    await states("two", ["running"], ["srv"]);
    const greetings = () => readFileSync(log, "utf8").split("\n").filter((l) => l === "hello from 10.0.0.3/16").length;
    await waitFor(() => greetings() === 2, 10_000, () => readFileSync(log, "utf8"));
  }, 60_000);
});
