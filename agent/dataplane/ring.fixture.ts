/**
 * A worker for ring.test.ts: one end of a ring, producing or consuming `count`
 * records whose sizes and bytes follow from their index, so the consumer can
 * check every byte and both sides report the same checksum.
 */
import { RingReader, RingWriter } from "./ring.ts";

declare const self: Worker;

export type FixtureJob = { role: "produce" | "consume"; sab: SharedArrayBuffer; count: number; maxSize: number };
export type FixtureResult = { role: string; checksum: number; errors: number; fullWaits: number };

/** Record i: 4 bytes of i, then bytes (i * 31 + k) & 255; length from a cheap hash of i. */
function sizeOf(i: number, maxSize: number): number {
  return 4 + (Math.imul(i + 1, 2654435761) >>> 0) % (maxSize - 3);
}

function byteAt(i: number, k: number): number {
  return (i * 31 + k) & 255;
}

self.onmessage = async (e: MessageEvent<FixtureJob>) => {
  const { role, sab, count, maxSize } = e.data;
  let checksum = 0;
  let errors = 0;
  let fullWaits = 0;
  if (role === "produce") {
    const w = new RingWriter(sab);
    const buf = new Uint8Array(maxSize + 4);
    const dv = new DataView(buf.buffer);
    const hdr = new Uint8Array(0);
    for (let i = 0; i < count; i++) {
      const n = sizeOf(i, maxSize);
      dv.setUint32(0, i, true);
      for (let k = 4; k < n; k++) buf[k] = byteAt(i, k);
      for (let k = 0; k < n; k++) checksum = (checksum * 33 + buf[k]) >>> 0;
      while (!w.push(hdr, buf, 0, n)) {
        fullWaits++;
        if (w.wakeNeeded()) w.notify();
        await Bun.sleep(0);
      }
      if (w.wakeNeeded()) w.notify();
    }
  } else {
    const r = new RingReader(sab);
    const buf = new Uint8Array(maxSize + 4);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < count; ) {
      const n = r.popInto(buf, 0);
      if (n < 0) {
        if (r.armWake()) await r.waitAsync(100);
        continue;
      }
      if (n !== sizeOf(i, maxSize) || dv.getUint32(0, true) !== i) errors++;
      else for (let k = 4; k < n; k++) if (buf[k] !== byteAt(i, k)) errors++;
      for (let k = 0; k < n; k++) checksum = (checksum * 33 + buf[k]) >>> 0;
      i++;
    }
  }
  self.postMessage({ role, checksum, errors, fullWaits } satisfies FixtureResult);
};
