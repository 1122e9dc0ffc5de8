/** Tests for the IPv4 and CIDR helpers node addressing is built on. */
import { describe, expect, test } from "bun:test";
import {
  broadcastOf,
  contains,
  formatCidr,
  formatIpv4,
  hostCapacity,
  ipv4Address,
  isHostAddress,
  maskOf,
  parseAddress,
  parseCidr,
  parseIpv4,
} from "./ipv4.ts";

describe("parseIpv4 / formatIpv4", () => {
  test("round-trips dotted quads, including the extremes", () => {
    for (const text of ["0.0.0.0", "10.0.0.1", "192.168.255.254", "255.255.255.255"]) {
      expect(formatIpv4(parseIpv4(text)!)).toBe(text);
    }
    expect(parseIpv4("10.0.1.0")).toBe(10 * 2 ** 24 + 256);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
  });

  test("refuses malformed addresses", () => {
    for (const bad of ["", "10.0.0", "10.0.0.1.2", "256.0.0.1", "10.0.0.-1", "a.b.c.d", "10.0.0.01", " 10.0.0.1"]) {
      expect(parseIpv4(bad)).toBeUndefined();
    }
  });
});

describe("parseAddress", () => {
  test("takes an address with or without a prefix length", () => {
    expect(parseAddress("10.0.0.7")).toEqual({ addr: parseIpv4("10.0.0.7")! });
    expect(parseAddress("10.0.0.7/16")).toEqual({ addr: parseIpv4("10.0.0.7")!, prefix: 16 });
  });

  test("refuses bad prefix lengths", () => {
    for (const bad of ["10.0.0.7/33", "10.0.0.7/", "10.0.0.7/a", "10.0.0.7/16/1", "10.0.0.7/123"]) {
      expect(parseAddress(bad)).toBeUndefined();
    }
  });

  test("ipv4Address reads a node's address and throws on garbage", () => {
    expect(ipv4Address("10.0.0.2/16")).toBe(parseIpv4("10.0.0.2")!);
    expect(ipv4Address("10.0.0.2")).toBe(parseIpv4("10.0.0.2")!);
    expect(() => ipv4Address("nope")).toThrow('malformed IPv4 address "nope"');
  });
});

describe("CIDR", () => {
  test("parses subnets and refuses host bits", () => {
    expect(parseCidr("10.0.0.0/16")).toEqual({ base: parseIpv4("10.0.0.0")!, prefix: 16 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ base: 0, prefix: 0 });
    expect(parseCidr("10.0.0.1/16")).toBeUndefined();
    expect(parseCidr("10.0.0.0")).toBeUndefined();
    expect(formatCidr(parseCidr("192.168.4.0/22")!)).toBe("192.168.4.0/22");
  });

  test("masks, membership, broadcast and capacity", () => {
    expect(maskOf(0)).toBe(0);
    expect(formatIpv4(maskOf(16))).toBe("255.255.0.0");
    expect(formatIpv4(maskOf(32))).toBe("255.255.255.255");
    const net = parseCidr("10.0.0.0/16")!;
    expect(contains(net, parseIpv4("10.0.255.255")!)).toBe(true);
    expect(contains(net, parseIpv4("10.1.0.0")!)).toBe(false);
    expect(formatIpv4(broadcastOf(net))).toBe("10.0.255.255");
    expect(hostCapacity(net)).toBe(65534);
    expect(hostCapacity(parseCidr("10.0.0.0/30")!)).toBe(2);
    expect(hostCapacity(parseCidr("10.0.0.0/31")!)).toBe(0);
    expect(hostCapacity(parseCidr("10.0.0.1/32")!)).toBe(0);
  });

  test("host addresses exclude the network and broadcast addresses", () => {
    const net = parseCidr("10.0.0.0/24")!;
    expect(isHostAddress(net, parseIpv4("10.0.0.0")!)).toBe(false);
    expect(isHostAddress(net, parseIpv4("10.0.0.1")!)).toBe(true);
    expect(isHostAddress(net, parseIpv4("10.0.0.254")!)).toBe(true);
    expect(isHostAddress(net, parseIpv4("10.0.0.255")!)).toBe(false);
    expect(isHostAddress(net, parseIpv4("10.0.1.1")!)).toBe(false);
    expect(isHostAddress(parseCidr("10.0.0.1/32")!, parseIpv4("10.0.0.1")!)).toBe(false);
  });
});
