/**
 * IPv4 addresses as unsigned 32-bit numbers, and CIDR subnets, for assigning
 * node addresses inside a namespace's subnet. Parsers return undefined on bad
 * input so callers can word the error for the field they are checking.
 */

export type Cidr = { base: number; prefix: number };

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "10.0.0.1" -> 167772161. Octets with a leading zero are refused: some tools read them as octal. */
export function parseIpv4(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = m[i];
    if (octet.length > 1 && octet.startsWith("0")) return undefined;
    const v = Number(octet);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The netmask of a prefix length as an unsigned number; /0 is 0. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** An address with an optional prefix length: "10.0.0.7" or "10.0.0.7/16". */
export function parseAddress(text: string): { addr: number; prefix?: number } | undefined {
  const [ip, len, extra] = text.split("/");
  if (extra !== undefined) return undefined;
  const addr = parseIpv4(ip);
  if (addr === undefined) return undefined;
  if (len === undefined) return { addr };
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return undefined;
  return { addr, prefix: Number(len) };
}

/** "10.0.0.0/16" -> { base, prefix }. Host bits must be zero, so a typo like 10.0.0.1/16 is caught. */
export function parseCidr(text: string): Cidr | undefined {
  const a = parseAddress(text);
  if (a === undefined || a.prefix === undefined) return undefined;
  if ((a.addr & maskOf(a.prefix)) >>> 0 !== a.addr) return undefined;
  return { base: a.addr, prefix: a.prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

export function contains(c: Cidr, addr: number): boolean {
  return (addr & maskOf(c.prefix)) >>> 0 === c.base;
}

export function broadcastOf(c: Cidr): number {
  return (c.base | ~maskOf(c.prefix)) >>> 0;
}

/** Addresses a node can hold: all but the network and broadcast addresses (none in a /31 or /32). */
export function hostCapacity(c: Cidr): number {
  return Math.max(0, 2 ** (32 - c.prefix) - 2);
}

/** True for an address inside the subnet that is neither its network nor its broadcast address. */
export function isHostAddress(c: Cidr, addr: number): boolean {
  return contains(c, addr) && addr !== c.base && addr !== broadcastOf(c) && hostCapacity(c) > 0;
}

/**
 * The address of a node's "a.b.c.d/len" (or bare "a.b.c.d") as a number. Throws
 * on malformed input: it is meant for state that was validated when resolved.
 */
export function ipv4Address(text: string): number {
  const a = parseAddress(text);
  if (a === undefined) throw new Error(`malformed IPv4 address "${text}"`);
  return a.addr;
}
