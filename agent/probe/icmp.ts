/**
 * ICMP echo, as ping sends it, for probes of the network between hosts: the
 * request a raw socket sends (header, checksum, identifier, sequence) and the
 * reply it reads back (with the IPv4 header a raw socket hands over). Only the
 * bytes are here; the socket is the probe worker's.
 */

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
/** 8 bytes of ICMP header and 56 of payload: ping's default 84-byte packet */
export const ECHO_LEN = 64;

/** The Internet checksum (RFC 1071) of `bytes`. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Writes an echo request with `id` and `seq` into `out` (ECHO_LEN bytes). */
export function writeEchoRequest(out: Uint8Array, id: number, seq: number): void {
  out.fill(0, 0, ECHO_LEN);
  const v = new DataView(out.buffer, out.byteOffset, ECHO_LEN);
  v.setUint8(0, ICMP_ECHO_REQUEST);
  v.setUint16(4, id, false);
  v.setUint16(6, seq, false);
  // a recognisable payload, as ping's incrementing bytes
  for (let i = 8; i < ECHO_LEN; i++) out[i] = i & 0xff;
  v.setUint16(2, internetChecksum(out.subarray(0, ECHO_LEN)), false);
}

/**
 * The sequence number of an echo reply to `id` in `packet` (an IPv4 packet, as
 * a raw ICMP socket reads it), or -1 for anything else: raw sockets see every
 * ICMP message the host gets, other pings' replies included.
 */
export function echoReplySeq(packet: Uint8Array, id: number): number {
  if (packet.length < 20 || packet[0] >> 4 !== 4) return -1;
  const ihl = (packet[0] & 0x0f) * 4;
  if (packet.length < ihl + 8 || packet[9] !== 1) return -1;
  const v = new DataView(packet.buffer, packet.byteOffset + ihl, packet.length - ihl);
  if (v.getUint8(0) !== ICMP_ECHO_REPLY || v.getUint16(4, false) !== id) return -1;
  return v.getUint16(6, false);
}
