/**
 * The dataplane thread. One loop waits with ppoll on every node's TUN, the wake
 * eventfd and the transport sockets (nanosecond timeout = the next shaper
 * deadline), reads packets with non-blocking FFI reads into pool slots,
 * forwards them, and writes released packets to their destination TUN or
 * peer agent. It returns to the event loop every couple of milliseconds (or at
 * once when the main thread rings the wake eventfd) so that table and shaping
 * updates arrive between batches, never in the middle of one.
 */
import { ptr } from "bun:ffi";
import { sys, errno, EAGAIN, EINTR, POLLIN, strerror } from "../sys/libc.ts";
import { Forwarder, D_EGRESS, D_POOL, type Egress } from "./forwarder.ts";
import { ConversationTable } from "./conversations.ts";
import { conversationReports } from "./conversation-report.ts";
import { dropIndex } from "./drops.ts";
import { PacketPool, LARGE_SLOT, SMALL_SLOT } from "./pool.ts";
import { TcpTransport, type Conn } from "./transport-tcp.ts";
import { UdpTransport } from "./transport-udp.ts";
import { TRANSPORT_CODES, type DataplaneTables } from "./tables.ts";
import { PROBE_LEN, PROBE_NS, TransportLatency } from "./latency.ts";
import type { Shaping } from "../../protocol/state.ts";
import { FRAME_HEADER, KIND_PACKET, writeHeader, type FrameSink } from "./frame.ts";
import { RingReader, RingWriter } from "./ring.ts";
import { CaptureSet } from "./captures.ts";
import type { FromWorker, ToWorker, DirectionCounters } from "./messages.ts";
import { FlowEngine } from "../flows/engine.ts";

declare const self: Worker;

const READ_BATCH = 64;
const SLICE_NS = 2_000_000;
const MAX_WAIT_NS = 100_000_000;
// counters go to the agent and on to the controller this often: link rates over the last half second follow a change within one
const REPORT_NS = 500_000_000;
// conversations are reported once a second: their samples are per second
const CONVERSATION_REPORT_NS = 1_000_000_000;
const PR_SET_TIMERSLACK = 29;
// captures write what they buffered this often; ppoll waits at most MAX_WAIT_NS, so records reach the file within 200 ms
const CAPTURE_FLUSH_NS = 100_000_000;

// what each entry of the poll array is
const K_WAKE = 0;
const K_TUN = 1;
const K_LISTEN = 2;
const K_CONN = 3;
const K_UDP = 4;
const K_QUIC = 5;
// packets taken from the userspace stacks per loop, so their traffic cannot starve the TUNs
const STACK_BATCH = 256;
// records taken from the quic worker's ring per loop, so a flood cannot starve the TUNs
const QUIC_BATCH = 256;
// how long a quic wake-up waits for its frame: the quic worker rings before it decrypts (~0.1 ms on an idle machine)
const QUIC_LEAD_NS = 300_000;
// ppoll's timeout fires late by what waking an idle core costs: ~20 us after 0.1 ms
// asleep, ~80 us (up to ~170) after 10 ms on this machine's VM. A delayed packet
// would leave that late on every link, so the worker wakes early by about that
// much and spins out the rest; the lead grows with the sleep, like the lateness.
const TIMER_LEAD_MIN_NS = 30_000;
const TIMER_LEAD_MAX_NS = 200_000;

/** How early to wake for a deadline `wait` ns away (the rest is spun). */
function timerLead(wait: number): number {
  const lead = TIMER_LEAD_MIN_NS + wait / 50;
  return lead > TIMER_LEAD_MAX_NS ? TIMER_LEAD_MAX_NS : lead;
}

