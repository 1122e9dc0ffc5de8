/**
 * Flows between two WASM TCP stacks joined by a pair of the dataplane's link
 * shapers, on a simulated clock: each step jumps to the next thing due (a
 * packet leaving a shaper, a stack's timer, pacing), so a 100 MB transfer over
 * a 1 Gbit/s link is checked for its completion time without taking 0.8 s of
 * wall time per run, and the same seed gives the same run.
 */
import { describe, expect, test } from "bun:test";
import { TcpStack } from "../../wasm/stack.ts";
import { LinkShaper, DROP_NONE } from "../dataplane/shaper.ts";
import { DEFAULT_SHAPING, type Shaping } from "../../protocol/state.ts";
import { FlowReceiver, FlowSender, type SendSpec } from "./flow.ts";
import { windowFor } from "../../protocol/flow.ts";

const MS = 1e6;
const PORT = 5001;

/** Runs one flow from a (10.0.0.1) to b (10.0.0.2) over `shaping` each way; returns both ends' reports. */
async function runFlow(spec: SendSpec, shaping: Partial<Shaping>, limitMs = 60_000) {
  const link = { ...DEFAULT_SHAPING, ...shaping };
  const ab = new LinkShaper(link, 11);
  const ba = new LinkShaper(link, 12);
  const held = new Map<number, Uint8Array>();
  let nextId = 0;
  let nowNs = 0;
  const keep = new Uint8Array(1);
  const carry = (shaper: LinkShaper, packet: Uint8Array) => {
    if (shaper.drawLoss(1, keep) > 0) return;
    const id = nextId++;
    if (shaper.enqueue(nowNs, id, 1, packet.length) === DROP_NONE) held.set(id, packet.slice());
  };
  const a = await TcpStack.create({ ip: "10.0.0.1", netmask: "255.255.255.0", now: 0, seed: 1, output: (p) => carry(ab, p) });
  const b = await TcpStack.create({ ip: "10.0.0.2", netmask: "255.255.255.0", now: 0, seed: 2, output: (p) => carry(ba, p) });
  let receiver: FlowReceiver | undefined;
  b.listen(PORT, (socket) => (receiver = new FlowReceiver(socket, nowNs / MS)));
  const sender = new FlowSender(a.connect("10.0.0.2", PORT), spec, 0);
  let steps = 0;
  for (;;) {
    const ms = nowNs / MS;
    receiver?.pump(ms);
    let id: number;
    while ((id = ab.pop(nowNs)) >= 0) b.input(held.get(id)!), held.delete(id);
    while ((id = ba.pop(nowNs)) >= 0) a.input(held.get(id)!), held.delete(id);
    const ta = a.tick(ms);
    const tb = b.tick(ms);
    sender.pump(ms);
    receiver?.pump(ms);
    const done = sender.report().state !== "running" && sender.report().state !== "pending" && receiver?.report().state !== "running";
    if (done || ms > limitMs || ++steps > 5_000_000) break;
    // the next thing due; lwIP's clock counts whole milliseconds
    const next = Math.min(ab.nextDeadline(), ba.nextDeadline(), Math.ceil(Math.min(ta, tb, sender.nextDeadline)) * MS);
    nowNs = next > nowNs ? next : nowNs + MS;
  }
  return { sender: sender.report(), receiver: receiver?.report(), endMs: nowNs / MS };
}

