/**
 * One side of a probe of the network between two agents, in its own thread:
 * its waits are blocking ppoll calls, and its round trips are timed by
 * spinning, which the agent's event loop must not do.
 *
 * The sender ("run") first sends PROBE_PINGS ICMP echo requests to the other
 * host and times them as ping does: the wall clock just before the send, and
 * the kernel's stamp of the reply's arrival (SO_TIMESTAMPNS), so the other
 * kernel answers and no program's wake-up is counted on either side. (Reading
 * the clock when the reply is read instead would add a wake-up, 50-100 us on
 * the test machine, as much as a round trip on a LAN; spinning for the reply
 * instead measured a third less than ping, whose cores sleep between requests
 * as a real workload's do.) Then it sends `bytes` over TCP (ending with a
 * shutdown) or as UDP datagrams at full speed (ending with end markers),
 * stopping after PROBE_TRANSFER_MS whatever is left.
 *
 * The receiver ("serve") listens on its host's address, takes one connection
 * or one stream of datagrams, and times from its first byte to its last.
 * Either side checks the shared cancel flag between waits, which are at most
 * 100 ms, and closes its sockets on every way out.
 */
import { closeFd, errno, EAGAIN, EINTR, POLLIN, strerror, sys } from "../sys/libc.ts";
import {
  acceptConnection,
  bindSocket,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  net,
  openRawIcmp,
  openSocket,
  shutdownWrite,
  sockaddr,
  socketError,
  SOCK_DGRAM,
  SOCK_STREAM,
  startConnect,
  stampArrivals,
  StampedReceiver,
  wallClockNs,
} from "../sys/socket.ts";
import { PROBE_DATAGRAM, PROBE_PING_GAP_MS, PROBE_PING_WAIT_MS, PROBE_PINGS, PROBE_TRANSFER_MS, type ProbeSent } from "../../protocol/probe.ts";
import { ECHO_LEN, echoReplySeq, writeEchoRequest } from "./icmp.ts";
import type { FromProbe, ProbeJob } from "./messages.ts";

declare const self: Worker;

const POLLOUT = 0x4;
const ECONNREFUSED = 111;
const ENOBUFS = 105;
const MS = 1_000_000;
/** the longest single wait: the cancel flag is looked at this often */
const WAIT_SLICE_MS = 100;
/** how long the receiver waits for the sender to connect or send its first datagram */
const FIRST_BYTE_MS = 15_000;
/** a datagram stream with no end marker is over after this long without one */
const UDP_IDLE_MS = 1_000;
const CHUNK = 1 << 20;
const UDP_MAGIC = 0x4e4d5042;
const KIND_DATA = 0;
const KIND_END = 1;
const END_MARKERS = 5;

const buf = new Uint8Array(CHUNK);
const view = new DataView(buf.buffer);
const pollfd = new Uint8Array(8);
const pollI32 = new Int32Array(pollfd.buffer);
const pollI16 = new Int16Array(pollfd.buffer);
const timespec = new Uint8Array(16);
const tsI32 = new Int32Array(timespec.buffer);

class Cancelled extends Error {}

function post(msg: FromProbe): void {
  self.postMessage(msg);
}

function failure(what: string): Error {
  const e = errno();
  return new Error(`${what}: ${strerror(e)} (errno ${e})`);
}

/** Waits up to `ms` for `events` on `fd` (a negative fd only sleeps); true when they came. */
function waitFd(fd: number, events: number, ms: number, cancel: Int32Array): boolean {
  let left = ms;
  for (;;) {
    if (Atomics.load(cancel, 0) !== 0) throw new Cancelled();
    const slice = Math.min(left, WAIT_SLICE_MS);
    pollI32[0] = fd;
    pollI16[2] = events;
    pollI16[3] = 0;
    tsI32[0] = Math.floor(slice / 1000);
    tsI32[2] = (slice % 1000) * MS;
    const n = sys.ppoll(pollfd, 1, timespec, null);
    if (n > 0 && fd >= 0) return true;
    if (n < 0 && errno() !== EINTR) throw failure("ppoll");
    left -= slice;
    if (left <= 0) return false;
  }
}

/** echo requests sent before the counted ones */
const WARM_UP = 2;

/**
 * What to add to Bun.nanoseconds() to get wallClockNs(): the reading of the
 * wall clock closest to halfway between two monotonic ones, of ten tries.
 */
function monotonicToWall(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 10; i++) {
    const a = Bun.nanoseconds();
    const w = wallClockNs();
    const b = Bun.nanoseconds();
    if (b - a < best) {
      best = b - a;
      offset = w - (a + b) / 2;
    }
  }
  return offset;
}