let pool: PacketPool | undefined;
let fwd: Forwarder | undefined;
// the userspace nodes' TCP stacks and flows (created at init)
let engine: FlowEngine | undefined;
let conversations = new ConversationTable(1);
let nextConversationReport = 0;
let lastLive = -1;
let tcp: TcpTransport | undefined;
let udp: UdpTransport | undefined;
// the quic transport runs in its own worker; frames cross through shared rings
let quicOut: RingWriter | undefined;
let quicIn: RingReader | undefined;
let quicWakeFd = -1;
const quicHdr = new Uint8Array(4 + FRAME_HEADER);
const quicHdrView = new DataView(quicHdr.buffer);
const quicDrops = { backlog: 0 };
let wakeFd = -1;
let seed = 1;
let stopped = false;
let scheduled = false;
let nextReport = 0;
const captures = new CaptureSet();
let nextCaptureFlush = 0;

// ppoll's array: struct pollfd { int fd; short events; short revents; }
let pollBuf = new Uint8Array(8);
let pollI32 = new Int32Array(pollBuf.buffer);
let pollI16 = new Int16Array(pollBuf.buffer);
let pollKind = new Uint8Array(1);
// K_TUN: the node id
let pollRef = new Int32Array(1);
// K_CONN: the connection, kept with the array so a wake-up needs no lookup or copy
let pollConn: (Conn | undefined)[] = [];
let nfds = 0;
let pollVersion = -1;
let pollTables: DataplaneTables | undefined;
const timespec = new Uint8Array(16);
const tsI32 = new Int32Array(timespec.buffer);
const wakeBuf = new Uint8Array(8);
// per node: a pre-allocated large slot, the destination of its TUN's next read
let readSlot = new Int32Array(0);
// per node: 1 once its TUN failed (its device was removed under us); it is no longer polled
let deadTun = new Uint8Array(0);
// raw address of the pool's memory: a slot's address is this plus its offset
let memAddr = 0;

const egress: Egress = {
  emit(node: number, slot: number): void {
    const p = pool!;
    const fd = fwd!.tables.nodeFd[node];
    if (fd >= 0) {
      const r = sys.write(fd, addrOf(slot), p.len[slot]) as number;
      if (r < 0) fwd!.drops[D_EGRESS]++;
    } else if (engine!.deliver(node, slot)) {
      // the node's stack took it (and freed the slot)
      return;
    } else {
      fwd!.drops[D_EGRESS]++;
    }
    p.free(slot);
  },
  toPeer(transport: number, peer: number, slot: number, ns: number, dir: number, dst: number, route: number): void {
    if (transport === TRANSPORT_CODES.tcp && tcp) {
      tcp.send(peer, slot, ns, dir, dst, route, Bun.nanoseconds());
    } else if (transport === TRANSPORT_CODES.udp && udp) {
      udp.send(peer, slot, ns, dir, dst, route);
    } else if (transport === TRANSPORT_CODES.quic && quicOut) {
      const p = pool!;
      const len = p.len[slot];
      quicHdrView.setUint32(0, peer, true);
      writeHeader(quicHdrView, 4, KIND_PACKET, len, ns, dir, dst, route);
      // the ring keeps its own copy, so the slot is free at once
      if (!quicOut.push(quicHdr, p.mem, p.offset[slot], len)) quicDrops.backlog++;
      p.free(slot);
      if (quicOut.wakeNeeded()) quicOut.notify();
    } else {
      fwd!.drops[D_EGRESS]++;
      pool!.free(slot);
    }
  },
};

// how long frames take to each peer, which cross-host links' delays are shortened by
const latency = new TransportLatency({
  send(transport: number, peer: number, dir: number, fill: (payload: DataView) => void): void {
    const p = pool!;
    const slot = p.alloc(false);
    if (slot < 0) return;
    p.view(slot).fill(0, 0, PROBE_LEN);
    fill(new DataView(p.mem.buffer, p.mem.byteOffset + p.offset[slot], PROBE_LEN));
    p.len[slot] = PROBE_LEN;
    egress.toPeer(transport, peer, slot, PROBE_NS, dir, 0, -1);
  },
  reshape(dir: number, shaping: Shaping): void {
    fwd?.reshape(Bun.nanoseconds(), dir, shaping);
  },
  log(line: string): void {
    post({ type: "error", message: line });
  },
});

