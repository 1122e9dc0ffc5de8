/**
 * @module
 * The virtio_net_hdr that precedes every packet on a TUN opened with
 * IFF_VNET_HDR and TSO offload, and what the dataplane does with TCP
 * super-packets (one read carrying up to 64 KB cut into gso_size segments):
 * count their wire segments and bytes, cut them into real segments when some
 * segments are lost, or trim their tail when a queue is nearly full.
 *
 * Layout (10 bytes, little-endian): u8 flags, u8 gso_type, u16 hdr_len,
 * u16 gso_size, u16 csum_start, u16 csum_offset; the IP packet follows. A TUN
 * has no link layer, so csum_start counts from the IP header.
 *
 * Segments are produced exactly as the kernel's own TCP segmentation
 * (tcp_gso_segment / inet_gso_segment) would: IPv4 id + i, seq + i*gso_size,
 * FIN and PSH on the last segment only, CWR on the first only.
 *
 * Checksum choice: produced segments keep NEEDS_CSUM with the pseudo-header sum
 * (including the segment's own TCP length) in the TCP checksum field, which is
 * the form the kernel hands to a checksum-offloading device. That costs O(1) per
 * segment instead of summing every payload byte in JavaScript (the split already
 * copies them natively), and a TUN with TUN_F_CSUM accepts it: the receiving
 * stack treats CHECKSUM_PARTIAL as verified, or completes it when it forwards.
 * Consumers without offload (the WASM TCP stack, packet capture) call
 * `completeChecksum` first.
 *
 * Every function takes the packet with its virtio header at index 0 and its
 * length, reads nothing past `len`, and allocates nothing: parse results go to
 * module-level scratch variables (the dataplane is one thread per worker).
 */
import type { PacketPool } from "./pool.ts";
import { SMALL_SLOT } from "./pool.ts";

export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_UDP = 3;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_ECN = 0x80;

const IP = VNET_HDR_LEN;
const PROTO_TCP = 6;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** Offset of the checksum field in the TCP header. */
const TCP_CSUM_OFFSET = 16;

// Scratch results of the last successful parseTso (offsets from the packet start).
let pV6 = false;
let pL4 = 0; // TCP header offset
let pPayload = 0; // payload offset (= end of TCP header)
let pPayloadLen = 0;
let pGsoSize = 0;
let pSegments = 1;

/**
 * Parse a TCP super-packet (gso_type TCPV4/TCPV6, gso_size > 0) into the scratch
 * variables; false for anything else, including malformed packets, which the
 * dataplane then treats as one opaque segment.
 */
function parseTso(buf: Uint8Array, len: number): boolean {
  if (len < IP + 20) return false;
  const gsoType = buf[1] & ~VNET_GSO_ECN;
  if (gsoType !== VNET_GSO_TCPV4 && gsoType !== VNET_GSO_TCPV6) return false;
  const gsoSize = buf[4] | (buf[5] << 8);
  if (gsoSize === 0) return false;
  const version = buf[IP] >> 4;
  let l4: number;
  let ipEnd: number;
  if (version === 4) {
    const ihl = (buf[IP] & 15) << 2;
    if (ihl < 20 || buf[IP + 9] !== PROTO_TCP) return false;
    // A fragment cannot be a TSO packet; leave it alone.
    if ((buf[IP + 6] & 0x3f) !== 0 || buf[IP + 7] !== 0) return false;
    ipEnd = IP + ((buf[IP + 2] << 8) | buf[IP + 3]);
    l4 = IP + ihl;
    pV6 = false;
  } else if (version === 6) {
    if (len < IP + 40) return false;
    ipEnd = IP + 40 + ((buf[IP + 4] << 8) | buf[IP + 5]);
    let next = buf[IP + 6];
    l4 = IP + 40;
    // Skip hop-by-hop (0), routing (43) and destination options (60): their length is (n + 1) * 8.
    while (next === 0 || next === 43 || next === 60) {
      if (l4 + 8 > len) return false;
      next = buf[l4];
      l4 += (buf[l4 + 1] + 1) << 3;
    }
    if (next !== PROTO_TCP) return false;
    pV6 = true;
  } else {
    return false;
  }
  if (ipEnd > len || l4 + 20 > ipEnd) return false;
  const payload = l4 + ((buf[l4 + 12] >> 4) << 2);
  if (payload < l4 + 20 || payload > ipEnd) return false;
  pL4 = l4;
  pPayload = payload;
  pPayloadLen = ipEnd - payload;
  pGsoSize = gsoSize;
  pSegments = pPayloadLen === 0 ? 1 : Math.ceil(pPayloadLen / gsoSize);
  return true;
}

