/**
 * @module
 * PacketPool: every packet the dataplane holds lives in a fixed-size slot named
 * by an integer id, so the hot path passes numbers around instead of buffers and
 * allocates nothing per packet.
 *
 * Two size classes: LARGE (65600 bytes: a 10-byte virtio_net_hdr plus a 65535-byte
 * IP packet, what one TUN read with TSO can return) and SMALL (2048 bytes: one
 * MTU-sized segment). Small packets parked in a long delay line are moved to a
 * SMALL slot (`shrink`) so they do not pin 64 KB each.
 *
 * Memory: one ArrayBuffer of `capBytes`, carved lazily into chunks of slots of
 * one class as the classes need them. A single buffer (rather than one
 * ArrayBuffer per chunk) is what lets slot-to-slot copies use `copyWithin`,
 * the only bulk copy that needs no temporary view object. Linux commits the
 * pages of a large zeroed allocation on first touch (measured under Bun: a
 * 1 GiB ArrayBuffer adds 0.5 MB of RSS), and free lists are LIFO so recently
 * touched slots are reused first: resident memory follows the peak number of
 * packets in flight, never the cap. (A resizable ArrayBuffer gives the same
 * laziness explicitly but measured ~40% slower per byte access and copy.)
 * Carved chunks are never returned; slots are.
 *
 * Metadata the forwarder keeps per packet sits in parallel typed arrays indexed
 * by slot id (`len`, `ns`, `src`, `dst`, `route`, `conv`). They are sized once for
 * the largest possible number of slots, so they never move and callers may keep
 * references to them.
 */

/** Bytes in a LARGE slot: virtio_net_hdr (10) + the largest IP packet (65535), rounded up to 8. */
export const LARGE_SLOT = 65600;
/** Bytes in a SMALL slot: room for a 1500-MTU segment with headers, or a 2000-byte jumbo-ish one. */
export const SMALL_SLOT = 2048;
/** Slots carved at a time per class: 4.2 MB of LARGE or 128 KB of SMALL. */
export const SLOTS_PER_CHUNK = 64;
export const DEFAULT_POOL_BYTES = 1 << 30;

const NONE = -1;

export class PacketPool {
  /** The whole backing memory; slot `id` starts at `offset[id]`. Use for copies between slots. */
  readonly mem: Uint8Array;
  /** Byte offset of each slot in `mem` (Float64 so caps past 2 GiB still index exactly). */
  readonly offset: Float64Array;
  /** Bytes of packet in each slot (virtio header included when there is one). */
  readonly len: Int32Array;
  /** Forwarder-owned per-packet fields: namespace index, source and destination node, position in routeHops, conversation entry (-1: none). */
  readonly ns: Int32Array;
  readonly src: Int32Array;
  readonly dst: Int32Array;
  readonly route: Int32Array;
  readonly conv: Int32Array;
  /** 1 when the slot is a LARGE slot, 0 when SMALL (fixed when its chunk is carved). */
  readonly large: Uint8Array;

  /** Slots in use per class. */
  inUseLarge = 0;
  inUseSmall = 0;
  /** Slots carved so far per class (in use or free). */
  carvedLarge = 0;
  carvedSmall = 0;

  readonly capBytes: number;
  /** Bytes of `mem` carved into chunks so far. */
  carvedBytes = 0;

  #views: Uint8Array[] = [];
  #busy: Uint8Array;
  /** Free lists: `#next[id]` links free slots of one class; heads per class. */
  #next: Int32Array;
  #freeLarge = NONE;
  #freeSmall = NONE;
  #nextId = 0;

  constructor(capBytes: number = DEFAULT_POOL_BYTES) {
    if (!Number.isInteger(capBytes) || capBytes < SMALL_SLOT) throw new RangeError(`pool cap must be an integer >= ${SMALL_SLOT} bytes, got ${capBytes}`);
    this.capBytes = capBytes;
    this.mem = new Uint8Array(new ArrayBuffer(capBytes));
    // Every id owns at least SMALL_SLOT bytes, so this bounds the ids ever handed out.
    const maxSlots = Math.floor(capBytes / SMALL_SLOT);
    this.offset = new Float64Array(maxSlots);
    this.len = new Int32Array(maxSlots);
    this.ns = new Int32Array(maxSlots);
    this.src = new Int32Array(maxSlots);
    this.dst = new Int32Array(maxSlots);
    this.route = new Int32Array(maxSlots);
    this.conv = new Int32Array(maxSlots);
    this.large = new Uint8Array(maxSlots);
    this.#busy = new Uint8Array(maxSlots);
    this.#next = new Int32Array(maxSlots);
  }

