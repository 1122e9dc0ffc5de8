/**
 * The quic transport from a compiled executable: the build recipe of
 * scripts/build.ts (the plugin that embeds the quiche addon, the QUIC worker
 * as an entrypoint, the repo as bundle root) applied to a small program that
 * starts two QUIC workers from /$bunfs and passes frames both ways. Nothing
 * in dist/nextmini starts the QUIC worker yet, so a separate binary proves
 * the recipe; the real binary is checked for the embedded worker and --help.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateAuthority } from "../../controller/ca.ts";
import { compile, ROOT } from "../../scripts/build.ts";

// inside the repo, so the bundle root (and the worker's /$bunfs path) is the repo root
const dir = join(ROOT, ".nextmini-test", `quic-compiled-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROGRAM = `
import { QuicTransport } from "../../agent/quic/quic.ts";
import { RingReader, RingWriter } from "../../agent/dataplane/ring.ts";
import { FRAME_HEADER, KIND_PACKET, writeHeader } from "../../agent/dataplane/frame.ts";

const tls = JSON.parse(await Bun.stdin.text());
const errors: string[] = [];
const make = (me: string) => new QuicTransport({ me, listen: { address: "127.0.0.1", port: 0 }, onLog: (m) => errors.push(m) });
const a = make("a");
const b = make("b");
await a.start(tls.a);
await b.start(tls.b);
a.setPeers([{ name: "b", address: "127.0.0.1", port: b.port }]);
b.setPeers([{ name: "a", address: "127.0.0.1", port: a.port }]);
const deadline = Date.now() + 15000;
while (!(a.counters()?.peers[0]?.connected && b.counters()?.peers[0]?.connected) && Date.now() < deadline) await Bun.sleep(20);
const rec = new Uint8Array(4 + FRAME_HEADER);
const dv = new DataView(rec.buffer);
const payload = new Uint8Array(60000).fill(7);
const got = new Uint8Array(4 + FRAME_HEADER + 60000);
const counts = { ab: 0, ba: 0 };
for (const [from, to, key] of [[a, b, "ab"], [b, a, "ba"]] as const) {
  const out = new RingWriter(from.rings.out);
  const inn = new RingReader(to.rings.in);
  for (let i = 0; i < 100; i++) {
    writeHeader(dv, 4, KIND_PACKET, 60000, i, 0, 0, -1);
    out.push(rec, payload, 0, 60000);
  }
  if (out.wakeNeeded()) out.notify();
  while (counts[key] < 100 && Date.now() < deadline) {
    if (inn.popInto(got, 0) === 4 + FRAME_HEADER + 60000 && got[got.length - 1] === 7) counts[key]++;
    else await Bun.sleep(5);
  }
}
await a.stop();
await b.stop();
console.log(JSON.stringify({ url: import.meta.url, counts, errors }));
`;

test("a compiled program runs two QUIC workers from its embedded file system and carries frames both ways", async () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "program.ts"), PROGRAM);
  const exe = join(dir, "quic-program");
  await compile([join(".nextmini-test", `quic-compiled-${process.pid}`, "program.ts"), "agent/quic/worker.ts"], exe);

  const stateDir = join(dir, "ca");
  const ca = await CertificateAuthority.loadOrCreate(stateDir);
  const tls = { a: await ca.issue("a", "127.0.0.1"), b: await ca.issue("b", "127.0.0.1") };
  // from another directory, so nothing can be found through node_modules beside the program
  const proc = Bun.spawn([exe], { cwd: "/", stdin: new TextEncoder().encode(JSON.stringify(tls)), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { url: string; counts: { ab: number; ba: number } };
  expect(result.url).toContain("$bunfs");
  expect(result.counts).toEqual({ ab: 100, ba: 100 });
}, 120_000);

test("dist/nextmini embeds the QUIC worker and still answers --help", () => {
  const exe = join(ROOT, "dist", "nextmini");
  if (!existsSync(exe)) return; // scripts/test.sh builds it before the tests
  expect(readFileSync(exe).includes("/$bunfs/root/agent/quic/worker.js")).toBe(true);
  const r = Bun.spawnSync([exe, "--help"]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.toString()).toContain("Usage: nextmini");
});
