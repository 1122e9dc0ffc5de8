/**
 * The few libc calls the dataplane needs, through bun:ffi: open/close, ioctl for
 * TUN set-up, non-blocking read/write on TUN descriptors, ppoll to wait on many
 * descriptors with a nanosecond timeout, and eventfd to wake a polling thread.
 * Node's async fs cannot do this: its reads on TUN descriptors starve the thread
 * pool (see the design brief), so TUN I/O is blocking FFI in a worker thread.
 */
import { dlopen, FFIType, read as ffiRead, type Pointer } from "bun:ffi";

const lib = dlopen("libc.so.6", {
  open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  ppoll: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
});

// ioctl's third argument is either a pointer or a plain value; a second symbol
// with an integer signature avoids boxing values as fake pointers.
const libv = dlopen("libc.so.6", {
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
});

export const O_RDWR = 0x2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const EAGAIN = 11;
export const EINTR = 4;
export const POLLIN = 0x1;
export const EFD_NONBLOCK = 0x800;
export const EFD_CLOEXEC = 0x80000;

export const sys = lib.symbols;

export function errno(): number {
  const p = lib.symbols.__errno_location() as Pointer;
  return ffiRead.i32(p, 0);
}

export function strerror(code: number): string {
  return String(lib.symbols.strerror(code));
}

/** Throws an Error naming the call and the errno text when a libc call returned -1. */
export function check(ret: number, what: string): number {
  if (ret < 0) {
    const e = errno();
    throw new Error(`${what}: ${strerror(e)} (errno ${e})`);
  }
  return ret;
}

export function openPath(path: string, flags: number): number {
  return check(lib.symbols.open(Buffer.from(`${path}\0`), flags), `open ${path}`);
}

export function ioctlPtr(fd: number, request: number, arg: Uint8Array): number {
  return lib.symbols.ioctl(fd, request, arg);
}

export function ioctlValue(fd: number, request: number, value: number): number {
  return libv.symbols.ioctl(fd, request, value);
}

export function closeFd(fd: number): void {
  lib.symbols.close(fd);
}
