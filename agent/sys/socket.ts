/**
 * IPv4 TCP and UDP sockets through bun:ffi, non-blocking, for the dataplane
 * worker: its transports must sit in the same ppoll loop as the TUN devices, so
 * they cannot be event-loop sockets that only run when the worker yields.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { check, errno } from "./libc.ts";
import { parseIpv4 } from "../../protocol/ipv4.ts";

const lib = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  accept4: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  writev: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
  sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
  recvfrom: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i64_fast },
  memcpy: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.ptr },
  shutdown: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
});

export const net = lib.symbols;

const AF_INET = 2;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
export const EINPROGRESS = 115;

/** struct sockaddr_in for address:port. */
export function sockaddr(address: string, port: number): Uint8Array {
  const a = parseIpv4(address);
  if (a === undefined) throw new Error(`not an IPv4 address: "${address}"`);
  const sa = new Uint8Array(16);
  const dv = new DataView(sa.buffer);
  dv.setUint16(0, AF_INET, true);
  dv.setUint16(2, port, false);
  dv.setUint32(4, a, false);
  return sa;
}

function setInt(fd: number, level: number, name: number, value: number): void {
  const v = new Int32Array([value]);
  lib.symbols.setsockopt(fd, level, name, new Uint8Array(v.buffer), 4);
}

/**
 * A non-blocking socket. `fixedBuffers` (the transports) sets 4 MiB buffers each
 * way; without it the kernel sizes them itself, growing TCP's with the path as
 * iperf3's are (a probe across datacenters may need more than 4 MiB in flight).
 */
export function openSocket(type: number, fixedBuffers = true): number {
  const fd = check(lib.symbols.socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket");
  if (fixedBuffers) {
    setInt(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
    setInt(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
  }
  if (type === SOCK_STREAM) setInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  return fd;
}

const SOCK_RAW = 3;
const IPPROTO_ICMP = 1;
const SHUT_WR = 1;
/** send() flag: a peer that closed gives EPIPE, not a SIGPIPE */
export const MSG_NOSIGNAL = 0x4000;
export const MSG_DONTWAIT = 0x40;

/** A non-blocking raw ICMP socket (needs CAP_NET_RAW): it reads every ICMP packet the host gets, with its IPv4 header. */
export function openRawIcmp(): number {
  return check(lib.symbols.socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP), "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)");
}

const SO_TIMESTAMPNS = 35;
const CLOCK_REALTIME = 0;

/** Has the kernel stamp each datagram `fd` receives with the time it arrived (read by `recvStamped`). */
export function stampArrivals(fd: number): void {
  setInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
}

const clockTs = new BigInt64Array(2);
lib.symbols.clock_gettime(CLOCK_REALTIME, new Uint8Array(clockTs.buffer));
/** wall-clock times are counted from this second, so nanoseconds stay exact in a double (2^53 ns is 104 days) */
const EPOCH_SEC = clockTs[0];

/** The wall clock in nanoseconds since EPOCH_SEC: the clock the kernel stamps arrivals with. */
export function wallClockNs(): number {
  lib.symbols.clock_gettime(CLOCK_REALTIME, new Uint8Array(clockTs.buffer));
  return Number(clockTs[0] - EPOCH_SEC) * 1e9 + Number(clockTs[1]);
}

/**
 * A reusable recvmsg: reads one datagram into `buf` and, on a socket set up by
 * `stampArrivals`, the kernel's arrival time. One per socket; not reentrant.
 */
export class StampedReceiver {
  // struct msghdr (56 bytes), struct iovec (16), and room for one SCM_TIMESTAMPNS message
  readonly #msg = new BigUint64Array(7);
  readonly #iov = new BigUint64Array(2);
  readonly #control = new Uint8Array(64);
  readonly #controlView = new DataView(this.#control.buffer);
  /** the arrival time of the last datagram read (as `wallClockNs`), 0 when it had none */
  arrivedNs = 0;

  constructor(
    private readonly fd: number,
    readonly buf: Uint8Array,
  ) {
    this.#iov[0] = BigInt(ptr(buf));
    this.#iov[1] = BigInt(buf.length);
    this.#msg[2] = BigInt(ptr(this.#iov));
    this.#msg[3] = 1n;
    this.#msg[4] = BigInt(ptr(this.#control));
  }

  /** recvmsg's result: the datagram's length, or -1 (errno tells, EAGAIN when none waits). */
  receive(flags: number): number {
    this.#msg[5] = BigInt(this.#control.length);
    this.#msg[6] = 0n;
    const n = Number(lib.symbols.recvmsg(this.fd, new Uint8Array(this.#msg.buffer), flags));
    this.arrivedNs = 0;
    if (n < 0) return n;
    const len = Number(this.#msg[5]);
    const v = this.#controlView;
    // struct cmsghdr { size_t len; int level; int type; } then the data, 8-byte aligned
    for (let at = 0; at + 16 <= len; ) {
      const clen = Number(v.getBigUint64(at, true));
      if (clen < 16) break;
      if (v.getInt32(at + 8, true) === SOL_SOCKET && v.getInt32(at + 12, true) === SO_TIMESTAMPNS && clen >= 32) {
        this.arrivedNs = Number(v.getBigInt64(at + 16, true) - EPOCH_SEC) * 1e9 + Number(v.getBigInt64(at + 24, true));
      }
      at += (clen + 7) & ~7;
    }
    return n;
  }
}

/** Ends the sending half of a TCP connection: the peer reads end-of-stream after the data already sent. */
export function shutdownWrite(fd: number): void {
  lib.symbols.shutdown(fd, SHUT_WR);
}

/** Binds (and for TCP listens) on address:port; returns the port actually bound. */
export function bindSocket(fd: number, address: string, port: number, listen: boolean): number {
  setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  check(lib.symbols.bind(fd, sockaddr(address, port), 16), `bind ${address}:${port}`);
  if (listen) check(lib.symbols.listen(fd, 64), "listen");
  const sa = new Uint8Array(16);
  const len = new Uint32Array([16]);
  check(lib.symbols.getsockname(fd, sa, new Uint8Array(len.buffer)), "getsockname");
  return new DataView(sa.buffer).getUint16(2, false);
}

/** Starts a non-blocking connect; true when already connected, false while in progress. */
export function startConnect(fd: number, address: string, port: number): boolean {
  if (lib.symbols.connect(fd, sockaddr(address, port), 16) === 0) return true;
  const e = errno();
  if (e === EINPROGRESS) return false;
  check(-1, `connect ${address}:${port}`);
  return false;
}

/** The pending error of a socket (0 once a non-blocking connect succeeded). */
export function socketError(fd: number): number {
  const v = new Int32Array(1);
  const len = new Uint32Array([4]);
  lib.symbols.getsockopt(fd, SOL_SOCKET, SO_ERROR, new Uint8Array(v.buffer), new Uint8Array(len.buffer));
  return v[0];
}

export function acceptConnection(fd: number): number {
  const c = lib.symbols.accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c >= 0) setInt(c, IPPROTO_TCP, TCP_NODELAY, 1);
  return c;
}