  /**
   * A free slot id, or -1 when the cap is reached. A SMALL request falls back to
   * a LARGE slot when no SMALL one can be had: under memory pressure a packet in
   * a big slot beats a dropped packet.
   */
  alloc(large: boolean): number {
    if (!large) {
      const id = this.#allocSmall();
      if (id !== NONE) return id;
    }
    let id = this.#freeLarge;
    if (id === NONE && this.#carve(true)) id = this.#freeLarge;
    if (id === NONE) return NONE;
    this.#freeLarge = this.#next[id];
    this.#busy[id] = 1;
    this.len[id] = 0;
    this.inUseLarge++;
    return id;
  }

  #allocSmall(): number {
    let id = this.#freeSmall;
    if (id === NONE && this.#carve(false)) id = this.#freeSmall;
    if (id === NONE) return NONE;
    this.#freeSmall = this.#next[id];
    this.#busy[id] = 1;
    this.len[id] = 0;
    this.inUseSmall++;
    return id;
  }

  /** Return a slot. Freeing a slot twice is a forwarder bug, so it throws rather than corrupting the free list. */
  free(id: number): void {
    if (id < 0 || id >= this.#nextId || this.#busy[id] === 0) throw new RangeError(`pool: free of slot ${id} that is not in use`);
    this.#busy[id] = 0;
    if (this.large[id] === 1) {
      this.#next[id] = this.#freeLarge;
      this.#freeLarge = id;
      this.inUseLarge--;
    } else {
      this.#next[id] = this.#freeSmall;
      this.#freeSmall = id;
      this.inUseSmall--;
    }
  }

  /** The slot's bytes as a view made once when its chunk was carved (index 0 = start of slot). */
  view(id: number): Uint8Array {
    return this.#views[id];
  }

  /** Bytes the slot can hold. */
  capacity(id: number): number {
    return this.large[id] === 1 ? LARGE_SLOT : SMALL_SLOT;
  }

  /** Whether `id` is currently allocated (for assertions and tests). */
  inUse(id: number): boolean {
    return id >= 0 && id < this.#nextId && this.#busy[id] === 1;
  }

  /**
   * If `id` is a LARGE slot whose packet fits a SMALL one, move packet and
   * metadata into a SMALL slot, free the large one and return the new id.
   * Otherwise (already small, too big, or no small slot to be had) return `id`.
   */
  shrink(id: number): number {
    if (this.large[id] === 0) return id;
    const n = this.len[id];
    if (n > SMALL_SLOT) return id;
    const to = this.#allocSmall();
    if (to === NONE) return id;
    this.copy(to, id);
    this.free(id);
    return to;
  }

  /** Copy packet bytes and metadata of slot `from` into slot `to` (which must be big enough). */
  copy(to: number, from: number): void {
    const n = this.len[from];
    const src = this.offset[from];
    this.mem.copyWithin(this.offset[to], src, src + n);
    this.len[to] = n;
    this.ns[to] = this.ns[from];
    this.src[to] = this.src[from];
    this.dst[to] = this.dst[from];
    this.route[to] = this.route[from];
    this.conv[to] = this.conv[from];
  }

  /** Carve the next chunk of one class from the uncarved rest of `mem`; false when the cap leaves no room. */
  #carve(large: boolean): boolean {
    const size = large ? LARGE_SLOT : SMALL_SLOT;
    const count = Math.min(SLOTS_PER_CHUNK, Math.floor((this.capBytes - this.carvedBytes) / size));
    if (count <= 0) return false;
    const buffer = this.mem.buffer;
    const off = this.carvedBytes;
    const first = this.#nextId;
    // Ascending, so the views array stays dense (no holes for the engine to handle).
    for (let k = 0; k < count; k++) {
      const id = first + k;
      const slotOff = off + k * size;
      this.offset[id] = slotOff;
      this.large[id] = large ? 1 : 0;
      this.#views.push(new Uint8Array(buffer, slotOff, size));
    }
    // Link in descending order so the lowest id (and lowest address) is handed out first.
    for (let id = first + count - 1; id >= first; id--) {
      if (large) {
        this.#next[id] = this.#freeLarge;
        this.#freeLarge = id;
      } else {
        this.#next[id] = this.#freeSmall;
        this.#freeSmall = id;
      }
    }
    this.carvedBytes = off + count * size;
    this.#nextId += count;
    if (large) this.carvedLarge += count;
    else this.carvedSmall += count;
    return true;
  }
}