function canProbe(transport: number, peer: number): boolean {
  if (transport === TRANSPORT_CODES.tcp) return tcp !== undefined && tcp.connected(peer);
  if (transport === TRANSPORT_CODES.udp) return udp !== undefined;
  return quicOut !== undefined;
}

// packets from peers go to whichever forwarder is current; probes to the latency tracker
const sink: FrameSink = {
  fromPeer(now: number, slot: number, ns: number, dir: number, dst: number, route: number): void {
    if (ns === PROBE_NS) {
      const p = pool!;
      latency.onProbe(now, dir, new DataView(p.mem.buffer, p.mem.byteOffset + p.offset[slot], p.len[slot]));
      p.free(slot);
    } else if (fwd) fwd.fromPeer(now, slot, ns, dir, dst, route);
    else pool!.free(slot);
  },
};

function addrOf(slot: number): number {
  return memAddr + pool!.offset[slot];
}

function setTables(tables: DataplaneTables): void {
  if (fwd) {
    fwd.flush();
    for (let g = 0; g < readSlot.length; g++) if (readSlot[g] >= 0) pool!.free(readSlot[g]);
    // conversations outlive the tables: their nodes get the new ids, and they choose their paths again.
    // Records hold node and path ids, so what they counted so far, and the conversations of removed
    // nodes (ended by the remap), are reported under the tables they were counted under.
    const now = Bun.nanoseconds();
    reportConversations(now);
    const byKey = new Map(tables.nodeKeys.map((k, g) => [k, g]));
    conversations.remapNodes(Int32Array.from(fwd.tables.nodeKeys, (k) => byKey.get(k) ?? -1));
    reportConversations(now);
  }
  fwd = new Forwarder(tables, pool!, egress, seed, conversations);
  latency.setTables(tables);
  fwd.setCaptures(captures.bind(tables.nodeKeys, tables.dirKeys));
  engine!.setTables(tables.nodeKeys);
  readSlot = new Int32Array(tables.nodeKeys.length).fill(-1);
  deadTun = new Uint8Array(tables.nodeKeys.length);
  tcp?.setPeers(tables.me, tables.peers, Bun.nanoseconds());
  udp?.setPeers(tables.peers);
  pollVersion = -1;
}

/** Rebuilds the poll array when descriptors came or went; refreshes each connection's interest. */
function refreshPoll(): void {
  const t = fwd!.tables;
  const version = tcp ? tcp.version : 0;
  if (version !== pollVersion || pollTables !== t) {
    const kinds: number[] = [K_WAKE];
    const refs: number[] = [0];
    const fds: number[] = [wakeFd];
    const conns: (Conn | undefined)[] = [undefined];
    if (tcp) {
      kinds.push(K_LISTEN);
      refs.push(0);
      fds.push(tcp.listenFd);
      conns.push(undefined);
      if (quicIn) {
        kinds.push(K_QUIC);
        refs.push(0);
        fds.push(quicWakeFd);
        conns.push(undefined);
      }
      if (udp) {
        kinds.push(K_UDP);
        refs.push(0);
        fds.push(udp.fd);
        conns.push(undefined);
      }
      for (const c of tcp.conns) {
        kinds.push(K_CONN);
        refs.push(0);
        fds.push(c.fd);
        conns.push(c);
      }
    }
    t.nodeFd.forEach((fd, g) => {
      if (fd >= 0 && !deadTun[g]) {
        kinds.push(K_TUN);
        refs.push(g);
        fds.push(fd);
        conns.push(undefined);
      }
    });
    nfds = fds.length;
    pollBuf = new Uint8Array(8 * nfds);
    pollI32 = new Int32Array(pollBuf.buffer);
    pollI16 = new Int16Array(pollBuf.buffer);
    pollKind = Uint8Array.from(kinds);
    pollRef = Int32Array.from(refs);
    pollConn = conns;
    for (let i = 0; i < nfds; i++) {
      pollI32[2 * i] = fds[i];
      pollI16[4 * i + 2] = POLLIN;
    }
    pollVersion = version;
    pollTables = t;
  }
  if (tcp) {
    for (let i = 0; i < nfds; i++) if (pollKind[i] === K_CONN) pollI16[4 * i + 2] = tcp.events(pollConn[i]!);
  }
}

