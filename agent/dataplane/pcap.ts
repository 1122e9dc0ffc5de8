/**
 * @module
 * The pcap writer behind packet captures: the classic libpcap file format
 * (pcap-savefile(5); draft-ietf-opsawg-pcap) with LINKTYPE_RAW (101: each
 * packet starts at its IP header, as TUN packets do) and nanosecond
 * timestamps (magic 0xa1b23c4d), little-endian; Wireshark and `tcpdump -r`
 * read both byte orders by the magic.
 *
 * A file is a 24-byte global header, then records: a 16-byte header (seconds,
 * nanoseconds, bytes kept, bytes on the wire) and the packet. Records gather
 * in one buffer per capture (~1 MB) and go to the sink when the next one would
 * not fit and whenever the owner flushes (on a timer and at stop). `record`
 * allocates nothing and makes one native copy (Buffer#copy), so it can sit on
 * the forwarding hot path.
 *
 * Timestamps are wall-clock time: the dataplane passes its monotonic `now`
 * (Bun.nanoseconds()) and the writer adds an offset taken once. Wall time in
 * nanoseconds (~1.7e18) is past 2^53, so the offset is kept as whole epoch
 * seconds plus nanoseconds and the sum never grows beyond `now`'s magnitude.
 */

export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const LINKTYPE_RAW = 101;
export const PCAP_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
/** The largest IP packet: TSO super-packets, written whole, fit in it. */
export const PCAP_SNAPLEN = 65535;
export const DEFAULT_CAPTURE_BUFFER = 1 << 20;

/** Where flushed records go; false when they could not be written (the writer counts them as lost). */
export interface PcapSink {
  write(bytes: Uint8Array, len: number): boolean;
}

/** Wall time of monotonic instant t (ns): epochSec + (t + offsetNs) / 1e9 seconds. */
export interface WallClock {
  epochSec: number;
  offsetNs: number;
}

/** The offset that maps `monoNs` (a monotonic reading) to `wallMs` (Date.now() at the same moment). */
export function wallClock(monoNs: number = Bun.nanoseconds(), wallMs: number = Date.now()): WallClock {
  const epochSec = Math.floor(wallMs / 1000);
  return { epochSec, offsetNs: (wallMs - epochSec * 1000) * 1e6 - monoNs };
}

/** The 24-byte global header every capture file starts with. */
export function pcapFileHeader(): Uint8Array {
  const bytes = new Uint8Array(PCAP_HEADER_BYTES);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, PCAP_MAGIC_NS, true);
  v.setUint16(4, PCAP_VERSION_MAJOR, true);
  v.setUint16(6, PCAP_VERSION_MINOR, true);
  v.setInt32(8, 0, true); // thiszone: timestamps are UTC
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, PCAP_SNAPLEN, true);
  v.setUint32(20, LINKTYPE_RAW, true);
  return bytes;
}

/** Whether `bytes` start with the header this writer makes (an agent appends only to such a file). */
export function isOwnPcapHeader(bytes: Uint8Array): boolean {
  if (bytes.byteLength < PCAP_HEADER_BYTES) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, PCAP_HEADER_BYTES);
  return v.getUint32(0, true) === PCAP_MAGIC_NS && v.getUint32(20, true) === LINKTYPE_RAW;
}

export class PcapWriter {
  /** packets and bytes (of packet data) recorded, less what a failed write lost */
  packets = 0;
  bytes = 0;
  /** packets lost because the sink refused them */
  lost = 0;
  readonly #sink: PcapSink;
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #epochSec: number;
  readonly #offsetNs: number;
  #pos = 0;
  #pendingPackets = 0;
  #pendingBytes = 0;

  constructor(sink: PcapSink, opts: { bufferBytes?: number; clock?: WallClock } = {}) {
    const size = opts.bufferBytes ?? DEFAULT_CAPTURE_BUFFER;
    // one record of the largest packet must fit, or record() could never make room
    if (size < PCAP_RECORD_HEADER_BYTES + PCAP_SNAPLEN) throw new RangeError(`a capture buffer needs at least ${PCAP_RECORD_HEADER_BYTES + PCAP_SNAPLEN} bytes, got ${size}`);
    const clock = opts.clock ?? wallClock();
    this.#sink = sink;
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
    this.#epochSec = clock.epochSec;
    this.#offsetNs = clock.offsetNs;
  }

  /** Bytes waiting in the buffer. */
  get buffered(): number {
    return this.#pos;
  }

  /**
   * Records the IP packet at src[start, start + len) seen at monotonic time
   * `now` (ns). A packet longer than the snap length keeps its first
   * PCAP_SNAPLEN bytes and its true length in the record header.
   */
  record(src: Buffer, start: number, len: number, now: number): void {
    const kept = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : len;
    if (this.#pos + PCAP_RECORD_HEADER_BYTES + kept > this.#buf.byteLength) this.flush();
    const t = Math.floor(now + this.#offsetNs);
    const s = Math.floor(t / 1e9);
    const p = this.#pos;
    const v = this.#view;
    v.setUint32(p, this.#epochSec + s, true);
    v.setUint32(p + 4, t - s * 1e9, true);
    v.setUint32(p + 8, kept, true);
    v.setUint32(p + 12, len, true);
    src.copy(this.#buf, p + PCAP_RECORD_HEADER_BYTES, start, start + kept);
    this.#pos = p + PCAP_RECORD_HEADER_BYTES + kept;
    this.packets++;
    this.bytes += kept;
    this.#pendingPackets++;
    this.#pendingBytes += kept;
  }

  /** Hands the buffered records to the sink; false when it refused them (they are counted as lost). */
  flush(): boolean {
    if (this.#pos === 0) return true;
    const ok = this.#sink.write(this.#buf, this.#pos);
    if (!ok) {
      this.packets -= this.#pendingPackets;
      this.bytes -= this.#pendingBytes;
      this.lost += this.#pendingPackets;
    }
    this.#pos = 0;
    this.#pendingPackets = 0;
    this.#pendingBytes = 0;
    return ok;
  }
}
