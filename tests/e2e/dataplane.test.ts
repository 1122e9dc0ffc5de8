/**
 * The agent's dataplane without a controller: NodeManager makes two netns nodes,
 * compileTables links them, the worker forwards; ping and iperf3 run across.
 * This isolates the packet path from the control plane.
 */
import { describe, expect, test, afterAll } from "bun:test";
import { readlinkSync } from "node:fs";
import { netnsUnavailable } from "../helpers/env.ts";
import { NodeManager } from "../../agent/nodes.ts";
import { Dataplane } from "../../agent/dataplane/dataplane.ts";
import { compileTables } from "../../agent/dataplane/tables.ts";
import { lineNamespace } from "../../agent/dataplane/namespace.fixture.ts";
import type { NamespaceState, Shaping } from "../../protocol/state.ts";
import { leftovers, runCmd } from "../helpers/up.ts";
import { iperfTcp, ping } from "../helpers/measure.ts";

const AGENT = `dp${process.pid % 10000}`;

function state(shaping: Partial<Shaping>): NamespaceState {
  return lineNamespace(["h1", "h2"], { hosts: AGENT, shaping });
}

describe.skipIf(netnsUnavailable !== undefined)("dataplane without a controller", () => {
  const nodes = new NodeManager({ agent: AGENT, offload: true, log: (l) => console.error(l) });
  const errors: string[] = [];
  const dataplane = new Dataplane({ seed: 7, onError: (m) => errors.push(m) });

  afterAll(async () => {
    await dataplane.stop();
    await nodes.removeAll();
    expect(await leftovers(AGENT)).toEqual([]);
  });

  test("ping and iperf3 across one delayed link", async () => {
    await dataplane.start();
    const desired = [state({ delay: 0.005 })];
    await nodes.reconcile(desired, AGENT);
    expect(nodes.statuses().map((s) => s.state)).toEqual(["running", "running"]);
    await dataplane.setTables(compileTables(desired, nodes.interfaces()));
    const [n1, n2] = nodes.statuses().map((s) => s.netns!);
    const p = ping((await runCmd(["ip", "netns", "exec", n1, "ping", "-c", "5", "-i", "0.2", "10.0.0.2"], {})).stdout);
    expect(p.received).toBe(5);
    expect(p.min).toBeGreaterThanOrEqual(10);
    expect(p.avg).toBeLessThan(12);
    const server = Bun.spawn(["ip", "netns", "exec", n2, "iperf3", "-s", "-1"], { stdout: "ignore", stderr: "ignore" });
    await Bun.sleep(300);
    const r = await runCmd(["ip", "netns", "exec", n1, "iperf3", "-c", "10.0.0.2", "-t", "3", "-J"], {});
    await server.exited;
    const bps = iperfTcp(r.stdout).end.sum_received.bits_per_second;
    console.log(`dataplane iperf3 over a 5 ms link: ${(bps / 1e9).toFixed(2)} Gbit/s`);
    expect(bps).toBeGreaterThan(1e8);
  }, 60_000);

  // the agent once closed TUNs while the worker still polled them; the numbers were
  // reused by the agent's next pipes, and an agent stalled building its next nodes
  test("removed nodes leave the dataplane's tables before their TUNs close, even under traffic", async () => {
    const desired = [state({})];
    await nodes.reconcile(desired, AGENT);
    await dataplane.setTables(compileTables(desired, nodes.interfaces()));
    const fds = [...nodes.interfaces().values()].map((i) => i.fd);
    expect(fds.length).toBe(2);
    const n1 = nodes.statuses()[0]!.netns!;
    const flood = Bun.spawn(["ip", "netns", "exec", n1, "ping", "-f", "-c", "20000", "-w", "5", "10.0.0.2"], { stdout: "ignore", stderr: "ignore" });
    await Bun.sleep(300);
    let openAtRelease: boolean[] = [];
    await nodes.reconcile([], AGENT, async () => {
      openAtRelease = fds.map(isTun);
      await dataplane.setTables(compileTables([], nodes.interfaces()));
    });
    flood.kill();
    await flood.exited;
    expect(openAtRelease).toEqual([true, true]);
    expect(fds.map(isTun)).toEqual([false, false]);
    expect(errors.filter((e) => e.includes("TUN failed"))).toEqual([]);
  }, 30_000);
});

function isTun(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === "/dev/net/tun";
  } catch {
    return false;
  }
}
