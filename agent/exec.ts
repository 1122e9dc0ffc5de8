/**
 * Commands the controller runs inside this host's nodes (`exec` frames): each
 * one is a process whose stdout and stderr go back as execOutput chunks as
 * they come, whose stdin is fed from execInput chunks, and which ends with
 * exactly one execResult, also when it timed out (exit code 124, said on
 * stderr) or was cancelled. Output is flow-controlled by the controller's
 * execAck credits; stdin bytes are acknowledged once written to the process.
 * Any number of execs run at once, keyed by the controller's id.
 */
import type { Subprocess } from "bun";
import { AckBatcher, CreditWindow } from "../protocol/exec-window.ts";
import { type AgentFrame, type ControllerFrame, type ExecStream, execChunks } from "../protocol/wire.ts";

type ExecFrame = Extract<ControllerFrame, { type: "exec" }>;
type InputFrame = Extract<ControllerFrame, { type: "execInput" }>;
type ExecProcess = Subprocess<"pipe" | "ignore", "pipe", "pipe">;

/** like timeout(1), so scripts can tell a timeout from the command's own failure */
export const EXIT_TIMED_OUT = 124;
/** the node cannot run programs (not here, not running, userspace) */
export const EXIT_CANNOT_RUN = 126;
/** the program (or `ip`) could not be started */
export const EXIT_NOT_FOUND = 127;

export interface ExecRunnerOptions {
  send(frame: AgentFrame): void;
  log?: (line: string) => void;
  /** after SIGTERM (timeout, cancel), how long before SIGKILL */
  killGraceMs?: number;
  /**
   * After the process exits, how long a read of its output may wait for more
   * before giving up: a background child that inherited stdout would
   * otherwise hold the exec open for as long as it lives.
   */
  drainMs?: number;
}

export class ExecRunner {
  readonly #opts: ExecRunnerOptions;
  readonly #execs = new Map<number, RunningExec>();
  #idleWaiters: (() => void)[] = [];

  constructor(opts: ExecRunnerOptions) {
    this.#opts = opts;
  }

  /** How many execs are running. */
  get size(): number {
    return this.#execs.size;
  }

