/**
 * The QUIC worker: the quic transport between agents, in a thread of its own
 * so QUIC's per-byte work (encryption, acknowledgements, congestion control)
 * runs beside the dataplane's ppoll loop rather than in it. The two threads
 * share only the rings described in messages.ts.
 *
 * Like the dataplane, this thread is one loop waiting in ppoll on a few
 * descriptors: the out ring's eventfd (the dataplane pushed frames), the UDP
 * socket (udp.ts) and a control eventfd the main thread rings after posting a
 * message, with quiche's next timer as the timeout. A frame goes from the out
 * ring into its peer's stream and out as a datagram in one pass, and a
 * datagram's frames reach the in ring before its acknowledgement is sent. The
 * loop returns to the event loop every couple of milliseconds, or at once
 * when the control eventfd rings, to take messages (peers, stop).
 *
 * This agent dials every peer whose name sorts after its own, as the tcp
 * transport does, and redials with backoff when a connection dies; it accepts
 * connections from the others. Both ends present certificates from the
 * controller's CA and check the other's name (verify.ts). conn.ts wraps a
 * quiche connection; link.ts owns a peer's stream and queues.
 */
import { X509Certificate } from "node:crypto";
import { ptr } from "bun:ffi";
import type { Config, Header } from "@matrixai/quic/native/types.js";
import type { Peer, TlsBundle } from "../../protocol/wire.ts";
import { FRAME_HEADER, FRAME_MAGIC } from "../dataplane/frame.ts";
import { PROBE_NS } from "../dataplane/latency.ts";
import { RingReader, RingWriter } from "../dataplane/ring.ts";
import { POLLIN, sys } from "../sys/libc.ts";
import { CID_LEN, keyOf, makeConfig, newConnectionId, QuicConn, quiche } from "./conn.ts";
import { describe, PeerLink, READ_CHUNK, type LinkOwner, type ReadBuffer } from "./link.ts";
import type { FromQuic, QuicCounters, ToQuic } from "./messages.ts";
import { peerSockaddr, UdpSocket, UDP_BUFFER_BYTES } from "./udp.ts";
import { checkPeer } from "./verify.ts";

declare const self: Worker;

const POLLOUT = 0x4;
const PR_SET_TIMERSLACK = 29;
const MS = 1e6;
/** how long the loop keeps the thread before the event loop gets a turn */
const SLICE_NS = 2 * MS;
/** the longest ppoll wait: the event loop's timers (the counters report) run between waits */
const MAX_WAIT_NS = 50 * MS;
/** how soon a link whose in ring was full looks again (the dataplane does not say when it drained) */
const IN_RETRY_NS = 1 * MS;
const DIAL_TIMEOUT_NS = 5_000 * MS;
const KEEPALIVE_NS = 2_000 * MS;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** records taken from the out ring, and datagrams read, before the loop looks at everything else */
const BATCH = 256;
const RECV_BATCH = 64;
/**
 * the smallest datagram that can carry a frame (short header with our id, a
 * STREAM frame, a 24-byte frame header and a 20-byte IPv4 header, the AEAD
 * tag); acknowledgements and pings are smaller
 */
const FRAME_DATAGRAM_MIN = 80;
/** accepted connections whose peer is not verified yet, at most: a flood of Initials cannot exhaust memory */
const MAX_PENDING = 64;
const REPORT_MS = 1_000;

// ppoll's array: struct pollfd { int fd; short events; short revents; }, in this order
const P_CTL = 0;
const P_OUT = 1;
const P_UDP = 2;
const pollBuf = new Uint8Array(8 * 3);
const pollI32 = new Int32Array(pollBuf.buffer);
const pollI16 = new Int16Array(pollBuf.buffer);
const timespec = new Uint8Array(16);
const tsI32 = new Int32Array(timespec.buffer);
const drainBuf = new Uint8Array(8);
const wakeBuf = new BigUint64Array([1n]);

const readBytes = new Uint8Array(READ_CHUNK);
const readBuf: ReadBuffer = { bytes: readBytes, view: new DataView(readBytes.buffer), addr: ptr(readBytes) };

