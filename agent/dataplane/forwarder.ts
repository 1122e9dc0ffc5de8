/**
 * Per-packet forwarding: classify a packet read from a node (ingress) into its
 * conversation (conversations.ts), give each new conversation direction one
 * path of its pair's route set (a pin, else smooth weighted round robin over
 * the set's members: exact in counts, see docs/routing.md) or the next-hop
 * table, pass it hop by hop through each link direction's shaper, and hand it
 * to the destination node (egress). Direction words: ingress = read from a
 * node's interface into the dataplane; egress = written from the dataplane to
 * a node's interface.
 *
 * Routing changes in place (setRouting): conversations keep their path when it
 * still exists and choose again at their next packet when it does not; queued
 * packets keep their position in the route, which is checked against the new
 * tables as they move on (a stale one continues by next hops).
 *
 * Hot path: no allocation, no closures, no promises per packet. Every drop has a
 * reason name and a counter.
 *
 * Captures (agent/dataplane/captures.ts) hook in at three points, each one
 * typed-array lookup when nothing is captured: a node's packets as they enter
 * (ingress) and as they are delivered to it, and a link direction's packets as
 * they come out of it (#arrive: after its shaper on the sending host, or off
 * the transport on the receiving host). A link is captured on the host of its
 * `a` end, which sees both directions: a->b leaving its shaper there, b->a
 * arriving there from b's host (or leaving its shaper, when both ends share
 * the host). Packets are written as they travel: TSO super-packets whole (one
 * large IP packet, as tcpdump shows them on a sending host with offload).
 */
import type { Shaping } from "../../protocol/state.ts";
import { flowKey, type DataplaneTables, type FlowClasses } from "./tables.ts";
import { PIN_INTS, type RoutingTables } from "./route-sets.ts";
import { ConversationTable, PATH_NEXT_HOP, PATH_UNSET } from "./conversations.ts";
import { DROP_COUNT, dropIndex } from "./drops.ts";
import { PacketPool, SMALL_SLOT } from "./pool.ts";
import { LinkShaper, DROP_LINK_DOWN, DROP_NONE, DROP_QUEUE_FULL } from "./shaper.ts";
import { segmentCount, splitSegments, trimSegments, wireBytes, VNET_HDR_LEN } from "./vnet.ts";
import type { PcapWriter } from "./pcap.ts";
import { WeightedQueues } from "./weighted.ts";

/** Where released packets go: writes the slot's packet to the node and frees the slot. */
export interface Egress {
  emit(node: number, slot: number): void;
  /**
   * Hands the packet to the agent of host `peer` (an index into the tables' peers)
   * over the namespace's transport, with its position as namespace-local indices,
   * and frees the slot.
   */
  toPeer(transport: number, peer: number, slot: number, ns: number, dir: number, dst: number, route: number): void;
}

/** Per-packet capture lookups: a writer index per node and per link direction, -1 when not captured. */
export interface CaptureHooks {
  writers: PcapWriter[];
  node: Int32Array;
  dir: Int32Array;
}

const D_NOT_IPV4 = dropIndex("not_ipv4");
const D_NO_NODE = dropIndex("no_node");
const D_NO_ROUTE = dropIndex("no_route");
const D_LOSS = dropIndex("loss");
const D_QUEUE = dropIndex("queue");
const D_LINK_DOWN = dropIndex("link_down");
export const D_POOL = dropIndex("pool");
export const D_EGRESS = dropIndex("egress");
const D_NO_HOST = dropIndex("no_host");
const D_BAD_FRAME = dropIndex("bad_frame");

// a super-packet holds at most 64 KB; a hostile gso_size of 1 could claim that many segments
const MAX_SEGMENTS = 65536;
// A super-packet whose transmission would take longer than this is split into its
// segments, so that on slow links segments leave spaced at the link's rate (as a
// real bottleneck spaces them) instead of in one burst when the last one is done.
const MAX_BURST_NS = 1_000_000;

