/**
 * The agent's side of probes of the network between hosts: each probeServe or
 * probeRun from the controller gets a worker thread of its own (agent/probe/
 * worker.ts) for as long as it runs; what the worker says goes back to the
 * controller as probeReady and probeDone. At most MAX_PROBES run at once, so
 * a controller asking for many cannot fill the agent with threads.
 */
import type { AgentFrame, ControllerFrame } from "../../protocol/wire.ts";
import type { FromProbe, ProbeJob } from "./messages.ts";
import { workerUrl } from "../worker-ready.ts";

/** probe sides one agent runs at once */
export const MAX_PROBES = 4;

type ProbeFrame = Extract<ControllerFrame, { type: "probeServe" | "probeRun" }>;

interface Running {
  worker: Worker;
  cancel: Int32Array;
}

export class Probes {
  readonly #running = new Map<number, Running>();

  constructor(
    private readonly send: (frame: AgentFrame) => void,
    private readonly log: (line: string) => void,
  ) {}

  start(frame: ProbeFrame): void {
    const { id } = frame;
    if (this.#running.has(id)) {
      this.send({ type: "probeDone", id, error: `probe ${id} is already running on this agent` });
      return;
    }
    if (this.#running.size >= MAX_PROBES) {
      this.send({ type: "probeDone", id, error: `this agent already runs ${MAX_PROBES} probes; try again when they end` });
      return;
    }
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerUrl(import.meta.url, "agent/probe/worker.ts"));
    this.#running.set(id, { worker, cancel });
    let finished = false;
    const finish = (frame: AgentFrame) => {
      if (finished) return;
      finished = true;
      this.#running.delete(id);
      this.send(frame);
      // the worker closed its sockets before its last message
      worker.terminate();
    };
    worker.onmessage = (e: MessageEvent<FromProbe>) => {
      const msg = e.data;
      if (msg.type === "ready") this.send({ type: "probeReady", id, port: msg.port });
      else if (msg.type === "done") finish({ type: "probeDone", id, ...(msg.sent ? { sent: msg.sent } : {}), ...(msg.received ? { received: msg.received } : {}) });
      else finish({ type: "probeDone", id, error: msg.message });
    };
    worker.onerror = (e) => {
      this.log(`probe ${id}: worker failed: ${e.message}`);
      finish({ type: "probeDone", id, error: `the probe's thread failed: ${e.message}` });
    };
    const job: ProbeJob =
      frame.type === "probeServe"
        ? { role: "serve", address: frame.address, transport: frame.transport, cancel }
        : { role: "run", address: frame.address, port: frame.port, transport: frame.transport, bytes: frame.bytes, cancel };
    worker.postMessage(job);
  }

  /** Stops a probe side: its worker sees the flag within 100 ms, closes its sockets and answers probeDone. */
  cancel(id: number): void {
    const r = this.#running.get(id);
    if (r) Atomics.store(r.cancel, 0, 1);
  }

  /** The agent stops: every probe side ends at once. */
  stopAll(): void {
    for (const r of this.#running.values()) {
      Atomics.store(r.cancel, 0, 1);
      r.worker.terminate();
    }
    this.#running.clear();
  }
}
