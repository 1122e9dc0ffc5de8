/**
 * @module
 * Throughput of the quic transport as the dataplane sees it: frames pushed
 * into agent A's out ring, carried by A's and B's QUIC workers over loopback
 * (mutual TLS, one stream), popped from B's in ring. This thread plays both
 * dataplanes; the figure includes two rings' copies and the QUIC work of both
 * ends, on however many cores the machine has. Prints figures; not a test.
 * Run: ./node_modules/.bin/bun bench/quic.ts [payload bytes ...]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "../controller/ca.ts";
import { FRAME_HEADER, KIND_PACKET, writeHeader } from "../agent/dataplane/frame.ts";
import { RingReader, RingWriter } from "../agent/dataplane/ring.ts";
import { QuicTransport } from "../agent/quic/quic.ts";

const SECONDS = Number(process.env.SECONDS ?? 5);
const sizes = process.argv.slice(2).map(Number);
if (sizes.length === 0) sizes.push(65_536, 8_192, 1_400);

const dir = mkdtempSync(join(tmpdir(), "nextmini-bench-quic-"));
const ca = await CertificateAuthority.loadOrCreate(dir);
const a = new QuicTransport({ me: "a", listen: { address: "127.0.0.1", port: 0 }, onLog: (m) => console.error(`a: ${m}`) });
const b = new QuicTransport({ me: "b", listen: { address: "127.0.0.1", port: 0 }, onLog: (m) => console.error(`b: ${m}`) });
await a.start(await ca.issue("a"));
await b.start(await ca.issue("b"));
a.setPeers([{ name: "b", address: "127.0.0.1", port: b.port }]);
b.setPeers([{ name: "a", address: "127.0.0.1", port: a.port }]);
while (!(a.counters()?.peers[0]?.connected && b.counters()?.peers[0]?.connected)) await Bun.sleep(50);

const out = new RingWriter(a.rings.out);
const inb = new RingReader(b.rings.in);
const prefix = new Uint8Array(4 + FRAME_HEADER);
const pv = new DataView(prefix.buffer);
const payload = crypto.getRandomValues(new Uint8Array(65_536));
const sink = new Uint8Array(4 + FRAME_HEADER + 65_536);

/** Pushes `size`-byte frames for `seconds`, popping them at the far end; frames/s, Gbit/s, CPU. */
async function run(size: number, seconds: number): Promise<string> {
  writeHeader(pv, 4, KIND_PACKET, size, 1, 0, 0, -1);
  let frames = 0;
  let inFlight = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end || inFlight > 0) {
    let progress = false;
    // keep a bounded amount in flight, so the figure is the transport's and not a queue filling
    while (performance.now() < end && inFlight < 2000 && out.push(prefix, payload, 0, size)) {
      inFlight++;
      progress = true;
    }
    if (out.wakeNeeded()) out.notify();
    while (inb.popInto(sink, 0) >= 0) {
      frames++;
      inFlight--;
      progress = true;
    }
    if (!progress) await Bun.sleep(1);
    if (performance.now() > end + 10_000) break;
  }
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return (
    `${String(size).padStart(6)} B frames: ${(frames / s).toFixed(0).padStart(7)} frames/s, ` +
      `${((frames * size * 8) / s / 1e9).toFixed(2)} Gbit/s of payload, CPU ${(cpuS / s).toFixed(2)} cores, ` +
      `${((cpuS * 1e6) / frames).toFixed(0)} us CPU per frame (both ends)`
  );
}

// the first seconds grow the congestion window and warm the JIT: not counted
await run(65_536, 2);
for (const size of sizes) console.log(await run(size, SECONDS));
const drops = a.counters()?.dropped;
await a.stop();
await b.stop();
rmSync(dir, { recursive: true, force: true });
console.log(`drops at a: ${JSON.stringify(drops)}`);