/** PROBE_PINGS echo requests to `address`, one at a time; round trips in ns. */
function pings(address: string, cancel: Int32Array): { pings: number; rtts: number[] } {
  let fd: number;
  try {
    fd = openRawIcmp();
  } catch (e) {
    throw new Error(`${(e as Error).message}: echo requests need a raw socket, so the agent must run as root (or with CAP_NET_RAW)`);
  }
  const rtts: number[] = [];
  const to = sockaddr(address, 0);
  const req = new Uint8Array(ECHO_LEN);
  const rx = new StampedReceiver(fd, buf.subarray(0, 2048));
  // the identifier tells our replies from other pings' (a raw socket sees them all)
  const id = (process.pid ^ Math.floor(Math.random() * 0xffff)) & 0xffff;
  try {
    stampArrivals(fd);
    const wallOffset = monotonicToWall();
    // two echo requests first, not counted: the code below runs compiled by the time it is timed
    for (let seq = 1 - WARM_UP; seq <= PROBE_PINGS; seq++) {
      writeEchoRequest(req, id, seq & 0xffff);
      // the monotonic clock costs no call out of JavaScript, so nothing but the send follows the reading
      const sent = Bun.nanoseconds() + wallOffset;
      if (Number(net.sendto(fd, req, ECHO_LEN, 0, to, 16)) < 0) throw failure(`sendto ${address}`);
      const deadline = Bun.nanoseconds() + PROBE_PING_WAIT_MS * MS;
      for (;;) {
        const n = rx.receive(MSG_DONTWAIT);
        if (n > 0) {
          if (echoReplySeq(buf.subarray(0, n), id) === (seq & 0xffff)) {
            if (seq > 0) rtts.push((rx.arrivedNs || wallClockNs()) - sent);
            break;
          }
          continue;
        }
        if (n < 0 && errno() !== EAGAIN && errno() !== EINTR) throw failure("recvmsg");
        const left = deadline - Bun.nanoseconds();
        if (left <= 0) break;
        waitFd(fd, POLLIN, Math.max(1, Math.ceil(left / MS)), cancel);
      }
      if (seq < PROBE_PINGS) waitFd(-1, 0, PROBE_PING_GAP_MS, cancel);
    }
  } finally {
    closeFd(fd);
  }
  return { pings: PROBE_PINGS, rtts };
}

/** Sends up to `bytes` to address:port over TCP; what went, and whether time ran out first. */
function sendTcp(address: string, port: number, bytes: number, cancel: Int32Array): { bytes: number; cut: boolean } {
  const fd = openSocket(SOCK_STREAM, false);
  try {
    if (!startConnect(fd, address, port)) {
      if (!waitFd(fd, POLLOUT, 5000, cancel)) throw new Error(`connect ${address}:${port}: no answer within 5 s`);
      const err = socketError(fd);
      if (err !== 0) throw new Error(`connect ${address}:${port}: ${strerror(err)}`);
    }
    buf.fill(0);
    const end = Bun.nanoseconds() + PROBE_TRANSFER_MS * MS;
    let sent = 0;
    while (sent < bytes) {
      if (Bun.nanoseconds() >= end) return { bytes: sent, cut: true };
      const n = Number(net.sendto(fd, buf, Math.min(CHUNK, bytes - sent), MSG_NOSIGNAL, null, 0));
      if (n > 0) {
        sent += n;
        continue;
      }
      if (n < 0 && errno() !== EAGAIN && errno() !== EINTR) throw failure(`send to ${address}:${port}`);
      waitFd(fd, POLLOUT, WAIT_SLICE_MS, cancel);
    }
    shutdownWrite(fd);
    // the receiver closes once it read the end: waiting for that keeps our close from cutting the tail
    const closedBy = Bun.nanoseconds() + 5000 * MS;
    while (Bun.nanoseconds() < closedBy) {
      if (!waitFd(fd, POLLIN, WAIT_SLICE_MS, cancel)) continue;
      const n = Number(net.recvfrom(fd, buf, CHUNK, MSG_DONTWAIT, null, null));
      if (n === 0 || (n < 0 && errno() !== EAGAIN && errno() !== EINTR)) break;
    }
    return { bytes: sent, cut: false };
  } finally {
    closeFd(fd);
  }
}

/** Sends up to `bytes` to address:port as UDP datagrams, as fast as the socket takes them, then end markers. */
function sendUdp(address: string, port: number, bytes: number, cancel: Int32Array): { bytes: number; datagrams: number; cut: boolean } {
  const fd = openSocket(SOCK_DGRAM);
  try {
    startConnect(fd, address, port);
    buf.fill(0, 0, PROBE_DATAGRAM);
    view.setUint32(0, UDP_MAGIC, false);
    view.setUint8(8, KIND_DATA);
    const end = Bun.nanoseconds() + PROBE_TRANSFER_MS * MS;
    let sent = 0;
    let datagrams = 0;
    let cut = false;
    while (sent < bytes) {
      if (Bun.nanoseconds() >= end) {
        cut = true;
        break;
      }
      view.setUint32(4, datagrams, false);
      // the last datagram carries only what is left (at least its 9-byte header)
      const n = Number(net.sendto(fd, buf, Math.max(16, Math.min(PROBE_DATAGRAM, bytes - sent)), 0, null, 0));
      if (n > 0) {
        sent += n;
        datagrams++;
        continue;
      }
      const e = errno();
      // ECONNREFUSED: an ICMP error from an earlier datagram; ENOBUFS: the device queue is full. The receiver counts what came
      if (n < 0 && e !== EAGAIN && e !== EINTR && e !== ECONNREFUSED && e !== ENOBUFS) throw failure(`send to ${address}:${port}`);
      waitFd(fd, POLLOUT, WAIT_SLICE_MS, cancel);
    }
    view.setUint8(8, KIND_END);
    for (let i = 0; i < END_MARKERS; i++) {
      net.sendto(fd, buf, 16, 0, null, 0);
      waitFd(-1, 0, 2, cancel);
    }
    return { bytes: sent, datagrams, cut };
  } finally {
    closeFd(fd);
  }
}

