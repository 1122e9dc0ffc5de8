/**
 * Tests for vnet.ts on hand-built IPv4/IPv6 TCP super-packets, checked field by
 * field against the kernel's segmentation rules, with checksums verified by a
 * separate, deliberately plain implementation below (arrays, no shortcuts).
 */
import { describe, expect, test } from "bun:test";
import { PacketPool, SMALL_SLOT } from "./pool.ts";
import {
  completeChecksum,
  segmentCount,
  splitSegments,
  trimSegments,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  VNET_GSO_TCPV4,
  VNET_GSO_TCPV6,
  VNET_HDR_LEN,
  wireBytes,
} from "./vnet.ts";

// ---- independent checksum arithmetic ----

function onesSum(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += bytes[i] * 256 + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return s;
}

const u16 = (b: Uint8Array, o: number): number => b[o] * 256 + b[o + 1];
const u32 = (b: Uint8Array, o: number): number => u16(b, o) * 65536 + u16(b, o + 2);

type Pkt = { bytes: Uint8Array<ArrayBuffer>; v6: boolean; ipHdr: number; tcpOff: number };

/** Pseudo-header bytes for a TCP segment of `tcpLen` bytes. */
function pseudo(p: Pkt, tcpLen: number): number[] {
  const b = p.bytes;
  const ip = VNET_HDR_LEN;
  if (p.v6) return [...b.slice(ip + 8, ip + 40), 0, 0, tcpLen >> 8, tcpLen & 255, 0, 0, 0, 6];
  return [...b.slice(ip + 12, ip + 20), 0, 6, tcpLen >> 8, tcpLen & 255];
}

/** The correct TCP checksum of the segment, from scratch. */
function tcpChecksum(p: Pkt, len: number): number {
  const tcp = [...p.bytes.slice(p.tcpOff, len)];
  tcp[16] = 0;
  tcp[17] = 0;
  return ~onesSum([...pseudo(p, tcp.length), ...tcp]) & 0xffff;
}

/** What a checksum-offloading device stores: complement of the sum from csum_start, partial sum in place. */
function deviceComplete(p: Pkt, len: number): number {
  return ~onesSum([...p.bytes.slice(p.tcpOff, len)]) & 0xffff;
}

const same = (a: number, b: number): boolean => a === b || (a === 0 && b === 0xffff) || (a === 0xffff && b === 0);

// ---- building super-packets by hand ----

type Build = { v6?: boolean; payload: number; gso: number; flags?: number; ipId?: number; seq?: number; tcpOptions?: number; hopByHop?: boolean; gsoType?: number };

const FIN = 0x01;
const PSH = 0x08;
const ACK = 0x10;
const CWR = 0x80;

function payloadByte(i: number): number {
  return (i * 7 + 3) & 0xff;
}

function build(o: Build): Pkt {
  const v6 = o.v6 ?? false;
  const ext = v6 && o.hopByHop ? 8 : 0;
  const ipHdr = (v6 ? 40 : 20) + ext;
  const tcpHdr = 20 + (o.tcpOptions ?? 12);
  const len = VNET_HDR_LEN + ipHdr + tcpHdr + o.payload;
  const b = new Uint8Array(len);
  const ip = VNET_HDR_LEN;
  const tcp = ip + ipHdr;
  b[0] = VNET_F_NEEDS_CSUM;
  b[1] = o.gsoType ?? (v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4);
  b[2] = ipHdr + tcpHdr;
  b[4] = o.gso & 255;
  b[5] = o.gso >> 8;
  b[6] = ipHdr;
  b[8] = 16;
  if (v6) {
    b[ip] = 0x60;
    const pl = len - ip - 40;
    b[ip + 4] = pl >> 8;
    b[ip + 5] = pl & 255;
    b[ip + 6] = ext ? 0 : 6;
    b[ip + 7] = 64;
    b[ip + 8] = 0xfd;
    b[ip + 23] = 1;
    b[ip + 24] = 0xfd;
    b[ip + 39] = 2;
    if (ext) {
      b[ip + 40] = 6; // next header TCP, length 0 (8 bytes), PadN option
      b[ip + 42] = 1;
      b[ip + 43] = 4;
    }
  } else {
    b[ip] = 0x45;
    b[ip + 2] = (len - ip) >> 8;
    b[ip + 3] = (len - ip) & 255;
    const id = o.ipId ?? 0x1234;
    b[ip + 4] = id >> 8;
    b[ip + 5] = id & 255;
    b[ip + 6] = 0x40; // DF
    b[ip + 8] = 64;
    b[ip + 9] = 6;
    b.set([10, 0, 0, 1, 10, 0, 0, 2], ip + 12);
    const c = ~onesSum([...b.slice(ip, ip + 20)]) & 0xffff;
    b[ip + 10] = c >> 8;
    b[ip + 11] = c & 255;
  }
  b.set([0x9c, 0x40, 0x14, 0x51], tcp); // ports 40000 -> 5201
  const seq = o.seq ?? 1000;
  b.set([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], tcp + 4);
  b.set([0, 0, 0x30, 0x39], tcp + 8);
  b[tcp + 12] = (tcpHdr / 4) << 4;
  b[tcp + 13] = o.flags ?? ACK | PSH;
  b[tcp + 14] = 0xff;
  for (let i = 20; i < tcpHdr; i++) b[tcp + i] = 1; // NOP options
  for (let i = 0; i < o.payload; i++) b[tcp + tcpHdr + i] = payloadByte(i);
  const p: Pkt = { bytes: b, v6, ipHdr, tcpOff: tcp };
  // The kernel leaves the pseudo-header sum (with the whole TCP length) in the field.
  const partial = onesSum(pseudo(p, len - tcp));
  b[tcp + 16] = partial >> 8;
  b[tcp + 17] = partial & 255;
  return p;
}

