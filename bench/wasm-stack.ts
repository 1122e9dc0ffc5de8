/**
 * @module
 * The WASM TCP stack's ceiling: goodput of one TCP connection between two
 * TcpStacks (wasm/stack.ts) wired back to back in one thread, no shaping, no
 * loss. Packets cross through two preallocated rings (copy in on output, a
 * cached view out on input), so what is measured is lwIP, the glue and the
 * wrapper, which is what the dataplane will carry per flow. The stacks run on
 * the real clock (performance.now) so their timers behave as in the agent.
 * Prints figures; not a test.
 *
 *   ./node_modules/.bin/bun bench/wasm-stack.ts [MiB to send, default 2048]
 */
import { MTU, TcpStack, type TcpSocket } from "../wasm/stack.ts";

const TOTAL = Math.max(1, Number(process.argv[2] ?? 2048)) * 1024 * 1024;
const WARMUP = 128 * 1024 * 1024;
const SLOTS = 16384;

/** Fixed-size packet slots; a view per slot is kept while the lengths repeat (they do: 1500 and 40). */
class Ring {
  readonly #buf = new Uint8Array(SLOTS * MTU);
  readonly #len = new Int32Array(SLOTS);
  readonly #views: Uint8Array[] = [];
  #head = 0;
  count = 0;
  overflows = 0;

  constructor() {
    for (let i = 0; i < SLOTS; i++) this.#views.push(this.#buf.subarray(i * MTU, i * MTU));
  }

  push(packet: Uint8Array): void {
    if (this.count === SLOTS) {
      this.overflows++;
      return;
    }
    const slot = (this.#head + this.count) % SLOTS;
    this.#buf.set(packet, slot * MTU);
    this.#len[slot] = packet.length;
    this.count++;
  }

  /** Hands every queued packet to `to` (what it sends meanwhile lands in the other ring). */
  deliver(to: TcpStack): number {
    const n = this.count;
    for (let i = 0; i < n; i++) {
      const slot = this.#head;
      const len = this.#len[slot];
      let view = this.#views[slot];
      if (view.length !== len) view = this.#views[slot] = this.#buf.subarray(slot * MTU, slot * MTU + len);
      this.#head = (slot + 1) % SLOTS;
      this.count--;
      to.input(view);
    }
    return n;
  }
}

async function run(bytes: number, sendBuffer?: number): Promise<{ seconds: number; packets: number; retransmits: number; overflows: number }> {
  const ab = new Ring();
  const ba = new Ring();
  const t = performance.now();
  const a = await TcpStack.create({ ip: "10.0.0.1", netmask: "255.255.255.0", now: t, output: (p) => ab.push(p) });
  const b = await TcpStack.create({ ip: "10.0.0.2", netmask: "255.255.255.0", now: t, output: (p) => ba.push(p) });
  let received = 0;
  b.listen(5201, (s) => {
    s.onData = (_mem, _off, len) => {
      received += len;
    };
  });
  const payload = new Uint8Array(256 * 1024);
  crypto.getRandomValues(payload.subarray(0, 65536));
  for (let i = 65536; i < payload.length; i += 65536) payload.copyWithin(i, 0, 65536);
  const c: TcpSocket = a.connect("10.0.0.2", 5201);
  if (sendBuffer !== undefined) c.setSendBuffer(sendBuffer);
  let written = 0;
  const pump = (): void => {
    while (written < bytes) {
      const want = Math.min(payload.length, bytes - written);
      const n = c.write(want === payload.length ? payload : payload.subarray(0, want));
      written += n;
      if (n < want) return;
    }
  };
  c.onConnect = pump;
  c.onWritable = pump;

  const start = performance.now();
  let packets = 0;
  let next = 0;
  while (received < bytes) {
    const moved = ab.deliver(b) + ba.deliver(a);
    packets += moved;
    const now = performance.now();
    if (moved === 0 || now >= next) next = Math.min(a.tick(now), b.tick(now));
  }
  const seconds = (performance.now() - start) / 1000;
  const retransmits = c.stats().retransmits;
  c.close();
  return { seconds, packets, retransmits, overflows: ab.overflows + ba.overflows };
}

await run(WARMUP); // JIT warm-up
// With no delay on the wire the sender keeps its whole send buffer in flight,
// and lwIP's per-ACK work grows with that (see wasm/lwipopts.h): the first
// line is the default 4 MiB, the second a socket capped at 1 MiB.
for (const [label, sendBuffer] of [["send buffer 4 MiB (default)", undefined], ["send buffer 1 MiB", 1024 * 1024]] as const) {
  const r = await run(TOTAL, sendBuffer);
  const gbit = (TOTAL * 8) / r.seconds / 1e9;
  console.log(
    `one connection, two stacks, one thread, ${label}: ${(TOTAL / 1048576).toFixed(0)} MiB in ${r.seconds.toFixed(2)} s = ` +
      `${gbit.toFixed(2)} Gbit/s goodput; ${(r.packets / r.seconds / 1e6).toFixed(2)} Mpackets/s both ways ` +
      `(${((r.seconds * 1e9) / r.packets).toFixed(0)} ns per packet); retransmits ${r.retransmits}, ring overflows ${r.overflows}`,
  );
}
