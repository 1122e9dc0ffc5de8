/**
 * Captures in the forwarder: a link's packets as they are delivered across
 * each direction (after delay), a node's packets as they enter and as they
 * are delivered, the virtio header left out, and the host of a link's `a` end
 * seeing both directions when the link spans two hosts.
 */
import { describe, expect, test } from "bun:test";
import type { NamespaceState } from "../../protocol/state.ts";
import { Forwarder, type CaptureHooks, type Egress } from "./forwarder.ts";
import { PacketPool } from "./pool.ts";
import { PCAP_RECORD_HEADER_BYTES, PcapWriter, type PcapSink } from "./pcap.ts";
import { compileTables, type DataplaneTables } from "./tables.ts";
import { lineNamespace } from "./namespace.fixture.ts";

const MS = 1e6;
// monotonic 0 is the epoch: record timestamps read back as monotonic nanoseconds
const CLOCK = { epochSec: 0, offsetNs: 0 };

function pair(hostA = "x", hostB = "x"): NamespaceState {
  return lineNamespace(["a", "b"], { hosts: [hostA, hostB], shaping: { delay: 0.001 } });
}

class Memory implements PcapSink {
  chunks: Uint8Array[] = [];
  write(bytes: Uint8Array, len: number): boolean {
    this.chunks.push(bytes.slice(0, len));
    return true;
  }
}

type Rec = { at: number; src: number; dst: number; len: number; orig: number };

function records(writer: PcapWriter, sink: Memory): Rec[] {
  writer.flush();
  const all = Buffer.concat(sink.chunks);
  const out: Rec[] = [];
  for (let p = 0; p < all.byteLength; ) {
    const at = all.readUInt32LE(p) * 1e9 + all.readUInt32LE(p + 4);
    const len = all.readUInt32LE(p + 8);
    const ip = p + PCAP_RECORD_HEADER_BYTES;
    out.push({ at, src: all[ip + 15], dst: all[ip + 19], len, orig: all.readUInt32LE(p + 12) });
    p = ip + len;
  }
  return out;
}

/** Hooks sending the named nodes and directions of `tables` to writer 0. */
function hooks(tables: DataplaneTables, writer: PcapWriter, nodes: string[], dirs: string[]): CaptureHooks {
  const node = Int32Array.from(tables.nodeKeys, (k) => (nodes.includes(k) ? 0 : -1));
  const dir = Int32Array.from(tables.dirKeys, (k) => (dirs.includes(k) ? 0 : -1));
  return { writers: [writer], node, dir };
}

/** An 84-byte IPv4 packet (ping-sized) from 10.0.0.src to 10.0.0.dst, after `vnet` bytes of virtio header. */
function put(pool: PacketPool, src: number, dst: number, vnet = 0): number {
  const slot = pool.alloc(false);
  const b = pool.view(slot);
  b.fill(0, 0, vnet + 84);
  b[vnet] = 0x45;
  b[vnet + 3] = 84;
  b[vnet + 9] = 1; // ICMP
  [10, 0, 0, src].forEach((o, i) => (b[vnet + 12 + i] = o));
  [10, 0, 0, dst].forEach((o, i) => (b[vnet + 16 + i] = o));
  pool.len[slot] = vnet + 84;
  return slot;
}

function local(vnet = false) {
  const pool = new PacketPool(1 << 22);
  const state = pair();
  const ifaces = new Map(vnet ? state.nodes.map((n) => [`default/${n.name}`, { fd: 99, vnet: true }] as const) : []);
  const tables = compileTables([state], ifaces, undefined, [], vnet);
  const delivered: number[] = [];
  const egress: Egress = {
    emit(node, slot) {
      delivered.push(node);
      pool.free(slot);
    },
    toPeer: () => {
      throw new Error("one host");
    },
  };
  const fwd = new Forwarder(tables, pool, egress, 1);
  const sink = new Memory();
  const writer = new PcapWriter(sink, { clock: CLOCK });
  return { pool, tables, fwd, sink, writer, delivered };
}