let me = "";
let caCert: X509Certificate | undefined;
let config: Config | undefined;
let out: RingReader | undefined;
let inWakeFd = -1;
let outWakeFd = -1;
let ctlFd = -1;
let sock: UdpSocket | undefined;
let local = { host: "0.0.0.0", port: 0 };
let links = new Map<string, PeerLink>();
let byIndex: (PeerLink | undefined)[] = [];
/** every live connection, and the same by the key of our connection id and (accepted, until verified) by the client's first id */
let conns: QuicConn[] = [];
const byKey = new Map<number, QuicConn>();
const byOdcid = new Map<string, QuicConn>();
let pending = 0;
let sweep = false;
/** the out ring's head record is for a link that is full: wait for its acknowledgements, not for the ring */
let outBlocked = false;
let stopped = false;
let scheduled = false;
let reporter: ReturnType<typeof setInterval> | undefined;
const counts = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 };
const drops = { no_peer: 0, link_lost: 0, bad_record: 0, bad_frame: 0 };

function post(msg: FromQuic): void {
  self.postMessage(msg);
}

let owner: LinkOwner | undefined;
function makeOwner(inRing: RingWriter): LinkOwner {
  return {
    inRing,
    counts,
    drops,
    wakeIn(): void {
      if (inRing.wakeNeeded()) sys.write(inWakeFd, wakeBuf, 8);
    },
    log(message: string): void {
      post({ type: "log", message });
    },
    // counters carry the links' states, so a change is reported at once rather than within a second
    onUp(): void {
      report();
    },
    onDown(link: PeerLink): void {
      if (link.dials && !stopped && !link.closed && links.get(link.name) === link) scheduleDial(link, Bun.nanoseconds());
      if (!stopped) report();
    },
  };
}

function start(msg: Extract<ToQuic, { type: "init" }>): number {
  me = msg.me;
  caCert = new X509Certificate(msg.tls.ca);
  config = makeConfig(msg.tls);
  inWakeFd = msg.inWakeFd;
  outWakeFd = msg.outWakeFd;
  ctlFd = msg.ctlWakeFd;
  out = new RingReader(msg.rings.out);
  owner = makeOwner(new RingWriter(msg.rings.in));
  const s = new UdpSocket(msg.listen.address, msg.listen.port);
  sock = s;
  local = { host: msg.listen.address, port: s.port };
  if (s.granted.recv < UDP_BUFFER_BYTES) {
    post({ type: "log", message: `quic: UDP receive buffer is ${s.granted.recv >> 10} KiB, not ${UDP_BUFFER_BYTES >> 10} (net.core.rmem_max caps it); bursts may be dropped by the kernel` });
  }
  pollI32[2 * P_CTL] = ctlFd;
  pollI32[2 * P_OUT] = outWakeFd;
  pollI32[2 * P_UDP] = s.fd;
  pollI16[4 * P_CTL + 2] = POLLIN;
  pollI16[4 * P_OUT + 2] = POLLIN;
  sys.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  reporter = setInterval(report, REPORT_MS);
  schedule();
  return s.port;
}

function schedule(): void {
  if (!scheduled && !stopped) {
    scheduled = true;
    setImmediate(tick);
  }
}

/** The loop: timers, out ring, datagrams out, then wait. Returns to the event loop when a message waits or the slice is used. */
function tick(): void {
  scheduled = false;
  if (stopped) return;
  const sliceEnd = Bun.nanoseconds() + SLICE_NS;
  for (;;) {
    const now = Bun.nanoseconds();
    // frames first: what a wake-up usually brings, and what latency is measured on
    drainOut();
    flushAll(now);
    runTimers(now);
    flushAll(now);
    if (waitAndRead(now)) break;
    if (Bun.nanoseconds() >= sliceEnd) break;
  }
  schedule();
}

