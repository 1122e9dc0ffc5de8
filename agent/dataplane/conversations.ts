/**
 * The conversation table: every flow that enters the dataplane from a node of
 * this agent (a TCP or UDP 5-tuple; ICMP by identifier; other protocols by
 * source, destination and protocol), with the path each direction took,
 * counters per direction, TCP state and drops by reason. The forwarder looks a
 * packet up here at ingress; a packet whose reversed tuple is known counts as
 * the conversation's back direction.
 *
 * Hot path: open addressing (linear probing, backward-shift deletion) over
 * typed arrays, and each entry's per-packet fields packed together: its key,
 * paths, flags and TCP sequences in one 64-byte row of an Int32Array, its
 * times and counters in one 64-byte row of a Float64Array. A lookup and a
 * count touch the index slot and those two rows; nothing allocates, and no
 * list is relinked per packet. Objects are made only when a conversation is
 * reported (once a second while it moves) or ends.
 *
 * Ends: a FIN or RST closes a TCP conversation (`fin` when a FIN came first,
 * else `rst`) once it has been quiet for LINGER_NS (the last ACKs still
 * count); anything quiet for `idleNs` expires (`idle`, found by a scan once a
 * report); when the table is full, the least recently active of EVICT_SAMPLE
 * entries after a moving hand is evicted (`evicted`, counted): the oldest idle
 * one, approximately, without keeping the table in order on the hot path.
 */
import { DROP_COUNT } from "./drops.ts";
export { DEFAULT_CONVERSATION_CAP } from "../../protocol/conversation.ts";
import { DEFAULT_CONVERSATION_CAP } from "../../protocol/conversation.ts";

/** a direction's path is not chosen yet: the forwarder picks one at its next packet */
export const PATH_UNSET = -2;
/** the direction follows the next-hop tables (its pair has no route set) */
export const PATH_NEXT_HOP = -1;

export const DEFAULT_IDLE_NS = 30e9;
/** how long a conversation that saw FIN or RST keeps counting its last packets before it ends */
export const LINGER_NS = 1e9;
/** entries looked at to choose one to evict */
export const EVICT_SAMPLE = 32;
/** entries a table starts with */
const INITIAL_SIZE = 1024;

// flags
const F_SYN = 1;
const F_FIN = 2;
const F_FIN_BACK = 4;
const F_RST = 8;
const F_BACK = 16;
const F_SEQ = 32;
const F_SEQ_BACK = 64;
const F_USED = 128;
const F_DIRTY = 256;
const F_CLOSING = 512;

// the Int32 row: key, paths, flags, TCP sequences (as bit patterns)
const I = 16;
const I_SRC = 0;
const I_DST = 1;
const I_PORTS = 2;
const I_PROTO = 3;
const I_PATH = 4;
const I_PATH_BACK = 5;
const I_FLAGS = 6;
const I_SEQ = 7;
const I_SEQ_BACK = 8;
// the Float64 row: times and counters
const N = 8;
const N_FIRST = 0;
const N_LAST = 1;
const N_PACKETS = 2;
const N_BYTES = 3;
const N_PAYLOAD = 4;
const N_PACKETS_BACK = 5;
const N_BYTES_BACK = 6;
const N_PAYLOAD_BACK = 7;

export const END_REASONS = ["fin", "rst", "idle", "evicted"] as const;
export type EndReason = (typeof END_REASONS)[number];

/** What the table knows of one conversation, as the worker reports it. */
export interface ConversationRecord {
  seq: number;
  src: number;
  dst: number;
  proto: number;
  srcPort: number;
  dstPort: number;
  /** path indices of the routing tables it was reported under (PATH_NEXT_HOP / PATH_UNSET otherwise) */
  path: number;
  pathBack: number;
  /** Bun.nanoseconds() of its first and last packet */
  first: number;
  last: number;
  packets: number;
  bytes: number;
  payload: number;
  packetsBack: number;
  bytesBack: number;
  payloadBack: number;
  /** SYN seen (a TCP conversation whose start was observed) */
  syn: boolean;
  /** drops by registry index, only the non-zero ones */
  drops: [number, number][];
  endReason?: EndReason;
}

export class ConversationTable {
  readonly cap: number;
  readonly idleNs: number;
  /** conversations started, ended (by any reason) and evicted since the table was made */
  started = 0;
  ended = 0;
  evicted = 0;
  /** set by lookup: whether the packet matched its conversation's reversed tuple */
  reverse = false;

