/**
 * The crossing-latency tracker: probes go out per peer and transport, the peer
 * echoes them, the fastest recent round trip shortens the delay of exactly the
 * directions that cross to that peer, and never below zero.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_SHAPING, type NamespaceState } from "../../protocol/state.ts";
import { compileTables, TRANSPORT_CODES } from "./tables.ts";
import { lineNamespace } from "./namespace.fixture.ts";
import { compensate, PROBE_LEN, PROBES_TO_SETTLE, TransportLatency, type LatencyHooks } from "./latency.ts";

const MS = 1e6;

// a - b on host x, b - c crossing to host y; every link 10 ms but c -> b, 0.1 ms
function state(transport: "tcp" | "udp" | "quic"): NamespaceState {
  const s = lineNamespace(["a", "b", "c"], { hosts: ["x", "x", "y"], shaping: { delay: 0.01 }, transport });
  s.links[1]!.ba = { ...DEFAULT_SHAPING, delay: 0.0001 };
  return s;
}

interface Sent {
  transport: number;
  peer: number;
  dir: number;
  payload: DataView;
}

/** Two trackers, x and y, wired back to back: what one sends the other receives `oneWayNs` later. */
function pair(transport: "tcp" | "udp" | "quic") {
  const s = state(transport);
  const tx = compileTables([s], new Map(), "x", [{ name: "y", address: "192.0.2.2", port: 7401 }], false);
  const ty = compileTables([s], new Map(), "y", [{ name: "x", address: "192.0.2.1", port: 7401 }], false);
  const reshaped = new Map<string, number>();
  const logs: string[] = [];
  const queue: { to: "x" | "y"; sent: Sent }[] = [];
  const hooks = (me: "x" | "y", keys: string[]): LatencyHooks => ({
    send(t, peer, dir, fill) {
      const payload = new DataView(new ArrayBuffer(PROBE_LEN));
      fill(payload);
      queue.push({ to: me === "x" ? "y" : "x", sent: { transport: t, peer, dir, payload } });
    },
    reshape(dir, shaping) {
      if (me === "x") reshaped.set(keys[dir], shaping.delay);
    },
    log: (line) => logs.push(`${me}: ${line}`),
  });
  const x = new TransportLatency(hooks("x", tx.dirKeys));
  const y = new TransportLatency(hooks("y", ty.dirKeys));
  x.setTables(tx);
  y.setTables(ty);
  const trackers = { x, y };
  /** `from` probes at `now`; each crossing takes `oneWayNs`. */
  const round = (from: "x" | "y", now: number, oneWayNs: number) => {
    const to = from === "x" ? "y" : "x";
    trackers[from].probe(now, () => true);
    const req = queue.shift()!;
    trackers[to].onProbe(now + oneWayNs, req.sent.dir, req.sent.payload);
    const reply = queue.shift()!;
    expect(reply.to).toBe(from);
    trackers[from].onProbe(now + 2 * oneWayNs, reply.sent.dir, reply.sent.payload);
  };
  return { x, y, tx, reshaped, logs, queue, round };
}

describe("compensate", () => {
  test("takes the crossing off the delay, never below zero, and leaves links without delay alone", () => {
    expect(compensate({ ...DEFAULT_SHAPING, delay: 0.01 }, 0.2 * MS).delay).toBeCloseTo(0.0098, 9);
    expect(compensate({ ...DEFAULT_SHAPING, delay: 0.0001 }, 0.2 * MS).delay).toBe(0);
    const none = { ...DEFAULT_SHAPING, bandwidth: 1e8 };
    expect(compensate(none, 0.2 * MS)).toBe(none);
  });
});

describe("TransportLatency", () => {
  test("probes each peer over the namespace's transport; the echo shortens only the directions crossing there", () => {
    const { x, tx, reshaped, logs, queue, round } = pair("quic");
    x.probe(0, () => true);
    expect(queue.map((q) => q.sent.transport)).toEqual([TRANSPORT_CODES.quic]);
    queue.length = 0;
    // settle: rounds of probes, each crossing taking 0.3 ms, or 0.2 ms in one round
    for (let i = 1; i <= PROBES_TO_SETTLE + 2; i++) round("x", i * 100 * MS, i === 3 ? 0.2 * MS : 0.3 * MS);
    expect(x.oneWay("y", "quic")).toBeCloseTo(0.2 * MS, -2);
    // b -> c crosses to y: 10 ms less the fastest crossing; a <-> b stays on x and is never touched
    expect(reshaped.get("default/b:c/ab")).toBeCloseTo(0.01 - 0.0002, 6);
    expect([...reshaped.keys()].filter((k) => k.startsWith("default/a:b"))).toEqual([]);
    expect(logs.some((l) => l.startsWith("x: frames to y over quic take 0.200 ms"))).toBe(true);
    // a configured change is compensated the same way
    const dir = tx.dirKeys.indexOf("default/b:c/ab");
    expect(x.configure(dir, { ...DEFAULT_SHAPING, delay: 0.005 }).delay).toBeCloseTo(0.0048, 6);
  });

  test("until enough round trips came back, and when the transport is not up, nothing changes", () => {
    const { x, reshaped, queue, round } = pair("tcp");
    x.probe(0, () => false);
    expect(queue).toEqual([]);
    for (let i = 1; i < PROBES_TO_SETTLE; i++) round("x", i * 100 * MS, 0.5 * MS);
    expect(reshaped.size).toBe(0);
    expect(x.oneWay("y", "tcp")).toBe(0);
  });

  test("a configured delay shorter than the crossing gets none of its own, with one warning naming the link", () => {
    const { reshaped, logs, round } = pair("udp");
    // at y, c -> b (0.1 ms) crosses to x, which takes 0.5 ms: y shortens it to nothing
    for (let i = 0; i < PROBES_TO_SETTLE; i++) round("x", i * 100 * MS, 0.5 * MS);
    for (let i = 0; i < PROBES_TO_SETTLE; i++) round("y", i * 100 * MS, 0.5 * MS);
    expect(reshaped.get("default/b:c/ab")).toBeCloseTo(0.0095, 6);
    const warnings = logs.filter((l) => l.includes("alone takes"));
    expect(warnings).toEqual(["y: link default/b:c/ba: 0.100 ms configured, but crossing to x over udp alone takes 0.500 ms"]);
  });

  test("a probe from a host that is not a peer, or a short one, is ignored", () => {
    const { x, queue } = pair("tcp");
    const stranger = new DataView(new ArrayBuffer(PROBE_LEN));
    stranger.setUint32(24, 12345, true);
    x.onProbe(0, 0, stranger);
    x.onProbe(0, 0, new DataView(new ArrayBuffer(8)));
    expect(queue).toEqual([]);
  });
});