/** Waits for the next event (or timer) and handles it; true when the main thread posted a message. */
function waitAndRead(now: number): boolean {
  const s = sock!;
  let wait = nextDeadline(now) - now;
  if (wait > MAX_WAIT_NS) wait = MAX_WAIT_NS;
  if (wait < 0) wait = 0;
  // more records wait (a batch ended), or one came since the ring was last looked at
  if (!outBlocked && (out!.peekLength() >= 0 || !out!.armWake())) wait = 0;
  tsI32[0] = Math.floor(wait / 1e9);
  tsI32[2] = wait % 1e9;
  pollI16[4 * P_UDP + 2] = s.blocked ? POLLIN | POLLOUT : POLLIN;
  const ready = sys.ppoll(pollBuf, 3, timespec, null);
  if (ready <= 0) return false;
  let message = false;
  if (pollI16[4 * P_CTL + 3] !== 0) {
    sys.read(ctlFd, drainBuf, 8);
    message = true;
  }
  if (pollI16[4 * P_OUT + 3] !== 0) {
    // frames out before anything else; the dataplane rings only while we sleep, so reading after loses nothing
    drainOut();
    flushAll(Bun.nanoseconds());
    sys.read(outWakeFd, drainBuf, 8);
  }
  const udp = pollI16[4 * P_UDP + 3];
  if (udp !== 0) {
    if ((udp & POLLOUT) !== 0) s.retry();
    if ((udp & POLLIN) !== 0) readDatagrams(Bun.nanoseconds());
  }
  for (let i = 0; i < 3; i++) pollI16[4 * i + 3] = 0;
  return message;
}

/** The soonest of every connection's timers, dial limits and keepalives, and every link's redial. */
function nextDeadline(now: number): number {
  let d = Infinity;
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i];
    if (c.deadline < d) d = c.deadline;
    if (c.keepaliveAt < d) d = c.keepaliveAt;
    if (c.giveUpAt < d) d = c.giveUpAt;
    if (c.ackAt < d) d = c.ackAt;
    // a blocked socket is waited for with POLLOUT instead
    if (c.dirty && !sock!.blocked) d = now;
  }
  for (let i = 0; i < byIndex.length; i++) {
    const l = byIndex[i];
    if (!l) continue;
    if (l.redialAt < d) d = l.redialAt;
    if (l.inBlocked && now + IN_RETRY_NS < d) d = now + IN_RETRY_NS;
  }
  return d;
}

function runTimers(now: number): void {
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i];
    if (c.gone) continue;
    c.onTimer(now);
    if (now >= c.giveUpAt) {
      c.giveUpAt = Infinity;
      c.close(`no answer within ${DIAL_TIMEOUT_NS / 1e9} s`, false, quiche.ConnectionErrorCode.ApplicationError);
    }
    if (now >= c.keepaliveAt) {
      c.keepaliveAt = now + KEEPALIVE_NS;
      // a PING only when nothing else is in flight
      c.conn.sendAckEliciting();
      c.dirty = true;
    }
    // acknowledgements may have opened the window for staged frames
    const link = c.link;
    if (link && link.conn === c && c.dirty && link.staged) link.flush();
  }
  for (let i = 0; i < byIndex.length; i++) {
    const l = byIndex[i];
    if (!l) continue;
    if (l.inBlocked) l.readStream(readBuf);
    if (now >= l.redialAt) {
      l.redialAt = Infinity;
      dial(l, now);
    }
  }
}

/** Moves frames from the out ring into their peers' staging buffers, then onto their streams. */
function drainOut(): void {
  const ring = out!;
  outBlocked = false;
  let took = false;
  for (let k = 0; k < BATCH; k++) {
    const n = ring.peekLength();
    if (n < 0) break;
    const v = ring.view;
    const at = ring.at;
    if (n < 4 + FRAME_HEADER || v.getUint16(at + 4, true) !== FRAME_MAGIC || v.getUint32(at + 8, true) !== n - 4 - FRAME_HEADER) {
      drops.bad_record++;
    } else {
      const link = byIndex[v.getUint32(at, true)];
      if (!link || !link.ready) {
        // a latency probe (namespace 0) finding the link down is not a lost packet
        if (v.getUint32(at + 12, true) !== PROBE_NS) drops.no_peer++;
      } else {
        if (!link.room(n - 4)) {
          link.flush();
          if (!link.room(n - 4)) {
            // leave the record where it is: the ring filling up is the dataplane's signal
            outBlocked = true;
            break;
          }
        }
        link.enqueue(ring, 4, n - 4);
        took = true;
        counts.sent++;
        counts.bytesSent += n - 4 - FRAME_HEADER;
      }
    }
    ring.release();
  }
  if (!took) return;
  for (let i = 0; i < byIndex.length; i++) {
    const l = byIndex[i];
    if (l && l.staged) l.flush();
  }
}

