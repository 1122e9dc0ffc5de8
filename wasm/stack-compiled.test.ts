/**
 * The WASM TCP stack from a compiled executable: the build recipe of
 * scripts/build.ts applied to a small program that runs wasmSelfTest (two
 * stacks from the module embedded in the binary move 1 MiB), run from / so
 * nothing can come from the source tree. dist/nextmini (built by
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
import { wasmSelfTest } from "../../wasm/selftest.ts";
console.log(JSON.stringify(await wasmSelfTest()));
`;

test("a compiled program runs the stack from the module embedded in it", async () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "program.ts"), PROGRAM);
  const exe = join(dir, "wasm-program");
  await compile([join(".nextmini-test", `wasm-compiled-${process.pid}`, "program.ts")], exe);
  const proc = Bun.spawn([exe], { cwd: "/", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { wasmPath: string; ok: boolean; bytes: number };
  expect(result.wasmPath).toStartWith("/$bunfs/");
  expect(result).toMatchObject({ ok: true, bytes: 1 << 20 });
}, 120_000);

test("dist/nextmini carries wasm/lwip.wasm", () => {
  const exe = join(ROOT, "dist", "nextmini");
  if (!existsSync(exe)) return; // scripts/test.sh builds it before the tests
  const wasm = readFileSync(join(ROOT, "wasm", "lwip.wasm"));
  expect(readFileSync(exe).includes(wasm)).toBe(true);
});