  #i: Int32Array;
  #n: Float64Array;
  /** per entry, DROP_COUNT counters */
  #drops: Uint32Array;
  /** per entry: its number on this agent, for its id */
  #seq: Float64Array;
  #index: Int32Array;
  #mask: number;
  #free: Int32Array;
  #freeCount: number;
  #dirtyList: Int32Array;
  #dirtyCount = 0;
  #closing: Int32Array;
  #closingSeq: Float64Array;
  #closingCount = 0;
  #ended: ConversationRecord[] = [];
  #nextSeq = 1;
  #hand = 0;
  /** the live entries, dense (swap-removed as they end), so scans cost what is live, not the cap */
  #live: Int32Array;
  /** entry -> its position in #live */
  #livePos: Int32Array;
  #liveCount = 0;
  /** the entry the last lookup found, tried first: packets of one conversation come in runs */
  #lastHit = -1;

  /** entries allocated now: the arrays grow (doubling) up to `cap` as conversations come */
  #size = 0;

  constructor(cap = DEFAULT_CONVERSATION_CAP, idleNs = DEFAULT_IDLE_NS) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`conversation cap must be a positive integer, got ${cap}`);
    this.cap = cap;
    this.idleNs = idleNs;
    this.#i = new Int32Array(0);
    this.#n = new Float64Array(0);
    this.#drops = new Uint32Array(0);
    this.#seq = new Float64Array(0);
    this.#index = new Int32Array(0);
    this.#mask = 0;
    this.#free = new Int32Array(0);
    this.#freeCount = 0;
    this.#dirtyList = new Int32Array(0);
    this.#closing = new Int32Array(0);
    this.#closingSeq = new Float64Array(0);
    this.#live = new Int32Array(0);
    this.#livePos = new Int32Array(0);
    this.#grow(Math.min(cap, INITIAL_SIZE));
  }

  /**
   * Makes room for `size` entries, keeping every conversation (same entry
   * numbers) and re-indexing them. A table that starts at its cap would hold
   * tens of MB per agent from the start (a worker with a large idle heap
   * measurably delayed packets across hosts); growing keeps memory to what is used.
   */
  #grow(size: number): void {
    const old = this.#size;
    const copy = <T extends Int32Array | Float64Array | Uint32Array>(from: T, make: (n: number) => T, n: number): T => {
      const to = make(n);
      to.set(from.subarray(0, Math.min(from.length, n)));
      return to;
    };
    this.#i = copy(this.#i, (n) => new Int32Array(n), size * I);
    this.#n = copy(this.#n, (n) => new Float64Array(n), size * N);
    this.#drops = copy(this.#drops, (n) => new Uint32Array(n), size * DROP_COUNT);
    this.#seq = copy(this.#seq, (n) => new Float64Array(n), size);
    this.#dirtyList = copy(this.#dirtyList, (n) => new Int32Array(n), size * 2);
    this.#closing = copy(this.#closing, (n) => new Int32Array(n), size);
    this.#closingSeq = copy(this.#closingSeq, (n) => new Float64Array(n), size);
    this.#live = copy(this.#live, (n) => new Int32Array(n), size);
    this.#livePos = copy(this.#livePos, (n) => new Int32Array(n), size);
    // the new entries are free, lowest first out
    const free = new Int32Array(size);
    free.set(this.#free.subarray(0, this.#freeCount));
    let count = this.#freeCount;
    for (let e = size - 1; e >= old; e--) free[count++] = e;
    this.#free = free;
    this.#freeCount = count;
    this.#size = size;
    let slots = 2;
    while (slots < size * 2) slots *= 2;
    this.#index = new Int32Array(slots).fill(-1);
    this.#mask = slots - 1;
    for (let k = 0; k < this.#liveCount; k++) this.#insert(this.#live[k]);
  }

  /** Conversations held now. */
  get live(): number {
    return this.#liveCount;
  }

  /**
   * The conversation of a packet from node `src` to node `dst`, made if new
   * (`reverse` tells which direction the packet is); -1 only when the table
   * has no entry it may evict (never with cap >= 1).
   * `ports` is srcPort << 16 | dstPort (ICMP: the identifier in both halves).
   */
  lookup(src: number, dst: number, proto: number, ports: number, now: number): number {
    const a = this.#i;
    const p = ports | 0;
    let e = this.#lastHit;
    if (e >= 0) {
      const r = e * I;
      if (a[r + I_PROTO] === proto && a[r + I_FLAGS] & F_USED) {
        if (a[r + I_SRC] === src && a[r + I_DST] === dst && a[r + I_PORTS] === p) {
          this.reverse = false;
          this.#n[e * N + N_LAST] = now;
          return e;
        }
        if (a[r + I_SRC] === dst && a[r + I_DST] === src && a[r + I_PORTS] === ((p << 16) | (p >>> 16))) {
          this.reverse = true;
          this.#n[e * N + N_LAST] = now;
          return e;
        }
      }
    }
    e = this.#find(src, dst, proto, p);
    if (e >= 0) {
      this.reverse = false;
    } else {
      e = this.#find(dst, src, proto, (p << 16) | (p >>> 16));
      if (e >= 0) {
        this.reverse = true;
      } else {
        this.reverse = false;
        e = this.#create(src, dst, proto, p, now);
        this.#lastHit = e;
        return e;
      }
    }
    this.#n[e * N + N_LAST] = now;
    this.#lastHit = e;
    return e;
  }

  /**
   * Counts a packet of `segments` segments into entry `e` in the direction
   * lookup found. `seq` is a TCP packet's sequence number (-1 otherwise): TCP
   * payload counts only bytes past the highest sequence seen, so a
   * retransmission adds to bytes (what links carried) but not to payload
   * (what the application sent).
   */
  count(e: number, back: boolean, segments: number, wire: number, payload: number, tcpFlags: number, seq: number): void {
    const a = this.#i;
    const r = e * I;
    let flags = a[r + I_FLAGS];
    let fresh = payload;
    if (seq >= 0) {
      const end = (seq + payload) | 0;
      const bit = back ? F_SEQ_BACK : F_SEQ;
      const at = r + (back ? I_SEQ_BACK : I_SEQ);
      if (flags & bit) {
        // how far past the highest sequence so far, modulo 2^32
        const ahead = (end - a[at]) | 0;
        if (ahead > 0) {
          fresh = ahead < payload ? ahead : payload;
          a[at] = end;
        } else {
          fresh = 0;
        }
      } else {
        flags |= bit;
        a[at] = end;
      }
    }
    const n = this.#n;
    const c = e * N;
    if (back) {
      n[c + N_PACKETS_BACK] += segments;
      n[c + N_BYTES_BACK] += wire;
      n[c + N_PAYLOAD_BACK] += fresh;
      flags |= F_BACK;
    } else {
      n[c + N_PACKETS] += segments;
      n[c + N_BYTES] += wire;
      n[c + N_PAYLOAD] += fresh;
    }
    // TCP flags: FIN 1, SYN 2, RST 4
    if (tcpFlags !== 0) {
      if (tcpFlags & 2 && !back) flags |= F_SYN;
      if (tcpFlags & 1) flags |= back ? F_FIN_BACK : F_FIN;
      if (tcpFlags & 4) flags |= F_RST;
      if (!(flags & F_CLOSING) && flags & (F_FIN | F_FIN_BACK | F_RST)) {
        flags |= F_CLOSING;
        this.#closing[this.#closingCount] = e;
        this.#closingSeq[this.#closingCount++] = this.#seq[e];
      }
    }
    if (!(flags & F_DIRTY) && this.#dirtyCount < this.#dirtyList.length) {
      flags |= F_DIRTY;
      this.#dirtyList[this.#dirtyCount++] = e;
    }
    a[r + I_FLAGS] = flags;
  }

  /** A packet of entry `e` was dropped for registry reason `reason` (segments of it). */
  countDrop(e: number, reason: number, segments: number): void {
    if (e < 0) return;
    const at = e * I + I_FLAGS;
    const flags = this.#i[at];
    if (!(flags & F_USED)) return;
    this.#drops[e * DROP_COUNT + reason] += segments;
    if (!(flags & F_DIRTY) && this.#dirtyCount < this.#dirtyList.length) {
      this.#i[at] = flags | F_DIRTY;
      this.#dirtyList[this.#dirtyCount++] = e;
    }
  }

  /** The path a direction of entry `e` takes (PATH_UNSET until chosen). */
  pathOf(e: number, back: boolean): number {
    return this.#i[e * I + (back ? I_PATH_BACK : I_PATH)];
  }

  setPath(e: number, back: boolean, path: number): void {
    this.#i[e * I + (back ? I_PATH_BACK : I_PATH)] = path;
  }

  /** The node a conversation's first packet came from, and the one it went to. */
  srcOf(e: number): number {
    return this.#i[e * I + I_SRC];
  }

  dstOf(e: number): number {
    return this.#i[e * I + I_DST];
  }

  /** srcPort << 16 | dstPort of its first packet, unsigned */
  portsOf(e: number): number {
    return this.#i[e * I + I_PORTS] >>> 0;
  }

  isUsed(e: number): boolean {
    return (this.#i[e * I + I_FLAGS] & F_USED) !== 0;
  }

  /**
   * Ends conversations that closed (FIN/RST and quiet for LINGER_NS) or went
   * idle, then returns what changed since the last call: every conversation
   * that moved, and every one that ended (once).
   */
  collect(now: number): ConversationRecord[] {
    this.#expire(now);
    const out = this.#ended;
    this.#ended = [];
    for (let k = 0; k < this.#dirtyCount; k++) {
      const e = this.#dirtyList[k];
      const at = e * I + I_FLAGS;
      const flags = this.#i[at];
      // an entry ended and reused within the second may be listed twice: report it once
      if (!(flags & F_USED) || !(flags & F_DIRTY)) continue;
      this.#i[at] = flags & ~F_DIRTY;
      out.push(this.#record(e));
    }
    this.#dirtyCount = 0;
    return out;
  }

  /** Calls `fn` with every live entry (`fn` must not end or make conversations). */
  forEach(fn: (e: number) => void): void {
    for (let k = 0; k < this.#liveCount; k++) fn(this.#live[k]);
  }

  /**
   * Renames nodes after the tables changed: `nodeMap[old]` is the new id, or
   * -1 when the node is gone (its conversations end as evicted, keeping the
   * old ids: collect them and report them under the old tables before using
   * the new). Every other path becomes PATH_UNSET, to be chosen again under
   * the new tables.
   */
  remapNodes(nodeMap: Int32Array): void {
    const a = this.#i;
    this.#index.fill(-1);
    this.#lastHit = -1;
    const gone: number[] = [];
    this.forEach((e) => {
      const r = e * I;
      const s = a[r + I_SRC] < nodeMap.length ? nodeMap[a[r + I_SRC]] : -1;
      const d = a[r + I_DST] < nodeMap.length ? nodeMap[a[r + I_DST]] : -1;
      // an ending conversation keeps its old nodes and paths: its last report is made under the old tables
      if (s < 0 || d < 0) {
        gone.push(e);
        return;
      }
      a[r + I_PATH] = PATH_UNSET;
      a[r + I_PATH_BACK] = PATH_UNSET;
      a[r + I_SRC] = s;
      a[r + I_DST] = d;
      this.#insert(e);
    });
    // already out of the index: end them without the index deletion
    for (const e of gone) this.#end(e, "evicted", false);
  }

  #hash(src: number, dst: number, proto: number, ports: number): number {
    let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ dst ^ (h >>> 15), 0xc2b2ae35);
    h = Math.imul(h ^ ports ^ (h >>> 13), 0x27d4eb2f);
    h ^= proto + (h >>> 16);
    return h & this.#mask;
  }

  #find(src: number, dst: number, proto: number, ports: number): number {
    const a = this.#i;
    let k = this.#hash(src, dst, proto, ports);
    for (;;) {
      const e = this.#index[k];
      if (e < 0) return -1;
      const r = e * I;
      if (a[r + I_SRC] === src && a[r + I_DST] === dst && a[r + I_PORTS] === ports && a[r + I_PROTO] === proto) return e;
      k = (k + 1) & this.#mask;
    }
  }

  #homeOf(e: number): number {
    const r = e * I;
    return this.#hash(this.#i[r + I_SRC], this.#i[r + I_DST], this.#i[r + I_PROTO], this.#i[r + I_PORTS]);
  }

  #insert(e: number): void {
    let k = this.#homeOf(e);
    while (this.#index[k] >= 0) k = (k + 1) & this.#mask;
    this.#index[k] = e;
  }

  /** Removes `e` from the index, shifting back the entries its probe run displaced. */
  #unindex(e: number): void {
    let k = this.#homeOf(e);
    while (this.#index[k] !== e) {
      if (this.#index[k] < 0) return;
      k = (k + 1) & this.#mask;
    }
    let hole = k;
    let j = k;
    for (;;) {
      j = (j + 1) & this.#mask;
      const f = this.#index[j];
      if (f < 0) break;
      const home = this.#homeOf(f);
      // f may fill the hole when its home is not cyclically in (hole, j]
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        this.#index[hole] = f;
        hole = j;
      }
    }
    this.#index[hole] = -1;
  }

  #create(src: number, dst: number, proto: number, ports: number, now: number): number {
    if (this.#freeCount === 0 && this.#size < this.cap) this.#grow(Math.min(this.cap, this.#size * 2));
    if (this.#freeCount === 0) {
      const victim = this.#victim();
      if (victim < 0) return -1;
      this.evicted++;
      this.#end(victim, "evicted", true);
    }
    const e = this.#free[--this.#freeCount];
    const a = this.#i;
    const r = e * I;
    a.fill(0, r, r + I);
    a[r + I_SRC] = src;
    a[r + I_DST] = dst;
    a[r + I_PORTS] = ports;
    a[r + I_PROTO] = proto;
    a[r + I_PATH] = PATH_UNSET;
    a[r + I_PATH_BACK] = PATH_UNSET;
    a[r + I_FLAGS] = F_USED;
    const c = e * N;
    this.#n.fill(0, c, c + N);
    this.#n[c + N_FIRST] = now;
    this.#n[c + N_LAST] = now;
    this.#drops.fill(0, e * DROP_COUNT, (e + 1) * DROP_COUNT);
    this.#seq[e] = this.#nextSeq++;
    this.started++;
    this.#insert(e);
    this.#livePos[e] = this.#liveCount;
    this.#live[this.#liveCount++] = e;
    return e;
  }

  /** The least recently active of EVICT_SAMPLE live entries after the hand, which moves on. */
  #victim(): number {
    let best = -1;
    let bestLast = Infinity;
    for (let seen = 0; seen < EVICT_SAMPLE && seen < this.#liveCount; seen++) {
      if (this.#hand >= this.#liveCount) this.#hand = 0;
      const e = this.#live[this.#hand++];
      const last = this.#n[e * N + N_LAST];
      if (last < bestLast) {
        bestLast = last;
        best = e;
      }
    }
    return best;
  }

  #end(e: number, reason: EndReason, indexed: boolean): void {
    const r = this.#record(e);
    r.endReason = reason;
    this.#ended.push(r);
    if (indexed) this.#unindex(e);
    // a dirty entry is in the dirty list; clearing USED makes collect skip it
    this.#i[e * I + I_FLAGS] = 0;
    const at = this.#livePos[e];
    const moved = this.#live[--this.#liveCount];
    this.#live[at] = moved;
    this.#livePos[moved] = at;
    if (this.#lastHit === e) this.#lastHit = -1;
    this.#free[this.#freeCount++] = e;
    this.ended++;
  }

  #expire(now: number): void {
    // closed TCP conversations, once quiet; the list keeps those still lingering
    let kept = 0;
    for (let k = 0; k < this.#closingCount; k++) {
      const e = this.#closing[k];
      const seq = this.#closingSeq[k];
      const flags = this.#i[e * I + I_FLAGS];
      if (!(flags & F_USED) || this.#seq[e] !== seq) continue;
      if (now - this.#n[e * N + N_LAST] >= LINGER_NS) {
        // a close that began with a FIN is a fin, even when a RST follows (a peer closing with data unread)
        this.#end(e, flags & (F_FIN | F_FIN_BACK) ? "fin" : "rst", true);
      } else {
        this.#closing[kept] = e;
        this.#closingSeq[kept++] = seq;
      }
    }
    this.#closingCount = kept;
    if (this.idleNs === Infinity) return;
    // backwards: an entry that ends is replaced by the last one, which was already looked at
    for (let k = this.#liveCount - 1; k >= 0; k--) {
      const e = this.#live[k];
      if (now - this.#n[e * N + N_LAST] >= this.idleNs) this.#end(e, "idle", true);
    }
  }

  #record(e: number): ConversationRecord {
    const drops: [number, number][] = [];
    for (let d = 0; d < DROP_COUNT; d++) {
      const n = this.#drops[e * DROP_COUNT + d];
      if (n > 0) drops.push([d, n]);
    }
    const a = this.#i;
    const r = e * I;
    const n = this.#n;
    const c = e * N;
    const ports = a[r + I_PORTS] >>> 0;
    return {
      seq: this.#seq[e],
      src: a[r + I_SRC],
      dst: a[r + I_DST],
      proto: a[r + I_PROTO],
      srcPort: ports >>> 16,
      dstPort: ports & 0xffff,
      path: a[r + I_PATH],
      pathBack: a[r + I_PATH_BACK],
      first: n[c + N_FIRST],
      last: n[c + N_LAST],
      packets: n[c + N_PACKETS],
      bytes: n[c + N_BYTES],
      payload: n[c + N_PAYLOAD],
      packetsBack: n[c + N_PACKETS_BACK],
      bytesBack: n[c + N_BYTES_BACK],
      payloadBack: n[c + N_PAYLOAD_BACK],
      syn: (a[r + I_FLAGS] & F_SYN) !== 0,
      drops,
    };
  }
}
