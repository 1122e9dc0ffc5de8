/**
 * @module
 * Weighted sharing of a congested link direction among flows: deficit round
 * robin (Shreedhar and Varghese, 1995) in front of the direction's
 * transmitter (shaper.ts). Each class (a flow; class 0 is every other
 * packet) has a FIFO of packets and a quantum of its weight times one MTU of
 * bytes; the transmitter takes the next packet only when it is free, so
 * while classes are backlogged each gets bytes in proportion to its weight.
 *
 * The queue limit is the direction's, over all classes together. When it is
 * full, the class most over its share (backlog over weight) loses: its
 * oldest packet when that is another class than the arriving packet's (drop
 * from front, the quickest signal to its sender), else the arriving packet.
 *
 * One instance serves every direction of a forwarder: packets are chained
 * through per-slot arrays (a slot is in one queue at a time), per direction
 * only class heads, tails and counters. Nothing allocates per packet.
 */

/** bytes of quantum per unit of weight: one full packet */
export const QUANTUM_BYTES = 1500;

interface DirClasses {
  head: Int32Array;
  tail: Int32Array;
  segs: Int32Array;
  deficit: Float64Array;
  quantum: Float64Array;
  /** round-robin order of backlogged classes, a ring */
  ring: Int32Array;
  ringHead: number;
  ringLen: number;
  inRing: Uint8Array;
  /** segments queued over all classes */
  total: number;
}

export class WeightedQueues {
  readonly #next: Int32Array;
  readonly #nseg: Int32Array;
  readonly #bytes: Int32Array;
  readonly #dirs: (DirClasses | undefined)[];

  /** `slots`: the pool's slot count; `weights[d]`: class weights of direction d (undefined: not weighted) */
  constructor(slots: number, weights: (Float64Array | undefined)[]) {
    this.#next = new Int32Array(slots);
    this.#nseg = new Int32Array(slots);
    this.#bytes = new Int32Array(slots);
    this.#dirs = weights.map((w) => {
      if (w === undefined) return undefined;
      const n = w.length;
      const quantum = new Float64Array(n);
      for (let c = 0; c < n; c++) quantum[c] = w[c] * QUANTUM_BYTES;
      return {
        head: new Int32Array(n).fill(-1),
        tail: new Int32Array(n).fill(-1),
        segs: new Int32Array(n),
        deficit: new Float64Array(n),
        quantum,
        ring: new Int32Array(n),
        ringHead: 0,
        ringLen: 0,
        inRing: new Uint8Array(n),
        total: 0,
      };
    });
  }

  isWeighted(dir: number): boolean {
    return this.#dirs[dir] !== undefined;
  }

  /** Segments waiting in `dir`'s classes. */
  backlog(dir: number): number {
    return this.#dirs[dir]?.total ?? 0;
  }

  /**
   * Queues `slot` in class `cls` of `dir`, whose limit is `limit` segments
   * (the transmitter's own queue included in `queuedAhead`). Returns the slot
   * to drop (the arriving one, or another class's oldest), or -1.
   */
  push(dir: number, cls: number, slot: number, nseg: number, bytes: number, limit: number, queuedAhead: number): number {
    const d = this.#dirs[dir]!;
    let dropped = -1;
    if (d.total + queuedAhead + nseg > limit) {
      // the class most over its share pays
      let worst = cls;
      let worstLoad = (d.segs[cls] + nseg) / d.quantum[cls];
      for (let i = 0; i < d.ringLen; i++) {
        const c = d.ring[(d.ringHead + i) % d.ring.length];
        const load = d.segs[c] / d.quantum[c];
        if (load > worstLoad) {
          worst = c;
          worstLoad = load;
        }
      }
      if (worst === cls) return slot;
      dropped = this.#popClass(d, worst);
    }
    this.#next[slot] = -1;
    this.#nseg[slot] = nseg;
    this.#bytes[slot] = bytes;
    if (d.tail[cls] < 0) d.head[cls] = slot;
    else this.#next[d.tail[cls]] = slot;
    d.tail[cls] = slot;
    d.segs[cls] += nseg;
    d.total += nseg;
    if (!d.inRing[cls]) {
      d.inRing[cls] = 1;
      d.ring[(d.ringHead + d.ringLen) % d.ring.length] = cls;
      d.ringLen++;
    }
    return dropped;
  }

  /** The next slot to transmit on `dir` by deficit round robin, or -1 when none waits. */
  pop(dir: number): number {
    const d = this.#dirs[dir]!;
    while (d.ringLen > 0) {
      const cls = d.ring[d.ringHead];
      const slot = d.head[cls];
      const need = this.#bytes[slot];
      if (d.deficit[cls] < need) {
        // its turn is over: a quantum more for the next round, then the next class
        d.deficit[cls] += d.quantum[cls];
        d.ringHead = (d.ringHead + 1) % d.ring.length;
        d.ring[(d.ringHead + d.ringLen - 1) % d.ring.length] = cls;
        continue;
      }
      d.deficit[cls] -= need;
      this.#unlinkHead(d, cls);
      if (d.head[cls] < 0) {
        // an idle class keeps no credit (DRR's rule)
        d.deficit[cls] = 0;
        d.inRing[cls] = 0;
        d.ringHead = (d.ringHead + 1) % d.ring.length;
        d.ringLen--;
      }
      return slot;
    }
    return -1;
  }

  /** Segments and wire bytes of a slot that `pop` returned. */
  segmentsOf(slot: number): number {
    return this.#nseg[slot];
  }

  bytesOf(slot: number): number {
    return this.#bytes[slot];
  }

  /** Empties every direction, handing each queued slot (in the order it would have gone) to `take`. */
  drain(take: (slot: number, dir: number, nseg: number, bytes: number) => void): void {
    for (let dir = 0; dir < this.#dirs.length; dir++) {
      const d = this.#dirs[dir];
      if (!d) continue;
      let slot: number;
      while ((slot = this.pop(dir)) >= 0) take(slot, dir, this.#nseg[slot], this.#bytes[slot]);
    }
  }

  /** Removes class `cls`'s oldest packet (dropped on its behalf); it stays in the ring until `pop` finds it empty. */
  #popClass(d: DirClasses, cls: number): number {
    const slot = d.head[cls];
    this.#unlinkHead(d, cls);
    if (d.head[cls] < 0) {
      d.deficit[cls] = 0;
      // take it out of the ring: find it and close the gap
      const n = d.ring.length;
      let i = 0;
      while (i < d.ringLen && d.ring[(d.ringHead + i) % n] !== cls) i++;
      for (; i + 1 < d.ringLen; i++) d.ring[(d.ringHead + i) % n] = d.ring[(d.ringHead + i + 1) % n];
      d.ringLen--;
      d.inRing[cls] = 0;
    }
    return slot;
  }

  #unlinkHead(d: DirClasses, cls: number): void {
    const slot = d.head[cls];
    const next = this.#next[slot];
    d.head[cls] = next;
    if (next < 0) d.tail[cls] = -1;
    d.segs[cls] -= this.#nseg[slot];
    d.total -= this.#nseg[slot];
  }
}