function readTun(fd: number, node: number, now: number): void {
  const p = pool!;
  for (let k = 0; k < READ_BATCH; k++) {
    let slot = readSlot[node];
    if (slot < 0) {
      slot = p.alloc(true);
      if (slot < 0) {
        // no room: leave packets in the kernel's TUN queue, which drops at its own limit
        fwd!.drops[D_POOL]++;
        return;
      }
      readSlot[node] = slot;
    }
    const n = sys.read(fd, addrOf(slot), LARGE_SLOT) as number;
    if (n <= 0) {
      if (n < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) {
          // report once and stop polling it: a removed device would otherwise wake ppoll forever
          post({ type: "error", message: `node ${fwd!.tables.nodeKeys[node]}: its TUN failed (${strerror(e)}); no longer reading it` });
          deadTun[node] = 1;
          pollVersion = -1;
        }
      }
      return;
    }
    readSlot[node] = -1;
    p.len[slot] = n;
    fwd!.ingress(now, node, slot);
  }
}

/** Waits (spinning, at most QUIC_LEAD_NS) for the frame the quic worker rang about; the time it came. */
function awaitQuic(t: number): number {
  const r = quicIn!;
  if (r.peekLength() >= 0) return t;
  const until = t + QUIC_LEAD_NS;
  let now = t;
  while (r.peekLength() < 0 && now < until) now = Bun.nanoseconds();
  return now;
}

/** Hands on what the quic worker received, a bounded batch at a time. */
function drainQuic(now: number): void {
  const r = quicIn!;
  const p = pool!;
  for (let k = 0; k < QUIC_BATCH; k++) {
    if (r.peekLength() < 0) return;
    const v = r.view;
    const at = r.at;
    const len = v.getUint32(at + 8, true);
    const ns = v.getUint32(at + 12, true);
    const dir = v.getUint32(at + 16, true);
    const dst = v.getUint32(at + 20, true);
    const route = v.getInt32(at + 24, true);
    const slot = p.alloc(len > SMALL_SLOT);
    if (slot < 0) {
      r.release();
      fwd!.drops[D_POOL]++;
      continue;
    }
    r.copyOut(4 + FRAME_HEADER, len, p.mem, p.offset[slot]);
    p.len[slot] = len;
    // the record's space goes back before forwarding, which may push to the out ring
    r.release();
    sink.fromPeer(now, slot, ns, dir, dst, route);
  }
}

function waitAndRead(now: number): boolean {
  const f = fwd!;
  refreshPoll();
  if (quicIn) drainQuic(now);
  let deadline = f.nextDeadline();
  // the tcp transport's next redial (a refused or lost connection to a peer this agent calls)
  if (tcp && tcp.nextDialAt < deadline) deadline = tcp.nextDialAt;
  if (latency.nextProbe < deadline) deadline = latency.nextProbe;
  const e = engine!;
  const stacksDue = e.backlog > 0 ? now : e.nextDeadline();
  if (stacksDue < deadline) deadline = stacksDue;
  let wait = deadline === Infinity ? MAX_WAIT_NS : deadline - now;
  // a timer of the shaper or transports: wake early and spin (ppoll with no wait) to it
  if (wait <= MAX_WAIT_NS && wait > 0) {
    const lead = timerLead(wait);
    wait = wait > lead ? wait - lead : 0;
  }
  if (wait > MAX_WAIT_NS) wait = MAX_WAIT_NS;
  if (wait > nextReport - now) wait = nextReport - now;
  if (wait < 0) wait = 0;
  // the quic worker rings the eventfd only after we armed a wake-up on an empty ring
  if (quicIn && !quicIn.armWake()) wait = 0;
  tsI32[0] = Math.floor(wait / 1e9);
  tsI32[1] = 0;
  tsI32[2] = wait % 1e9;
  tsI32[3] = 0;
  const ready = sys.ppoll(pollBuf, nfds, timespec, null);
  if (ready <= 0) return false;
  let woken = false;
  const t = Bun.nanoseconds();
  for (let i = 0; i < nfds; i++) {
    const rev = pollI16[4 * i + 3];
    if (rev === 0) continue;
    pollI16[4 * i + 3] = 0;
    switch (pollKind[i]) {
      case K_WAKE:
        sys.read(wakeFd, wakeBuf, 8);
        woken = true;
        break;
      case K_TUN:
        readTun(pollI32[2 * i], pollRef[i], t);
        break;
      case K_LISTEN:
        tcp!.onListenReady();
        break;
      case K_UDP:
        udp!.onReadable(t);
        break;
      case K_QUIC:
        // the quic worker rings as a datagram comes in, before decrypting it: its frame may be a little behind
        drainQuic(awaitQuic(t));
        // the eventfd is only rung while we sleep, so reading it after the frames loses nothing
        sys.read(quicWakeFd, wakeBuf, 8);
        break;
      case K_CONN: {
        // a connection closed earlier in this pass stays in the array until the next rebuild
        const c = pollConn[i]!;
        if (!c.closed) tcp!.onConnReady(c, rev, t);
        break;
      }
    }
  }
  return woken;
}