/**
 * Smooth weighted round robin over entries first..end-1 that are `live`:
 * each live entry's credit grows by its weight (1 without `weights`), the one
 * with the most is chosen and its credit drops by the sum. After N choices
 * each entry has N * w / sum(w) within one. -1 when none is live.
 */
function roundRobin(first: number, end: number, live: Uint8Array, weights: Float64Array | undefined, credit: Float64Array): number {
  let total = 0;
  let best = -1;
  for (let i = first; i < end; i++) {
    if (!live[i]) continue;
    const w = weights ? weights[i] : 1;
    credit[i] += w;
    total += w;
    if (best < 0 || credit[i] > credit[best]) best = i;
  }
  if (best >= 0) credit[best] -= total;
  return best;
}

export class Forwarder {
  /** drops by registry index (drops.ts) */
  readonly drops = new Float64Array(DROP_COUNT);
  readonly ingressPackets: Float64Array;
  readonly egressPackets: Float64Array;
  readonly shapers: LinkShaper[];
  #ipToNode: Map<number, number>[] = [];
  #nsById = new Map<number, number>();
  #active: Int32Array;
  #isActive: Uint8Array;
  #activeCount = 0;
  #mask = new Uint8Array(MAX_SEGMENTS);
  #split = new Int32Array(MAX_SEGMENTS);
  // per-slot forwarding state: destination node id and position in routeHops (-1: next-hop mode)
  #dst: Int32Array;
  #route: Int32Array;
  /** where the IP header starts in a slot: after the virtio header when the agent uses offload */
  #off: number;
  #capWriters: PcapWriter[] = [];
  #capNode: Int32Array;
  #capDir: Int32Array;
  /** the pool's memory as a Buffer (a view made once), for Buffer#copy into capture buffers */
  #mem: Buffer;
  /** weighted sharing in front of the transmitters of directions that have it */
  #wq: WeightedQueues;
  /** per slot: when it was queued in a weighted class (its transmission cannot start earlier) */
  #arrival: Float64Array;
  #r: RoutingTables;
  #conv: Int32Array;
  /** smooth weighted round robin state: per member, and per path of members with several */
  #memberCur: Float64Array;
  #pathCur: Float64Array;