/** Sends what every touched connection has ready, and retires connections that ended. */
function flushAll(now: number): void {
  const s = sock!;
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i];
    if (c.gone || !c.due(now)) continue;
    if (s.blocked || !c.flush(s, now)) return;
    if (c.ended) end(c);
  }
  if (sweep) {
    sweep = false;
    conns = conns.filter((c) => !c.gone);
  }
}

function readDatagrams(now: number): void {
  const s = sock!;
  let rung = false;
  for (let k = 0; k < RECV_BATCH; k++) {
    const n = s.recv();
    if (n < 0) return;
    const c = connectionFor(n);
    if (!c || c.gone) continue;
    if (!rung && n >= FRAME_DATAGRAM_MIN && c.link?.ready) {
      // the dataplane takes tens of microseconds to wake: start that now, while quiche decrypts
      // (it waits a little for the frame; worker.ts in agent/dataplane)
      rung = true;
      owner!.wakeIn();
    }
    c.recv(s, n);
    if (!c.verified && !c.ended && c.conn.isEstablished()) verify(c, now);
    const link = c.link;
    let delivered = false;
    if (link && link.conn === c && c.verified) {
      // frames reach the dataplane before anything is sent back
      delivered = link.readStream(readBuf);
      if (link.staged) link.flush();
    }
    c.answer(delivered, now);
  }
}

/** The connection a datagram in the socket's buffer belongs to: by our connection id, or a new one a client asks for. */
function connectionFor(n: number): QuicConn | undefined {
  const b = sock!.inbuf;
  if ((b[0] & 0x80) === 0) {
    // short header: flags, then our connection id
    return n > CID_LEN ? byKey.get(keyOf(b, 1)) : undefined;
  }
  // long header: flags, version (4), destination id length, destination id
  if (n < 7) return undefined;
  const dlen = b[5];
  if (dlen === CID_LEN && n >= 6 + CID_LEN) {
    const c = byKey.get(keyOf(b, 6));
    if (c) return c;
  }
  return accept(n);
}

/** A client's Initial: a new accepted connection (or the one it already made, sent again). */
function accept(n: number): QuicConn | undefined {
  const s = sock!;
  let hdr: Header;
  try {
    hdr = quiche.Header.fromSlice(s.received(n), CID_LEN);
  } catch {
    return undefined;
  }
  const odcid = Buffer.from(hdr.dcid).toString("hex");
  const known = byOdcid.get(odcid);
  if (known) return known;
  if (hdr.ty !== quiche.Type.Initial || stopped) return undefined;
  const to = peerSockaddr(s.fromHost(), s.fromPort);
  if (!to) return undefined;
  if (!quiche.versionIsSupported(hdr.version)) {
    const len = quiche.negotiateVersion(hdr.scid, hdr.dcid, s.outbuf);
    if (!s.blocked) s.send(len, to);
    return undefined;
  }
  // quiche ignores a client's first datagram under 1200 bytes: no state for one
  if (n < 1200 || pending >= MAX_PENDING) return undefined;
  const id = newConnectionId(byKey);
  let conn;
  try {
    conn = quiche.Connection.accept(id, null, local, { host: s.fromHost(), port: s.fromPort }, config!);
  } catch {
    return undefined;
  }
  const c = new QuicConn(conn, id, false, local, s.fromHost(), s.fromPort, to);
  c.odcid = odcid;
  byOdcid.set(odcid, c);
  pending++;
  register(c);
  return c;
}

function register(c: QuicConn): void {
  conns.push(c);
  byKey.set(c.key, c);
}

/** The handshake is done: checks the peer's certificate; an accepted connection then joins the link it names. */
function verify(c: QuicConn, now: number): void {
  const dialed = c.link;
  const accept = c.dials ? (name: string) => name === dialed?.name : (name: string) => links.get(name)?.dials === false;
  const v = checkPeer(caCert!, c.conn.peerCertChain()?.[0], accept);
  if (c.odcid) {
    byOdcid.delete(c.odcid);
    c.odcid = "";
    pending--;
  }
  if (!v.ok) {
    if (!c.dials) post({ type: "log", message: `quic: refused a connection: ${v.reason}` });
    c.close(v.reason, false, v.code);
    return;
  }
  c.verified = true;
  c.keepaliveAt = now + KEEPALIVE_NS;
  const link = c.dials ? dialed : links.get(v.name);
  if (!link || link.closed) {
    c.close("the peer left", true, 1);
    return;
  }
  link.attach(c);
}