function tick(): void {
  scheduled = false;
  if (stopped || !fwd) return;
  const sliceEnd = Bun.nanoseconds() + SLICE_NS;
  for (;;) {
    let now = Bun.nanoseconds();
    fwd.releaseDue(now);
    engine!.service(now);
    engine!.drain(now, fwd, STACK_BATCH);
    if (tcp && now >= tcp.nextDialAt) tcp.dialDue(now);
    if (now >= latency.nextProbe) latency.probe(Bun.nanoseconds(), canProbe);
    if (now >= nextReport) {
      report();
      nextReport = now + REPORT_NS;
    }
    if (now >= nextConversationReport) {
      reportConversations(now);
      nextConversationReport = now + CONVERSATION_REPORT_NS;
    }
    if (now >= nextCaptureFlush && captures.size > 0) {
      captures.flush();
      nextCaptureFlush = now + CAPTURE_FLUSH_NS;
    }
    if (waitAndRead(now)) break;
    now = Bun.nanoseconds();
    fwd.releaseDue(now);
    if (now >= sliceEnd) break;
  }
  schedule();
}

function schedule(): void {
  if (!scheduled && !stopped) {
    scheduled = true;
    setImmediate(tick);
  }
}

/**
 * Reports now and counts the next interval from here. After a routing change
 * (new routes, weights, pins, a link down or up) the next report's interval is
 * then all under the new routes, so the first rate the controller gives after
 * it (half a second on) is theirs, not a mix of old and new.
 */
function restartReports(): void {
  if (!fwd) return;
  report();
  nextReport = Bun.nanoseconds() + REPORT_NS;
}

function report(): void {
  const f = fwd!;
  const now = Bun.nanoseconds();
  const dirs: DirectionCounters[] = f.shapers.map((s, d) => {
    const queued = s.occupancy(now);
    const c = {
      key: f.tables.dirKeys[d],
      packets: s.sentPackets,
      bytes: s.sentBytes,
      segments: s.sentSegments,
      dropLoss: s.dropLoss,
      dropQueue: s.dropQueue,
      dropLinkDown: s.dropLinkDown,
      queued,
      queuedMax: s.queuedMax,
    };
    s.queuedMax = queued;
    return c;
  });
  // one registry (drops.ts): the forwarder counts into it directly, transports and stacks keep their own
  const drops = Float64Array.from(f.drops);
  const add = (reason: Parameters<typeof dropIndex>[0], n: number) => (drops[dropIndex(reason)] += n);
  if (tcp) {
    add("tcp_no_peer", tcp.drops.noPeer);
    add("tcp_backlog", tcp.drops.backlog);
    add("tcp_bad_frame", tcp.drops.badFrame);
  }
  if (udp) {
    add("udp_no_peer", udp.drops.noPeer);
    add("udp_send_failed", udp.drops.sendFailed);
    add("udp_bad_frame", udp.drops.badFrame);
    add("unknown_peer", udp.drops.strangers);
  }
  if (quicOut) add("quic_backlog", quicDrops.backlog);
  const e = engine!;
  add("stack_no_node", e.drops.noNode);
  add("stack_backlog", e.drops.backlog);
  add("stack_pool", e.drops.pool);
  add("stack_broken", e.drops.broken);
  post({ type: "counters", at: Date.now(), dirs, drops: Array.from(drops), poolInUse: pool!.inUseLarge + pool!.inUseSmall, captures: captures.counters() });
}