  /**
   * Starts an exec. `argv` is the command as the node runs it (wrapped in
   * `ip netns exec` for a netns node), or the reason the node cannot run it.
   */
  start(frame: ExecFrame, argv: string[] | string): void {
    if (this.#execs.has(frame.id)) {
      this.#opts.log?.(`exec ${frame.id} is already running; duplicate start ignored`);
      return;
    }
    const exec = new RunningExec(frame, this.#opts);
    this.#execs.set(frame.id, exec);
    void exec.run(argv).finally(() => {
      this.#execs.delete(frame.id);
      if (this.#execs.size > 0) return;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    });
  }

  input(frame: InputFrame): void {
    this.#execs.get(frame.id)?.input(frame.data, frame.eof ?? false);
  }

  /** The controller consumed `bytes` of this exec's output. */
  ack(id: number, bytes: number): void {
    this.#execs.get(id)?.window.ack(bytes);
  }

  cancel(id: number): void {
    this.#execs.get(id)?.cancel();
  }

  /** Kills every exec: the controller that asked for them is gone (disconnect, shutdown). */
  cancelAll(): void {
    for (const exec of this.#execs.values()) exec.cancel();
  }

  /** Resolves once no exec runs. */
  idle(): Promise<void> {
    if (this.#execs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

class RunningExec {
  readonly window = new CreditWindow();
  readonly #frame: ExecFrame;
  readonly #opts: ExecRunnerOptions;
  readonly #stdinAcks: AckBatcher;
  #proc: ExecProcess | undefined;
  /** stdin writes run one after another, in frame order */
  #stdin: Promise<void> = Promise.resolve();
  #stdinClosed = false;
  #exited = false;
  #timedOut = false;
  #cancelled = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  /** called when the process exits, so output reads in progress start their drain limit */
  readonly #onExit: (() => void)[] = [];

  constructor(frame: ExecFrame, opts: ExecRunnerOptions) {
    this.#frame = frame;
    this.#opts = opts;
    this.#stdinAcks = new AckBatcher((bytes) => opts.send({ type: "execAck", id: frame.id, bytes }));
  }

  async run(argv: string[] | string): Promise<void> {
    const { id } = this.#frame;
    if (typeof argv === "string") {
      this.#finish(EXIT_CANNOT_RUN, `${argv}\n`);
      return;
    }
    let proc: ExecProcess;
    try {
      // its own session and process group, so a timeout or cancel reaches what the command started too
      proc = Bun.spawn(argv, { stdin: this.#frame.stdin ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe", detached: true });
    } catch (e) {
      this.#finish(EXIT_NOT_FOUND, `${argv[0]}: ${(e as Error).message}\n`);
      return;
    }
    this.#proc = proc;
    const timer = setTimeout(() => {
      this.#timedOut = true;
      this.#kill();
    }, this.#frame.timeoutMs);
    const pumps = Promise.all([this.#pump(proc.stdout, "stdout"), this.#pump(proc.stderr, "stderr")]);
    const exitCode = await proc.exited;
    this.#exited = true;
    clearTimeout(timer);
    for (const f of this.#onExit) f();
    await pumps;
    this.#stdinClosed = true;
    if (this.#timedOut) {
      this.#finish(EXIT_TIMED_OUT, `${this.#frame.command[0]}: killed after ${this.#frame.timeoutMs} ms (timeout)\n`);
      return;
    }
    this.#opts.send({ type: "execResult", id, exitCode });
  }

  input(data: Uint8Array, eof: boolean): void {
    this.#stdin = this.#stdin.then(async () => {
      const sink = this.#proc?.stdin;
      if (!this.#stdinClosed && sink && typeof sink !== "number") {
        try {
          if (data.byteLength > 0) {
            await sink.write(data);
            await sink.flush();
          }
          if (eof) {
            this.#stdinClosed = true;
            await sink.end();
          }
        } catch (e) {
          // the process closed its stdin or exited; what it did not read is dropped, as with a pipe
          this.#stdinClosed = true;
          this.#opts.log?.(`exec ${this.#frame.id}: stdin closed: ${(e as Error).message}`);
        }
      }
      // acknowledged even when dropped, so the controller never waits on a stdin nobody reads
      if (data.byteLength > 0) this.#stdinAcks.consumed(data.byteLength);
    });
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.window.close();
    this.#kill();
  }

  /**
   * SIGTERM, then stdin closes so a process blocked reading it sees the end;
   * SIGKILL if it lingers. The signal goes first: a script feeding stdin to a
   * child (files.ts's write) must have the signal pending before the child
   * sees end of file, or it would take a cut-off input for a whole one.
   */
  #kill(): void {
    const proc = this.#proc;
    if (!proc || this.#exited || this.#killTimer) return;
    signalGroup(proc, "SIGTERM");
    this.#closeStdin();
    // also after the command itself exited: what it started may still be there
    this.#killTimer = setTimeout(() => signalGroup(proc, "SIGKILL"), this.#opts.killGraceMs ?? 2000);
  }

  #closeStdin(): void {
    const sink = this.#proc?.stdin;
    if (this.#stdinClosed || !sink || typeof sink === "number") return;
    this.#stdinClosed = true;
    try {
      void Promise.resolve(sink.end()).catch(() => undefined);
    } catch {
      // already closed by the process
    }
  }

  /** Reads one output stream to its end, sending it in chunks as the window allows. */
  async #pump(stream: ReadableStream<Uint8Array>, name: ExecStream): Promise<void> {
    const reader = stream.getReader();
    let reading = false;
    let drain: ReturnType<typeof setTimeout> | undefined;
    const armDrain = () => {
      drain = setTimeout(() => void reader.cancel().catch(() => undefined), this.#opts.drainMs ?? 1000);
    };
    this.#onExit.push(() => {
      if (reading) armDrain();
    });
    try {
      for (;;) {
        reading = true;
        if (this.#exited) armDrain();
        const r = await reader.read();
        reading = false;
        clearTimeout(drain);
        if (r.done) return;
        for (const piece of execChunks(r.value)) {
          if (!(await this.window.reserve(piece.byteLength))) {
            await reader.cancel().catch(() => undefined);
            return;
          }
          this.#opts.send({ type: "execOutput", id: this.#frame.id, stream: name, data: piece });
        }
      }
    } catch (e) {
      this.#opts.log?.(`exec ${this.#frame.id}: reading ${name} failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(drain);
    }
  }

  /** Ends the exec with `stderr` as its last output (a reason of ours, not the program's). */
  #finish(exitCode: number, stderr: string): void {
    const data = new TextEncoder().encode(stderr);
    for (const piece of execChunks(data)) this.#opts.send({ type: "execOutput", id: this.#frame.id, stream: "stderr", data: piece });
    this.#opts.send({ type: "execResult", id: this.#frame.id, exitCode });
  }
}

/**
 * Signals the command's process group (it leads one: spawned detached). A
 * daemon that made its own session (iperf3 -D) is out of reach, as intended.
 * Without a group (already gone) the process itself is signalled.
 */
function signalGroup(proc: ExecProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  }
}
