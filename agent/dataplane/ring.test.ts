/** The SPSC ring: wraparound with skip markers, a full ring, record order, and two real Workers. */
import { describe, expect, test } from "bun:test";
import { createRing, RING_HEADER, RingReader, RingWriter } from "./ring.ts";
import type { FixtureJob, FixtureResult } from "./ring.fixture.ts";

const NONE = new Uint8Array(0);

function record(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

describe("ring", () => {
  test("a record comes out as it went in: header then payload slice", () => {
    const sab = createRing(1024);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    expect(r.peekLength()).toBe(-1);
    const payload = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(w.push(Uint8Array.of(9, 8, 7), payload, 10, 5)).toBe(true);
    expect(r.peekLength()).toBe(8);
    expect([...r.bytes.subarray(r.at, r.at + 8)]).toEqual([9, 8, 7, 10, 11, 12, 13, 14]);
    const dst = new Uint8Array(16);
    r.copyOut(3, 5, dst, 2);
    expect([...dst.subarray(2, 7)]).toEqual([10, 11, 12, 13, 14]);
    r.release();
    expect(r.peekLength()).toBe(-1);
    expect(w.used()).toBe(0);
  });

  test("records that do not fit before the end start again at 0 behind a skip marker", () => {
    const sab = createRing(320);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    const dst = new Uint8Array(256);
    // 104 bytes a record: three fit before the end (312), so pairs land at every phase and some wrap
    for (let round = 0; round < 50; round++) {
      expect(w.pushBytes(record(100, round), 0, 100)).toBe(true);
      expect(w.pushBytes(record(100, round + 1), 0, 100)).toBe(true);
      expect(r.popInto(dst, 0)).toBe(100);
      expect(dst[99]).toBe(round & 255);
      expect(r.popInto(dst, 0)).toBe(100);
      expect(dst[0]).toBe((round + 1) & 255);
    }
    expect(r.popInto(dst, 0)).toBe(-1);
  });

  test("a full ring refuses a push until the consumer frees room, and loses nothing", () => {
    const sab = createRing(1024);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    let pushed = 0;
    while (w.pushBytes(record(60, pushed), 0, 60)) pushed++;
    // 64 bytes per record, and head may never catch up with tail: 15 of 16 slots
    expect(pushed).toBe(15);
    expect(w.used()).toBe(15 * 64);
    const dst = new Uint8Array(64);
    expect(r.popInto(dst, 0)).toBe(60);
    expect(w.pushBytes(record(60, pushed), 0, 60)).toBe(true);
    for (let i = 1; i <= pushed; i++) {
      expect(r.popInto(dst, 0)).toBe(60);
      expect(dst[0]).toBe(i);
    }
    expect(r.popInto(dst, 0)).toBe(-1);
  });

  test("many records of odd sizes keep their order and bytes across many wraps", () => {
    const sab = createRing(4096);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    const src = new Uint8Array(2000);
    const dst = new Uint8Array(2000);
    let next = 0;
    let seen = 0;
    while (seen < 20000) {
      for (;;) {
        const n = 1 + ((next * 7919) % 1500);
        src.fill(next & 255, 0, n);
        src[0] = next >> 8;
        if (!w.push(Uint8Array.of(next & 255), src, 0, n)) break;
        next++;
      }
      const k = 1 + (seen % 5);
      for (let j = 0; j < k && seen < next; j++, seen++) {
        const n = r.popInto(dst, 0);
        expect(n).toBe(2 + ((seen * 7919) % 1500));
        expect(dst[0]).toBe(seen & 255);
        expect(dst[1]).toBe((seen >> 8) & 255);
        expect(dst[n - 1]).toBe(n === 2 ? (seen >> 8) & 255 : seen & 255);
      }
    }
  });

  test("the wake handshake: armWake refuses when a record is waiting; wakeNeeded fires once per armed sleep", () => {
    const sab = createRing(256);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    expect(w.wakeNeeded()).toBe(false);
    expect(r.armWake()).toBe(true);
    expect(w.pushBytes(record(4, 1), 0, 4)).toBe(true);
    expect(w.wakeNeeded()).toBe(true);
    expect(w.wakeNeeded()).toBe(false);
    expect(r.armWake()).toBe(false);
    expect(w.wakeNeeded()).toBe(false);
  });

  test("a record too large for the ring is a programming error, not a full ring", () => {
    const w = new RingWriter(createRing(256));
    expect(() => w.pushBytes(new Uint8Array(300), 0, 300)).toThrow(RangeError);
    expect(() => new RingWriter(new SharedArrayBuffer(RING_HEADER + 30))).toThrow(RangeError);
  });

  test("two Workers exchange 100,000 records through a small ring with matching checksums", async () => {
    const sab = createRing(1 << 16);
    const url = new URL("./ring.fixture.ts", import.meta.url).href;
    const count = 100_000;
    const results = await Promise.all(
      (["consume", "produce"] as const).map(
        (role) =>
          new Promise<FixtureResult>((resolve, reject) => {
            const worker = new Worker(url);
            worker.onmessage = (e: MessageEvent<FixtureResult>) => {
              resolve(e.data);
              worker.terminate();
            };
            worker.onerror = (e) => reject(new Error(e.message));
            worker.postMessage({ role, sab, count, maxSize: 3000 } satisfies FixtureJob);
          }),
      ),
    );
    const [consumer, producer] = results;
    expect(consumer.errors).toBe(0);
    expect(consumer.checksum).toBe(producer.checksum);
    // the ring is far smaller than what went through it, so the producer met a full ring
    expect(producer.fullWaits).toBeGreaterThan(0);
  }, 60_000);
});