function intoPool(pool: PacketPool, p: Pkt): number {
  const id = pool.alloc(true);
  pool.view(id).set(p.bytes);
  pool.len[id] = p.bytes.length;
  pool.ns[id] = 2;
  pool.route[id] = 9;
  pool.conv[id] = 1;
  return id;
}

function asPkt(pool: PacketPool, id: number, like: Pkt): Pkt {
  return { bytes: pool.view(id).slice(0, pool.len[id]), v6: like.v6, ipHdr: like.ipHdr, tcpOff: like.tcpOff };
}

/** Check one produced segment against segment `i` of the original. */
function checkSegment(s: Pkt, orig: Pkt, i: number, count: number, gso: number, payload: number): void {
  const b = s.bytes;
  const ip = VNET_HDR_LEN;
  const hdrs = orig.tcpOff + (orig.bytes[orig.tcpOff + 12] >> 4) * 4;
  const segPayload = Math.min(gso, payload - i * gso);
  expect(b.length).toBe(hdrs + segPayload);
  expect(b[0]).toBe(VNET_F_NEEDS_CSUM);
  expect(b[1]).toBe(VNET_GSO_NONE);
  expect(b[6] | (b[7] << 8)).toBe(orig.ipHdr);
  expect(b[8] | (b[9] << 8)).toBe(16);
  if (s.v6) {
    expect(u16(b, ip + 4)).toBe(b.length - ip - 40);
  } else {
    expect(u16(b, ip + 2)).toBe(b.length - ip);
    expect(u16(b, ip + 4)).toBe((u16(orig.bytes, ip + 4) + i) & 0xffff);
    expect(onesSum([...b.slice(ip, ip + 20)])).toBe(0xffff); // header checksum verifies
  }
  expect(u32(b, s.tcpOff + 4)).toBe((u32(orig.bytes, orig.tcpOff + 4) + i * gso) % 2 ** 32);
  const f0 = orig.bytes[orig.tcpOff + 13];
  let want = f0;
  if (i !== count - 1) want &= ~(FIN | PSH);
  if (i !== 0) want &= ~CWR;
  expect(b[s.tcpOff + 13]).toBe(want);
  for (let k = 0; k < segPayload; k++) if (b[hdrs + k] !== payloadByte(i * gso + k)) throw new Error(`segment ${i} byte ${k} differs`);
  // Partial checksum: the pseudo-header sum for this segment's length; completing it gives the true checksum.
  const tcpLen = b.length - s.tcpOff;
  expect(u16(b, s.tcpOff + 16)).toBe(onesSum(pseudo(s, tcpLen)));
  expect(same(deviceComplete(s, b.length), tcpChecksum(s, b.length))).toBe(true);
}

