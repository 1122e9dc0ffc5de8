/**
 * The two ends of one user-space flow over the WASM TCP stack (wasm/stack.ts).
 *
 * The sender writes a byte stream of a fixed size (or for a fixed time),
 * paced to `rate` when one is set, then half-closes; it is finished when the
 * peer has acknowledged every byte, which is the flow's completion time as
 * the sender sees it. The receiver counts what arrives and hashes it, so the
 * two ends can show that exactly the bytes sent were delivered (the sender
 * hashes what it wrote). Both keep a bounded series of throughput samples.
 *
 * Times are milliseconds on the owner's clock, the one its stacks tick on.
 * Nothing here sets a timer: the owner calls `pump(now)` when a stack ticks
 * and when `nextDeadline` comes.
 */
import { createHash, type Hash } from "node:crypto";
import type { TcpSocket } from "../../wasm/stack.ts";
import { MAX_FLOW_SAMPLES, type FlowState, type ThroughputSample } from "../../protocol/flow.ts";

/** What a flow's sender is asked to do. */
export interface SendSpec {
  /** bytes to send; or, without it, send for `seconds` */
  bytes?: number;
  seconds?: number;
  /** bits per second the sender keeps to, at most (none: as fast as TCP goes) */
  rate?: number;
  /** bytes in flight at most: what the route can hold (protocol/flow.ts, windowFor) */
  window?: number;
}

export interface FlowReport {
  state: FlowState;
  /** sender: bytes acknowledged; receiver: bytes received */
  bytes: number;
  retransmits: number;
  startedAt?: number;
  finishedAt?: number;
  /** hex sha256 of the stream: written (sender) or received (receiver); once finished */
  sha256?: string;
  error?: string;
  /** the last MAX_FLOW_SAMPLES samples */
  samples: ThroughputSample[];
  /** samples taken since the start, including ones no longer kept: a reader's cursor for what is new */
  sampleCount: number;
}

/** a paced sender writes once its rate allows a full segment, so pacing never makes small segments */
const PACING_QUANTUM = 1460;
const CHUNK = 64 * 1024;
/** a throughput sample covers this long */
export const SAMPLE_MS = 100;

