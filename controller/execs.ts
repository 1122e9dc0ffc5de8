/**
 * @module
 * Execs in flight on agents, kept for the hub. Each is a RemoteExec: a stream
 * of events (output chunks in the order they came, then the exit) that a route
 * reads with `next()` or `for await`, plus `write`/`end` for the command's
 * stdin and `cancel` when the HTTP client goes away. Reading an output event
 * returns its bytes to the agent's window (execAck), so output moves at the
 * pace of the client; stdin moves at the pace of the process.
 *
 * An exec ends with the agent's execResult; fails with 502 agent_disconnected
 * when its agent goes, or 504 exec_timeout when no result comes within its
 * timeout plus a grace (the agent kills at the timeout itself, so this only
 * catches an agent that stopped answering). A cancelled exec stays known until
 * its execResult arrives, so its last chunks are dropped quietly; data for an
 * id that is not known is logged once, with the agent's name.
 */
import { ApiError } from "../protocol/errors.ts";
import { AckBatcher, CreditWindow } from "../protocol/exec-window.ts";
import { type AgentFrame, type ControllerFrame, type ExecStream, execChunks } from "../protocol/wire.ts";

export type ExecEvent = { type: "output"; stream: ExecStream; data: Uint8Array } | { type: "exit"; exitCode: number };

/** The buffered answer of POST .../exec without `stream`. */
export type ExecResult = { exitCode: number; stdout: string; stderr: string };

/** What to run, where. */
export type ExecStart = {
  namespace: string;
  /** absent: on the host itself */
  node?: string;
  command: string[];
  timeoutMs: number;
  /** true when the caller will `write` and `end` stdin; false gives the command an empty stdin */
  stdin: boolean;
};

/** Output a buffered exec keeps per stream; beyond it the text is cut (stream the exec for more). */
export const MAX_BUFFERED_OUTPUT = 4 * 1024 * 1024;

type ExecFrame = Extract<AgentFrame, { type: "execOutput" | "execResult" | "execAck" }>;

