/**
 * Two QUIC workers in this process on 127.0.0.1, with certificates from the
 * controller's CA (controller/ca.ts; a test may reach across the halves):
 * frames pushed into A's out ring come out of B's in ring whole and in order,
 * and peers whose certificate is from another CA or names another agent are
 * refused, by the accepting side and by the dialing side.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "../../controller/ca.ts";
import type { Peer, TlsBundle } from "../../protocol/wire.ts";
import { FRAME_HEADER, KIND_PACKET, writeHeader } from "../dataplane/frame.ts";
import { RingReader, RingWriter } from "../dataplane/ring.ts";
import { QuicTransport } from "./quic.ts";

const LOCAL = "127.0.0.1";
let dir = "";
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
const running: QuicTransport[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "nextmini-quic-"));
  ca = await CertificateAuthority.loadOrCreate(join(dir, "ca"));
  otherCa = await CertificateAuthority.loadOrCreate(join(dir, "other"));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((q) => q.stop()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A started transport; `errors` collects what it reports, `waitError` waits for a matching one. */
async function transport(me: string, tls: TlsBundle) {
  const errors: string[] = [];
  const listeners: (() => void)[] = [];
  const q = new QuicTransport({
    me,
    listen: { address: LOCAL, port: 0 },
    ringBytes: 4 << 20,
    onLog: (m) => {
      errors.push(m);
      for (const l of listeners) l();
    },
  });
  await q.start(tls);
  running.push(q);
  const waitError = (re: RegExp, ms = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no error matching ${re} within ${ms} ms; got: ${errors.join(" | ")}`)), ms);
      const check = () => {
        const hit = errors.find((m) => re.test(m));
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        }
      };
      listeners.push(check);
      check();
    });
  return { q, errors, waitError, peer: (name = me): Peer => ({ name, address: LOCAL, port: q.port }) };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

test("10,000 frames of up to 64 KB go from A's out ring to B's in ring intact and in order", async () => {
  const a = await transport("a", await ca.issue("a", LOCAL));
  const b = await transport("b", await ca.issue("b", LOCAL));
  a.q.setPeers([b.peer()]);
  b.q.setPeers([a.peer()]);
  await until("a and b to connect", () => (a.q.counters()?.peers[0]?.connected ?? false) && (b.q.counters()?.peers[0]?.connected ?? false));

  const out = new RingWriter(a.q.rings.out);
  const inb = new RingReader(b.q.rings.in);
  const COUNT = 10_000;
  const MAX = 65_536;
  // payloads are windows of one random buffer: cheap to make and to check byte for byte
  const source = crypto.getRandomValues(new Uint8Array(2 * MAX));
  let seed = 12345;
  const sizes = Array.from({ length: COUNT }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return 1 + (seed % MAX);
  });
  const offsetOf = (i: number) => (i * 7919) % MAX;
  const prefix = new Uint8Array(4 + FRAME_HEADER);
  const pv = new DataView(prefix.buffer);
  const got = new Uint8Array(4 + FRAME_HEADER + MAX);
  const gv = new DataView(got.buffer);
  let pushed = 0;
  let received = 0;
  let bytes = 0;
  const bad: string[] = [];
  const t0 = performance.now();
  while (received < COUNT) {
    let progress = false;
    while (pushed < COUNT) {
      const len = sizes[pushed];
      pv.setUint32(0, 0, true);
      writeHeader(pv, 4, KIND_PACKET, len, pushed, 7, 9, pushed % 5);
      if (!out.push(prefix, source, offsetOf(pushed), len)) break;
      pushed++;
      progress = true;
    }
    if (out.wakeNeeded()) out.notify();
    for (let n = inb.popInto(got, 0); n >= 0; n = inb.popInto(got, 0)) {
      const i = received++;
      progress = true;
      const len = sizes[i];
      bytes += len;
      if (n !== 4 + FRAME_HEADER + len || gv.getUint32(0, true) !== 0 || gv.getUint32(4 + 8, true) !== i || gv.getInt32(4 + 20, true) !== i % 5) {
        bad.push(`record ${i}: length ${n}, ns ${gv.getUint32(12, true)}`);
      } else if (Buffer.compare(got.subarray(4 + FRAME_HEADER, n), source.subarray(offsetOf(i), offsetOf(i) + len)) !== 0) {
        bad.push(`record ${i}: payload differs`);
      }
      if (bad.length > 5) throw new Error(bad.join("; "));
    }
    if (!progress) await Bun.sleep(1);
  }
  const seconds = (performance.now() - t0) / 1000;
  expect(bad).toEqual([]);
  console.log(`quic rings: ${COUNT} frames, ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(2)} s = ${((bytes * 8) / seconds / 1e9).toFixed(2)} Gbit/s`);
  await until("counters to catch up", () => (a.q.counters()?.sent ?? 0) === COUNT && (b.q.counters()?.received ?? 0) === COUNT, 5_000);
  expect(a.q.counters()?.dropped).toEqual({ no_peer: 0, link_lost: 0, bad_record: 0, bad_frame: 0 });
}, 120_000);

test("the acceptor refuses a certificate from another CA, and one naming an agent it does not expect", async () => {
  const b = await transport("b", await ca.issue("b"));
  b.q.setPeers([{ name: "a", address: LOCAL, port: 9 }]);
  // trusts our CA (so only b can refuse), but its own certificate is from another
  const forged = await otherCa.issue("a");
  const c = await transport("a", { ...forged, ca: ca.certPem });
  c.q.setPeers([b.peer()]);
  expect(await b.waitError(/refused a connection: certificate of CN=a is not from this cluster's CA/)).toBeTruthy();
  // a genuine certificate for a name b does not know (b only expects "a")
  const d = await transport("a", await ca.issue("mallory"));
  d.q.setPeers([b.peer()]);
  expect(await b.waitError(/refused a connection: agent "mallory" is not expected here/)).toBeTruthy();
  await until("counters", () => b.q.counters() !== undefined && c.q.counters() !== undefined);
  expect(b.q.counters()?.peers).toEqual([{ name: "a", connected: false }]);
  expect(c.q.counters()?.peers).toEqual([{ name: "b", connected: false }]);
}, 30_000);

test("the dialer refuses a server whose certificate names another agent", async () => {
  const impostor = await transport("c", await ca.issue("c"));
  impostor.q.setPeers([{ name: "a", address: LOCAL, port: 9 }]);
  const a = await transport("a", await ca.issue("a"));
  // a believes b listens where the impostor does
  a.q.setPeers([{ name: "b", address: LOCAL, port: impostor.q.port }]);
  expect(await a.waitError(/dialing b at .* failed: agent "c" is not expected here/)).toBeTruthy();
  await until("counters", () => a.q.counters() !== undefined);
  expect(a.q.counters()?.peers).toEqual([{ name: "b", connected: false }]);
}, 30_000);

test("a dialer redials a peer that went away and came back on the same port; frames flow again", async () => {
  const a = await transport("a", await ca.issue("a"));
  const bTls = await ca.issue("b");
  const b1 = await transport("b", bTls);
  const port = b1.q.port;
  a.q.setPeers([b1.peer()]);
  b1.q.setPeers([a.peer()]);
  const connected = (q: QuicTransport) => q.counters()?.peers[0]?.connected === true;
  await until("first connection", () => connected(a.q) && connected(b1.q));
  await b1.q.stop();
  running.splice(running.indexOf(b1.q), 1);
  await a.waitError(/link to b down/);

  const b2 = new QuicTransport({ me: "b", listen: { address: LOCAL, port } });
  await b2.start(bTls);
  running.push(b2);
  b2.setPeers([a.peer()]);
  await until("the redial", () => connected(a.q) && connected(b2), 15_000);
  const out = new RingWriter(a.q.rings.out);
  const rec = new Uint8Array(4 + FRAME_HEADER);
  writeHeader(new DataView(rec.buffer), 4, KIND_PACKET, 3, 1, 2, 3, 4);
  expect(out.push(rec, Uint8Array.of(1, 2, 3), 0, 3)).toBe(true);
  if (out.wakeNeeded()) out.notify();
  const inb = new RingReader(b2.rings.in);
  const got = new Uint8Array(64);
  await until("the frame", () => inb.popInto(got, 0) === 4 + FRAME_HEADER + 3);
  expect([...got.subarray(4 + FRAME_HEADER, 4 + FRAME_HEADER + 3)]).toEqual([1, 2, 3]);
}, 30_000);

test("a dial that times out is retried with backoff until the peer appears", async () => {
  // a free UDP port nobody listens on yet
  const probe = await Bun.udpSocket({ hostname: LOCAL });
  const port = probe.port;
  probe.close();
  const a = await transport("a", await ca.issue("a"));
  a.q.setPeers([{ name: "b", address: LOCAL, port }]);
  await a.waitError(/dialing b at .* failed: .*; retrying/, 15_000);
  const b = new QuicTransport({ me: "b", listen: { address: LOCAL, port } });
  await b.start(await ca.issue("b"));
  running.push(b);
  b.setPeers([a.peer()]);
  await until("the retried dial", () => b.counters()?.peers[0]?.connected === true, 20_000);
  expect(a.errors.filter((m) => m.includes("failed"))).toHaveLength(1);
}, 60_000);