describe("user-space flows over shaped links", () => {
  test("100 MB over 1 Gbit/s with 1 ms each way: exactly 100 MB delivered, same hash, within 10% of 0.8 s + RTT", async () => {
    const bytes = 100 * 1000 * 1000;
    const { sender, receiver } = await runFlow({ bytes, window: windowFor(1e9, 2, 1000) }, { bandwidth: 1e9, delay: 0.001 });
    expect(sender.state).toBe("finished");
    expect(receiver?.state).toBe("finished");
    expect(receiver?.bytes).toBe(bytes);
    expect(sender.bytes).toBe(bytes);
    expect(receiver?.sha256).toBe(sender.sha256!);
    const fct = sender.finishedAt! - sender.startedAt!;
    const ideal = (bytes * 8) / 1e9 * 1000 + 2;
    console.log(`100 MB over 1 Gbit/s: completed in ${fct.toFixed(1)} ms (ideal ${ideal.toFixed(1)} ms, payload only)`);
    expect(fct).toBeGreaterThanOrEqual(ideal);
    expect(fct).toBeLessThanOrEqual(ideal * 1.1);
  }, 60_000);

  test("rate 10 Mbit/s on a 1 Gbit/s link runs at 9-10 Mbit/s", async () => {
    const { sender, receiver } = await runFlow({ seconds: 3, rate: 10e6 }, { bandwidth: 1e9, delay: 0.001 });
    expect(sender.state).toBe("finished");
    expect(receiver?.sha256).toBe(sender.sha256!);
    const bps = (receiver!.bytes * 8) / ((sender.finishedAt! - sender.startedAt!) / 1000);
    console.log(`paced to 10 Mbit/s: ${(bps / 1e6).toFixed(2)} Mbit/s over ${((sender.finishedAt! - sender.startedAt!) / 1000).toFixed(2)} s`);
    expect(bps).toBeGreaterThanOrEqual(9e6);
    expect(bps).toBeLessThanOrEqual(10e6);
    // the samples show the pace while it ran, not only on average
    const mid = sender.samples.filter((s) => s.at > 500 && s.at < 2500).map((s) => s.bps);
    expect(Math.min(...mid)).toBeGreaterThan(7e6);
    expect(Math.max(...mid)).toBeLessThan(13e6);
  }, 60_000);

  test("1% loss each way: the flow still delivers every byte, after retransmissions", async () => {
    const bytes = 5 * 1000 * 1000;
    const { sender, receiver } = await runFlow({ bytes }, { bandwidth: 100e6, delay: 0.005, loss: 0.01 });
    expect(sender.state).toBe("finished");
    expect(receiver?.bytes).toBe(bytes);
    expect(receiver?.sha256).toBe(sender.sha256!);
    expect(sender.retransmits).toBeGreaterThan(0);
  }, 60_000);

  test("a flow to a port nobody listens on fails, saying how far it got", async () => {
    const wire: [TcpStack, Uint8Array][] = [];
    const a = await TcpStack.create({ ip: "10.0.0.1", netmask: "255.255.255.0", now: 0, output: (p) => wire.push([b, p.slice()]) });
    const b: TcpStack = await TcpStack.create({ ip: "10.0.0.2", netmask: "255.255.255.0", now: 0, output: (p) => wire.push([a, p.slice()]) });
    const sender = new FlowSender(a.connect("10.0.0.2", 9), { bytes: 1000 }, 0);
    for (let ms = 0; ms < 100 && sender.report().state !== "failed"; ms++) {
      // each stack's packets reach the other after its call returns
      for (const [to, p] of wire.splice(0)) to.input(p);
      a.tick(ms);
      b.tick(ms);
      sender.pump(ms);
    }
    const r = sender.report();
    expect(r.state).toBe("failed");
    expect(r.error).toContain("refused");
  });

  test("the window for a route is its bandwidth-delay product and half its bottleneck queue, bounded for many flows; unlimited links get none", () => {
    expect(windowFor(1e9, 2, 1000)).toBe(250_000 + 500 * 1460);
    // many flows: a BDP each and half the queue, but never more than the BDP and three quarters of the queue
    expect(windowFor(100e6, 4, 1000, 10)).toBe(50_000 + 750 * 1460);
    expect(windowFor(100e6, 24, 200, 2)).toBe(300_000 + 150 * 1460);
    expect(windowFor(0, 2, 1000)).toBe(Infinity);
  });

  test("a flow without bytes or seconds is refused", async () => {
    const a = await TcpStack.create({ ip: "10.0.0.1", netmask: "255.255.255.0", now: 0, output: () => {} });
    expect(() => new FlowSender(a.connect("10.0.0.2", 9), {}, 0)).toThrow("bytes or seconds");
  });
});