export class RemoteExec implements AsyncIterable<ExecEvent> {
  readonly #queue: ExecEvent[] = [];
  readonly #stdin = new CreditWindow();
  readonly #outputAcks: AckBatcher;
  #wake: (() => void) | undefined;
  #failure: ApiError | undefined;
  /** the exit (or a failure) came: nothing more will be queued */
  #ended = false;
  #cancelled = false;
  #stdinEnded = false;
  readonly #onEnd: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly host: string,
    readonly request: ExecStart,
    readonly send: (frame: ControllerFrame) => void,
  ) {
    this.#outputAcks = new AckBatcher((bytes) => this.send({ type: "execAck", id, bytes }));
  }

  /** The next event, undefined after the exit (or once cancelled); throws the ApiError the exec failed with. */
  async next(): Promise<ExecEvent | undefined> {
    for (;;) {
      if (this.#cancelled) return undefined;
      const event = this.#queue.shift();
      if (event) {
        if (event.type === "output") this.#outputAcks.consumed(event.data.byteLength);
        return event;
      }
      if (this.#failure) throw this.#failure;
      if (this.#ended) return undefined;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ExecEvent> {
    for (let e = await this.next(); e; e = await this.next()) yield e;
  }

  /** True once the exec ended, failed or was cancelled: writes are dropped from then on. */
  get done(): boolean {
    return this.#ended || this.#cancelled;
  }

  /**
   * Feeds the command's stdin, waiting while the agent has a window's worth
   * unwritten. Await each write before the next and before `end`. Resolves
   * false when the exec is done and the data was dropped.
   */
  async write(data: Uint8Array): Promise<boolean> {
    for (const piece of execChunks(data)) {
      if (this.done || !(await this.#stdin.reserve(piece.byteLength))) return false;
      this.send({ type: "execInput", id: this.id, data: piece });
    }
    return !this.done;
  }

  /** Closes the command's stdin (end of file). */
  end(): void {
    if (this.#stdinEnded || this.done) return;
    this.#stdinEnded = true;
    this.send({ type: "execInput", id: this.id, data: new Uint8Array(0), eof: true });
  }

  /**
   * Streams `body` into stdin, then ends it; stops reading `body` as soon as
   * the exec is done. A body that fails (the client went away mid-upload)
   * cancels the exec, so a half-sent input is never taken for a whole one.
   * Resolves to the bytes forwarded.
   */
  async pipeFrom(body: ReadableStream<Uint8Array> | null): Promise<number> {
    let bytes = 0;
    if (!body) {
      this.end();
      return bytes;
    }
    const reader = body.getReader();
    const stop = () => void reader.cancel().catch(() => undefined);
    this.#onEnd.push(stop);
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done || this.done) break;
        bytes += r.value.byteLength;
        if (!(await this.write(r.value))) break;
      }
      this.end();
    } catch {
      this.cancel();
    } finally {
      this.#onEnd.splice(this.#onEnd.indexOf(stop), 1);
    }
    return bytes;
  }

  /** Asks the agent to kill the command; the reader sees no more events. */
  cancel(): void {
    if (this.done) return;
    this.#cancelled = true;
    this.send({ type: "execCancel", id: this.id });
    this.#finish();
  }

  /** Reads every event into the buffered answer: stdout and stderr decoded as UTF-8 at the end. */
  async collect(max = MAX_BUFFERED_OUTPUT): Promise<ExecResult> {
    const out = { stdout: new Collected(max), stderr: new Collected(max) };
    for await (const e of this) {
      if (e.type === "output") out[e.stream].add(e.data);
      else return { exitCode: e.exitCode, stdout: out.stdout.text(), stderr: out.stderr.text() };
    }
    // only a cancel ends the events without an exit
    const where = this.request.node === undefined ? `host ${this.host}` : `node ${this.request.node} (host ${this.host})`;
    throw new ApiError(502, "exec_cancelled", `exec on ${where} was cancelled`);
  }

  /** @internal Execs: a frame from the agent for this exec. */
  receive(frame: ExecFrame): void {
    switch (frame.type) {
      case "execOutput":
        if (!this.#cancelled) this.#push({ type: "output", stream: frame.stream, data: frame.data });
        return;
      case "execResult":
        if (!this.#cancelled) this.#push({ type: "exit", exitCode: frame.exitCode });
        this.#finish();
        return;
      case "execAck":
        this.#stdin.ack(frame.bytes);
        return;
    }
  }

  /** @internal Execs: the exec failed; queued events are still read first. */
  fail(error: ApiError): void {
    if (this.done) return;
    this.#failure = error;
    this.#finish();
  }

  #push(event: ExecEvent): void {
    this.#queue.push(event);
    this.#wakeReader();
  }

  #finish(): void {
    this.#ended = true;
    this.#stdin.close();
    for (const f of this.#onEnd.splice(0)) f();
    this.#wakeReader();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** One stream of a buffered exec, cut at `max` bytes the way agents used to cut it. */
class Collected {
  readonly #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(readonly max: number) {}

  add(data: Uint8Array): void {
    if (this.#size < this.max) this.#chunks.push(data.subarray(0, this.max - this.#size));
    this.#size += data.byteLength;
  }

  text(): string {
    const text = Buffer.concat(this.#chunks).toString("utf8");
    return this.#size > this.max ? `${text}\n[output cut at ${this.max} bytes]\n` : text;
  }
}

export type ExecsOptions = {
  log: (line: string) => void;
  /** how long past the command's own timeout to wait for the agent's result */
  graceMs?: number;
};

type Entry = { exec: RemoteExec; timer: ReturnType<typeof setTimeout> };

/** The execs of every agent, by id. */
export class Execs {
  readonly #opts: ExecsOptions;
  readonly #entries = new Map<number, Entry>();
  /** "host/id" of unknown execs already logged, so a stream of late chunks logs one line */
  readonly #unknownLogged = new Set<string>();
  #nextId = 1;

  constructor(opts: ExecsOptions) {
    this.#opts = opts;
  }

  /** How many execs wait for their agent. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sends the exec frame through `send` (the host's connection) and returns the exec to read. */
  start(host: string, send: (frame: ControllerFrame) => void, request: ExecStart): RemoteExec {
    const id = this.#nextId++;
    const exec = new RemoteExec(id, host, request, send);
    const { node, timeoutMs } = request;
    const timer = setTimeout(() => {
      this.#entries.delete(id);
      if (exec.done) return; // cancelled and the agent never confirmed: nothing waits for it
      // the agent may still be there, only late: have it kill the command
      send({ type: "execCancel", id });
      exec.fail(new ApiError(504, "exec_timeout", `no result from node ${node} on host ${host} within ${timeoutMs} ms`, { timeoutMs }));
    }, timeoutMs + (this.#opts.graceMs ?? 2000));
    this.#entries.set(id, { exec, timer });
    send({ type: "exec", id, namespace: request.namespace, node, command: request.command, timeoutMs, stdin: request.stdin });
    return exec;
  }

  /** An exec frame from `host`'s agent. */
  handle(host: string, frame: ExecFrame): void {
    const entry = this.#entries.get(frame.id);
    if (!entry || entry.exec.host !== host) {
      // an ack carries no data: stdin acknowledged after the exec ended is normal
      if (frame.type !== "execAck") this.#logUnknown(host, frame);
      return;
    }
    entry.exec.receive(frame);
    if (frame.type === "execResult") this.#forget(frame.id, entry);
  }

  /** Fails every exec on `host` (its agent disconnected or was replaced) with a 502. */
  failHost(host: string, why: string): void {
    for (const [id, entry] of this.#entries) {
      if (entry.exec.host !== host) continue;
      this.#forget(id, entry);
      entry.exec.fail(new ApiError(502, "agent_disconnected", `exec on host ${host} failed: ${why}`));
    }
  }

  #forget(id: number, entry: Entry): void {
    clearTimeout(entry.timer);
    this.#entries.delete(id);
  }

  #logUnknown(host: string, frame: Extract<ExecFrame, { type: "execOutput" | "execResult" }>): void {
    const key = `${host}/${frame.id}`;
    if (this.#unknownLogged.has(key)) return;
    if (this.#unknownLogged.size >= 1000) this.#unknownLogged.clear();
    this.#unknownLogged.add(key);
    const what = frame.type === "execOutput" ? "output" : "result";
    this.#opts.log(`agent ${host}: ${what} for unknown exec ${frame.id} (it may have timed out or ended); dropped`);
  }
}
