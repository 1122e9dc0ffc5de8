/**
 * @module
 * Micro-benchmark of the Forwarder's per-packet path: ingress of a 1500-byte
 * IPv4 packet from a node, one unshaped (or delayed) link direction, egress to
 * the destination node through an egress that only frees the slot. No TUN, no
 * syscalls: what is left is the forwarder's own work (classification, route
 * lookup, shaper, capture hooks). One case captures the link into a
 * pcap buffer whose flushes go nowhere: the cost of a capture that is on.
 * The conversation cases send UDP packets spread over 1, 10,000 or 100,000
 * source ports: every packet is looked up in (and counted into) a table of
 * that many live conversations, the per-packet cost of monitoring.
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

/** conversations: UDP packets over this many source ports (absent: protocol 0, one conversation) */
type Case = { name: string; shaping: Shaping; stepNs: number; capture?: boolean; conversations?: number };

const CASES: Case[] = [
  { name: "unshaped link", shaping: DEFAULT_SHAPING, stepNs: 1200 },
  { name: "10 Gbit/s, 1 ms delay", shaping: { ...DEFAULT_SHAPING, bandwidth: 10e9, delay: 0.001 }, stepNs: 1263 },
  { name: "unshaped link, captured", shaping: DEFAULT_SHAPING, stepNs: 1200, capture: true },
  { name: "unshaped, UDP, 1 conversation", shaping: DEFAULT_SHAPING, stepNs: 1200, conversations: 1 },
  { name: "unshaped, UDP, 10,000 conversations", shaping: DEFAULT_SHAPING, stepNs: 1200, conversations: 10_000 },
  { name: "unshaped, UDP, 100,000 conversations", shaping: DEFAULT_SHAPING, stepNs: 1200, conversations: 100_000 },
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
    if (c.conversations !== undefined) {
      const port = 1024 + (i % c.conversations);
      b[9] = 17;
      b[20] = port >> 8;
      b[21] = port & 255;
      b[22] = 0x14;
      b[23] = 0x51;
    }
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
