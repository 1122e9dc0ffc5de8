/**
 * @module
 * A single-producer single-consumer ring of variable-length records in a
 * SharedArrayBuffer, through which the dataplane worker and the QUIC worker
 * hand each other frames without messages, awaits or allocation per record.
 *
 * Layout: three control words, each on its own 64-byte line so the two threads
 * do not share a cache line on the hot path, then the data region:
 *
 *   byte   0  i32 head     next byte the producer writes (producer-owned)
 *   byte  64  i32 tail     next byte the consumer reads (consumer-owned)
 *   byte 128  i32 waiting  1 while the consumer is about to sleep (the wake handshake)
 *   byte 132  i32 wake fd  an eventfd `notify()` also writes, or -1 (see `setWakeFd`)
 *   byte 192  data         `capacity` bytes
 *
 * A record is a u32 length followed by that many bytes, padded to 4. It never
 * wraps: when it does not fit before the end, the producer writes the SKIP
 * length there and starts again at 0. head == tail means empty, so the producer
 * never lets head catch up with tail from behind; one record of padding is the
 * price of not keeping a separate count both threads would have to update.
 *
 * Wake handshake (one side sleeping, the other must wake it only then, so the
 * hot path does not pay a syscall per record): the consumer calls `armWake()`
 * right before it sleeps; it sets `waiting` and returns false if a record came
 * in meanwhile (do not sleep then). The producer calls `wakeNeeded()` after its
 * pushes; it returns true exactly once per armed sleep, and the producer then
 * wakes the consumer with `notify()`: an eventfd write when the consumer
 * registered one for its ppoll loop (`setWakeFd`), else Atomics.notify for a
 * consumer in `waitAsync`, so the producer need not know which. Both sides
 * use sequentially consistent Atomics, so either the consumer sees the new
 * head or the producer sees the flag: no wake-up is lost.
 *
 * Copies go through libc memcpy with addresses taken once (`ptr` of the ring
 * and of the last source or destination array), because the only allocation-free
 * bulk copy in JavaScript, copyWithin, works within one buffer.
 */
import { ptr } from "bun:ffi";
import { sys } from "../sys/libc.ts";
import { net } from "../sys/socket.ts";

/** Bytes before the data region. */
export const RING_HEADER = 192;
/** A length meaning "the rest of the region is unused; continue at 0". */
const SKIP = 0xffffffff;
const HEAD = 0;
const TAIL = 16;
const WAITING = 32;
const WAKE_FD = 33;
export const DEFAULT_RING_BYTES = 16 << 20;
const ONE = new BigUint64Array([1n]);

/** A SharedArrayBuffer laid out as an empty ring with `capacity` data bytes (a multiple of 4). */
export function createRing(capacity: number = DEFAULT_RING_BYTES): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < 64 || capacity % 4 !== 0 || capacity > 0x7ffffff0) {
    throw new RangeError(`ring capacity must be a multiple of 4 between 64 bytes and 2 GiB, got ${capacity}`);
  }
  const sab = new SharedArrayBuffer(RING_HEADER + capacity);
  new Int32Array(sab)[WAKE_FD] = -1;
  return sab;
}

