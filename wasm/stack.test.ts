/**
 * The WASM TCP stack (wasm/stack.ts over wasm/lwip.wasm): two stacks in one
 * process wired back to back on a fake clock. Transfers are checked byte for
 * byte (sha256 of each stream), refusal and resets by their close reasons,
 * and robustness by feeding 100,000 malformed packets from a seeded
 * generator, after which the stack must still carry a transfer.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MTU, TcpStack, type CloseReason, type TcpSocket } from "./stack.ts";

const A = "10.0.0.1";
const B = "10.0.0.2";
const MASK = "255.255.255.0";
const A_NUM = 0x0a000001;
const B_NUM = 0x0a000002;

/** xorshift32: repeatable garbage and payloads. */
class Prng {
  #x: number;
  constructor(seed: number) {
    this.#x = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  fill(buf: Uint8Array): Uint8Array {
    for (let i = 0; i < buf.length; i++) buf[i] = this.u32() & 0xff;
    return buf;
  }
}

/**
 * Two stacks back to back: what one outputs is queued for the other. Time
 * moves 1 ms per round of deliveries, and jumps to the next timer when the
 * wire is idle; `drop` decides per packet whether the wire loses it.
 */
class Wire {
  now = 0;
  toA: Uint8Array[] = [];
  toB: Uint8Array[] = [];
  sent = 0;
  dropped = 0;
  drop: ((packet: Uint8Array) => boolean) | undefined;
  /** When set, each round's packets are shuffled with it (reordering on the wire). */
  reorder: Prng | undefined;
  /** While false, what B sends is thrown away (the fuzz answers go nowhere). */
  carryB = true;
  a!: TcpStack;
  b!: TcpStack;