/** What conversations did since the last report (those that moved or ended), with the table's totals. */
function reportConversations(now: number): void {
  const records = conversations.collect(now);
  // nothing moved or ended: the totals are as last said (started and ended only change with records)
  if (records.length === 0 && conversations.live === lastLive) return;
  lastLive = conversations.live;
  const epochNow = Date.now();
  const toEpochMs = (ns: number) => epochNow - (now - ns) / 1e6;
  post({
    type: "conversations",
    reports: records.length === 0 ? [] : conversationReports(records, fwd!.tables, toEpochMs),
    live: conversations.live,
    started: conversations.started,
    ended: conversations.ended,
    evicted: conversations.evicted,
  });
}

function post(msg: FromWorker): void {
  self.postMessage(msg);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    switch (msg.type) {
      case "init": {
        wakeFd = msg.wakeFd;
        seed = msg.seed;
        pool = new PacketPool(msg.poolBytes);
        conversations = new ConversationTable(msg.conversationCap);
        memAddr = ptr(pool.mem);
        engine = new FlowEngine(pool, msg.vnet, Bun.nanoseconds(), {
          wake: schedule,
          report: (updates) => post({ type: "flows", updates }),
          log: (line) => post({ type: "error", message: line }),
        });
        sys.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
        if (msg.listen) {
          tcp = new TcpTransport(pool, sink, msg.listen.address, msg.listen.port, (line) => post({ type: "error", message: line }));
          // udp shares the port number tcp got (the two protocols have separate port spaces)
          udp = new UdpTransport(pool, sink, msg.listen.address, tcp.port, msg.vnet);
        }
        if (msg.quic) {
          quicOut = new RingWriter(msg.quic.out);
          quicIn = new RingReader(msg.quic.in);
          quicWakeFd = msg.quic.inWakeFd;
        }
        post({ type: "ready", port: tcp?.port ?? 0 });
        break;
      }
      case "tables":
        setTables(msg.tables);
        post({ type: "tablesApplied", id: msg.id });
        schedule();
        break;
      case "captures": {
        for (const capture of captures.update(msg.captures)) post({ type: "captureClosed", capture });
        if (fwd) fwd.setCaptures(captures.bind(fwd.tables.nodeKeys, fwd.tables.dirKeys));
        schedule();
        break;
      }
      case "routing":
        fwd?.setRouting(msg.routing);
        restartReports();
        schedule();
        break;
      case "classes":
        fwd?.setClasses(Bun.nanoseconds(), msg.classes);
        schedule();
        break;
      case "shape": {
        const now = Bun.nanoseconds();
        for (const u of msg.updates) fwd?.reshape(now, u.dir, latency.configure(u.dir, u.shaping));
        schedule();
        break;
      }
      case "userspace":
        engine!.update(Bun.nanoseconds(), msg.stacks, msg.flows);
        schedule();
        break;
      case "stop":
        stopped = true;
        fwd?.flush();
        // what the captures buffered goes to their files before the agent goes
        for (const capture of captures.closeAll()) post({ type: "captureClosed", capture });
        tcp?.close();
        udp?.close();
        post({ type: "stopped" });
        break;
    }
  } catch (err) {
    // set-up failures (a taken port) read best as one sentence; anything else keeps its stack
    const e = err as Error;
    post({ type: "error", message: msg.type === "init" ? e.message : (e.stack ?? String(e)) });
  }
};
