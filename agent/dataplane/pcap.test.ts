/** The pcap writer, byte for byte: global header, record headers, flushing when the buffer is full. */
import { describe, expect, test } from "bun:test";
import {
  isOwnPcapHeader,
  PCAP_HEADER_BYTES,
  PCAP_RECORD_HEADER_BYTES,
  PCAP_SNAPLEN,
  pcapFileHeader,
  PcapWriter,
  type PcapSink,
  wallClock,
} from "./pcap.ts";

class Collect implements PcapSink {
  writes: Uint8Array[] = [];
  ok = true;
  write(bytes: Uint8Array, len: number): boolean {
    if (this.ok) this.writes.push(bytes.slice(0, len));
    return this.ok;
  }
  all(): Uint8Array {
    return Buffer.concat(this.writes);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
// 2023-11-14T22:13:20Z, 250 ms into the second, at monotonic 5 s
const CLOCK = wallClock(5e9, 1_700_000_000_250);

describe("pcap", () => {
  test("the global header: nanosecond magic, version 2.4, UTC, snaplen 65535, LINKTYPE_RAW", () => {
    expect(hex(pcapFileHeader())).toBe("4d3cb2a1" + "0200" + "0400" + "00000000" + "00000000" + "ffff0000" + "65000000");
    expect(isOwnPcapHeader(pcapFileHeader())).toBe(true);
    // the microsecond magic (another program's file) is not ours to append to
    const other = pcapFileHeader();
    other[0] = 0xd4;
    other[1] = 0xc3;
    expect(isOwnPcapHeader(other)).toBe(false);
    expect(isOwnPcapHeader(pcapFileHeader().subarray(0, 20))).toBe(false);
  });

  test("wallClock maps monotonic instants to epoch seconds and nanoseconds", () => {
    expect(CLOCK.epochSec).toBe(1_700_000_000);
    // 5 s monotonic is 250 ms into the epoch second; 1.8 s later is 50 ms into the second after next
    expect(CLOCK.offsetNs + 5e9).toBe(250e6);
    expect(CLOCK.offsetNs + 6.8e9).toBe(2.05e9);
  });

  test("a record: seconds, nanoseconds, kept and original length, then the packet", () => {
    const sink = new Collect();
    const w = new PcapWriter(sink, { clock: CLOCK });
    const src = Buffer.from([0xee, 0x45, 0x00, 0x00, 0x1c, 0xff]);
    w.record(src, 1, 4, 6.8e9 + 123);
    expect(w.buffered).toBe(PCAP_RECORD_HEADER_BYTES + 4);
    expect(sink.writes).toHaveLength(0);
    expect(w.flush()).toBe(true);
    // 1_700_000_002 s = 0x6553f102; 50_000_123 ns = 0x02faf0fb
    expect(hex(sink.all())).toBe("02f15365" + "fbf0fa02" + "04000000" + "04000000" + "4500001c");
    expect([w.packets, w.bytes, w.buffered]).toEqual([1, 4, 0]);
    expect(w.flush()).toBe(true);
    expect(sink.writes).toHaveLength(1);
  });

  test("a record that would not fit flushes the buffer first; order is kept", () => {
    const sink = new Collect();
    const size = PCAP_RECORD_HEADER_BYTES + PCAP_SNAPLEN;
    const w = new PcapWriter(sink, { bufferBytes: size, clock: CLOCK });
    const src = Buffer.alloc(30_000);
    for (let i = 0; i < 3; i++) {
      src[0] = i;
      w.record(src, 0, 30_000, 5e9 + i);
    }
    // two records fill 60032 of 65551 bytes; the third goes to a fresh buffer
    expect(sink.writes.map((b) => b.byteLength)).toEqual([2 * (PCAP_RECORD_HEADER_BYTES + 30_000)]);
    w.flush();
    const all = sink.all();
    const firstBytes = [0, 1, 2].map((i) => all[i * (PCAP_RECORD_HEADER_BYTES + 30_000) + PCAP_RECORD_HEADER_BYTES]);
    expect(firstBytes).toEqual([0, 1, 2]);
    expect(w.packets).toBe(3);
  });

  test("a packet past the snap length keeps its first 65535 bytes and its true length", () => {
    const sink = new Collect();
    const w = new PcapWriter(sink, { clock: CLOCK });
    w.record(Buffer.alloc(70_000, 7), 0, 70_000, 5e9);
    w.flush();
    const v = new DataView(sink.all().buffer);
    expect([v.getUint32(8, true), v.getUint32(12, true)]).toEqual([PCAP_SNAPLEN, 70_000]);
    expect(sink.all().byteLength).toBe(PCAP_RECORD_HEADER_BYTES + PCAP_SNAPLEN);
  });

  test("records a sink refuses are counted as lost, not as written", () => {
    const sink = new Collect();
    const w = new PcapWriter(sink, { clock: CLOCK });
    w.record(Buffer.alloc(100), 0, 100, 5e9);
    sink.ok = false;
    expect(w.flush()).toBe(false);
    expect([w.packets, w.bytes, w.lost]).toEqual([0, 0, 1]);
  });

  test("a buffer too small for the largest record is refused", () => {
    expect(() => new PcapWriter(new Collect(), { bufferBytes: PCAP_HEADER_BYTES })).toThrow(/at least 65551/);
  });
});