function run(job: Extract<ProbeJob, { role: "run" }>): ProbeSent {
  const p = pings(job.address, job.cancel);
  const ms = p.rtts.map((ns) => ns / MS);
  const rtt = ms.length === 0 ? null : { min: Math.min(...ms), avg: ms.reduce((a, b) => a + b, 0) / ms.length, max: Math.max(...ms) };
  if (job.transport === "tcp") {
    const t = sendTcp(job.address, job.port, job.bytes, job.cancel);
    return { pings: p.pings, replies: ms.length, rtt, bytes: t.bytes, datagrams: 0, cut: t.cut };
  }
  const u = sendUdp(job.address, job.port, job.bytes, job.cancel);
  return { pings: p.pings, replies: ms.length, rtt, bytes: u.bytes, datagrams: u.datagrams, cut: u.cut };
}

/** Listens, reports the port, and times one connection's bytes from the first to the last. */
function serveTcp(address: string, cancel: Int32Array): { bytes: number; datagrams: number; seconds: number } {
  const listener = openSocket(SOCK_STREAM, false);
  let conn = -1;
  try {
    post({ type: "ready", port: bindSocket(listener, address, 0, true) });
    if (!waitFd(listener, POLLIN, FIRST_BYTE_MS, cancel)) throw new Error(`no connection from the sending agent within ${FIRST_BYTE_MS / 1000} s`);
    conn = acceptConnection(listener);
    if (conn < 0) throw failure("accept");
    let bytes = 0;
    let first = 0;
    let last = 0;
    const end = Bun.nanoseconds() + (FIRST_BYTE_MS + PROBE_TRANSFER_MS) * MS;
    for (;;) {
      const n = Number(net.recvfrom(conn, buf, CHUNK, MSG_DONTWAIT, null, null));
      if (n > 0) {
        last = Bun.nanoseconds();
        if (bytes === 0) first = last;
        bytes += n;
        continue;
      }
      if (n === 0) break;
      if (errno() !== EAGAIN && errno() !== EINTR) throw failure("recv");
      if (Bun.nanoseconds() > end) break;
      waitFd(conn, POLLIN, WAIT_SLICE_MS, cancel);
    }
    return { bytes, datagrams: 0, seconds: (last - first) / 1e9 };
  } finally {
    if (conn >= 0) closeFd(conn);
    closeFd(listener);
  }
}

/** Binds a UDP port, reports it, and counts one stream of datagrams until its end marker (or a second of silence). */
function serveUdp(address: string, cancel: Int32Array): { bytes: number; datagrams: number; seconds: number } {
  const fd = openSocket(SOCK_DGRAM);
  try {
    post({ type: "ready", port: bindSocket(fd, address, 0, false) });
    if (!waitFd(fd, POLLIN, FIRST_BYTE_MS, cancel)) throw new Error(`no datagram from the sending agent within ${FIRST_BYTE_MS / 1000} s`);
    let bytes = 0;
    let datagrams = 0;
    let first = 0;
    let last = 0;
    for (;;) {
      const n = Number(net.recvfrom(fd, buf, CHUNK, MSG_DONTWAIT, null, null));
      if (n >= 9 && view.getUint32(0, false) === UDP_MAGIC) {
        if (view.getUint8(8) === KIND_END) break;
        last = Bun.nanoseconds();
        if (datagrams === 0) first = last;
        datagrams++;
        bytes += n;
        continue;
      }
      if (n >= 0) continue;
      if (errno() !== EAGAIN && errno() !== EINTR) throw failure("recv");
      if (!waitFd(fd, POLLIN, UDP_IDLE_MS, cancel)) break;
    }
    return { bytes, datagrams, seconds: (last - first) / 1e9 };
  } finally {
    closeFd(fd);
  }
}

self.onmessage = (e: MessageEvent<ProbeJob>) => {
  const job = e.data;
  try {
    if (job.role === "run") post({ type: "done", sent: run(job) });
    else post({ type: "done", received: job.transport === "tcp" ? serveTcp(job.address, job.cancel) : serveUdp(job.address, job.cancel) });
  } catch (err) {
    post({ type: "failed", message: err instanceof Cancelled ? "cancelled" : (err as Error).message });
  }
};
