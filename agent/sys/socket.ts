/**
 * IPv4 TCP and UDP sockets through bun:ffi, non-blocking, for the dataplane
 * worker: its transports must sit in the same ppoll loop as the TUN devices, so
 * they cannot be event-loop sockets that only run when the worker yields.
 */
import { dlopen, FFIType } from "bun:ffi";
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

export function openSocket(type: number): number {
  const fd = check(lib.symbols.socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket");
  setInt(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
  setInt(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
  if (type === SOCK_STREAM) setInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  return fd;
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
