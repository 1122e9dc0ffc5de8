/**
 * @module
 * Micro-benchmark of LinkShaper: nanoseconds per packet for drawLoss + enqueue
 * + pop, 1e6 packets, on a fake clock that advances one packet time per packet
 * (so the shaped link runs at ~95% load and its queue stays short). Prints
 * figures; not a test. Run: ./node_modules/.bin/bun bench/shaper.ts
 */
import type { Shaping } from "../protocol/state.ts";
import { DROP_NONE, LinkShaper } from "../agent/dataplane/shaper.ts";

const N = 1_000_000;
const BYTES = 1500;

type Case = { name: string; shaping: Shaping; stepNs: number };

const CASES: Case[] = [
  { name: "unlimited (zero config)", shaping: { bandwidth: 0, delay: 0, jitter: 0, loss: 0, queue: 1000, reorder: false }, stepNs: 1200 },
  { name: "10 Gbit/s, 1 ms delay", shaping: { bandwidth: 10e9, delay: 0.001, jitter: 0, loss: 0, queue: 1000, reorder: false }, stepNs: 1263 },
  { name: "10 Gbit/s, 1 ms +- 0.1 ms, 1% loss", shaping: { bandwidth: 10e9, delay: 0.001, jitter: 0.0001, loss: 0.01, queue: 1000, reorder: false }, stepNs: 1263 },
  { name: "same, reorder on (heap)", shaping: { bandwidth: 10e9, delay: 0.001, jitter: 0.0001, loss: 0.01, queue: 1000, reorder: true }, stepNs: 1263 },
];

function runOnce(c: Case): { ns: number; sent: number } {
  const sh = new LinkShaper(c.shaping, 1);
  const mask = new Uint8Array(64);
  let now = 1e9;
  let sink = 0;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < N; i++) {
    now += c.stepNs;
    if (sh.drawLoss(1, mask) === 0 && sh.enqueue(now, i, 1, BYTES) !== DROP_NONE) sink++;
    for (let s = sh.pop(now); s !== -1; s = sh.pop(now)) sink += s & 1;
  }
  for (let s = sh.pop(Number.POSITIVE_INFINITY); s !== -1; s = sh.pop(Number.POSITIVE_INFINITY)) sink += s & 1;
  const ns = (Bun.nanoseconds() - t0) / N;
  if (sink < 0) console.log(sink);
  return { ns, sent: sh.sentPackets };
}

for (const c of CASES) {
  runOnce(c); // warm up the JIT
  let best = Number.POSITIVE_INFINITY;
  let sent = 0;
  for (let r = 0; r < 3; r++) {
    const res = runOnce(c);
    if (res.ns < best) best = res.ns;
    sent = res.sent;
  }
  console.log(`${c.name.padEnd(40)} ${best.toFixed(1).padStart(6)} ns/packet  (${sent} of ${N} sent)`);
}
