/**
 * User-space flows through a real dataplane worker, without a controller and
 * without privileges: two userspace nodes on one host, a link between them,
 * flows from the desired state. Packets go stack -> forwarder -> shaper ->
 * stack in the worker, on the real clock.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Dataplane } from "../dataplane/dataplane.ts";
import { compileTables } from "../dataplane/tables.ts";
import { lineNamespace } from "../dataplane/namespace.fixture.ts";
import { windowFor, type FlowSpec } from "../../protocol/flow.ts";
import { userspaceOrders } from "./orders.ts";
import type { FlowUpdate } from "./engine.ts";
import { FIXTURE_POOL_BYTES, HOST, runFlows, stopFlowsDataplane } from "./flows.fixture.ts";

afterEach(stopFlowsDataplane);
const run = runFlows;

function flow(id: string, fields: Partial<FlowSpec>): FlowSpec {
  return { id, src: "u1", dst: "u2", port: 20000 + Number(id.slice(1)), weight: 1, ...fields };
}

describe("flows between userspace nodes in the dataplane worker", () => {
  test("10 MB over an unshaped link: every byte, the same hash at both ends", async () => {
    const ends = await run({}, [flow("f1", { bytes: 10e6 })]);
    const s = ends.get("default/f1/sender")!;
    const r = ends.get("default/f1/receiver")!;
    expect(s.state).toBe("finished");
    expect(r.state).toBe("finished");
    expect(r.bytes).toBe(10e6);
    expect(s.bytes).toBe(10e6);
    expect(r.sha256).toBe(s.sha256!);
    expect(s.durationMs).toBeGreaterThan(0);
    console.log(`10 MB unshaped: ${s.durationMs!.toFixed(1)} ms, ${((10e6 * 8) / (s.durationMs! / 1000) / 1e9).toFixed(2)} Gbit/s`);
  });

  test("20 MB over 100 Mbit/s with 5 ms each way completes in the time the link takes, plus the handshake", async () => {
    const bytes = 20e6;
    const window = Math.ceil((100e6 / 8) * 0.01) + 500 * 1460;
    const ends = await run({ bandwidth: 100e6, delay: 0.005 }, [flow("f1", { bytes, window })]);
    const s = ends.get("default/f1/sender")!;
    expect(s.state).toBe("finished");
    expect(ends.get("default/f1/receiver")!.bytes).toBe(bytes);
    // payload at 1460 of every 1500 wire bytes (IP + TCP headers with timestamps off)
    const ideal = ((bytes * 1500) / 1460) * 8 / 100e6 * 1000 + 10;
    console.log(`20 MB at 100 Mbit/s: ${s.durationMs!.toFixed(1)} ms (ideal ${ideal.toFixed(1)})`);
    expect(s.durationMs!).toBeGreaterThan(ideal * 0.95);
    expect(s.durationMs!).toBeLessThan(ideal * 1.1);
  }, 15_000);

  // 1 Gbit/s was measured here before (850-1130 ms for 100 MB, against 882 allowed): on two cores a
  // userspace stack pair at 1 Gbit/s is bound by the CPU, which made it a test of speed (bench/flows
  // measures that); 400 Mbit/s leaves the link, not the CPU, to set the time
  test("50 MB over 400 Mbit/s with 1 ms each way: exactly 50 MB, within 10% of the time the link takes plus the handshake", async () => {
    const bytes = 50e6;
    const window = Math.ceil((400e6 / 8) * 0.002) + 500 * 1460;
    const ends = await run({ bandwidth: 400e6, delay: 0.001 }, [flow("f1", { bytes, window })], 30_000);
    const s = ends.get("default/f1/sender")!;
    const r = ends.get("default/f1/receiver")!;
    expect(r.bytes).toBe(bytes);
    expect(r.sha256).toBe(s.sha256!);
    // payload at 1460 of every 1500 wire bytes, as for the 100 Mbit/s flow
    const ideal = ((bytes * 1500) / 1460) * 8 / 400e6 * 1000 + 2;
    console.log(`50 MB at 400 Mbit/s: ${s.durationMs!.toFixed(1)} ms (ideal ${ideal.toFixed(1)} ms)`);
    expect(s.durationMs!).toBeGreaterThan(ideal * 0.95);
    expect(s.durationMs!).toBeLessThan(ideal * 1.1);
  }, 40_000);

  test("rate 10Mbit on a 1 Gbit/s link runs at 9-10 Mbit/s", async () => {
    const ends = await run({ bandwidth: 1e9, delay: 0.001 }, [flow("f1", { seconds: 3, rate: 10e6 })]);
    const s = ends.get("default/f1/sender")!;
    // the sender's figure: every byte acknowledged, over its whole life
    const bps = (s.bytes * 8) / (s.durationMs! / 1000);
    console.log(`rate 10Mbit: ${(bps / 1e6).toFixed(2)} Mbit/s`);
    expect(bps).toBeGreaterThanOrEqual(9e6);
    expect(bps).toBeLessThanOrEqual(10e6);
  });

  test("weights 1 and 2 on a 30 Mbit/s link share it 10 and 20 Mbit/s while both run", async () => {
    // as the controller gives them: a share of what the bottleneck holds by weight
    const whole = windowFor(30e6, 10, 1000, 2);
    const ends = await run({ bandwidth: 30e6, delay: 0.005 }, [
      flow("f1", { seconds: 4, window: Math.floor(whole / 3) }),
      flow("f2", { seconds: 4, window: Math.floor((whole * 2) / 3), weight: 2 }),
    ]);
    // mean of the receivers' samples from 1 s to 3.5 s, when both send
    const mean = (key: string) => {
      const xs = ends.get(key)!.samples.filter((x) => x.at >= 1000 && x.at <= 3500).map((x) => x.bps);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const one = mean("default/f1/receiver");
    const two = mean("default/f2/receiver");
    console.log(`weights 1 and 2 on 30 Mbit/s: ${(one / 1e6).toFixed(2)} and ${(two / 1e6).toFixed(2)} Mbit/s`);
    expect(Math.abs(one - 10e6)).toBeLessThan(1.5e6);
    expect(Math.abs(two - 20e6)).toBeLessThan(3e6);
  }, 20_000);

  test("ten flows over 100 Mbit/s with 1% loss all finish, with at least 60% of the link between them", async () => {
    const window = Math.floor(windowFor(100e6, 4, 1000, 10) / 10);
    const flows = Array.from({ length: 10 }, (_, i) => flow(`f${i + 1}`, { bytes: 5e6, window }));
    const ends = await run({ bandwidth: 100e6, delay: 0.002, loss: 0.01 }, flows, 60_000);
    const senders = [...ends.values()].filter((u) => u.role === "sender");
    expect(senders.map((u) => u.state)).toEqual(Array(10).fill("finished"));
    const first = Math.min(...senders.map((u) => u.startedAt!));
    const last = Math.max(...senders.map((u) => u.finishedAt!));
    const goodput = (10 * 5e6 * 8) / ((last - first) / 1000);
    console.log(`10 flows, 1% loss, 100 Mbit/s: ${(goodput / 1e6).toFixed(1)} Mbit/s together`);
    expect(goodput).toBeGreaterThanOrEqual(60e6);
  }, 70_000);

  test("a flow to a port nobody listens on is tried for 5 s (its receiver may be starting), then fails with the reason", async () => {
    const ns = lineNamespace(["u1", "u2"], { kind: "userspace", hosts: HOST, flows: [] });
    const updates: FlowUpdate[] = [];
    const dataplane = new Dataplane({ poolBytes: FIXTURE_POOL_BYTES, onFlows: (u) => updates.push(...u) });
    await dataplane.start();
    await dataplane.setTables(compileTables([ns], new Map(), HOST));
    const orders = userspaceOrders([ns], HOST);
    // a sender whose receiver was never ordered: u2's stack refuses the connection
    dataplane.setUserspace(orders.stacks, [{ key: "default/f9", role: "sender", node: "default/u1", port: 4444, dst: "10.0.0.2", spec: { bytes: 1000 } }]);
    const t0 = Date.now();
    for (let i = 0; i < 200 && !updates.some((u) => u.state === "failed"); i++) await Bun.sleep(50);
    const failed = updates.find((u) => u.state === "failed");
    expect(failed?.error).toContain("refused");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4900);
    await dataplane.stop();
  }, 15_000);
});
