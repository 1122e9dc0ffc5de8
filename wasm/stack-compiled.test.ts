/**
 * The WASM TCP stack from a compiled executable: the build recipe of
 * scripts/build.ts applied to a small program that instantiates two stacks
 * from the module embedded in the binary and moves 1 MiB between them, run
 * from / so nothing can come from the source tree. dist/nextmini (built by
 * scripts/test.sh before the tests) is checked to carry the same bytes.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile, ROOT } from "../scripts/build.ts";

// inside the repo, so the bundle root (and the /$bunfs paths) is the repo root
const dir = join(ROOT, ".nextmini-test", `wasm-compiled-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROGRAM = `
import wasmPath from "../../wasm/lwip.wasm" with { type: "file" };
import { TcpStack } from "../../wasm/stack.ts";

const toA: Uint8Array[] = [];
const toB: Uint8Array[] = [];
const a = await TcpStack.create({ ip: "10.9.0.1", netmask: "255.255.255.0", now: 0, output: (p) => toB.push(p.slice()) });
const b = await TcpStack.create({ ip: "10.9.0.2", netmask: "255.255.255.0", now: 0, output: (p) => toA.push(p.slice()) });
const data = new Uint8Array(1 << 20).map((_, i) => (i * 7919) & 255);
const hash = new Bun.CryptoHasher("sha256");
let got = 0;
let ended = false;
b.listen(9, (s) => {
  s.onData = (m, o, l) => { hash.update(m.subarray(o, o + l)); got += l; };
  s.onEnd = () => { ended = true; };
});
const c = a.connect("10.9.0.2", 9);
let off = 0;
const pump = () => { while (off < data.length) { const n = c.write(data.subarray(off)); off += n; if (n === 0) return; } c.end(); };
c.onConnect = pump;
c.onWritable = pump;
let now = 0;
while (!ended && now < 60000) {
  const x = toB.splice(0);
  const y = toA.splice(0);
  for (const p of x) b.input(p);
  for (const p of y) a.input(p);
  now += 1;
  a.tick(now);
  b.tick(now);
}
const ok = ended && got === data.length && hash.digest("hex") === new Bun.CryptoHasher("sha256").update(data).digest("hex");
console.log(JSON.stringify({ wasmPath, ok, got }));
`;

test("a compiled program runs the stack from the module embedded in it", async () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "program.ts"), PROGRAM);
  const exe = join(dir, "wasm-program");
  await compile([join(".nextmini-test", `wasm-compiled-${process.pid}`, "program.ts")], exe);
  const proc = Bun.spawn([exe], { cwd: "/", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { wasmPath: string; ok: boolean; got: number };
  expect(result.wasmPath).toStartWith("/$bunfs/");
  expect(result).toMatchObject({ ok: true, got: 1 << 20 });
}, 120_000);

test("dist/nextmini carries wasm/lwip.wasm", () => {
  const exe = join(ROOT, "dist", "nextmini");
  if (!existsSync(exe)) return; // scripts/test.sh builds it before the tests
  const wasm = readFileSync(join(ROOT, "wasm", "lwip.wasm"));
  expect(readFileSync(exe).includes(wasm)).toBe(true);
});