/** The payload both ends agree on without sending it twice: a fixed pseudo-random 64 KB block, repeated. */
const PATTERN = (() => {
  const block = new Uint8Array(CHUNK);
  let x = 0x9e3779b9;
  for (let i = 0; i < block.length; i++) {
    // xorshift32: fast, and not a run of zeros a compressing path could flatter
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  return block;
})();

/** Samples throughput from a byte counter that only grows; `at` counts from the flow's start. */
class Sampler {
  readonly samples: ThroughputSample[] = [];
  /** samples ever taken */
  count = 0;
  readonly #origin: number;
  #at: number;
  #bytes = 0;

  constructor(now: number) {
    this.#origin = now;
    this.#at = now;
  }

  update(now: number, bytes: number): void {
    if (now - this.#at < SAMPLE_MS) return;
    this.samples.push({ at: now - this.#origin, bps: ((bytes - this.#bytes) * 8 * 1000) / (now - this.#at) });
    this.count++;
    if (this.samples.length > MAX_FLOW_SAMPLES) this.samples.shift();
    this.#at = now;
    this.#bytes = bytes;
  }
}

export class FlowSender {
  #state: FlowState = "pending";
  #written = 0;
  #acked = 0;
  #error: string | undefined;
  #startedAt: number;
  #paceFrom: number;
  #finishedAt: number | undefined;
  #stopAt: number;
  #total: number;
  #ended = false;
  #hash: Hash = createHash("sha256");
  #digest: string | undefined;
  #sampler: Sampler;
  /** the owner's clock at the last pump: what socket events (which carry no time) are stamped with */
  #lastNow = 0;

  constructor(
    private readonly socket: TcpSocket,
    private readonly spec: SendSpec,
    now: number,
  ) {
    if (spec.bytes === undefined && spec.seconds === undefined) throw new RangeError("a flow needs bytes or seconds");
    this.#startedAt = now;
    this.#paceFrom = now;
    this.#total = spec.bytes ?? Infinity;
    this.#stopAt = spec.seconds === undefined ? Infinity : now + spec.seconds * 1000;
    this.#sampler = new Sampler(now);
    if (spec.window !== undefined) this.setWindow(spec.window);
    socket.onConnect = () => {
      if (this.#state === "pending") this.#state = "running";
      // pacing counts from the handshake's end: the time before it sent nothing to catch up on
      this.#paceFrom = this.#lastNow;
    };
    socket.onWritable = () => this.#write(this.#lastNow);
    socket.onClose = (reason) => {
      if (this.#state === "finished") return;
      // the final figures: acknowledgements may have come since the last pump
      this.#acked = socket.stats().bytesAcked;
      this.#finish(this.#lastNow);
      if (this.#acked < this.#written || !this.#ended) {
        this.#state = "failed";
        this.#error = `the connection ${reason === "closed" ? "closed" : `ended: ${reason}`} after ${this.#acked} of ${this.#written} bytes were acknowledged`;
      }
    };
  }

  /** Writes what pacing and the send buffer allow; notes acknowledgements. Call after every tick of the stack. */
  pump(now: number): void {
    this.#lastNow = now;
    if (this.#state === "finished" || this.#state === "failed") return;
    if (this.socket.state !== "closed") this.#acked = this.socket.stats().bytesAcked;
    this.#sampler.update(now, this.#acked);
    this.#write(now);
    if (this.#ended && this.#acked >= this.#written) {
      this.#finish(now);
      // the receiver closes once it has everything; this end has nothing left to say either
      this.socket.close();
    }
  }

  get state(): FlowState {
    return this.#state;
  }

  /** A cap on bytes in flight: at the start, and again as other flows come and end on the route. */
  setWindow(bytes: number): void {
    if (this.socket.state !== "closed" && Number.isFinite(bytes)) this.socket.setSendBuffer(bytes);
  }

  /** The connection was refused: nobody listened at the destination port. */
  get refused(): boolean {
    return this.#state === "failed" && this.socket.closeReason === "refused";
  }

  /** Stops the flow where it is (its order was withdrawn): the connection is reset. */
  abort(): void {
    if (this.#state === "finished" || this.#state === "failed") return;
    this.#acked = this.socket.state === "closed" ? this.#acked : this.socket.stats().bytesAcked;
    this.#state = "failed";
    this.#error = `stopped after ${this.#acked} of ${this.#written} bytes were acknowledged`;
    if (this.socket.state !== "closed") this.socket.abort();
  }

  /** When pacing lets the next bytes go (Infinity: whenever the socket has room). */
  get nextDeadline(): number {
    const rate = this.spec.rate;
    if (!rate || this.#ended || this.#state !== "running") return Infinity;
    const due = this.#paceFrom + (((this.#written + PACING_QUANTUM) * 8) / rate) * 1000;
    return due > this.#lastNow ? due : this.#lastNow;
  }

  #write(now: number): void {
    if (this.#ended || this.socket.state === "closed") return;
    if (now >= this.#stopAt) this.#total = this.#written;
    let budget = this.#total - this.#written;
    if (this.spec.rate) {
      const allowed = Math.floor(((now - this.#paceFrom) / 1000) * (this.spec.rate / 8)) - this.#written;
      if (allowed < budget) budget = allowed < PACING_QUANTUM ? 0 : allowed;
    }
    while (budget > 0) {
      const off = this.#written % CHUNK;
      const len = Math.min(budget, CHUNK - off);
      const chunk = PATTERN.subarray(off, off + len);
      const n = this.socket.write(chunk);
      if (n > 0) this.#hash.update(chunk.subarray(0, n));
      this.#written += n;
      budget -= n;
      if (n < len) return;
    }
    if (this.#written >= this.#total) {
      this.#ended = true;
      this.socket.end();
    }
  }

  #finish(now: number): void {
    this.#finishedAt = now;
    this.#state = "finished";
    this.#digest = this.#hash.digest("hex");
  }

  report(): FlowReport {
    return {
      state: this.#state,
      bytes: this.#acked,
      retransmits: this.socket.stats().retransmits,
      startedAt: this.#startedAt,
      ...(this.#finishedAt !== undefined ? { finishedAt: this.#finishedAt } : {}),
      ...(this.#digest ? { sha256: this.#digest } : {}),
      ...(this.#error ? { error: this.#error } : {}),
      samples: this.#sampler.samples,
      sampleCount: this.#sampler.count,
    };
  }
}

/** The receiving end: counts and hashes the stream until the sender half-closes, then closes. */
export class FlowReceiver {
  #state: FlowState = "running";
  #bytes = 0;
  #hash: Hash = createHash("sha256");
  #digest: string | undefined;
  #startedAt: number;
  #finishedAt: number | undefined;
  #error: string | undefined;
  #sampler: Sampler;
  #now: number;

  constructor(
    private readonly socket: TcpSocket,
    now: number,
  ) {
    this.#startedAt = now;
    this.#now = now;
    this.#sampler = new Sampler(now);
    socket.onData = (memory, offset, length) => {
      this.#hash.update(memory.subarray(offset, offset + length));
      this.#bytes += length;
    };
    socket.onEnd = () => {
      this.#finishedAt = this.#now;
      this.#state = "finished";
      this.#digest = this.#hash.digest("hex");
      socket.close();
    };
    socket.onClose = (reason) => {
      if (this.#state === "finished") return;
      this.#state = "failed";
      this.#error = `the connection ended (${reason}) after ${this.#bytes} bytes, before the sender finished`;
    };
  }

  get state(): FlowState {
    return this.#state;
  }

  /** Stops the flow where it is: the connection is reset. */
  abort(): void {
    if (this.#state !== "running") return;
    this.#state = "failed";
    this.#error = `stopped after ${this.#bytes} bytes`;
    if (this.socket.state !== "closed") this.socket.abort();
  }

  /** Call after every tick of the stack: the time stamps the end and the samples. */
  pump(now: number): void {
    this.#now = now;
    this.#sampler.update(now, this.#bytes);
  }

  report(): FlowReport {
    return {
      state: this.#state,
      bytes: this.#bytes,
      retransmits: 0,
      startedAt: this.#startedAt,
      ...(this.#finishedAt !== undefined ? { finishedAt: this.#finishedAt } : {}),
      ...(this.#digest ? { sha256: this.#digest } : {}),
      ...(this.#error ? { error: this.#error } : {}),
      samples: this.#sampler.samples,
      sampleCount: this.#sampler.count,
    };
  }
}
