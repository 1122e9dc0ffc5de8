/**
 * @module
 * A self-test of the WASM TCP stack for a running binary: two stacks in this
 * thread, wired back to back on a fake clock, move 1 MiB one way and the
 * receiver checks its sha256. It proves that the module the binary carries
 * (embedded in /$bunfs when compiled) instantiates and works; a hidden CLI
 * path can call it, as the compiled-binary test does.
 */
import wasmPath from "./lwip.wasm" with { type: "file" };
import { TcpStack } from "./stack.ts";

export interface SelfTestResult {
  ok: boolean;
  /** Where the module was loaded from (/$bunfs/... inside a compiled binary). */
  wasmPath: string;
  bytes: number;
  /** Fake milliseconds the transfer took, handshake and close included. */
  fakeMs: number;
}

const SIZE = 1 << 20;

export async function wasmSelfTest(): Promise<SelfTestResult> {
  const toA: Uint8Array[] = [];
  const toB: Uint8Array[] = [];
  const a = await TcpStack.create({ ip: "10.255.0.1", netmask: "255.255.255.0", now: 0, output: (p) => toB.push(p.slice()) });
  const b = await TcpStack.create({ ip: "10.255.0.2", netmask: "255.255.255.0", now: 0, output: (p) => toA.push(p.slice()) });
  const data = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) data[i] = (i * 7919) >>> 3;
  const hash = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  let ended = false;
  b.listen(9, (s) => {
    s.onData = (mem, off, len) => {
      hash.update(mem.subarray(off, off + len));
      bytes += len;
    };
    s.onEnd = () => {
      ended = true;
      s.close();
    };
  });
  const c = a.connect("10.255.0.2", 9);
  let off = 0;
  const pump = (): void => {
    while (off < SIZE) {
      const n = c.write(data.subarray(off));
      off += n;
      if (n === 0) return;
    }
    c.end();
  };
  c.onConnect = pump;
  c.onWritable = pump;
  let now = 0;
  while (!ended && now < 60_000) {
    for (const p of toB.splice(0)) b.input(p);
    for (const p of toA.splice(0)) a.input(p);
    now += 1;
    a.tick(now);
    b.tick(now);
  }
  const ok = ended && bytes === SIZE && hash.digest("hex") === new Bun.CryptoHasher("sha256").update(data).digest("hex");
  return { ok, wasmPath, bytes, fakeMs: now };
}