/** How many wire segments the packet stands for: 1 unless it is a TCP super-packet. */
export function segmentCount(buf: Uint8Array, len: number): number {
  return parseTso(buf, len) ? pSegments : 1;
}

/** Bytes its segments occupy on the wire (IP packets, each with its own IP and TCP headers), for rate accounting. */
export function wireBytes(buf: Uint8Array, len: number): number {
  if (!parseTso(buf, len)) return len > IP ? len - IP : 0;
  return pSegments * (pPayload - IP) + pPayloadLen;
}

/** One's-complement 16-bit sum of `buf[from, to)` added to `sum`, not folded (big-endian words, odd tail padded). */
function sum16(buf: Uint8Array, from: number, to: number, sum: number): number {
  let i = from;
  // A double holds the unfolded sum exactly for any packet size here (< 2^53 / 65535 words).
  for (; i + 1 < to; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < to) sum += buf[i] << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

function writeIpv4Checksum(buf: Uint8Array, base: number): void {
  buf[base + 10] = 0;
  buf[base + 11] = 0;
  const c = ~fold(sum16(buf, base, base + ((buf[base] & 15) << 2), 0)) & 0xffff;
  buf[base + 10] = c >> 8;
  buf[base + 11] = c & 0xff;
}

/**
 * Rewrite lengths, virtio header and the partial TCP checksum of a packet at
 * `base` in `buf` whose headers were parsed into scratch (`base` shifts the
 * scratch offsets), for a packet that now carries `payloadLen` payload bytes.
 * gso_size stays unless the packet is now one segment.
 */
function rewriteForPayload(buf: Uint8Array, base: number, payloadLen: number): number {
  const total = pPayload + payloadLen; // bytes including the virtio header
  const ip = base + IP;
  if (pV6) {
    const pl = total - IP - 40;
    buf[ip + 4] = pl >> 8;
    buf[ip + 5] = pl & 0xff;
  } else {
    const tl = total - IP;
    buf[ip + 2] = tl >> 8;
    buf[ip + 3] = tl & 0xff;
    writeIpv4Checksum(buf, ip);
  }
  const single = payloadLen <= pGsoSize;
  buf[base] = VNET_F_NEEDS_CSUM;
  if (single) {
    buf[base + 1] = VNET_GSO_NONE;
    buf[base + 4] = 0;
    buf[base + 5] = 0;
  }
  const hdrLen = pPayload - IP;
  buf[base + 2] = hdrLen & 0xff;
  buf[base + 3] = hdrLen >> 8;
  const csumStart = pL4 - IP;
  buf[base + 6] = csumStart & 0xff;
  buf[base + 7] = csumStart >> 8;
  buf[base + 8] = TCP_CSUM_OFFSET;
  buf[base + 9] = 0;
  // The field holds the folded pseudo-header sum for this packet's TCP length, not complemented:
  // the device (or completeChecksum) adds the TCP bytes to it and stores the complement.
  const addrs = pV6 ? sum16(buf, ip + 8, ip + 40, 0) : sum16(buf, ip + 12, ip + 20, 0);
  const partial = fold(addrs + PROTO_TCP + (total - pL4));
  const check = base + pL4 + TCP_CSUM_OFFSET;
  buf[check] = partial >> 8;
  buf[check + 1] = partial & 0xff;
  return total;
}

/**
 * Keep only the first `keep` segments of a TCP super-packet, in place (tail drop
 * when a queue has room for some of its segments). Returns the new length
 * (store it in the pool's `len`). The result is what the network would have
 * delivered had it dropped the tail of the kernel's segments: FIN and PSH rode
 * on the dropped last segment, so both are cleared (the sender retransmits them
 * with the data); CWR stays on the first. One segment left means gso_type NONE.
 * Anything that is not a super-packet, or keep >= its segments, is unchanged;
 * keep < 1 is taken as 1 (to keep nothing, drop the packet).
 */
export function trimSegments(buf: Uint8Array, len: number, keep: number): number {
  if (!parseTso(buf, len) || keep >= pSegments) return len;
  if (keep < 1) keep = 1;
  buf[pL4 + 13] &= ~(TCP_FIN | TCP_PSH);
  return rewriteForPayload(buf, 0, keep * pGsoSize);
}

/**
 * Cut the super-packet in slot `id` into its segments, each in its own slot
 * (SMALL when it fits), keeping segment i only when keepMask[i] is 1. Kept slot
 * ids go to `out` in order; returns how many. The original slot is freed, and
 * the pool metadata (ns, src, dst, route, conv) is copied to each segment. If the
 * pool runs out of slots the remaining segments are lost: the return value
 * is then less than the number of ones in keepMask, and the caller counts the
 * difference as drops. Size `keepMask` and `out` for the worst case once
 * (65536: Linux's smallest MSS makes ~1400 segments of a 64 KB read). A packet
 * that is not a super-packet is one segment: kept as it is (out[0] = id) or freed.
 */
export function splitSegments(pool: PacketPool, id: number, keepMask: Uint8Array, out: Int32Array): number {
  const mem = pool.mem;
  const base = pool.offset[id];
  const len = pool.len[id];
  if (!parseTso(pool.view(id), len)) {
    if (keepMask[0] === 1) {
      out[0] = id;
      return 1;
    }
    pool.free(id);
    return 0;
  }
  const hdrs = pPayload; // virtio header + IP + TCP headers
  const segs = pSegments;
  const gso = pGsoSize;
  const payloadLen = pPayloadLen;
  const tcp = pL4;
  const ipId = pV6 ? 0 : (mem[base + IP + 4] << 8) | mem[base + IP + 5];
  const seq = ((mem[base + tcp + 4] << 24) | (mem[base + tcp + 5] << 16) | (mem[base + tcp + 6] << 8) | mem[base + tcp + 7]) >>> 0;
  let n = 0;
  for (let i = 0; i < segs; i++) {
    if (keepMask[i] !== 1) continue;
    if (n === out.length) break; // never lose a slot id to an out-of-range write
    const segPayload = i === segs - 1 ? payloadLen - i * gso : gso;
    const segLen = hdrs + segPayload;
    const sid = pool.alloc(segLen > SMALL_SLOT);
    if (sid === -1) break;
    const d = pool.offset[sid];
    mem.copyWithin(d, base, base + hdrs);
    const from = base + hdrs + i * gso;
    mem.copyWithin(d + hdrs, from, from + segPayload);
    if (!pV6) {
      const idi = (ipId + i) & 0xffff;
      mem[d + IP + 4] = idi >> 8;
      mem[d + IP + 5] = idi & 0xff;
    }
    const s = (seq + i * gso) >>> 0;
    mem[d + tcp + 4] = s >>> 24;
    mem[d + tcp + 5] = (s >>> 16) & 0xff;
    mem[d + tcp + 6] = (s >>> 8) & 0xff;
    mem[d + tcp + 7] = s & 0xff;
    let flags = mem[d + tcp + 13];
    if (i !== segs - 1) flags &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) flags &= ~TCP_CWR;
    mem[d + tcp + 13] = flags;
    // A split segment is never GSO: segPayload <= gso makes rewriteForPayload clear the type.
    pool.len[sid] = rewriteForPayload(mem, d, segPayload);
    pool.ns[sid] = pool.ns[id];
    pool.src[sid] = pool.src[id];
    pool.dst[sid] = pool.dst[id];
    pool.route[sid] = pool.route[id];
    pool.conv[sid] = pool.conv[id];
    out[n++] = sid;
  }
  pool.free(id);
  return n;
}

/**
 * Finish a NEEDS_CSUM checksum in place (sum from csum_start to the end with the
 * partial sum already in the field, store its complement) and mark the packet
 * DATA_VALID, for consumers that cannot offload checksums. Only for one-segment
 * packets (gso_type NONE); super-packets must be split first. Returns false when
 * there was nothing to do or the header is out of range.
 */
export function completeChecksum(buf: Uint8Array, len: number): boolean {
  if ((buf[0] & VNET_F_NEEDS_CSUM) === 0 || buf[1] !== VNET_GSO_NONE) return false;
  const start = IP + (buf[6] | (buf[7] << 8));
  const field = start + (buf[8] | (buf[9] << 8));
  if (field + 2 > len) return false;
  let c = ~fold(sum16(buf, start, len, 0)) & 0xffff;
  // 0 and 0xffff are the same number in one's complement, but UDP reads 0 as "no checksum" (RFC 768).
  if (c === 0) c = 0xffff;
  buf[field] = c >> 8;
  buf[field + 1] = c & 0xff;
  buf[0] = VNET_F_DATA_VALID;
  return true;
}
