/**
 * A per host pair transport override in a real two-host cluster: with the
 * namespace on tcp and the pair overridden to udp, a node-to-node transfer
 * leaves the agents' tcp connection idle; dropping the override (a new
 * document) moves the same traffic back onto that connection. The agents' tcp
 * connection is watched from the kernel's side (`ss -ti` in the host's netns).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { netnsUnavailable } from "../helpers/env.ts";
import { startCluster, waitFor, type Cluster } from "../helpers/cluster.ts";
import { iperfTcp } from "../helpers/measure.ts";

const DATA_PORT = 7401;

function topology(overridden: boolean): unknown {
  return {
    transport: "tcp",
    transports: overridden ? [{ between: ["p2", "p1"], transport: "udp" }] : [],
    nodes: [
      { name: "a", host: "p1" },
      { name: "b", host: "p2" },
    ],
    links: [{ a: "a", b: "b", bandwidth: "50Mbit" }],
  };
}

describe.skipIf(netnsUnavailable !== undefined)("transport overridden for a host pair", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ hosts: 2, hostPrefix: "p" });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  /** bytes the kernel received on host p1's tcp connections to or from the agents' data port */
  async function agentTcpBytes(): Promise<number> {
    const r = await cluster.host("p1").run(["ss", "-tinH", "state", "established", `( sport = :${DATA_PORT} or dport = :${DATA_PORT} )`]);
    expect(r.exitCode).toBe(0);
    let total = 0;
    for (const m of r.stdout.matchAll(/bytes_received:(\d+)/g)) total += Number(m[1]);
    return total;
  }

  async function apply(overridden: boolean): Promise<void> {
    const res = await cluster.api("PUT", "/namespaces/pair/topology", topology(overridden));
    expect(res.status).toBe(200);
    let rows: { state: string }[] = [];
    await waitFor(
      async () => (rows = (await (await cluster.api("GET", "/namespaces/pair/nodes")).json()) as { state: string }[]).every((r) => r.state === "running"),
      30_000,
      () => `nodes not running: ${JSON.stringify(rows)}`,
    );
  }

  /** 3 s of iperf3 from a (on p1) to b (on p2) and back (-R), so p1 receives; returns Mbit/s */
  async function transfer(): Promise<number> {
    const exec = (node: string, cmd: string[]) => cluster.cli(["exec", "-n", "pair", node, "--", ...cmd], 30_000);
    const srv = exec("b", ["iperf3", "-s", "-1"]);
    await Bun.sleep(400);
    const r = await exec("a", ["iperf3", "-c", "10.0.0.2", "-t", "3", "-R", "-J"]);
    await srv;
    return iperfTcp(r.stdout).end.sum_received.bits_per_second / 1e6;
  }

  test("the overridden pair carries a transfer over udp, leaving the tcp connection idle; without the override it goes back to tcp", async () => {
    await apply(true);
    const before = await agentTcpBytes();
    const overMbit = await transfer();
    const overTcp = (await agentTcpBytes()) - before;
    console.log(`override udp: ${overMbit.toFixed(1)} Mbit/s, ${overTcp} bytes on the agents' tcp connection`);
    expect(overMbit).toBeGreaterThan(40);
    // the transfer is ~19 MB; what remains on tcp is nothing (there is no control traffic on it)
    expect(overTcp).toBeLessThan(100_000);

    await apply(false);
    const again = await agentTcpBytes();
    const tcpMbit = await transfer();
    const onTcp = (await agentTcpBytes()) - again;
    console.log(`namespace tcp: ${tcpMbit.toFixed(1)} Mbit/s, ${onTcp} bytes on the agents' tcp connection`);
    expect(tcpMbit).toBeGreaterThan(40);
    expect(onTcp).toBeGreaterThan(10_000_000);
  }, 90_000);
});