describe("segmentCount and wireBytes", () => {
  test("IPv4 TSO: ceil(payload / gso_size) segments, each with its own headers", () => {
    const p = build({ payload: 14480, gso: 1448 });
    expect(segmentCount(p.bytes, p.bytes.length)).toBe(10);
    expect(wireBytes(p.bytes, p.bytes.length)).toBe(10 * 52 + 14480);
    const q = build({ payload: 14481, gso: 1448 });
    expect(segmentCount(q.bytes, q.bytes.length)).toBe(11);
    expect(wireBytes(q.bytes, q.bytes.length)).toBe(11 * 52 + 14481);
  });

  test("IPv6 TSO, with and without a hop-by-hop header", () => {
    const p = build({ v6: true, payload: 5000, gso: 1428 });
    expect(segmentCount(p.bytes, p.bytes.length)).toBe(4);
    expect(wireBytes(p.bytes, p.bytes.length)).toBe(4 * 72 + 5000);
    const h = build({ v6: true, hopByHop: true, payload: 5000, gso: 1428 });
    expect(segmentCount(h.bytes, h.bytes.length)).toBe(4);
    expect(wireBytes(h.bytes, h.bytes.length)).toBe(4 * 80 + 5000);
  });

  test("anything else is one segment of its own length", () => {
    const plain = build({ payload: 1000, gso: 1448, gsoType: VNET_GSO_NONE });
    expect(segmentCount(plain.bytes, plain.bytes.length)).toBe(1);
    expect(wireBytes(plain.bytes, plain.bytes.length)).toBe(plain.bytes.length - VNET_HDR_LEN);
    const zero = build({ payload: 3000, gso: 0 });
    expect(segmentCount(zero.bytes, zero.bytes.length)).toBe(1);
    const udp = build({ payload: 3000, gso: 1000 });
    udp.bytes[VNET_HDR_LEN + 9] = 17; // not TCP
    expect(segmentCount(udp.bytes, udp.bytes.length)).toBe(1);
    const icmp = new Uint8Array(VNET_HDR_LEN + 84);
    icmp[VNET_HDR_LEN] = 0x45;
    icmp[VNET_HDR_LEN + 9] = 1;
    expect(segmentCount(icmp, icmp.length)).toBe(1);
    expect(wireBytes(icmp, icmp.length)).toBe(84);
    // A truncated super-packet (IP length beyond the read) is not trusted.
    expect(segmentCount(build({ payload: 3000, gso: 1000 }).bytes, 1000)).toBe(1);
    // A bare ACK marked GSO still counts once.
    const ack = build({ payload: 0, gso: 1448 });
    expect(segmentCount(ack.bytes, ack.bytes.length)).toBe(1);
  });
});

describe("splitSegments", () => {
  for (const v6 of [false, true]) {
    test(`${v6 ? "IPv6" : "IPv4"}: every kept segment is the kernel's segment`, () => {
      const pool = new PacketPool(16 << 20);
      const gso = v6 ? 1428 : 1448;
      const payload = 7 * gso + 500;
      const orig = build({ v6, hopByHop: v6, payload, gso, flags: ACK | PSH | FIN | CWR, ipId: 0xfffe, seq: 2 ** 32 - 3000 });
      const id = intoPool(pool, orig);
      const keep = new Uint8Array(64).fill(1);
      keep[2] = 0;
      keep[5] = 0;
      const out = new Int32Array(64);
      const n = splitSegments(pool, id, keep, out);
      expect(n).toBe(6);
      expect(pool.inUse(id)).toBe(false);
      expect(pool.inUseLarge).toBe(0);
      expect(pool.inUseSmall).toBe(6);
      const kept = [0, 1, 3, 4, 6, 7];
      for (let k = 0; k < n; k++) {
        expect(pool.capacity(out[k])).toBe(SMALL_SLOT);
        expect([pool.ns[out[k]], pool.route[out[k]], pool.conv[out[k]]]).toEqual([2, 9, 1]);
        const s = asPkt(pool, out[k], orig);
        checkSegment(s, orig, kept[k], 8, gso, payload);
        // completeChecksum turns it into a fully checksummed packet.
        const copy = s.bytes.slice();
        expect(completeChecksum(copy, copy.length)).toBe(true);
        expect(copy[0]).toBe(VNET_F_DATA_VALID);
        expect(same(u16(copy, s.tcpOff + 16), tcpChecksum(s, copy.length))).toBe(true);
        expect(onesSum([...pseudo(s, copy.length - s.tcpOff), ...copy.slice(s.tcpOff)])).toBe(0xffff);
      }
    });
  }

  test("segments too big for a SMALL slot get LARGE ones", () => {
    const pool = new PacketPool(16 << 20);
    const orig = build({ payload: 3 * 8948, gso: 8948 });
    const out = new Int32Array(8);
    const n = splitSegments(pool, intoPool(pool, orig), new Uint8Array(8).fill(1), out);
    expect(n).toBe(3);
    for (let k = 0; k < n; k++) {
      expect(pool.capacity(out[k])).toBeGreaterThan(SMALL_SLOT);
      checkSegment(asPkt(pool, out[k], orig), orig, k, 3, 8948, 3 * 8948);
    }
  });

  test("a packet that is not a super-packet is kept as it is or freed", () => {
    const pool = new PacketPool(16 << 20);
    const plain = build({ payload: 1000, gso: 0 });
    const out = new Int32Array(4);
    const id = intoPool(pool, plain);
    expect(splitSegments(pool, id, new Uint8Array([1]), out)).toBe(1);
    expect(out[0]).toBe(id);
    expect(splitSegments(pool, id, new Uint8Array([0]), out)).toBe(0);
    expect(pool.inUse(id)).toBe(false);
  });

  test("stops when the pool runs dry, still freeing the original", () => {
    // Room for exactly one LARGE slot plus two SMALL ones.
    const pool = new PacketPool(65600 + 2 * SMALL_SLOT);
    const orig = build({ payload: 5 * 1448, gso: 1448 });
    const id = intoPool(pool, orig);
    const out = new Int32Array(8);
    const n = splitSegments(pool, id, new Uint8Array(8).fill(1), out);
    expect(n).toBe(2);
    expect(pool.inUse(id)).toBe(false);
    checkSegment(asPkt(pool, out[1], orig), orig, 1, 5, 1448, 5 * 1448);
  });
});

