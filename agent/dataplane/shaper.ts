/**
 * @module
 * LinkShaper: one direction of an emulated link. A packet meets, in order,
 * random loss (`drawLoss`, per segment), a drop-tail queue limited in segments,
 * a transmitter of the link's bandwidth, and a delay line (delay plus normal
 * jitter). The caller holds packets as pool slot ids and counts TSO
 * super-packets as their wire segments and bytes (see vnet.ts).
 *
 * Virtual time, exact: nothing is emulated by sleeping. Each accepted packet's
 * transmit end (`txDone`) and release time are computed when it arrives, so
 * rates hold to the nanosecond however late the caller polls. Time `now` is
 * always passed in (nanoseconds, e.g. Bun.nanoseconds(); a process-relative
 * clock keeps doubles exact) and randomness comes from a seeded Rng.
 *
 * Structure: a FIFO ring of entries (slot, segments, wire bytes, delay sample,
 * txDone, release) in growable typed arrays indexed by monotonic counters
 * head <= qHead <= tail. [qHead, tail) is the queue proper: entries whose
 * transmission has not finished (txDone > now), with their segment count kept
 * in `queued`, so occupancy is O(1) amortized. [head, qHead) is the delay line
 * when reordering is off: releases never decrease along the ring, so the
 * head is always the next to leave. With `reorder` on, entries leave the ring
 * as they finish transmission and wait in a binary min-heap keyed by release
 * (ties in arrival order), so jitter can pass one packet over another.
 *
 * Intended use per packet (the forwarder owns the pool and vnet calls):
 *   nseg = segmentCount(..); lost = drawLoss(nseg, mask)
 *   lost == nseg: free it;  lost > 0: splitSegments(.., mask, ..) and offer each segment
 *   r = room(now); 0 < r < nseg: trimSegments(.., r), countDrop(DROP_QUEUE_FULL, nseg - r)
 *   enqueue(now, id, nseg, wireBytes(..)) !== DROP_NONE: free it
 *   wake at nextDeadline(), then pop(now) until -1 and send each slot on.
 */
import type { Shaping } from "../../protocol/state.ts";
import { Rng } from "./rng.ts";

/** Drop reasons: the index into DROP_REASON_NAMES, for counters named agent_<dir>_drop_<reason>. */
export const DROP_NONE = 0;
export const DROP_LOSS = 1;
export const DROP_QUEUE_FULL = 2;
/** offered while the link was down (the forwarder drops it before the shaper; counted here with the direction's other drops) */
export const DROP_LINK_DOWN = 3;
export const DROP_REASON_NAMES = ["none", "loss", "queue_full", "link_down"] as const;

const NS_PER_S = 1e9;

export class LinkShaper {
  // Configuration in the units the hot path wants.
  #nsPerByte = 0; // 0 = unlimited
  #delayNs = 0;
  #jitterNs = 0;
  #loss = 0;
  #limit = 1000;
  #reorder = false;
  readonly #rng: Rng;

  // The ring.
  #mask: number;
  #rSlot: Int32Array;
  #rSeg: Int32Array;
  #rBytes: Int32Array;
  #rDelay: Float64Array; // delay + jitter sample drawn on arrival, kept to reschedule
  #rTxDone: Float64Array;
  #rRelease: Float64Array;
  #head = 0;
  #qHead = 0;
  #tail = 0;
  /** When the transmitter finishes everything accepted so far. */
  #txFree = 0;
  /** Latest release handed out (FIFO mode), the floor for the next one. */
  #lastRelease = Number.NEGATIVE_INFINITY;

  // The reorder heap.
  #hCap: number;
  #hSize = 0;
  #hSlot: Int32Array;
  #hSeg: Int32Array;
  #hBytes: Int32Array;
  #hRelease: Float64Array;
  #hSeq: Float64Array;

  // Counters, read by the reporter. Segments are wire segments; bytes are wire bytes.
  sentPackets = 0;
  sentSegments = 0;
  sentBytes = 0;
  dropLoss = 0; // segments
  dropQueue = 0; // segments
  dropLinkDown = 0; // segments
  /** the most segments queued since the reporter last reset it (to what is queued then) */
  queuedMax = 0;
  /** Segments queued for transmission as of the last call that looked at the clock. */
  queued = 0;