/** A connection that ended (draining or closed): out of the tables; its link, if it still had it, learns why. */
function end(c: QuicConn): void {
  c.gone = true;
  sweep = true;
  if (byKey.get(c.key) === c) byKey.delete(c.key);
  if (c.odcid) {
    byOdcid.delete(c.odcid);
    pending--;
  }
  const link = c.link;
  if (link) link.lost(c, c.endReason());
}

function scheduleDial(link: PeerLink, now: number): void {
  if (link.redialAt !== Infinity || link.conn) return;
  link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs === 0 ? BACKOFF_MIN_MS : link.backoffMs * 2);
  link.redialAt = now + link.backoffMs * MS;
}

function dial(link: PeerLink, now: number): void {
  if (stopped || link.closed || link.conn) return;
  const peer = link.peer;
  const to = peerSockaddr(peer.address, peer.port);
  if (!to) {
    post({ type: "log", message: `quic: cannot dial ${peer.name}: "${peer.address}" is not an IPv4 address` });
    return;
  }
  const id = newConnectionId(byKey);
  let conn;
  try {
    conn = quiche.Connection.connect(peer.name, id, local, { host: peer.address, port: peer.port }, config!);
  } catch (e) {
    if (link.dialFailures++ === 0) post({ type: "log", message: `quic: dialing ${peer.name} failed: ${describe(e)}; retrying` });
    scheduleDial(link, now);
    return;
  }
  const c = new QuicConn(conn, id, true, local, peer.address, peer.port, to);
  c.giveUpAt = now + DIAL_TIMEOUT_NS;
  c.link = link;
  link.conn = c;
  register(c);
}

function setPeers(peers: Peer[]): void {
  if (!owner) return;
  const now = Bun.nanoseconds();
  const next = new Map<string, PeerLink>();
  byIndex = [];
  peers.forEach((p, i) => {
    let link = links.get(p.name);
    // a dialer follows its peer to a new address; an acceptor does not care where it is
    if (link && link.dials && (link.peer.address !== p.address || link.peer.port !== p.port)) {
      link.close("the peer moved");
      link = undefined;
    }
    link ??= new PeerLink(p, i, me < p.name, me, owner!);
    link.peer = p;
    link.index = i;
    next.set(p.name, link);
    byIndex[i] = link;
  });
  for (const [name, link] of links) if (!next.has(name)) link.close("the peer left");
  links = next;
  for (const link of links.values()) if (link.dials && !link.conn && link.redialAt === Infinity) dial(link, now);
}

function snapshot(): QuicCounters {
  return {
    ...counts,
    dropped: { ...drops },
    peers: [...links.values()].map((l) => ({ name: l.name, connected: l.ready })),
  };
}

function report(): void {
  post({ type: "counters", ...snapshot() });
}

function stop(): void {
  stopped = true;
  if (reporter) clearInterval(reporter);
  for (const link of links.values()) link.close("closing");
  links.clear();
  byIndex = [];
  // every connection says goodbye, so peers see a clean close rather than a timeout
  for (const c of conns) if (!c.gone) c.close("closing");
  const s = sock;
  if (s) {
    const now = Bun.nanoseconds();
    for (const c of conns) if (!c.gone) c.flush(s, now);
    s.close();
  }
  report();
  post({ type: "stopped" });
}

self.onmessage = (e: MessageEvent<ToQuic>) => {
  const msg = e.data;
  switch (msg.type) {
    case "init":
      try {
        post({ type: "ready", port: start(msg) });
      } catch (err) {
        post({ type: "error", message: `quic: cannot listen on ${msg.listen.address}:${msg.listen.port}: ${describe(err)}` });
      }
      break;
    case "peers":
      setPeers(msg.peers);
      schedule();
      break;
    case "stop":
      stop();
      break;
  }
};
