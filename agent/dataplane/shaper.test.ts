/** Tests for LinkShaper on a fake clock (plain numbers, nanoseconds) with fixed seeds. */
import { describe, expect, test } from "bun:test";
import type { Shaping } from "../../protocol/state.ts";
import { DROP_NONE, DROP_QUEUE_FULL, LinkShaper } from "./shaper.ts";

const MS = 1e6;
const S = 1e9;

function shaping(over: Partial<Shaping>): Shaping {
  return { bandwidth: 0, delay: 0, jitter: 0, loss: 0, queue: 1000, reorder: false, ...over };
}

/** Release everything due up to `end`, stepping the fake clock from deadline to deadline. */
function run(sh: LinkShaper, end = Number.POSITIVE_INFINITY): Array<[slot: number, at: number]> {
  const got: Array<[number, number]> = [];
  for (;;) {
    const t = sh.nextDeadline();
    if (t === Number.POSITIVE_INFINITY || t > end) return got;
    for (let s = sh.pop(t); s !== -1; s = sh.pop(t)) got.push([s, t]);
  }
}

function meanStd(xs: number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))];
}

describe("LinkShaper", () => {
  test("zero config releases at once and draws no random numbers", () => {
    const sh = new LinkShaper(shaping({}), 7);
    const twin = new LinkShaper(shaping({}), 7);
    const mask = new Uint8Array(64);
    for (let i = 0; i < 100; i++) {
      expect(sh.drawLoss(3, mask)).toBe(0);
      expect(sh.enqueue(1000 + i, i, 3, 4500)).toBe(DROP_NONE);
      expect(sh.nextDeadline()).toBe(1000 + i);
      expect(sh.pop(1000 + i)).toBe(i);
      expect(sh.pop(1000 + i)).toBe(-1);
    }
    expect(sh.occupancy(2000)).toBe(0);
    expect([sh.sentPackets, sh.sentSegments, sh.sentBytes]).toEqual([100, 300, 450000]);
    // Same stream afterwards as an untouched twin: nothing was drawn.
    sh.setShaping(5000, shaping({ loss: 0.5 }));
    twin.setShaping(5000, shaping({ loss: 0.5 }));
    const a = new Uint8Array(64);
    const b = new Uint8Array(64);
    sh.drawLoss(64, a);
    twin.drawLoss(64, b);
    expect(a).toEqual(b);
  });

  test("rate: 1000 x 1500 bytes at 10 Mbit/s take 1.2 s", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 10e6, queue: 1000 }));
    for (let i = 0; i < 1000; i++) expect(sh.enqueue(0, i, 1, 1500)).toBe(DROP_NONE);
    const got = run(sh);
    expect(got.length).toBe(1000);
    expect(got.map(([s]) => s)).toEqual([...Array(1000).keys()]);
    const last = got[999][1];
    expect(Math.abs(last - 1.2 * S)).toBeLessThanOrEqual(1.2 * MS);
    expect(got[0][1]).toBeCloseTo(1.2 * MS, 3);
  });

  test("paced below the rate, packets see only their own transmission time", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 100e6, delay: 0.001 }));
    for (let i = 0; i < 50; i++) {
      expect(sh.enqueue(i * MS, i, 1, 1250)).toBe(DROP_NONE); // 0.1 ms at 100 Mbit/s
      expect(sh.occupancy(i * MS)).toBe(1);
      expect(sh.occupancy(i * MS + 0.1 * MS)).toBe(0);
    }
    expect(run(sh)).toEqual([...Array(50).keys()].map((i) => [i, i * MS + 1.1 * MS]));
  });

  test("drop-tail at the queue limit, with occupancy draining as transmissions end", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 10e6, queue: 10 }));
    let dropped = 0;
    for (let i = 0; i < 15; i++) if (sh.enqueue(0, i, 1, 1500) === DROP_QUEUE_FULL) dropped++;
    expect(dropped).toBe(5);
    expect(sh.dropQueue).toBe(5);
    expect(sh.occupancy(0)).toBe(10);
    expect(sh.room(0)).toBe(0);
    // Transmissions end every 1.2 ms: two done at 3.5 ms, three at 3.7 ms (the fourth on the wire).
    expect(sh.occupancy(3.5 * MS)).toBe(8);
    expect(sh.occupancy(3.7 * MS)).toBe(7);
    expect(sh.room(3.7 * MS)).toBe(3);
    expect(sh.enqueue(3.7 * MS, 100, 1, 1500)).toBe(DROP_NONE);
    expect(sh.occupancy(3.7 * MS)).toBe(8);
    expect(sh.occupancy(12 * MS)).toBe(1);
    expect(sh.occupancy(13.2 * MS)).toBe(0);
    // Segments the caller trims off to fit `room` are counted as queue drops too.
    sh.countDrop(DROP_QUEUE_FULL, 4);
    expect(sh.dropQueue).toBe(9);
  });

  test("super-packets count as their segments against the limit", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 1e6, queue: 20 }));
    expect(sh.enqueue(0, 1, 10, 15000)).toBe(DROP_NONE);
    expect(sh.room(0)).toBe(10);
    expect(sh.enqueue(0, 2, 11, 16500)).toBe(DROP_QUEUE_FULL);
    expect(sh.dropQueue).toBe(11);
    expect(sh.enqueue(0, 3, 10, 15000)).toBe(DROP_NONE);
    expect(sh.enqueue(0, 4, 1, 1500)).toBe(DROP_QUEUE_FULL);
    const got = run(sh);
    expect(got.map(([s]) => s)).toEqual([1, 3]);
    expect(got[1][1]).toBeCloseTo(0.24 * S, 0);
    expect(sh.sentSegments).toBe(20);
  });

  test("delay is exact, after transmission", () => {
    const sh = new LinkShaper(shaping({ delay: 0.05 }));
    sh.enqueue(1000, 5, 1, 100);
    expect(sh.nextDeadline()).toBe(1000 + 50 * MS);
    expect(sh.pop(1000 + 50 * MS - 1)).toBe(-1);
    expect(sh.pop(1000 + 50 * MS)).toBe(5);
    const r = new LinkShaper(shaping({ delay: 0.01, bandwidth: 8e6 }));
    r.enqueue(0, 1, 1, 1000); // 1 ms on the wire
    r.enqueue(0, 2, 1, 1000);
    expect(run(r)).toEqual([
      [1, 11 * MS],
      [2, 12 * MS],
    ]);
  });

  test("jitter: normal spread around the delay, never reordering when reorder is off", () => {
    const n = 20000;
    for (const reorder of [true, false]) {
      const sh = new LinkShaper(shaping({ delay: 0.05, jitter: 0.005, reorder }), 42);
      // Sent 20 ms apart: far enough that the FIFO floor (almost) never bites.
      for (let i = 0; i < n; i++) sh.enqueue(i * 20 * MS, i, 1, 1000);
      const got = run(sh);
      expect(got.length).toBe(n);
      const delays = got.map(([s, t]) => t - s * 20 * MS);
      const [mean, std] = meanStd(delays);
      expect(Math.abs(mean - 50 * MS)).toBeLessThan(4 * ((5 * MS) / Math.sqrt(n)));
      expect(Math.abs(std / (5 * MS) - 1)).toBeLessThan(0.03);
      const inOrder = got.every(([s], i) => i === 0 || s > got[i - 1][0]);
      expect(inOrder).toBe(!reorder);
    }
  });

  test("with reorder on, jitter lets later packets pass; ties keep arrival order", () => {
    const sh = new LinkShaper(shaping({ delay: 0.01, jitter: 0.01, reorder: true }), 3);
    for (let i = 0; i < 1000; i++) sh.enqueue(i * 0.1 * MS, i, 1, 100);
    const got = run(sh);
    const passes = got.filter(([s], i) => i > 0 && s < got[i - 1][0]).length;
    expect(passes).toBeGreaterThan(100);
    expect(new Set(got.map(([s]) => s)).size).toBe(1000);
    for (let i = 1; i < got.length; i++) expect(got[i][1]).toBeGreaterThanOrEqual(got[i - 1][1]);
    const ties = new LinkShaper(shaping({ delay: 0.01, reorder: true }));
    for (let i = 0; i < 100; i++) ties.enqueue(0, i, 1, 100);
    expect(run(ties).map(([s]) => s)).toEqual([...Array(100).keys()]);
  });

  test("loss fraction within binomial tolerance over 100000 draws", () => {
    const sh = new LinkShaper(shaping({ loss: 0.1 }), 99);
    const mask = new Uint8Array(100000);
    const lost = sh.drawLoss(100000, mask);
    const sigma = Math.sqrt(100000 * 0.1 * 0.9);
    expect(Math.abs(lost - 10000)).toBeLessThan(4 * sigma);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(100000 - lost);
    expect(sh.dropLoss).toBe(lost);
    // Per-packet calls draw the same stream.
    const one = new LinkShaper(shaping({ loss: 0.1 }), 99);
    const m = new Uint8Array(1);
    let lost1 = 0;
    for (let i = 0; i < 100000; i++) lost1 += one.drawLoss(1, m);
    expect(lost1).toBe(lost);
  });

  test("a live bandwidth change reschedules the backlog from the packet on the wire", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 10e6, delay: 0.002 }));
    for (let i = 0; i < 100; i++) sh.enqueue(0, i, 1, 1500);
    const before = run(sh, 12.6 * MS);
    // Packet k ends transmission at (k + 1) * 1.2 ms and leaves 2 ms later: 8 have left by 12.6 ms.
    expect(before.length).toBe(8);
    // At 12.6 ms the 11th packet (index 10) is on the wire until 13.2 ms.
    sh.setShaping(12.6 * MS, shaping({ bandwidth: 100e6, delay: 0.02 }));
    sh.enqueue(12.6 * MS, 1000, 1, 1500);
    const after = run(sh);
    expect(after.length).toBe(93);
    const at = new Map(after.map(([s, t]) => [s, t]));
    expect(at.get(8)).toBeCloseTo(12.8 * MS, 0);
    expect(at.get(9)).toBeCloseTo(14 * MS, 0);
    expect(at.get(10)).toBeCloseTo(15.2 * MS, 0);
    // The rest follow at 0.12 ms each after 13.2 ms, keeping the 2 ms delay they drew.
    expect(at.get(99)).toBeCloseTo(13.2 * MS + 89 * 0.12 * MS + 2 * MS, 0);
    // The new packet waits behind the backlog and gets the new delay.
    expect(at.get(1000)).toBeCloseTo(13.2 * MS + 90 * 0.12 * MS + 20 * MS, 0);
  });

  test("the ring grows past its initial capacity and keeps order and times", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 8e6, delay: 0.5 }), 1, 8);
    expect(sh.capacity).toBe(8);
    for (let i = 0; i < 1000; i++) expect(sh.enqueue(i * 0.01 * MS, i, 1, 100)).toBe(DROP_NONE);
    expect(sh.capacity).toBe(1024);
    expect(sh.pending).toBe(1000);
    const got = run(sh);
    expect(got.map(([s]) => s)).toEqual([...Array(1000).keys()]);
    got.forEach(([s, t]) => expect(t).toBeCloseTo((s + 1) * 0.1 * MS + 500 * MS, 0));
  });

  test("switching reorder off keeps later packets behind earlier ones", () => {
    const sh = new LinkShaper(shaping({ delay: 0.01, jitter: 0.005, reorder: true }), 5);
    for (let i = 0; i < 200; i++) sh.enqueue(i * 0.01 * MS, i, 1, 100);
    sh.setShaping(2 * MS, shaping({ delay: 0.01, jitter: 0.005, reorder: false }));
    for (let i = 200; i < 400; i++) sh.enqueue(i * 0.01 * MS, i, 1, 100);
    const got = run(sh);
    expect(got.length).toBe(400);
    const firstNew = got.findIndex(([s]) => s >= 200);
    expect(got.slice(firstNew).map(([s]) => s)).toEqual([...Array(200).keys()].map((k) => k + 200));
    // And back on: packets already in the delay line move to the heap and still come out.
    sh.setShaping(10 * S, shaping({ delay: 0.01, jitter: 0.005, reorder: false, bandwidth: 1e6 }));
    for (let i = 0; i < 50; i++) sh.enqueue(10 * S, i, 1, 125);
    sh.setShaping(10 * S + 10 * MS, shaping({ delay: 0.01, jitter: 0.005, reorder: true }));
    expect(run(sh).length).toBe(50);
  });

  test("pop(Infinity) flushes everything", () => {
    const sh = new LinkShaper(shaping({ bandwidth: 1e3, delay: 10 }));
    for (let i = 0; i < 5; i++) sh.enqueue(0, i, 1, 1500);
    const flushed: number[] = [];
    for (let s = sh.pop(Number.POSITIVE_INFINITY); s !== -1; s = sh.pop(Number.POSITIVE_INFINITY)) flushed.push(s);
    expect(flushed).toEqual([0, 1, 2, 3, 4]);
    expect(sh.pending).toBe(0);
    expect(sh.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });
});