  constructor(shaping: Shaping, seed = 1, capacity = 64) {
    let cap = 8;
    while (cap < capacity) cap *= 2;
    this.#mask = cap - 1;
    this.#rSlot = new Int32Array(cap);
    this.#rSeg = new Int32Array(cap);
    this.#rBytes = new Int32Array(cap);
    this.#rDelay = new Float64Array(cap);
    this.#rTxDone = new Float64Array(cap);
    this.#rRelease = new Float64Array(cap);
    this.#hCap = 8;
    this.#hSlot = new Int32Array(8);
    this.#hSeg = new Int32Array(8);
    this.#hBytes = new Int32Array(8);
    this.#hRelease = new Float64Array(8);
    this.#hSeq = new Float64Array(8);
    this.#rng = new Rng(seed);
    this.setShaping(0, shaping);
  }

  /** Transmission time of one byte in nanoseconds; 0 when the bandwidth is unlimited. */
  get nsPerByte(): number {
    return this.#nsPerByte;
  }

  /** When the transmitter finishes everything accepted so far (a weighted queue feeds it once it is free). */
  get busyUntil(): number {
    return this.#txFree;
  }

  /** The queue limit, in segments. */
  get limit(): number {
    return this.#limit;
  }

  /** Ring capacity (entries), for tests and metrics. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Packets held (queued, in transmission or in the delay line). */
  get pending(): number {
    return this.#tail - this.#head + this.#hSize;
  }

  /**
   * Draw loss for segments 0..nseg-1 (mask.length >= nseg): mask[i] = 1 keeps
   * segment i, 0 loses it. Returns how many were lost (and counts them). No
   * draws when loss is 0.
   */
  drawLoss(nseg: number, mask: Uint8Array): number {
    const p = this.#loss;
    if (p === 0) {
      mask.fill(1, 0, nseg);
      return 0;
    }
    let lost = 0;
    for (let i = 0; i < nseg; i++) {
      if (this.#rng.uniform() < p) {
        mask[i] = 0;
        lost++;
      } else {
        mask[i] = 1;
      }
    }
    this.dropLoss += lost;
    return lost;
  }

  /** Segments that still fit in the queue at `now`: trim a super-packet to this instead of dropping it whole. */
  room(now: number): number {
    this.#advance(now);
    const r = this.#limit - this.queued;
    return r > 0 ? r : 0;
  }

  /** Segments queued at `now` (transmission not finished). */
  occupancy(now: number): number {
    this.#advance(now);
    return this.queued;
  }

  /** Count segments the caller dropped on this link's behalf (e.g. trimmed off a super-packet to fit `room`). */
  countDrop(reason: number, nseg: number): void {
    if (reason === DROP_LOSS) this.dropLoss += nseg;
    else if (reason === DROP_QUEUE_FULL) this.dropQueue += nseg;
    else if (reason === DROP_LINK_DOWN) this.dropLinkDown += nseg;
  }

