/**
 * The conversation table: every flow that enters the dataplane from a node of
 * this agent (a TCP or UDP 5-tuple; ICMP by identifier; other protocols by
 * source, destination and protocol), with the route each direction took,
 * counters per direction, TCP state and drops by reason. The forwarder looks a
 * packet up here at ingress; a packet whose reversed tuple is known counts as
 * the conversation's back direction.
 *
 * Hot path: open addressing over typed arrays (linear probing, backward-shift
 * deletion), an LRU list in typed arrays for eviction and idle expiry; no
 * allocation per packet. Objects are made only when a conversation is
 * reported (once per report interval while it moves) or ends.
 *
 * Ends: a FIN or RST closes a TCP conversation (`fin` when a FIN came first,
 * else `rst`) once it has been quiet for
 * LINGER_NS (the last ACKs still count); anything quiet for `idleNs` expires
 * (`idle`); when the table is full the least recently active is evicted
 * (`evicted`, counted). Ended conversations are reported once and forgotten.
 */
import { DROP_COUNT } from "./drops.ts";

/** a direction's path is not chosen yet: the forwarder picks one at its next packet */
export const PATH_UNSET = -2;
/** the direction follows the next-hop tables (its pair has no route set) */
export const PATH_NEXT_HOP = -1;

export { DEFAULT_CONVERSATION_CAP } from "../../protocol/conversation.ts";
import { DEFAULT_CONVERSATION_CAP } from "../../protocol/conversation.ts";
export const DEFAULT_IDLE_NS = 30e9;
/** how long a conversation that saw FIN or RST keeps counting its last packets before it ends */
export const LINGER_NS = 1e9;

