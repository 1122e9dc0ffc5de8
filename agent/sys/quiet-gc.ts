/**
 * Keeps Bun's idle garbage-collection timer off the packet threads.
 *
 * Bun runs a collection on every JavaScript thread about once a second, even
 * on a thread that allocates nothing. On the dataplane and quic threads each
 * one paused packets for 1 to 3 ms, sometimes 20 ms (BUN_JSC_logGC on a
 * three-host cluster): several pings a second came late by that much. JSC's
 * own collections, paced by what a thread allocates, are left alone, and the
 * packet threads allocate nothing per packet.
 *
 * Bun reads BUN_GC_TIMER_DISABLE only from the environment a process starts
 * with; setting it later does nothing. A process that runs a dataplane and lacks
 * it therefore executes itself again with it set, before any thread starts: the
 * same program, arguments and pid, so whoever started it (a shell, systemd, a
 * test) sees no difference.
 */
import { readFileSync } from "node:fs";
import { dlopen, FFIType, ptr } from "bun:ffi";

export const GC_TIMER_VAR = "BUN_GC_TIMER_DISABLE";

/** The NUL-separated strings of a /proc file, as the kernel gave them at exec. */
function procStrings(file: string): string[] {
  const raw = readFileSync(file);
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0) continue;
    out.push(raw.subarray(start, i).toString());
    start = i + 1;
  }
  return out;
}

/** A NULL-terminated array of C strings; the buffers are returned too, to keep them alive across the call. */
function cStrings(list: string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = list.map((s) => Buffer.from(`${s}\0`));
  const array = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}

/**
 * Returns only when the timer is already off (or the exec failed, which `warn`
 * is told); otherwise the process image is replaced.
 */
export function quietGc(warn: (line: string) => void): void {
  if (process.env[GC_TIMER_VAR] !== undefined || process.platform !== "linux") return;
  let argv: string[];
  let env: string[];
  try {
    argv = procStrings("/proc/self/cmdline");
    // the environment the process started with: Bun may have added to process.env since (a .env file)
    env = procStrings("/proc/self/environ");
  } catch (e) {
    warn(`cannot read /proc/self (${(e as Error).message}); Bun's idle GC timer stays on and may delay packets`);
    return;
  }
  env.push(`${GC_TIMER_VAR}=1`);
  const libc = dlopen("libc.so.6", {
    execve: { args: [FFIType.cstring, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  });
  const a = cStrings(argv);
  const e = cStrings(env);
  libc.symbols.execve(Buffer.from("/proc/self/exe\0"), a.array, e.array);
  // only a failed execve comes back
  warn("could not execute itself again with Bun's idle GC timer off; it stays on and may delay packets");
  void a.keep;
  void e.keep;
  libc.close();
}