/** Makes `notify()` on this ring also write to eventfd `fd` (-1: no longer), for a consumer waiting in ppoll. */
export function setWakeFd(sab: SharedArrayBuffer, fd: number): void {
  Atomics.store(new Int32Array(sab, 0, RING_HEADER / 4), WAKE_FD, fd);
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** What both ends share: the control words and views over the data region. */
class RingEnd {
  readonly capacity: number;
  /** the data region (offsets returned by the reader index into it) */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  protected readonly ctl: Int32Array;
  protected readonly base: number;
  protected peerArray: Uint8Array | undefined;
  protected peerAddr = 0;

  constructor(sab: SharedArrayBuffer) {
    this.capacity = sab.byteLength - RING_HEADER;
    if (this.capacity < 64 || this.capacity % 4 !== 0) throw new RangeError("not a ring: make it with createRing()");
    this.ctl = new Int32Array(sab, 0, RING_HEADER / 4);
    this.bytes = new Uint8Array(sab, RING_HEADER, this.capacity);
    this.view = new DataView(sab, RING_HEADER, this.capacity);
    this.base = ptr(this.bytes);
  }

  /** Raw address of an array that is not the ring, remembered so the usual single source costs nothing. */
  protected addressOf(a: Uint8Array): number {
    if (a !== this.peerArray) {
      this.peerArray = a;
      this.peerAddr = ptr(a);
    }
    return this.peerAddr;
  }

  /** Bytes held (records, their length words and padding): for counters and tests. */
  used(): number {
    const h = Atomics.load(this.ctl, HEAD);
    const t = Atomics.load(this.ctl, TAIL);
    return h >= t ? h - t : this.capacity - t + h;
  }
}

export class RingWriter extends RingEnd {
  #head: number;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.#head = Atomics.load(this.ctl, HEAD);
  }

  /**
   * Appends one record: `header` (copied byte by byte, meant for a few dozen
   * bytes) followed by `length` bytes of `payload` from `offset` (memcpy).
   * `payload` must be backed by an ArrayBuffer or SharedArrayBuffer that is not
   * this ring. False when the ring has no room; the caller drops or retries.
   */
  push(header: Uint8Array, payload: Uint8Array, offset: number, length: number): boolean {
    const at = this.#reserve(header.length + length);
    if (at < 0) return false;
    const b = this.bytes;
    const h = header.length;
    for (let i = 0; i < h; i++) b[at + 4 + i] = header[i];
    if (length > 0) net.memcpy(this.base + at + 4 + h, this.addressOf(payload) + offset, length);
    this.#publish(at, header.length + length);
    return true;
  }

  /** Appends one record made of `length` bytes of `src` from `offset`; false when full. */
  pushBytes(src: Uint8Array, offset: number, length: number): boolean {
    const at = this.#reserve(length);
    if (at < 0) return false;
    if (length > 0) net.memcpy(this.base + at + 4, this.addressOf(src) + offset, length);
    this.#publish(at, length);
    return true;
  }

  /** After pushing: true once when the consumer armed a sleep; the caller must then wake it. */
  wakeNeeded(): boolean {
    // a plain load first: the read-modify-write is paid only when the consumer sleeps
    return Atomics.load(this.ctl, WAITING) === 1 && Atomics.exchange(this.ctl, WAITING, 0) === 1;
  }

  /** Wakes the consumer: through the ring's eventfd when it has one (a ppoll loop), else one blocked in `RingReader.waitAsync`. */
  notify(): void {
    const fd = Atomics.load(this.ctl, WAKE_FD);
    if (fd >= 0) sys.write(fd, ONE, 8);
    else Atomics.notify(this.ctl, WAITING);
  }

  /** Where a record of `n` body bytes goes, writing a skip marker first if it must start at 0; -1 when full. */
  #reserve(n: number): number {
    const need = 4 + pad4(n);
    const cap = this.capacity;
    if (need > cap - 8) throw new RangeError(`ring: a ${n}-byte record can never fit a ${cap}-byte ring`);
    const h = this.#head;
    const t = Atomics.load(this.ctl, TAIL);
    if (h < t) return h + need < t ? h : -1;
    // h >= t: free space is [h, cap) and [0, t)
    if (h + need < cap || (h + need === cap && t > 0)) return h;
    if (need >= t) return -1;
    // the end cannot hold it: mark the rest unused; the consumer goes back to 0
    this.view.setUint32(h, SKIP, true);
    return 0;
  }

  #publish(at: number, n: number): void {
    this.view.setUint32(at, n, true);
    let h = at + 4 + pad4(n);
    if (h === this.capacity) h = 0;
    this.#head = h;
    // the store orders every byte written above before the consumer can see them
    Atomics.store(this.ctl, HEAD, h);
  }
}

export class RingReader extends RingEnd {
  #tail: number;
  /** offset in `bytes`/`view` of the current record's body, set by `peekLength` */
  at = 0;
  #len = -1;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.#tail = Atomics.load(this.ctl, TAIL);
  }

  /**
   * Length of the next record, or -1 when the ring is empty. Its bytes are at
   * `bytes[at .. at + length)` (read them in place with `view`) until `release()`.
   */
  peekLength(): number {
    let t = this.#tail;
    const h = Atomics.load(this.ctl, HEAD);
    if (t === h) return (this.#len = -1);
    let n = this.view.getUint32(t, true);
    if (n === SKIP) {
      t = 0;
      this.#tail = 0;
      // the producer wrote a record at 0 before it published this head, so there is one
      if (t === h) return (this.#len = -1);
      n = this.view.getUint32(0, true);
    }
    this.at = t + 4;
    return (this.#len = n);
  }

  /** Copies `length` bytes of the current record, from `from` bytes into it, to `dst` at `dstOffset`. */
  copyOut(from: number, length: number, dst: Uint8Array, dstOffset: number): void {
    if (length > 0) net.memcpy(this.addressOf(dst) + dstOffset, this.base + this.at + from, length);
  }

  /** Copies the whole next record into `dst` at `dstOffset` and consumes it; returns its length, -1 when empty. */
  popInto(dst: Uint8Array, dstOffset: number): number {
    const n = this.peekLength();
    if (n < 0) return -1;
    if (dstOffset + n > dst.length) throw new RangeError(`ring: a ${n}-byte record does not fit at ${dstOffset} of ${dst.length} bytes`);
    this.copyOut(0, n, dst, dstOffset);
    this.release();
    return n;
  }

  /** Consumes the record `peekLength` returned, giving its space back to the producer. */
  release(): void {
    if (this.#len < 0) return;
    let t = this.at + pad4(this.#len);
    if (t === this.capacity) t = 0;
    this.#tail = t;
    this.#len = -1;
    Atomics.store(this.ctl, TAIL, t);
  }

  /** Before sleeping: true when the ring is still empty and the producer will ask to wake us; false: read on. */
  armWake(): boolean {
    Atomics.store(this.ctl, WAITING, 1);
    if (Atomics.load(this.ctl, HEAD) !== this.#tail) {
      Atomics.store(this.ctl, WAITING, 0);
      return false;
    }
    return true;
  }

  /**
   * Waits (without blocking the thread) until the producer notifies or
   * `timeoutMs` passes; call only after `armWake()` returned true.
   */
  async waitAsync(timeoutMs: number): Promise<void> {
    const w = Atomics.waitAsync(this.ctl, WAITING, 1, timeoutMs);
    if (w.async) await w.value;
  }
}
