/**
 * Reads a pcap file back for tests: the global header (nanosecond or
 * microsecond magic, either byte order) and every record, with the IPv4
 * fields a ping check needs (other IP versions have only `version`). Throws
 * on anything malformed, naming where.
 */

export interface PcapPacket {
  /** seconds since the epoch, with the file's precision */
  at: number;
  len: number;
  origLen: number;
  version: number;
  /** "" unless IPv4 */
  src: string;
  dst: string;
  protocol: number;
  /** ICMP type (8 echo request, 0 echo reply) when the packet is ICMP */
  icmpType?: number;
}

export interface PcapFile {
  linktype: number;
  nanoseconds: boolean;
  packets: PcapPacket[];
}

export function parsePcap(bytes: Uint8Array): PcapFile {
  if (bytes.byteLength < 24) throw new Error(`a pcap file has a 24-byte header; this one has ${bytes.byteLength} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  const formats: Record<number, [boolean, boolean]> = { 0xa1b2c3d4: [true, false], 0xa1b23c4d: [true, true], 0xd4c3b2a1: [false, false], 0x4d3cb2a1: [false, true] };
  const format = formats[magic];
  if (!format) throw new Error(`not a pcap file: magic 0x${magic.toString(16)}`);
  const [le, nanoseconds] = format;
  const linktype = v.getUint32(20, le);
  const packets: PcapPacket[] = [];
  for (let p = 24; p < bytes.byteLength; ) {
    if (p + 16 > bytes.byteLength) throw new Error(`record at byte ${p}: its header is cut off`);
    const at = v.getUint32(p, le) + v.getUint32(p + 4, le) / (nanoseconds ? 1e9 : 1e6);
    const len = v.getUint32(p + 8, le);
    const origLen = v.getUint32(p + 12, le);
    const ip = p + 16;
    if (ip + len > bytes.byteLength) throw new Error(`record at byte ${p}: ${len} bytes announced, ${bytes.byteLength - ip} left`);
    if (len < 1) throw new Error(`record at byte ${p}: empty`);
    const version = bytes[ip] >> 4;
    if (version !== 4) {
      packets.push({ at, len, origLen, version, src: "", dst: "", protocol: -1 });
      p = ip + len;
      continue;
    }
    if (len < 20) throw new Error(`record at byte ${p}: an IPv4 packet of ${len} bytes`);
    const ihl = (bytes[ip] & 15) * 4;
    const protocol = bytes[ip + 9];
    packets.push({
      at,
      len,
      origLen,
      version,
      src: [...bytes.subarray(ip + 12, ip + 16)].join("."),
      dst: [...bytes.subarray(ip + 16, ip + 20)].join("."),
      protocol,
      ...(protocol === 1 && len > ihl ? { icmpType: bytes[ip + ihl] } : {}),
    });
    p = ip + len;
  }
  return { linktype, nanoseconds, packets };
}