describe("Forwarder captures", () => {
  test("a link capture holds both directions, stamped when each packet is delivered", () => {
    const f = local();
    f.fwd.setCaptures(hooks(f.tables, f.writer, [], ["default/a:b/ab", "default/a:b/ba"]));
    f.fwd.ingress(10 * MS, 0, put(f.pool, 1, 2));
    f.fwd.releaseDue(11 * MS);
    f.fwd.ingress(11 * MS, 1, put(f.pool, 2, 1));
    f.fwd.releaseDue(12 * MS);
    expect(f.delivered).toEqual([1, 0]);
    expect(records(f.writer, f.sink)).toEqual([
      { at: 11 * MS, src: 1, dst: 2, len: 84, orig: 84 },
      { at: 12 * MS, src: 2, dst: 1, len: 84, orig: 84 },
    ]);
  });

  test("a node capture holds what the node sends (at once) and what it is delivered", () => {
    const f = local();
    f.fwd.setCaptures(hooks(f.tables, f.writer, ["default/a"], []));
    f.fwd.ingress(10 * MS, 0, put(f.pool, 1, 2));
    f.fwd.ingress(10 * MS, 1, put(f.pool, 2, 1));
    f.fwd.releaseDue(11 * MS);
    expect(records(f.writer, f.sink)).toEqual([
      { at: 10 * MS, src: 1, dst: 2, len: 84, orig: 84 },
      { at: 11 * MS, src: 2, dst: 1, len: 84, orig: 84 },
    ]);
  });

  test("nothing is recorded without hooks, and hooks bound to other tables are refused", () => {
    const f = local();
    f.fwd.ingress(0, 0, put(f.pool, 1, 2));
    f.fwd.releaseDue(MS);
    expect(records(f.writer, f.sink)).toEqual([]);
    const wrong: CaptureHooks = { writers: [f.writer], node: new Int32Array(5), dir: new Int32Array(2) };
    expect(() => f.fwd.setCaptures(wrong)).toThrow(/other tables/);
  });

  test("packets with a virtio header are written from their IP header on", () => {
    const f = local(true);
    f.fwd.setCaptures(hooks(f.tables, f.writer, [], ["default/a:b/ab"]));
    f.fwd.ingress(0, 0, put(f.pool, 1, 2, 10));
    f.fwd.releaseDue(MS);
    const all = Buffer.concat((f.writer.flush(), f.sink.chunks));
    expect(all.byteLength).toBe(PCAP_RECORD_HEADER_BYTES + 84);
    expect(all[PCAP_RECORD_HEADER_BYTES]).toBe(0x45);
  });

  test("across two hosts, the host of the link's a end sees both directions", () => {
    const state = pair("x", "y");
    const peerOf = (name: string) => [{ name, address: "192.0.2.1", port: 7401 }];
    const pools = { x: new PacketPool(1 << 22), y: new PacketPool(1 << 22) };
    const tables = { x: compileTables([state], new Map(), "x", peerOf("y"), false), y: compileTables([state], new Map(), "y", peerOf("x"), false) };
    const fwd: Partial<Record<"x" | "y", Forwarder>> = {};
    let now = 0;
    const egressOf = (me: "x" | "y", other: "x" | "y"): Egress => ({
      emit: (_node, slot) => pools[me].free(slot),
      toPeer(_t, _p, slot, ns, dir, dst, route) {
        const copy = pools[other].alloc(false);
        pools[other].view(copy).set(pools[me].view(slot).subarray(0, pools[me].len[slot]));
        pools[other].len[copy] = pools[me].len[slot];
        pools[me].free(slot);
        fwd[other]!.fromPeer(now, copy, ns, dir, dst, route);
      },
    });
    const x = new Forwarder(tables.x, pools.x, egressOf("x", "y"), 1);
    const y = new Forwarder(tables.y, pools.y, egressOf("y", "x"), 1);
    fwd.x = x;
    fwd.y = y;
    const sink = new Memory();
    const writer = new PcapWriter(sink, { clock: CLOCK });
    x.setCaptures(hooks(tables.x, writer, [], ["default/a:b/ab", "default/a:b/ba"]));
    x.ingress(0, 0, put(pools.x, 1, 2));
    y.ingress(0, 1, put(pools.y, 2, 1));
    for (now = MS; now <= 2 * MS; now += MS) {
      x.releaseDue(now);
      y.releaseDue(now);
    }
    // a->b leaves its shaper on x; b->a is shaped on y and arrives on x from there
    expect(records(writer, sink).map((r) => `${r.src}>${r.dst}@${r.at / MS}`)).toEqual(["1>2@1", "2>1@1"]);
  });
});