  static async create(seed = 1): Promise<Wire> {
    const w = new Wire();
    w.a = await TcpStack.create({ ip: A, netmask: MASK, now: 0, seed, output: (p) => w.#send(w.toB, p) });
    w.b = await TcpStack.create({ ip: B, netmask: MASK, now: 0, seed: seed + 1, output: (p) => w.carryB && w.#send(w.toA, p) });
    return w;
  }

  #send(queue: Uint8Array[], packet: Uint8Array): void {
    expect(packet.length).toBeLessThanOrEqual(MTU);
    this.sent++;
    if (this.drop?.(packet)) {
      this.dropped++;
      return;
    }
    queue.push(packet.slice());
  }

  #shuffled(q: Uint8Array[]): Uint8Array[] {
    const r = this.reorder;
    if (r === undefined) return q;
    for (let i = q.length - 1; i > 0; i--) {
      const j = r.below(i + 1);
      [q[i], q[j]] = [q[j], q[i]];
    }
    return q;
  }

  /** Lets `ms` of fake time pass, delivering what is sent meanwhile. */
  advance(ms: number): void {
    const end = this.now + ms;
    this.run(() => this.now >= end && this.toA.length === 0 && this.toB.length === 0, ms + 60_000, true);
  }

  /** Runs until `done()`, or throws when `limitMs` of fake time pass first. */
  run(done: () => boolean, limitMs = 120_000, idleOk = false): void {
    const end = this.now + limitMs;
    let next = Math.min(this.a.tick(this.now), this.b.tick(this.now));
    while (!done()) {
      if (this.toA.length > 0 || this.toB.length > 0) {
        const forA = this.#shuffled(this.toA);
        const forB = this.#shuffled(this.toB);
        this.toA = [];
        this.toB = [];
        for (const p of forB) this.b.input(p);
        for (const p of forA) this.a.input(p);
        this.now += 1;
      } else {
        if (next === Infinity && !idleOk) throw new Error("stalled: nothing in flight and no timer pending");
        this.now = Math.max(this.now + 1, Math.min(Math.ceil(next), this.now + 100));
      }
      if (this.now > end) throw new Error(`not done after ${limitMs} ms of fake time`);
      next = Math.min(this.a.tick(this.now), this.b.tick(this.now));
    }
  }
}

/** Sends `data` on `s` as fast as it takes it, then half-closes. */
function sendAll(s: TcpSocket, data: Uint8Array): void {
  let off = 0;
  const pump = (): void => {
    while (off < data.length) {
      const n = s.write(data.subarray(off));
      off += n;
      if (n === 0) return;
    }
    s.end();
  };
  s.onWritable = pump;
  if (s.state === "open") pump();
  else s.onConnect = pump;
}

/** Hashes everything `s` receives; `done` once the peer ended. */
function receiver(s: TcpSocket): { bytes: number; done: boolean; close: CloseReason | undefined; digest: () => string } {
  const hash = createHash("sha256");
  const r = { bytes: 0, done: false, close: undefined as CloseReason | undefined, digest: () => hash.digest("hex") };
  s.onData = (mem, off, len) => {
    hash.update(mem.subarray(off, off + len));
    r.bytes += len;
  };
  s.onEnd = () => {
    r.done = true;
  };
  const prev = s.onClose;
  s.onClose = (reason) => {
    r.close = reason;
    prev?.(reason);
  };
  return r;
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** A full-duplex transfer of `size` bytes each way over a new connection; returns the two receivers. */
function duplex(w: Wire, port: number, size: number, seed: number) {
  const up = new Prng(seed).fill(new Uint8Array(size));
  const down = new Prng(seed + 7).fill(new Uint8Array(size));
  let server: ReturnType<typeof receiver> | undefined;
  let serverSocket: TcpSocket | undefined;
  const listener = w.b.listen(port, (s) => {
    serverSocket = s;
    server = receiver(s);
    sendAll(s, down);
  });
  const c = w.a.connect(B, port);
  const client = receiver(c);
  sendAll(c, up);
  w.run(() => client.close !== undefined && server?.close !== undefined);
  listener.close();
  return { up, down, client, server: server!, c, s: serverSocket! };
}

describe("two stacks back to back", () => {
  test("10 MB each way over one connection arrive intact (sha256), and both sides close cleanly", async () => {
    const w = await Wire.create(11);
    const size = 10 * 1024 * 1024;
    const { up, down, client, server, c, s } = duplex(w, 5001, size, 42);
    expect(server.bytes).toBe(size);
    expect(client.bytes).toBe(size);
    expect(server.digest()).toBe(sha256(up));
    expect(client.digest()).toBe(sha256(down));
    expect([client.close, server.close]).toEqual(["closed", "closed"]);
    expect(c.stats()).toMatchObject({ bytesWritten: size, bytesAcked: size, bytesReceived: size, retransmits: 0 });
    expect(s.stats()).toMatchObject({ bytesWritten: size, bytesAcked: size, bytesReceived: size });
    for (const st of [w.a, w.b]) {
      const k = st.counters();
      expect(k.assertions).toBe(0);
      expect(k.tcpChecksumErrors + k.ipChecksumErrors + k.rxDropNoBuffer).toBe(0);
      expect(k.sockets).toBe(0);
      expect(st.socketCount).toBe(0);
    }
  });

  test("1% loss on the wire: the transfer still arrives intact, with retransmissions counted", async () => {
    const w = await Wire.create(12);
    const loss = new Prng(99);
    w.drop = () => loss.below(100) === 0;
    const size = 2 * 1024 * 1024;
    const { up, down, client, server, c } = duplex(w, 5002, size, 43);
    expect(w.dropped).toBeGreaterThan(10);
    expect(server.digest()).toBe(sha256(up));
    expect(client.digest()).toBe(sha256(down));
    expect(c.stats().retransmits).toBeGreaterThan(0);
    expect(w.a.counters().tcpRetransmits + w.b.counters().tcpRetransmits).toBeGreaterThanOrEqual(c.stats().retransmits);
  });

  test("packets reordered on the wire: the transfer arrives intact, out-of-order data is queued and SACKed", async () => {
    const w = await Wire.create(18);
    w.reorder = new Prng(7);
    let sacks = 0;
    w.drop = (p) => {
      if (hasSack(p)) sacks++;
      return false;
    };
    const size = 4 * 1024 * 1024;
    const { up, down, client, server } = duplex(w, 5003, size, 44);
    expect(server.digest()).toBe(sha256(up));
    expect(client.digest()).toBe(sha256(down));
    expect(sacks).toBeGreaterThan(10);
    for (const st of [w.a, w.b]) {
      const k = st.counters();
      expect(k.rxPoolMax).toBeGreaterThan(10); // out-of-order segments waited in the pool
      expect([k.assertions, k.rxPoolUsed]).toEqual([0, 0]);
    }
  });

  test("200 concurrent connections each carry 64 KB, more than the tx pool holds at once", async () => {
    const w = await Wire.create(13);
    const size = 64 * 1024;
    const want = new Map<number, string>();
    const got: ReturnType<typeof receiver>[] = [];
    w.b.listen(6000, (s) => {
      got.push(receiver(s));
    });
    for (let i = 0; i < 200; i++) {
      const data = new Prng(1000 + i).fill(new Uint8Array(size));
      const c = w.a.connect(B, 6000);
      sendAll(c, data);
      want.set(i, sha256(data));
    }
    w.run(() => got.length === 200 && got.every((r) => r.done));
    expect(new Set(got.map((r) => r.digest()))).toEqual(new Set(want.values()));
    expect(w.a.counters().pcbsMax).toBeGreaterThanOrEqual(200);
    // 12.5 MiB written at once: writers ran the pool dry and were woken when it refilled
    expect(w.a.counters().txPoolErrors).toBeGreaterThan(0);
  });

  test("a connection to a port nobody listens on is refused", async () => {
    const w = await Wire.create(14);
    const c = w.a.connect(B, 7777);
    let connected = false;
    let reason: CloseReason | undefined;
    c.onConnect = () => {
      connected = true;
    };
    c.onClose = (r) => {
      reason = r;
    };
    w.run(() => reason !== undefined, 10_000);
    expect(reason).toBe("refused");
    expect(connected).toBe(false);
    expect(c.state).toBe("closed");
    expect(w.b.counters().tcpOutResets).toBe(1);
    // the port is usable afterwards
    let accepted = 0;
    w.b.listen(7777, () => accepted++);
    const again = w.a.connect(B, 7777);
    w.run(() => again.state === "open" && accepted === 1, 10_000);
  });

  test("abort resets the peer; close and end report their reasons", async () => {
    const w = await Wire.create(15);
    const server: TcpSocket[] = [];
    const reasons: CloseReason[] = [];
    w.b.listen(80, (s) => {
      server.push(s);
      s.onClose = (r) => reasons.push(r);
    });
    const c = w.a.connect(B, 80);
    w.run(() => c.state === "open" && server.length === 1, 10_000);
    c.abort();
    w.run(() => reasons.length === 1, 10_000);
    expect(reasons).toEqual(["reset"]);
    expect(c.closeReason).toBe("aborted");
    expect(() => c.write(new Uint8Array(1))).toThrow("write after end or close");

    // end() on one side, close() on the other once it sees the end
    const d = w.a.connect(B, 80);
    let ended = false;
    w.run(() => d.state === "open" && server.length === 2, 10_000);
    server[1].onEnd = () => {
      ended = true;
      server[1].close();
    };
    d.end();
    w.run(() => d.state === "closed" && reasons.length === 2, 10_000);
    expect(ended).toBe(true);
    expect([d.closeReason, reasons[1]]).toEqual(["closed", "closed"]);
    expect(w.a.socketCount + w.b.socketCount).toBe(0);
  });

  test("listen refuses a port in use, and writes wait for the window (onWritable)", async () => {
    const w = await Wire.create(16);
    w.b.listen(90, () => {});
    expect(() => w.b.listen(90, () => {})).toThrow("address in use");
    const c = w.a.connect(B, 90);
    // nothing moves until the wire runs: the writes fill the 4 MiB send buffer
    w.run(() => c.state === "open", 10_000);
    const chunk = new Uint8Array(1024 * 1024);
    let taken = 0;
    for (let i = 0; i < 8; i++) taken += c.write(chunk);
    expect(taken).toBeGreaterThan(3 * 1024 * 1024);
    expect(taken).toBeLessThanOrEqual(4 * 1024 * 1024);
    let writable = false;
    c.onWritable = () => {
      writable = true;
    };
    w.run(() => writable, 10_000);

    // a socket with a smaller send buffer holds no more than that
    const d = w.a.connect(B, 90);
    d.setSendBuffer(64 * 1024);
    expect(d.write(chunk)).toBe(64 * 1024);
    expect(d.write(chunk)).toBe(0);
    let more = 0;
    d.onWritable = () => {
      more += d.write(chunk);
    };
    w.run(() => more > 0, 10_000);
    expect(more).toBeLessThanOrEqual(64 * 1024);
  });

  test("ICMP echo requests get replies", async () => {
    const replies: Uint8Array[] = [];
    const b = await TcpStack.create({ ip: B, netmask: MASK, now: 0, output: (p) => replies.push(p.slice()) });
    b.input(icmpEcho(A_NUM, B_NUM, 0x1234, 1, new Uint8Array(56).fill(0xab)));
    expect(replies.length).toBe(1);
    const r = replies[0];
    expect(r[9]).toBe(1); // ICMP
    expect(r[20]).toBe(0); // echo reply
    expect(readU32(r, 12)).toBe(B_NUM);
    expect(readU32(r, 16)).toBe(A_NUM);
    expect(r.length).toBe(20 + 8 + 56);
    expect(internetChecksum(r, 0, 20)).toBe(0);
    expect(internetChecksum(r, 20, r.length - 20)).toBe(0);
  });
});

// ---- packet building for the fuzz and ICMP tests ---------------------------

function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}
function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}
function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** True when a TCP packet carries a SACK option (kind 5). */
function hasSack(b: Uint8Array): boolean {
  if (b.length < 40 || b[9] !== 6) return false;
  const t = (b[0] & 15) * 4;
  const end = t + (b[t + 12] >> 4) * 4;
  for (let i = t + 20; i < end && i < b.length; ) {
    const kind = b[i];
    if (kind === 0) return false;
    if (kind === 1) {
      i++;
      continue;
    }
    if (kind === 5) return true;
    i += Math.max(2, b[i + 1]);
  }
  return false;
}

/** The one's-complement sum of b[off, off+len) folded and inverted, plus `seed` (a pseudo-header sum). */
function internetChecksum(b: Uint8Array, off: number, len: number, seed = 0): number {
  let sum = seed;
  for (let i = 0; i + 1 < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) sum += b[off + len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 header (20 bytes, or more with `options`) with a correct checksum. */
function ipHeader(b: Uint8Array, src: number, dst: number, proto: number, totalLen: number, ihlWords = 5): void {
  b[0] = 0x40 | ihlWords;
  b[1] = 0;
  writeU16(b, 2, totalLen);
  writeU16(b, 4, 0x1234);
  writeU16(b, 6, 0x4000); // DF, no fragment
  b[8] = 64;
  b[9] = proto;
  writeU16(b, 10, 0);
  writeU32(b, 12, src);
  writeU32(b, 16, dst);
  writeU16(b, 10, internetChecksum(b, 0, ihlWords * 4));
}

function icmpEcho(src: number, dst: number, id: number, seq: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(28 + payload.length);
  ipHeader(b, src, dst, 1, b.length);
  b[20] = 8;
  writeU16(b, 24, id);
  writeU16(b, 26, seq);
  b.set(payload, 28);
  writeU16(b, 22, internetChecksum(b, 20, b.length - 20));
  return b;
}

/**
 * A TCP segment from `src` to `dst` with IPv4 and TCP checksums right (unless
 * told otherwise) and every other field as given or random.
 */
function tcpSegment(rng: Prng, src: number, dst: number, o: { sport?: number; dport?: number; flags?: number; dataOffset?: number; payload?: number; badChecksum?: boolean; ipLen?: number }): Uint8Array {
  const dataOffset = o.dataOffset ?? 5;
  const tcpLen = Math.max(20, dataOffset * 4) + (o.payload ?? 0);
  const b = rng.fill(new Uint8Array(20 + tcpLen));
  const t = 20;
  writeU16(b, t, o.sport ?? rng.below(65536));
  writeU16(b, t + 2, o.dport ?? rng.below(65536));
  writeU32(b, t + 4, rng.u32());
  writeU32(b, t + 8, rng.u32());
  b[t + 12] = (dataOffset & 15) << 4;
  b[t + 13] = o.flags ?? rng.below(256);
  writeU16(b, t + 16, 0);
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 6 + tcpLen;
  writeU16(b, t + 16, internetChecksum(b, t, tcpLen, pseudo) ^ (o.badChecksum ? 0x5a5a : 0));
  ipHeader(b, src, dst, 6, o.ipLen ?? b.length);
  return b;
}

/** One malformed packet of a kind picked by `rng` (the kinds are listed in the switch). */
function garbage(rng: Prng, live: { sport: number; dport: number }): Uint8Array {
  const src = rng.below(4) === 0 ? A_NUM : rng.u32();
  switch (rng.below(10)) {
    case 0: // random bytes of any length up to a little past the MTU
      return rng.fill(new Uint8Array(rng.below(MTU + 100)));
    case 1: { // random bytes behind a plausible version/IHL byte
      const b = rng.fill(new Uint8Array(rng.below(80)));
      if (b.length > 0) b[0] = 0x45;
      return b;
    }
    case 2: { // an IPv4 header cut short
      const full = tcpSegment(rng, src, B_NUM, {});
      return full.subarray(0, rng.below(20));
    }
    case 3: { // valid IPv4 header, TCP header cut short (total length says so too, or not)
      const full = tcpSegment(rng, src, B_NUM, {});
      const cut = 20 + rng.below(20);
      const b = full.slice(0, cut);
      ipHeader(b, src, B_NUM, 6, rng.below(2) === 0 ? cut : full.length);
      return b;
    }
    case 4: // bad TCP checksum, sometimes on the live connection
      return rng.below(2) === 0
        ? tcpSegment(rng, A_NUM, B_NUM, { sport: live.sport, dport: live.dport, payload: rng.below(1400), badChecksum: true })
        : tcpSegment(rng, src, B_NUM, { payload: rng.below(1400), badChecksum: true });
    case 5: { // IPv4 total length wrong: longer than the packet, shorter than the header, or zero
      const b = tcpSegment(rng, src, B_NUM, { payload: rng.below(200) });
      const lens = [b.length + 1 + rng.below(1000), rng.below(20), 0, 0xffff];
      ipHeader(b, src, B_NUM, 6, lens[rng.below(lens.length)]);
      return b;
    }
    case 6: { // IHL too small, too big, or pointing past the packet; bad header checksum
      const b = tcpSegment(rng, src, B_NUM, { payload: rng.below(100) });
      b[0] = 0x40 | rng.below(16);
      if (rng.below(2) === 0) b[10] ^= 0xff;
      return b;
    }
    case 7: // TCP data offset below 5 or past the segment, checksum right
      return tcpSegment(rng, src, B_NUM, { dataOffset: rng.below(2) === 0 ? rng.below(5) : 6 + rng.below(10), payload: rng.below(8) });
    case 8: { // well-formed TCP with random flags, ports and options bytes (to ports nobody listens on)
      const b = tcpSegment(rng, src, B_NUM, { dataOffset: 5 + rng.below(11), payload: rng.below(600) });
      return b;
    }
    default: { // another protocol, or another version, or a fragment
      const b = tcpSegment(rng, src, B_NUM, { payload: rng.below(100) });
      const k = rng.below(3);
      if (k === 0) b[9] = rng.below(256);
      else if (k === 1) b[0] = (rng.below(16) << 4) | 5;
      else writeU16(b, 6, 0x2000 | rng.below(0x2000));
      writeU16(b, 10, 0);
      writeU16(b, 10, internetChecksum(b, 0, 20));
      return b;
    }
  }
}

describe("garbage in", () => {
  test("100,000 malformed packets neither trap nor assert, and the stack still carries transfers after", async () => {
    const w = await Wire.create(21);
    // a live connection across the fuzz
    let server: TcpSocket | undefined;
    w.b.listen(5201, (s) => {
      server = s;
    });
    const c = w.a.connect(B, 5201);
    w.run(() => c.state === "open" && server !== undefined, 10_000);
    const before = w.b.counters();

    const rng = new Prng(0xc0ffee);
    const live = { sport: c.localPort, dport: 5201 };
    w.carryB = false;
    for (let i = 0; i < 100_000; i++) {
      w.b.input(garbage(rng, live));
      if (i % 1000 === 0) w.b.tick((w.now += 1));
    }
    w.carryB = true;
    const after = w.b.counters();
    expect(after.assertions).toBe(0);
    expect(w.b.lastAssertion()).toBeUndefined();
    // the packets did reach lwIP's checks (and nothing leaked from its pools)
    expect(after.rxDropSize - before.rxDropSize).toBeGreaterThan(1000);
    expect(after.ipChecksumErrors + after.ipLengthErrors + after.ipDrop).toBeGreaterThan(10_000);
    expect(after.tcpChecksumErrors).toBeGreaterThan(1000);
    expect(after.tcpOutResets).toBeGreaterThan(100);
    expect(after.rxPoolUsed).toBe(0);

    // let whatever the garbage opened time out (SYN_RCVD gives up after 20 s)
    w.toA = [];
    w.toB = [];
    w.advance(60_000);
    // the live connection carries data both ways, and a new one does too
    const srv = receiver(server!);
    const cli = receiver(c);
    const up = new Prng(5).fill(new Uint8Array(1024 * 1024));
    const down = new Prng(6).fill(new Uint8Array(1024 * 1024));
    sendAll(c, up);
    sendAll(server!, down);
    w.run(() => srv.done && cli.done, 60_000);
    expect(srv.digest()).toBe(sha256(up));
    expect(cli.digest()).toBe(sha256(down));
    const fresh = duplex(w, 5202, 1024 * 1024, 77);
    expect(fresh.server.digest()).toBe(sha256(fresh.up));
    expect(fresh.client.digest()).toBe(sha256(fresh.down));
    expect(w.b.counters().assertions).toBe(0);
  }, 120_000);
});

describe("the committed module", () => {
  const dir = import.meta.dir;
  test("wasm/lwip.wasm matches wasm/lwip.wasm.sha256", () => {
    const want = readFileSync(join(dir, "lwip.wasm.sha256"), "utf8").trim();
    expect(want).toMatch(/^[0-9a-f]{64}  lwip\.wasm$/);
    expect(`${sha256(readFileSync(join(dir, "lwip.wasm")))}  lwip.wasm`).toBe(want);
  });

  test("imports nothing but env.output (no WASI) and exports what stack.ts calls", () => {
    const mod = new WebAssembly.Module(readFileSync(join(dir, "lwip.wasm")));
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: "env", name: "output", kind: "function" }]);
    const exports = WebAssembly.Module.exports(mod).map((e) => e.name);
    expect(exports).toContain("memory");
    expect(exports).toContain("nm_next_event");
  });
});