  constructor(
    readonly tables: DataplaneTables,
    readonly pool: PacketPool,
    readonly egress: Egress,
    seed: number,
    readonly conversations: ConversationTable = new ConversationTable(),
  ) {
    const t = tables;
    this.#r = t.routing;
    this.#conv = pool.conv;
    this.#memberCur = new Float64Array(t.routing.memberWeight.length);
    this.#pathCur = new Float64Array(t.routing.pathStart.length);
    this.shapers = t.dirShaping.map((s, d) => new LinkShaper(s, (seed + d * 7919) >>> 0));
    this.#active = new Int32Array(Math.max(1, t.dirKeys.length));
    this.#isActive = new Uint8Array(Math.max(1, t.dirKeys.length));
    this.ingressPackets = new Float64Array(t.nodeKeys.length);
    this.egressPackets = new Float64Array(t.nodeKeys.length);
    for (let k = 0; k < t.nsNames.length; k++) this.#ipToNode.push(new Map());
    for (let g = 0; g < t.nodeKeys.length; g++) this.#ipToNode[t.nodeNs[g]].set(t.nodeIp[g], g);
    t.nsId.forEach((id, k) => this.#nsById.set(id, k));
    this.#off = tables.vnet ? VNET_HDR_LEN : 0;
    this.#dst = pool.dst;
    this.#route = pool.route;
    this.#capNode = new Int32Array(t.nodeKeys.length).fill(-1);
    this.#capDir = new Int32Array(t.dirKeys.length).fill(-1);
    this.#mem = Buffer.from(pool.mem.buffer, pool.mem.byteOffset, pool.mem.byteLength);
    this.#wq = new WeightedQueues(pool.len.length, t.dirClassWeights);
    this.#arrival = new Float64Array(t.dirClassWeights.some((w) => w !== undefined) ? pool.len.length : 0);
  }

  /** Which nodes and directions are captured, into which writers (sized for these tables). */
  setCaptures(hooks: CaptureHooks): void {
    if (hooks.node.length !== this.tables.nodeKeys.length || hooks.dir.length !== this.tables.dirKeys.length) {
      throw new RangeError("capture hooks were bound to other tables");
    }
    this.#capWriters = hooks.writers;
    this.#capNode = hooks.node;
    this.#capDir = hooks.dir;
  }

  /** A packet read from node `src`'s interface, in `slot` (with a virtio header when the node has one). */
  ingress(now: number, src: number, slot: number): void {
    const t = this.tables;
    const r = this.#r;
    this.ingressPackets[src]++;
    this.#conv[slot] = -1;
    const cap = this.#capNode[src];
    if (cap >= 0) this.#capture(cap, slot, now);
    const buf = this.pool.view(slot);
    const off = this.#off;
    const len = this.pool.len[slot];
    if (len < off + 20 || buf[off] >> 4 !== 4) return this.#drop(slot, D_NOT_IPV4);
    const dstIp = ((buf[off + 16] << 24) | (buf[off + 17] << 16) | (buf[off + 18] << 8) | buf[off + 19]) >>> 0;
    const ns = t.nodeNs[src];
    const dst = this.#ipToNode[ns].get(dstIp);
    if (dst === undefined || dst === src) return this.#drop(slot, D_NO_NODE);
    const base = t.nsBase[ns];
    const cell = (src - base) * t.nsSize[ns] + (dst - base);

    // the conversation: TCP/UDP ports, ICMP echo identifier (in both halves, so a reply matches reversed)
    const proto = buf[off + 9];
    const l4 = off + (buf[off] & 15) * 4;
    const fragment = ((buf[off + 6] & 0x1f) << 8) | buf[off + 7];
    let ports = 0;
    let tcpFlags = 0;
    let seq = -1;
    let payload = len - l4;
    if (fragment === 0) {
      if ((proto === 6 || proto === 17) && len >= l4 + 8) {
        ports = ((buf[l4] << 24) | (buf[l4 + 1] << 16) | (buf[l4 + 2] << 8) | buf[l4 + 3]) >>> 0;
        if (proto === 17) payload -= 8;
        else if (len >= l4 + 20) {
          tcpFlags = buf[l4 + 13] & 7;
          payload -= (buf[l4 + 12] >> 4) * 4;
          seq = ((buf[l4 + 4] << 24) | (buf[l4 + 5] << 16) | (buf[l4 + 6] << 8) | buf[l4 + 7]) >>> 0;
        }
      } else if (proto === 1 && len >= l4 + 8 && (buf[l4] === 8 || buf[l4] === 0)) {
        const id = (buf[l4 + 4] << 8) | buf[l4 + 5];
        ports = ((id << 16) | id) >>> 0;
        payload -= 8;
      }
    }
    const nseg = off ? segmentCount(buf, len) : 1;
    const cv = this.conversations;
    const e = cv.lookup(src, dst, proto, ports, now);
    let path: number;
    if (e >= 0) {
      this.#conv[slot] = e;
      const back = cv.reverse;
      cv.count(e, back, nseg, off ? wireBytes(buf, len) : len, payload < 0 ? 0 : payload, tcpFlags, seq);
      path = cv.pathOf(e, back);
      if (path === PATH_UNSET) {
        path = this.#choose(ns, cell, src, dst, proto, ports);
        cv.setPath(e, back, path);
      }
    } else {
      path = this.#choose(ns, cell, src, dst, proto, ports);
    }
    let dir: number;
    if (path >= 0) {
      const start = r.pathStart[path];
      this.#route[slot] = start;
      dir = r.routeHops[start];
    } else {
      this.#route[slot] = -1;
      dir = r.nextDir[ns][cell];
    }
    if (dir < 0) return this.#drop(slot, D_NO_ROUTE);
    this.#dst[slot] = dst;
    this.#toLink(now, slot, dir, nseg);
  }

  /**
   * The path a new conversation direction takes: the first pin that matches
   * it, else its pair's route set by smooth weighted round robin (each pick
   * adds every live member's weight to its credit and takes the member with
   * the most, less the total: after N picks each member has N * w / sum(w)
   * within one); PATH_NEXT_HOP when the pair has no set or none of it is live.
   */
  #choose(ns: number, cell: number, src: number, dst: number, proto: number, ports: number): number {
    const r = this.#r;
    const set = r.pairSet[ns][cell];
    if (set < 0) return PATH_NEXT_HOP;
    const pins = r.pins[ns];
    for (let i = 0; i < pins.length; i += PIN_INTS) {
      if (pins[i] !== src || pins[i + 1] !== dst) continue;
      if (pins[i + 2] >= 0 && pins[i + 2] !== proto) continue;
      if (pins[i + 3] >= 0 && pins[i + 3] !== ports >>> 16) continue;
      if (pins[i + 4] >= 0 && pins[i + 4] !== (ports & 0xffff)) continue;
      const p = this.#pickPath(pins[i + 5]);
      if (p >= 0) return p;
    }
    const m = roundRobin(r.setFirst[set], r.setFirst[set] + r.setCount[set], r.memberLive, r.memberWeight, this.#memberCur);
    return m < 0 ? PATH_NEXT_HOP : this.#pickPath(m);
  }

  /** One live path of member `m` (equal shares among a DAG route's paths), or -1. */
  #pickPath(m: number): number {
    const r = this.#r;
    const first = r.memberFirst[m];
    const count = r.memberCount[m];
    if (count === 1) return r.pathLive[first] ? first : -1;
    return roundRobin(first, first + count, r.pathLive, undefined, this.#pathCur);
  }

  /**
   * New routing (routes, weights, pins, link state): conversations whose path
   * still exists (same route, same directions) and is live keep it; the others
   * choose again at their next packet. Queued packets are left where they are.
   */
  setRouting(routing: RoutingTables): void {
    const old = this.#r;
    const t = this.tables;
    this.#r = routing;
    t.routing = routing;
    this.#memberCur = new Float64Array(routing.memberWeight.length);
    this.#pathCur = new Float64Array(routing.pathStart.length);
    const byKey = new Map<string, number>();
    routing.pathKey.forEach((key, p) => byKey.set(key, p));
    const cv = this.conversations;
    const remap = (p: number, from: number, to: number): number => {
      if (p >= 0) {
        const q = byKey.get(old.pathKey[p]);
        return q !== undefined && routing.pathLive[q] ? q : PATH_UNSET;
      }
      if (p === PATH_NEXT_HOP) {
        // a pair that gained a route set spreads its conversations over it
        const ns = t.nodeNs[from];
        const base = t.nsBase[ns];
        return routing.pairSet[ns][(from - base) * t.nsSize[ns] + (to - base)] >= 0 ? PATH_UNSET : PATH_NEXT_HOP;
      }
      return p;
    };
    cv.forEach((e) => {
      cv.setPath(e, false, remap(cv.pathOf(e, false), cv.srcOf(e), cv.dstOf(e)));
      cv.setPath(e, true, remap(cv.pathOf(e, true), cv.dstOf(e), cv.srcOf(e)));
    });
  }

  /**
   * A packet from another agent that has just crossed direction `dir` (indices
   * local to the namespace with frame id `nsId`): continue its route here.
   */
  fromPeer(now: number, slot: number, nsId: number, dir: number, dst: number, route: number): void {
    const t = this.tables;
    const k = this.#nsById.get(nsId);
    if (k === undefined) return this.#drop(slot, D_BAD_FRAME);
    const dirEnd = k + 1 < t.nsDirBase.length ? t.nsDirBase[k + 1] : t.dirKeys.length;
    const d = t.nsDirBase[k] + dir;
    const g = t.nsBase[k] + dst;
    // what arrives must be for this host: a disagreement on the state is dropped, not forwarded blindly
    if (d >= dirEnd || dst >= t.nsSize[k] || t.nodeHost[t.dirTo[d]] !== -1) return this.#drop(slot, D_BAD_FRAME);
    this.#dst[slot] = g;
    this.#conv[slot] = -1;
    // checked against this agent's tables as it moves on (#arrive)
    this.#route[slot] = route < 0 ? -1 : this.#r.nsRouteBase[k] + route;
    this.#arrive(now, slot, d);
  }

  /** Releases every packet whose time has come, on every link direction. */
  releaseDue(now: number): void {
    let i = 0;
    while (i < this.#activeCount) {
      const dir = this.#active[i];
      if (this.#wq.isWeighted(dir)) this.#feed(now, dir);
      this.#drain(now, dir);
      if (this.shapers[dir].nextDeadline() === Infinity && this.#wq.backlog(dir) === 0) {
        // swap-remove keeps the active list dense
        this.#isActive[dir] = 0;
        this.#active[i] = this.#active[--this.#activeCount];
      } else {
        i++;
      }
    }
  }

  /** The earliest time any held packet is due, or Infinity. */
  nextDeadline(): number {
    let min = Infinity;
    for (let i = 0; i < this.#activeCount; i++) {
      const dir = this.#active[i];
      const shaper = this.shapers[dir];
      const d = shaper.nextDeadline();
      if (d < min) min = d;
      // a weighted direction's next packet goes when its transmitter is free
      if (this.#wq.backlog(dir) > 0 && shaper.busyUntil < min) min = shaper.busyUntil;
    }
    return min;
  }

  /**
   * New flow classes and pinned routes (flows came or ended): packets waiting
   * in the old classes move to the new ones, in the order the old scheduler
   * would have sent them; on directions no longer weighted they go straight
   * to the transmitter.
   */
  setClasses(now: number, classes: FlowClasses): void {
    const { dirClassWeights } = classes;
    const t = this.tables;
    t.dirClassWeights = dirClassWeights;
    t.flowClass = classes.flowClass;
    const old = this.#wq;
    this.#wq = new WeightedQueues(this.pool.len.length, dirClassWeights);
    if (this.#arrival.length === 0 && dirClassWeights.some((w) => w !== undefined)) this.#arrival = new Float64Array(this.pool.len.length);
    old.drain((slot, dir, nseg, bytes) => {
      const shaper = this.shapers[dir];
      if (this.#wq.isWeighted(dir)) {
        // no limit: these were accepted already
        this.#wq.push(dir, this.#classOf(slot, dir), slot, nseg, bytes, Infinity, 0);
      } else if (shaper.enqueue(now, slot, nseg, bytes) !== DROP_NONE) {
        this.pool.free(slot);
      }
      this.#markActive(dir);
    });
  }

  reshape(now: number, dir: number, shaping: Shaping): void {
    this.shapers[dir].setShaping(now, shaping);
    this.#markActive(dir);
  }

  /** Frees every held packet (before the tables are replaced). */
  flush(): void {
    this.#wq.drain((slot) => this.pool.free(slot));
    for (const s of this.shapers) {
      let slot: number;
      while ((slot = s.pop(Infinity)) >= 0) this.pool.free(slot);
    }
    this.#activeCount = 0;
    this.#isActive.fill(0);
  }

  /** Offers a packet of `nseg` segments to direction `dir`: link state, loss, then its queue. */
  #toLink(now: number, slot: number, dir: number, nseg: number): void {
    const shaper = this.shapers[dir];
    const buf = this.pool.view(slot);
    if (this.#r.dirDown[dir]) {
      shaper.countDrop(DROP_LINK_DOWN, nseg);
      return this.#dropSegments(slot, D_LINK_DOWN, nseg);
    }
    const lost = shaper.drawLoss(nseg, this.#mask);
    if (lost === 0) {
      if (nseg === 1 || shaper.nsPerByte * wireBytes(buf, this.pool.len[slot]) <= MAX_BURST_NS) {
        return this.#enqueue(now, slot, dir, nseg);
      }
    } else {
      this.drops[D_LOSS] += lost;
      this.conversations.countDrop(this.#conv[slot], D_LOSS, lost);
      if (lost >= nseg) {
        this.pool.free(slot);
        return;
      }
    }
    // lost segments, or a burst too long for the link: the rest travel on as single segments;
    // splitSegments carries the forwarding state (dst, route) to every segment it writes
    const n = splitSegments(this.pool, slot, this.#mask, this.#split);
    // segments it could not write for want of pool slots are drops too
    if (n < nseg - lost) {
      this.drops[D_POOL] += nseg - lost - n;
      this.conversations.countDrop(this.#conv[slot], D_POOL, nseg - lost - n);
    }
    for (let i = 0; i < n; i++) this.#enqueue(now, this.#split[i], dir, 1);
  }

  #enqueue(now: number, slot: number, dir: number, nseg: number): void {
    if (this.#wq.isWeighted(dir)) return this.#enqueueWeighted(now, slot, dir, nseg);
    const shaper = this.shapers[dir];
    const room = shaper.room(now);
    if (room < nseg) {
      if (room <= 0) {
        shaper.countDrop(DROP_QUEUE_FULL, nseg);
        return this.#dropSegments(slot, D_QUEUE, nseg);
      }
      // tail drop of the segments that do not fit, as a kernel queue would
      this.pool.len[slot] = trimSegments(this.pool.view(slot), this.pool.len[slot], room);
      this.drops[D_QUEUE] += nseg - room;
      this.conversations.countDrop(this.#conv[slot], D_QUEUE, nseg - room);
      shaper.countDrop(DROP_QUEUE_FULL, nseg - room);
      nseg = room;
    }
    // small packets held in a queue or delay line should not pin a 64 KB slot each
    if (this.pool.len[slot] <= SMALL_SLOT) slot = this.pool.shrink(slot);
    const bytes = this.#off ? wireBytes(this.pool.view(slot), this.pool.len[slot]) : this.pool.len[slot];
    shaper.enqueue(now, slot, nseg, bytes);
    this.#markActive(dir);
    this.#drain(now, dir);
  }

  /** Into its flow's class of a weighted direction; the transmitter takes it by deficit round robin (#feed). */
  #enqueueWeighted(now: number, slot: number, dir: number, nseg: number): void {
    const shaper = this.shapers[dir];
    if (this.pool.len[slot] <= SMALL_SLOT) slot = this.pool.shrink(slot);
    const buf = this.pool.view(slot);
    const len = this.pool.len[slot];
    const bytes = this.#off ? wireBytes(buf, len) : len;
    const dropped = this.#wq.push(dir, this.#classOf(slot, dir), slot, nseg, bytes, shaper.limit, shaper.occupancy(now));
    if (dropped >= 0) {
      const n = dropped === slot ? nseg : this.#wq.segmentsOf(dropped);
      this.drops[D_QUEUE] += n;
      this.conversations.countDrop(this.#conv[dropped], D_QUEUE, n);
      shaper.countDrop(DROP_QUEUE_FULL, n);
      this.pool.free(dropped);
      if (dropped === slot) return;
    }
    this.#arrival[slot] = now;
    this.#markActive(dir);
    this.#feed(now, dir);
    this.#drain(now, dir);
  }

  /** Hands a weighted direction's transmitter its next packets, each from when the one before is done. */
  #feed(now: number, dir: number): void {
    const shaper = this.shapers[dir];
    while (this.#wq.backlog(dir) > 0 && shaper.busyUntil <= now) {
      const slot = this.#wq.pop(dir);
      const at = shaper.busyUntil > this.#arrival[slot] ? shaper.busyUntil : this.#arrival[slot];
      if (shaper.enqueue(at, slot, this.#wq.segmentsOf(slot), this.#wq.bytesOf(slot)) !== DROP_NONE) this.pool.free(slot);
    }
  }

  /** A packet's class on a weighted direction: its flow's; 0 for the rest. */
  #classOf(slot: number, dir: number): number {
    const t = this.tables;
    return t.flowClass[t.nodeNs[t.dirTo[dir]]].get(this.#flowKey(slot, this.#dst[slot])) ?? 0;
  }

  /** The packet's flowKey (tables.ts) toward node `dst` by its TCP destination port; -1 when it is not TCP or too short. */
  #flowKey(slot: number, dst: number): number {
    const buf = this.pool.view(slot);
    const off = this.#off;
    if (buf[off + 9] !== 6) return -1;
    const l4 = off + (buf[off] & 15) * 4;
    if (this.pool.len[slot] < l4 + 4) return -1;
    return flowKey(dst, (buf[l4 + 2] << 8) | buf[l4 + 3]);
  }

  #drain(now: number, dir: number): void {
    const shaper = this.shapers[dir];
    let slot: number;
    while ((slot = shaper.pop(now)) >= 0) this.#arrive(now, slot, dir);
  }

  #arrive(now: number, slot: number, dir: number): void {
    const t = this.tables;
    const cap = this.#capDir[dir];
    if (cap >= 0) this.#capture(cap, slot, now);
    const node = t.dirTo[dir];
    const dst = this.#dst[slot];
    const host = t.nodeHost[node];
    if (host !== -1) {
      // the next node lives on another host: its agent continues the route
      if (host < 0) return this.#drop(slot, D_NO_HOST);
      const k = t.nodeNs[node];
      const r = this.#route[slot];
      this.egress.toPeer(t.peerTransport[k * t.peers.length + host], host, slot, t.nsId[k], dir - t.nsDirBase[k], dst - t.nsBase[k], r < 0 ? -1 : r - this.#r.nsRouteBase[k]);
      return;
    }
    if (node === dst) {
      this.egressPackets[dst]++;
      const capDst = this.#capNode[dst];
      if (capDst >= 0) this.#capture(capDst, slot, now);
      this.egress.emit(dst, slot);
      return;
    }
    let next: number;
    const r = this.#route[slot];
    const rt = this.#r;
    const hops = rt.routeHops;
    // a position from before a routing change (or from a peer) holds only if it is still this hop of a path to dst
    if (r >= 0 && r + 1 < hops.length && hops[r] === dir && rt.hopDst[r] === dst) {
      this.#route[slot] = r + 1;
      next = hops[r + 1];
    } else {
      this.#route[slot] = -1;
      const ns = t.nodeNs[node];
      const base = t.nsBase[ns];
      next = rt.nextDir[ns][(node - base) * t.nsSize[ns] + (dst - base)];
    }
    if (next < 0) return this.#drop(slot, D_NO_ROUTE);
    this.#toLink(now, slot, next, this.#off ? segmentCount(this.pool.view(slot), this.pool.len[slot]) : 1);
  }

  /** Copies the slot's IP packet (without its virtio header) into capture `cap`'s buffer. */
  #capture(cap: number, slot: number, now: number): void {
    const off = this.#off;
    const len = this.pool.len[slot] - off;
    if (len > 0) this.#capWriters[cap].record(this.#mem, this.pool.offset[slot] + off, len, now);
  }

  #markActive(dir: number): void {
    if (this.#isActive[dir]) return;
    this.#isActive[dir] = 1;
    this.#active[this.#activeCount++] = dir;
  }


  #drop(slot: number, reason: number): void {
    this.#dropSegments(slot, reason, 1);
  }

  #dropSegments(slot: number, reason: number, nseg: number): void {
    this.drops[reason] += nseg;
    this.conversations.countDrop(this.#conv[slot], reason, nseg);
    this.pool.free(slot);
  }
}
