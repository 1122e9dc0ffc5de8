/**
 * The dataplane thread. One loop waits on every node's TUN descriptor with ppoll
 * (nanosecond timeout = the next shaper deadline), reads packets with
 * non-blocking FFI reads into pool slots, forwards them, and writes released
 * packets to their destination TUN. It returns to the event loop every couple of
 * milliseconds (or at once when the main thread rings the wake eventfd) so that
 * table and shaping updates arrive between batches, never in the middle of one.
 */
import { ptr } from "bun:ffi";
import { sys, errno, EAGAIN, EINTR, POLLIN, strerror } from "../sys/libc.ts";
import { Forwarder, DROP_REASONS, D_EGRESS, D_POOL, type Egress } from "./forwarder.ts";
import { PacketPool, LARGE_SLOT } from "./pool.ts";
import type { DataplaneTables } from "./tables.ts";
import type { FromWorker, ToWorker, DirectionCounters } from "./messages.ts";

declare const self: Worker;

const READ_BATCH = 64;
const SLICE_NS = 2_000_000;
const MAX_WAIT_NS = 100_000_000;
const REPORT_NS = 500_000_000;
const PR_SET_TIMERSLACK = 29;

let pool: PacketPool | undefined;
let fwd: Forwarder | undefined;
let wakeFd = -1;
let seed = 1;
let stopped = false;
let scheduled = false;
let nextReport = 0;

// ppoll's array: struct pollfd { int fd; short events; short revents; }
let pollBuf = new Uint8Array(8);
let pollI32 = new Int32Array(pollBuf.buffer);
let pollI16 = new Int16Array(pollBuf.buffer);
let pollNode = new Int32Array(1);
let nfds = 0;
const timespec = new Uint8Array(16);
const tsI32 = new Int32Array(timespec.buffer);
const wakeBuf = new Uint8Array(8);
// one pre-allocated large slot per polled descriptor, the destination of its next read
let readSlot = new Int32Array(1);
// raw address of the pool's memory: a slot's address is this plus its offset
let memAddr = 0;

const egress: Egress = {
  emit(node: number, slot: number): void {
    const p = pool!;
    const fd = fwd!.tables.nodeFd[node];
    if (fd >= 0) {
      const r = sys.write(fd, addrOf(slot), p.len[slot]) as number;
      if (r < 0) fwd!.drops[D_EGRESS]++;
    } else {
      fwd!.drops[D_EGRESS]++;
    }
    p.free(slot);
  },
};

function addrOf(slot: number): number {
  return memAddr + pool!.offset[slot];
}

function setTables(tables: DataplaneTables): void {
  if (fwd) {
    fwd.flush();
    for (let i = 0; i < nfds; i++) if (readSlot[i] >= 0) pool!.free(readSlot[i]);
  }
  fwd = new Forwarder(tables, pool!, egress, seed);
  const fds: number[] = [wakeFd];
  const nodes: number[] = [-1];
  tables.nodeFd.forEach((fd, g) => {
    if (fd >= 0) {
      fds.push(fd);
      nodes.push(g);
    }
  });
  nfds = fds.length;
  pollBuf = new Uint8Array(8 * nfds);
  pollI32 = new Int32Array(pollBuf.buffer);
  pollI16 = new Int16Array(pollBuf.buffer);
  pollNode = Int32Array.from(nodes);
  readSlot = new Int32Array(nfds).fill(-1);
  for (let i = 0; i < nfds; i++) {
    pollI32[2 * i] = fds[i];
    pollI16[4 * i + 2] = POLLIN;
  }
}

function readNode(i: number, now: number): void {
  const p = pool!;
  const fd = pollI32[2 * i];
  const node = pollNode[i];
  for (let k = 0; k < READ_BATCH; k++) {
    let slot = readSlot[i];
    if (slot < 0) {
      slot = p.alloc(true);
      if (slot < 0) {
        // no room: leave packets in the kernel's TUN queue, which drops at its own limit
        fwd!.drops[D_POOL]++;
        return;
      }
      readSlot[i] = slot;
    }
    const n = sys.read(fd, addrOf(slot), LARGE_SLOT) as number;
    if (n <= 0) {
      if (n < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) post({ type: "error", message: `read from ${fwd!.tables.nodeKeys[node]}: ${strerror(e)}` });
      }
      return;
    }
    readSlot[i] = -1;
    p.len[slot] = n;
    fwd!.ingress(now, node, slot);
  }
}

function waitAndRead(now: number): boolean {
  const f = fwd!;
  const deadline = f.nextDeadline();
  let wait = deadline === Infinity ? MAX_WAIT_NS : deadline - now;
  if (wait > MAX_WAIT_NS) wait = MAX_WAIT_NS;
  if (wait > nextReport - now) wait = nextReport - now;
  if (wait < 0) wait = 0;
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
    if (i === 0) {
      sys.read(wakeFd, wakeBuf, 8);
      woken = true;
    } else {
      readNode(i, t);
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
    if (now >= nextReport) {
      report();
      nextReport = now + REPORT_NS;
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

function report(): void {
  const f = fwd!;
  const dirs: DirectionCounters[] = f.shapers.map((s, d) => ({
    key: f.tables.dirKeys[d],
    packets: s.sentPackets,
    bytes: s.sentBytes,
    segments: s.sentSegments,
    dropLoss: s.dropLoss,
    dropQueue: s.dropQueue,
    queued: s.queued,
  }));
  const drops: Record<string, number> = {};
  DROP_REASONS.forEach((r, i) => (drops[r] = f.drops[i]));
  post({ type: "counters", dirs, drops, poolInUse: pool!.inUseLarge + pool!.inUseSmall });
}

function post(msg: FromWorker): void {
  self.postMessage(msg);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    switch (msg.type) {
      case "init":
        wakeFd = msg.wakeFd;
        seed = msg.seed;
        pool = new PacketPool(msg.poolBytes);
        memAddr = ptr(pool.mem);
        sys.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
        post({ type: "ready" });
        break;
      case "tables":
        setTables(msg.tables);
        schedule();
        break;
      case "shape": {
        const now = Bun.nanoseconds();
        for (const u of msg.updates) fwd?.reshape(now, u.dir, u.shaping);
        schedule();
        break;
      }
      case "stop":
        stopped = true;
        fwd?.flush();
        post({ type: "stopped" });
        break;
    }
  } catch (err) {
    post({ type: "error", message: (err as Error).stack ?? String(err) });
  }
};