describe("trimSegments", () => {
  for (const v6 of [false, true]) {
    test(`${v6 ? "IPv6" : "IPv4"}: keeps the head, fixes lengths and checksums, drops FIN and PSH`, () => {
      const gso = 1400;
      const payload = 10 * gso - 17;
      const orig = build({ v6, payload, gso, flags: ACK | PSH | FIN | CWR });
      const b = orig.bytes.slice();
      const len = trimSegments(b, b.length, 3);
      const hdrs = orig.tcpOff + 32;
      expect(len).toBe(hdrs + 3 * gso);
      expect(b[1]).toBe(v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4);
      expect(b[4] | (b[5] << 8)).toBe(gso);
      expect(segmentCount(b, len)).toBe(3);
      expect(b[orig.tcpOff + 13]).toBe(ACK | CWR);
      const t: Pkt = { ...orig, bytes: b.slice(0, len) };
      if (v6) expect(u16(b, VNET_HDR_LEN + 4)).toBe(len - VNET_HDR_LEN - 40);
      else {
        expect(u16(b, VNET_HDR_LEN + 2)).toBe(len - VNET_HDR_LEN);
        expect(onesSum([...b.slice(VNET_HDR_LEN, VNET_HDR_LEN + 20)])).toBe(0xffff);
      }
      expect(u16(b, orig.tcpOff + 16)).toBe(onesSum(pseudo(t, len - orig.tcpOff)));

      // Splitting the trimmed packet gives the first three segments of the original, except that
      // the last has no PSH/FIN (they rode on the dropped tail).
      const pool = new PacketPool(16 << 20);
      const id = pool.alloc(true);
      pool.view(id).set(t.bytes);
      pool.len[id] = len;
      const out = new Int32Array(8);
      expect(splitSegments(pool, id, new Uint8Array(8).fill(1), out)).toBe(3);
      for (let k = 0; k < 3; k++) {
        const s = asPkt(pool, out[k], orig);
        expect(s.bytes[orig.tcpOff + 13]).toBe(k === 0 ? ACK | CWR : ACK);
        expect(same(deviceComplete(s, s.bytes.length), tcpChecksum(s, s.bytes.length))).toBe(true);
      }
    });
  }

  test("keeping one segment makes a plain packet", () => {
    const orig = build({ payload: 4000, gso: 1448, flags: ACK | PSH, ipId: 77, seq: 5 });
    const b = orig.bytes.slice();
    const len = trimSegments(b, b.length, 1);
    expect(len).toBe(orig.tcpOff + 32 + 1448);
    expect(b[1]).toBe(VNET_GSO_NONE);
    expect(segmentCount(b, len)).toBe(1);
    expect(u16(b, VNET_HDR_LEN + 4)).toBe(77);
    const t: Pkt = { ...orig, bytes: b.slice(0, len) };
    expect(same(deviceComplete(t, len), tcpChecksum(t, len))).toBe(true);
    expect(completeChecksum(b, len)).toBe(true);
    expect(same(u16(b, orig.tcpOff + 16), tcpChecksum(t, len))).toBe(true);
  });

  test("no change when everything fits or the packet is not a super-packet", () => {
    const orig = build({ payload: 4000, gso: 1448, flags: ACK | FIN });
    const b = orig.bytes.slice();
    expect(trimSegments(b, b.length, 3)).toBe(b.length);
    expect(trimSegments(b, b.length, 99)).toBe(b.length);
    expect(b).toEqual(orig.bytes);
    const plain = build({ payload: 900, gso: 0 });
    const c = plain.bytes.slice();
    expect(trimSegments(c, c.length, 1)).toBe(c.length);
    expect(c).toEqual(plain.bytes);
  });
});

describe("completeChecksum", () => {
  test("only acts on NEEDS_CSUM single packets", () => {
    const gso = build({ payload: 4000, gso: 1448 });
    expect(completeChecksum(gso.bytes, gso.bytes.length)).toBe(false);
    const one = build({ payload: 1001, gso: 0, gsoType: VNET_GSO_NONE });
    expect(completeChecksum(one.bytes, one.bytes.length)).toBe(true);
    expect(same(u16(one.bytes, one.tcpOff + 16), tcpChecksum(one, one.bytes.length))).toBe(true);
    expect(completeChecksum(one.bytes, one.bytes.length)).toBe(false);
  });
});
