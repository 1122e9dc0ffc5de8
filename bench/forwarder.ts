/**
 * @module
 * Micro-benchmark of the Forwarder's per-packet path: ingress of a 1500-byte
 * IPv4 packet from a node, one unshaped (or delayed) link direction, egress to
 * the destination node through an egress that only frees the slot. No TUN, no
 * syscalls: what is left is the forwarder's own work (classification, route
 * lookup, shaper, capture hooks). The last case captures the link into a
 * pcap buffer whose flushes go nowhere: the cost of a capture that is on.
 * Prints nanoseconds per packet; not a test.
 * Run: ./node_modules/.bin/bun bench/forwarder.ts
 */
import { DEFAULT_SHAPING, type Shaping } from "../protocol/state.ts";
import { Forwarder, type Egress } from "../agent/dataplane/forwarder.ts";
import { PacketPool } from "../agent/dataplane/pool.ts";
import { compileTables } from "../agent/dataplane/tables.ts";
import { lineNamespace } from "../agent/dataplane/namespace.fixture.ts";
import { PcapWriter } from "../agent/dataplane/pcap.ts";

const N = 1_000_000;
const BYTES = 1500;

type Case = { name: string; shaping: Shaping; stepNs: number; capture?: boolean };

const CASES: Case[] = [
  { name: "unshaped link", shaping: DEFAULT_SHAPING, stepNs: 1200 },
  { name: "10 Gbit/s, 1 ms delay", shaping: { ...DEFAULT_SHAPING, bandwidth: 10e9, delay: 0.001 }, stepNs: 1263 },
  { name: "unshaped link, captured", shaping: DEFAULT_SHAPING, stepNs: 1200, capture: true },
];


function runOnce(c: Case): number {
  const pool = new PacketPool(1 << 26);
  const tables = compileTables([lineNamespace(["a", "b"], { shaping: c.shaping })], new Map(), undefined, [], false);
  let delivered = 0;
  const egress: Egress = {
    emit(_node: number, slot: number): void {
      delivered++;
      pool.free(slot);
    },
    toPeer(_t: number, _p: number, slot: number): void {
      pool.free(slot);
    },
  };
  const fwd = new Forwarder(tables, pool, egress, 1);
  if (c.capture) {
    const writer = new PcapWriter({ write: () => true });
    fwd.setCaptures({ writers: [writer], node: new Int32Array(tables.nodeKeys.length).fill(-1), dir: new Int32Array(tables.dirKeys.length).fill(0) });
  }
  let now = 1e9;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < N; i++) {
    now += c.stepNs;
    const slot = pool.alloc(false);
    const b = pool.view(slot);
    b[0] = 0x45;
    b[16] = 10;
    b[17] = 0;
    b[18] = 0;
    b[19] = 2;
    pool.len[slot] = BYTES;
    fwd.ingress(now, 0, slot);
    fwd.releaseDue(now);
  }
  fwd.releaseDue(Number.POSITIVE_INFINITY);
  const ns = (Bun.nanoseconds() - t0) / N;
  if (delivered < 0) console.log(delivered);
  return ns;
}

for (const c of CASES) {
  runOnce(c); // warm up the JIT
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) best = Math.min(best, runOnce(c));
  console.log(`${c.name.padEnd(40)} ${best.toFixed(1).padStart(6)} ns/packet`);
}