const F_SYN = 1;
const F_FIN = 2;
const F_FIN_BACK = 4;
const F_RST = 8;
const F_BACK = 16;
const F_SEQ = 32;
const F_SEQ_BACK = 64;

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

  readonly src: Int32Array;
  readonly dst: Int32Array;
  readonly ports: Uint32Array;
  readonly proto: Uint8Array;
  /** per entry and direction: path index, PATH_NEXT_HOP or PATH_UNSET */
  readonly path: Int32Array;
  readonly pathBack: Int32Array;
  readonly first: Float64Array;
  readonly last: Float64Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly payload: Float64Array;
  readonly packetsBack: Float64Array;
  readonly bytesBack: Float64Array;
  readonly payloadBack: Float64Array;
  readonly flags: Uint8Array;
  /** TCP: the highest sequence number (end of payload) seen each way */
  readonly seq32: Uint32Array;
  readonly seqBack: Uint32Array;
  /** per entry, DROP_COUNT counters */
  readonly drops: Uint32Array;
  readonly seq: Float64Array;
  /** 1 while the entry holds a conversation */
  readonly used: Uint8Array;

  #index: Int32Array;
  #mask: number;
  #prev: Int32Array;
  #next: Int32Array;
  #head = -1;
  #tail = -1;
  #free: Int32Array;
  #freeCount: number;
  #dirty: Uint8Array;
  #dirtyList: Int32Array;
  #dirtyCount = 0;
  #closing: Int32Array;
  #closingSeq: Float64Array;
  #closingCount = 0;
  #ended: ConversationRecord[] = [];
  #nextSeq = 1;

  constructor(cap = DEFAULT_CONVERSATION_CAP, idleNs = DEFAULT_IDLE_NS) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`conversation cap must be a positive integer, got ${cap}`);
    this.cap = cap;
    this.idleNs = idleNs;
    let size = 2;
    while (size < cap * 2) size *= 2;
    this.#index = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
    this.src = new Int32Array(cap);
    this.dst = new Int32Array(cap);
    this.ports = new Uint32Array(cap);
    this.proto = new Uint8Array(cap);
    this.path = new Int32Array(cap);
    this.pathBack = new Int32Array(cap);
    this.first = new Float64Array(cap);
    this.last = new Float64Array(cap);
    this.packets = new Float64Array(cap);
    this.bytes = new Float64Array(cap);
    this.payload = new Float64Array(cap);
    this.packetsBack = new Float64Array(cap);
    this.bytesBack = new Float64Array(cap);
    this.payloadBack = new Float64Array(cap);
    this.flags = new Uint8Array(cap);
    this.seq32 = new Uint32Array(cap);
    this.seqBack = new Uint32Array(cap);
    this.drops = new Uint32Array(cap * DROP_COUNT);
    this.seq = new Float64Array(cap);
    this.used = new Uint8Array(cap);
    this.#prev = new Int32Array(cap);
    this.#next = new Int32Array(cap);
    this.#free = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.#free[i] = cap - 1 - i;
    this.#freeCount = cap;
    this.#dirty = new Uint8Array(cap);
    this.#dirtyList = new Int32Array(cap);
    this.#closing = new Int32Array(cap);
    this.#closingSeq = new Float64Array(cap);
  }

  /** Conversations held now. */
  get live(): number {
    return this.cap - this.#freeCount;
  }

  /**
   * The conversation of a packet from node `src` to node `dst`, made if new
   * (`reverse` tells which direction the packet is); -1 only when the table
   * is full of conversations that cannot be evicted (never with cap >= 1).
   * `ports` is srcPort << 16 | dstPort (ICMP: the identifier in both halves).
   */
  lookup(src: number, dst: number, proto: number, ports: number, now: number): number {
    let e = this.#find(src, dst, proto, ports);
    if (e >= 0) {
      this.reverse = false;
    } else {
      const back = ((ports << 16) | (ports >>> 16)) >>> 0;
      e = this.#find(dst, src, proto, back);
      if (e >= 0) {
        this.reverse = true;
      } else {
        this.reverse = false;
        return this.#create(src, dst, proto, ports, now);
      }
    }
    this.#touch(e, now);
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
    let fresh = payload;
    if (seq >= 0) {
      const end = (seq + payload) >>> 0;
      const bit = back ? F_SEQ_BACK : F_SEQ;
      const seqs = back ? this.seqBack : this.seq32;
      if (this.flags[e] & bit) {
        // how far past the highest sequence so far, modulo 2^32
        const ahead = (end - seqs[e]) | 0;
        if (ahead > 0) {
          fresh = ahead < payload ? ahead : payload;
          seqs[e] = end;
        } else {
          fresh = 0;
        }
      } else {
        this.flags[e] |= bit;
        seqs[e] = end;
      }
    }
    if (back) {
      this.packetsBack[e] += segments;
      this.bytesBack[e] += wire;
      this.payloadBack[e] += fresh;
      this.flags[e] |= F_BACK;
    } else {
      this.packets[e] += segments;
      this.bytes[e] += wire;
      this.payload[e] += fresh;
    }
    // TCP flags: FIN 1, SYN 2, RST 4
    if (tcpFlags !== 0) {
      const before = this.flags[e];
      if (tcpFlags & 2 && !back) this.flags[e] |= F_SYN;
      if (tcpFlags & 1) this.flags[e] |= back ? F_FIN_BACK : F_FIN;
      if (tcpFlags & 4) this.flags[e] |= F_RST;
      if ((before & (F_FIN | F_FIN_BACK | F_RST)) === 0 && (this.flags[e] & (F_FIN | F_FIN_BACK | F_RST)) !== 0) {
        this.#closing[this.#closingCount] = e;
        this.#closingSeq[this.#closingCount++] = this.seq[e];
      }
    }
    if (!this.#dirty[e]) {
      this.#dirty[e] = 1;
      this.#dirtyList[this.#dirtyCount++] = e;
    }
  }

  /** A packet of entry `e` was dropped for registry reason `reason` (segments of it). */
  countDrop(e: number, reason: number, segments: number): void {
    if (e < 0 || !this.used[e]) return;
    this.drops[e * DROP_COUNT + reason] += segments;
    if (!this.#dirty[e]) {
      this.#dirty[e] = 1;
      this.#dirtyList[this.#dirtyCount++] = e;
    }
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
    for (let i = 0; i < this.#dirtyCount; i++) {
      const e = this.#dirtyList[i];
      this.#dirty[e] = 0;
      if (this.used[e]) out.push(this.#record(e));
    }
    this.#dirtyCount = 0;
    return out;
  }

  /** Calls `fn` with every live entry (for remapping after a table change). */
  forEach(fn: (e: number) => void): void {
    for (let e = this.#head; e >= 0; ) {
      const next = this.#next[e];
      fn(e);
      e = next;
    }
  }

  /**
   * Renames nodes after the tables changed: `nodeMap[old] ` is the new id, or
   * -1 when the node is gone (its conversations end as evicted). Every path
   * becomes PATH_UNSET, to be chosen again under the new tables.
   */
  remapNodes(nodeMap: Int32Array): void {
    this.#index.fill(-1);
    const gone: number[] = [];
    this.forEach((e) => {
      const s = this.src[e] < nodeMap.length ? nodeMap[this.src[e]] : -1;
      const d = this.dst[e] < nodeMap.length ? nodeMap[this.dst[e]] : -1;
      this.path[e] = PATH_UNSET;
      this.pathBack[e] = PATH_UNSET;
      if (s < 0 || d < 0) {
        gone.push(e);
        return;
      }
      this.src[e] = s;
      this.dst[e] = d;
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
    let i = this.#hash(src, dst, proto, ports);
    for (;;) {
      const e = this.#index[i];
      if (e < 0) return -1;
      if (this.src[e] === src && this.dst[e] === dst && this.ports[e] === ports && this.proto[e] === proto) return e;
      i = (i + 1) & this.#mask;
    }
  }

  #insert(e: number): void {
    let i = this.#hash(this.src[e], this.dst[e], this.proto[e], this.ports[e]);
    while (this.#index[i] >= 0) i = (i + 1) & this.#mask;
    this.#index[i] = e;
  }

  /** Removes `e` from the index, shifting back the entries its probe run displaced. */
  #unindex(e: number): void {
    let i = this.#hash(this.src[e], this.dst[e], this.proto[e], this.ports[e]);
    while (this.#index[i] !== e) {
      if (this.#index[i] < 0) return;
      i = (i + 1) & this.#mask;
    }
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & this.#mask;
      const f = this.#index[j];
      if (f < 0) break;
      const home = this.#hash(this.src[f], this.dst[f], this.proto[f], this.ports[f]);
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
    if (this.#freeCount === 0) {
      if (this.#head < 0) return -1;
      this.evicted++;
      this.#end(this.#head, "evicted", true);
    }
    const e = this.#free[--this.#freeCount];
    this.used[e] = 1;
    this.src[e] = src;
    this.dst[e] = dst;
    this.proto[e] = proto;
    this.ports[e] = ports;
    this.path[e] = PATH_UNSET;
    this.pathBack[e] = PATH_UNSET;
    this.first[e] = now;
    this.last[e] = now;
    this.packets[e] = 0;
    this.bytes[e] = 0;
    this.payload[e] = 0;
    this.packetsBack[e] = 0;
    this.bytesBack[e] = 0;
    this.payloadBack[e] = 0;
    this.flags[e] = 0;
    this.drops.fill(0, e * DROP_COUNT, (e + 1) * DROP_COUNT);
    this.seq[e] = this.#nextSeq++;
    this.started++;
    this.#insert(e);
    // newest at the tail
    this.#prev[e] = this.#tail;
    this.#next[e] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = e;
    else this.#head = e;
    this.#tail = e;
    return e;
  }

  #touch(e: number, now: number): void {
    this.last[e] = now;
    if (this.#tail === e) return;
    // unlink, then append at the tail
    const p = this.#prev[e];
    const n = this.#next[e];
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    this.#prev[n] = p;
    this.#prev[e] = this.#tail;
    this.#next[e] = -1;
    this.#next[this.#tail] = e;
    this.#tail = e;
  }

  #end(e: number, reason: EndReason, indexed: boolean): void {
    const r = this.#record(e);
    r.endReason = reason;
    this.#ended.push(r);
    if (indexed) this.#unindex(e);
    const p = this.#prev[e];
    const n = this.#next[e];
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
    this.used[e] = 0;
    this.#free[this.#freeCount++] = e;
    this.ended++;
  }

  #expire(now: number): void {
    // closed TCP conversations, once quiet; the list keeps those still lingering
    let kept = 0;
    for (let i = 0; i < this.#closingCount; i++) {
      const e = this.#closing[i];
      const seq = this.#closingSeq[i];
      if (!this.used[e] || this.seq[e] !== seq) continue;
      if (now - this.last[e] >= LINGER_NS) {
        // a close that began with a FIN is a fin, even when a RST follows (a peer closing with data unread)
        this.#end(e, this.flags[e] & (F_FIN | F_FIN_BACK) ? "fin" : "rst", true);
      } else {
        this.#closing[kept] = e;
        this.#closingSeq[kept++] = seq;
      }
    }
    this.#closingCount = kept;
    // the LRU list runs from the least recently active: stop at the first that is not idle
    while (this.#head >= 0 && now - this.last[this.#head] >= this.idleNs) this.#end(this.#head, "idle", true);
  }

  #record(e: number): ConversationRecord {
    const drops: [number, number][] = [];
    for (let r = 0; r < DROP_COUNT; r++) {
      const n = this.drops[e * DROP_COUNT + r];
      if (n > 0) drops.push([r, n]);
    }
    const ports = this.ports[e];
    return {
      seq: this.seq[e],
      src: this.src[e],
      dst: this.dst[e],
      proto: this.proto[e],
      srcPort: ports >>> 16,
      dstPort: ports & 0xffff,
      path: this.path[e],
      pathBack: this.pathBack[e],
      first: this.first[e],
      last: this.last[e],
      packets: this.packets[e],
      bytes: this.bytes[e],
      payload: this.payload[e],
      packetsBack: this.packetsBack[e],
      bytesBack: this.bytesBack[e],
      payloadBack: this.payloadBack[e],
      syn: (this.flags[e] & F_SYN) !== 0,
      drops,
    };
  }
}