  /**
   * Offer a packet of `nseg` segments and `wireBytes` bytes on the wire.
   * Returns DROP_NONE when accepted (the shaper now holds `slot`), or a drop
   * reason (the caller still owns `slot` and frees it).
   */
  enqueue(now: number, slot: number, nseg: number, wireBytes: number): number {
    this.#advance(now);
    if (this.queued + nseg > this.#limit) {
      this.dropQueue += nseg;
      return DROP_QUEUE_FULL;
    }
    if (this.#tail - this.#head > this.#mask) this.#grow();
    const start = this.#txFree > now ? this.#txFree : now;
    const done = start + wireBytes * this.#nsPerByte;
    this.#txFree = done;
    let delay = this.#delayNs;
    if (this.#jitterNs > 0) {
      delay += this.#rng.normal() * this.#jitterNs;
      // Delay plus jitter cannot go negative: a packet cannot arrive before it is sent.
      if (delay < 0) delay = 0;
    }
    let release = done + delay;
    if (!this.#reorder) {
      if (release < this.#lastRelease) release = this.#lastRelease;
      else this.#lastRelease = release;
    }
    const i = this.#tail & this.#mask;
    this.#rSlot[i] = slot;
    this.#rSeg[i] = nseg;
    this.#rBytes[i] = wireBytes;
    this.#rDelay[i] = delay;
    this.#rTxDone[i] = done;
    this.#rRelease[i] = release;
    this.#tail++;
    this.queued += nseg;
    if (this.queued > this.queuedMax) this.queuedMax = this.queued;
    // An unlimited link finishes transmission at once: leave the queue now, not at the next look.
    if (done <= now) this.#advance(now);
    return DROP_NONE;
  }

  /**
   * When the next packet may leave (nanoseconds; Infinity when empty). With
   * reorder on this can be early, never late: a packet still in transmission
   * may turn out to have a later release.
   */
  nextDeadline(): number {
    if (this.#reorder) {
      const h = this.#hSize > 0 ? this.#hRelease[0] : Number.POSITIVE_INFINITY;
      if (this.#head === this.#tail) return h;
      const t = this.#rTxDone[this.#head & this.#mask];
      return t < h ? t : h;
    }
    // Leftovers from reorder mode leave first, so FIFO entries never pass them.
    if (this.#hSize > 0) return this.#hRelease[0];
    return this.#head === this.#tail ? Number.POSITIVE_INFINITY : this.#rRelease[this.#head & this.#mask];
  }

  /** The slot id of the next packet due at `now`, or -1. Call until -1. `pop(Infinity)` flushes. */
  pop(now: number): number {
    if (this.#reorder) {
      this.#advance(now);
      return this.#hSize > 0 && this.#hRelease[0] <= now ? this.#heapPop() : -1;
    }
    if (this.#hSize > 0) return this.#hRelease[0] <= now ? this.#heapPop() : -1;
    const h = this.#head;
    if (h === this.#tail) return -1;
    const i = h & this.#mask;
    if (this.#rRelease[i] > now) return -1;
    // release >= txDone, so a due entry has left the queue even if nobody advanced qHead yet.
    if (this.#qHead === h) {
      this.#qHead = h + 1;
      this.queued -= this.#rSeg[i];
    }
    this.#head = h + 1;
    this.sentPackets++;
    this.sentSegments += this.#rSeg[i];
    this.sentBytes += this.#rBytes[i];
    return this.#rSlot[i];
  }

  /**
   * Apply new shaping to a running link at `now`. The packet in transmission
   * finishes at the old rate; packets not yet started are rescheduled at the
   * new rate from its end, so a bandwidth change bites at once instead of after
   * the old backlog. Delay, jitter and loss apply to packets arriving from now
   * on (queued ones keep the delay they drew); a lower queue limit drops nothing
   * already queued.
   */
  setShaping(now: number, s: Shaping): void {
    this.#advance(now);
    const wasReorder = this.#reorder;
    this.#nsPerByte = s.bandwidth > 0 ? (8 * NS_PER_S) / s.bandwidth : 0;
    this.#delayNs = s.delay * NS_PER_S;
    this.#jitterNs = s.jitter * NS_PER_S;
    this.#loss = s.loss;
    this.#limit = s.queue;
    this.#reorder = s.reorder;
    if (s.reorder && !wasReorder) {
      // Entries already in the delay line move to the heap; the ring keeps only the queue.
      for (let k = this.#head; k < this.#qHead; k++) this.#heapPushFromRing(k);
      this.#head = this.#qHead;
    }
    this.#reschedule();
  }

  /** Recompute txDone and release of the queue [qHead, tail) after a configuration change. */
  #reschedule(): void {
    const mask = this.#mask;
    // Floor for releases in FIFO mode: whatever is already in the delay line, ring or heap.
    let floor = Number.NEGATIVE_INFINITY;
    if (!this.#reorder) {
      if (this.#head < this.#qHead) floor = this.#rRelease[(this.#qHead - 1) & mask];
      for (let j = 0; j < this.#hSize; j++) if (this.#hRelease[j] > floor) floor = this.#hRelease[j];
    }
    let t = 0;
    for (let k = this.#qHead; k < this.#tail; k++) {
      const i = k & mask;
      // The first queued entry is on the wire (it started at or before now); keep its end.
      if (k === this.#qHead) t = this.#rTxDone[i];
      else t += this.#rBytes[i] * this.#nsPerByte;
      this.#rTxDone[i] = t;
      let release = t + this.#rDelay[i];
      if (!this.#reorder && release < floor) release = floor;
      this.#rRelease[i] = release;
      floor = release;
    }
    if (this.#qHead < this.#tail) this.#txFree = t;
    if (!this.#reorder) this.#lastRelease = floor;
  }

  /** Move qHead past entries whose transmission ended by `now`; with reorder on they go to the heap. */
  #advance(now: number): void {
    let q = this.#qHead;
    const tail = this.#tail;
    const mask = this.#mask;
    while (q < tail && this.#rTxDone[q & mask] <= now) {
      this.queued -= this.#rSeg[q & mask];
      if (this.#reorder) this.#heapPushFromRing(q);
      q++;
    }
    this.#qHead = q;
    if (this.#reorder) this.#head = q;
  }

  /** Double the ring (rare). Entries keep their monotonic indices; only the mask changes. */
  #grow(): void {
    const oldMask = this.#mask;
    const cap = (oldMask + 1) * 2;
    const mask = cap - 1;
    const slot = new Int32Array(cap);
    const seg = new Int32Array(cap);
    const bytes = new Int32Array(cap);
    const delay = new Float64Array(cap);
    const txDone = new Float64Array(cap);
    const release = new Float64Array(cap);
    for (let k = this.#head; k < this.#tail; k++) {
      const a = k & oldMask;
      const b = k & mask;
      slot[b] = this.#rSlot[a];
      seg[b] = this.#rSeg[a];
      bytes[b] = this.#rBytes[a];
      delay[b] = this.#rDelay[a];
      txDone[b] = this.#rTxDone[a];
      release[b] = this.#rRelease[a];
    }
    this.#mask = mask;
    this.#rSlot = slot;
    this.#rSeg = seg;
    this.#rBytes = bytes;
    this.#rDelay = delay;
    this.#rTxDone = txDone;
    this.#rRelease = release;
  }

  #heapPushFromRing(k: number): void {
    if (this.#hSize === this.#hCap) this.#heapGrow();
    const i = k & this.#mask;
    const release = this.#rRelease[i];
    // Sift up: move parents down until the new entry's place is found, then write it once.
    let c = this.#hSize++;
    while (c > 0) {
      const p = (c - 1) >> 1;
      const pr = this.#hRelease[p];
      if (pr < release || (pr === release && this.#hSeq[p] < k)) break;
      this.#heapMove(c, p);
      c = p;
    }
    this.#hSlot[c] = this.#rSlot[i];
    this.#hSeg[c] = this.#rSeg[i];
    this.#hBytes[c] = this.#rBytes[i];
    this.#hRelease[c] = release;
    this.#hSeq[c] = k;
  }

  #heapPop(): number {
    const slot = this.#hSlot[0];
    this.sentPackets++;
    this.sentSegments += this.#hSeg[0];
    this.sentBytes += this.#hBytes[0];
    const n = --this.#hSize;
    if (n > 0) {
      // Sift the last entry down from the root.
      const release = this.#hRelease[n];
      const seq = this.#hSeq[n];
      let c = 0;
      for (;;) {
        let m = 2 * c + 1;
        if (m >= n) break;
        const r = m + 1;
        if (r < n && (this.#hRelease[r] < this.#hRelease[m] || (this.#hRelease[r] === this.#hRelease[m] && this.#hSeq[r] < this.#hSeq[m]))) m = r;
        const mr = this.#hRelease[m];
        if (release < mr || (release === mr && seq < this.#hSeq[m])) break;
        this.#heapMove(c, m);
        c = m;
      }
      this.#heapMove(c, n);
    }
    return slot;
  }

  #heapMove(to: number, from: number): void {
    this.#hSlot[to] = this.#hSlot[from];
    this.#hSeg[to] = this.#hSeg[from];
    this.#hBytes[to] = this.#hBytes[from];
    this.#hRelease[to] = this.#hRelease[from];
    this.#hSeq[to] = this.#hSeq[from];
  }

  #heapGrow(): void {
    const cap = this.#hCap * 2;
    const slot = new Int32Array(cap);
    slot.set(this.#hSlot);
    const seg = new Int32Array(cap);
    seg.set(this.#hSeg);
    const bytes = new Int32Array(cap);
    bytes.set(this.#hBytes);
    const release = new Float64Array(cap);
    release.set(this.#hRelease);
    const seq = new Float64Array(cap);
    seq.set(this.#hSeq);
    this.#hCap = cap;
    this.#hSlot = slot;
    this.#hSeg = seg;
    this.#hBytes = bytes;
    this.#hRelease = release;
    this.#hSeq = seq;
  }
}
