/** ICMP echo bytes: the request's checksum verifies, and only our replies' sequence numbers are read back. */
import { describe, expect, test } from "bun:test";
import { ECHO_LEN, echoReplySeq, internetChecksum, writeEchoRequest } from "./icmp.ts";

/** An IPv4 packet (20-byte header, protocol 1) around `icmp`. */
function ipv4(icmp: Uint8Array, protocol = 1): Uint8Array {
  const p = new Uint8Array(20 + icmp.length);
  p[0] = 0x45;
  p[9] = protocol;
  p.set(icmp, 20);
  return p;
}

describe("ICMP echo", () => {
  test("RFC 1071's example sums to 0xddf2, so its checksum is 0x220d", () => {
    expect(internetChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]))).toBe(0x220d);
  });

  test("a request carries type 8, id and sequence, and checksums to zero", () => {
    const req = new Uint8Array(ECHO_LEN);
    writeEchoRequest(req, 0x1234, 7);
    expect([req[0], req[1], (req[4] << 8) | req[5], (req[6] << 8) | req[7]]).toEqual([8, 0, 0x1234, 7]);
    expect(internetChecksum(req)).toBe(0);
  });

  test("a reply to our id gives its sequence; another id, a request, or not ICMP gives -1", () => {
    const reply = new Uint8Array(ECHO_LEN);
    writeEchoRequest(reply, 0x1234, 9);
    reply[0] = 0;
    expect(echoReplySeq(ipv4(reply), 0x1234)).toBe(9);
    expect(echoReplySeq(ipv4(reply), 0x4321)).toBe(-1);
    expect(echoReplySeq(ipv4(reply, 17), 0x1234)).toBe(-1);
    const req = new Uint8Array(ECHO_LEN);
    writeEchoRequest(req, 0x1234, 9);
    expect(echoReplySeq(ipv4(req), 0x1234)).toBe(-1);
    expect(echoReplySeq(new Uint8Array(10), 0x1234)).toBe(-1);
  });
});
