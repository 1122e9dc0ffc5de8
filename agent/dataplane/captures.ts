/**
 * @module
 * The dataplane worker's packet captures: one PcapWriter per running capture,
 * writing with FFI write(2) into a file descriptor the main thread opened
 * (agent/captures.ts) and handed over; this side closes it. `bind` turns the
 * captures' targets (node and link-direction keys) into the per-node and
 * per-direction writer indices the forwarder looks up per packet, for the
 * tables in force; it is called again whenever tables or captures change.
 */
import { ptr } from "bun:ffi";
import { closeFd, errno, strerror, sys } from "../sys/libc.ts";
import type { CaptureHooks } from "./forwarder.ts";
import type { CaptureCount, CaptureOpen } from "./messages.ts";
import { PcapWriter, type PcapSink } from "./pcap.ts";

/** write(2) to a file, whole: a short write is continued, a failure remembered as a sentence. */
class FdSink implements PcapSink {
  error: string | undefined;
  constructor(readonly fd: number) {}

  write(bytes: Uint8Array, len: number): boolean {
    if (this.error !== undefined) return false;
    const base = ptr(bytes);
    let done = 0;
    while (done < len) {
      const n = Number(sys.write(this.fd, base + done, len - done));
      if (n < 0) {
        this.error = `writing the capture file failed: ${strerror(errno())}`;
        return false;
      }
      done += n;
    }
    return true;
  }
}

interface Entry {
  open: CaptureOpen;
  sink: FdSink;
  writer: PcapWriter;
}

export class CaptureSet {
  #entries: Entry[] = [];

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Makes `list` the running set: new captures get a writer, ones left out
   * are flushed and closed (their final counts are returned), others keep
   * their writer and buffered records.
   */
  update(list: readonly CaptureOpen[]): CaptureCount[] {
    const wanted = new Map(list.map((c) => [c.key, c]));
    const kept: Entry[] = [];
    const closed: CaptureCount[] = [];
    for (const e of this.#entries) {
      const w = wanted.get(e.open.key);
      if (w && w.fd === e.open.fd) {
        e.open = w;
        kept.push(e);
        wanted.delete(e.open.key);
      } else {
        closed.push(this.#close(e));
      }
    }
    for (const open of wanted.values()) {
      const sink = new FdSink(open.fd);
      kept.push({ open, sink, writer: new PcapWriter(sink) });
    }
    this.#entries = kept;
    return closed;
  }

  /** The forwarder's lookups for tables with these node and direction keys. */
  bind(nodeKeys: readonly string[], dirKeys: readonly string[]): CaptureHooks {
    const node = new Int32Array(nodeKeys.length).fill(-1);
    const dir = new Int32Array(dirKeys.length).fill(-1);
    const nodeIndex = new Map(nodeKeys.map((k, i) => [k, i]));
    const dirIndex = new Map(dirKeys.map((k, i) => [k, i]));
    // a target claimed by two captures goes to the later one: each packet is copied once
    this.#entries.forEach((e, w) => {
      for (const k of e.open.nodes) {
        const i = nodeIndex.get(k);
        if (i !== undefined) node[i] = w;
      }
      for (const k of e.open.dirs) {
        const i = dirIndex.get(k);
        if (i !== undefined) dir[i] = w;
      }
    });
    return { writers: this.#entries.map((e) => e.writer), node, dir };
  }

  /** Writes what every capture has buffered (the worker does so every 100 ms). */
  flush(): void {
    for (const e of this.#entries) e.writer.flush();
  }

  counters(): CaptureCount[] {
    return this.#entries.map((e) => count(e));
  }

  /** Flushes and closes every capture (the dataplane stops). */
  closeAll(): CaptureCount[] {
    const closed = this.#entries.map((e) => this.#close(e));
    this.#entries = [];
    return closed;
  }

  #close(e: Entry): CaptureCount {
    e.writer.flush();
    closeFd(e.open.fd);
    return count(e);
  }
}

function count(e: Entry): CaptureCount {
  const c: CaptureCount = { key: e.open.key, packets: e.writer.packets, bytes: e.writer.bytes };
  if (e.sink.error !== undefined) c.error = e.sink.error;
  return c;
}
