/**
 * The main thread's handle on the dataplane worker: starts it, sends it tables
 * and shaping changes (ringing an eventfd so a worker asleep in ppoll picks them
 * up at once), and keeps the latest counters it reports. Capture files
 * opened here are handed to the worker, which writes and closes them.
 */
import { sys, check, EFD_CLOEXEC, EFD_NONBLOCK, closeFd } from "../sys/libc.ts";
import type { Shaping } from "../../protocol/state.ts";
import type { DataplaneTables } from "./tables.ts";
import type { CaptureCount, CaptureOpen, FromWorker, ToWorker } from "./messages.ts";
import { awaitReady, workerUrl } from "../worker-ready.ts";
import type { FlowOrder, FlowUpdate, StackOrder } from "../flows/engine.ts";
import type { RoutingTables } from "./route-sets.ts";
import { DEFAULT_CONVERSATION_CAP } from "./conversations.ts";

export interface DataplaneOptions {
  /** accept other agents' packets here (tcp transport); none without it */
  listen?: { address: string; port: number };
  /** packets carry virtio headers (TUNs with offload); the udp transport splits super-packets */
  vnet?: boolean;
  /** the quic worker's rings and wake eventfd, when this agent has a quic transport */
  quic?: { out: SharedArrayBuffer; in: SharedArrayBuffer; inWakeFd: number };
  /** bytes of packet buffers the worker may hold (queues and delay lines) */
  poolBytes?: number;
  seed?: number;
  onError?: (message: string) => void;
  /** a capture's file is complete: its last records are written and the file closed */
  onCaptureClosed?: (capture: CaptureCount) => void;
  /** flow ends changed (agent/flows/engine.ts) */
  onFlows?: (updates: FlowUpdate[]) => void;
  /** twice a second: link directions' counters (queuedMax since the last report), drops by reason, captures */
  onCounters?: (report: CountersReport) => void;
  /** once a second: conversations that moved or ended, and the table's totals */
  onConversations?: (report: ConversationsReport) => void;
  /** live conversations tracked at most (default 100,000; the least recently active is evicted) */
  conversationCap?: number;
}

export type ConversationsReport = Extract<FromWorker, { type: "conversations" }>;

/** how long setTables waits for the worker before assuming it is gone */
const TABLES_ACK_MS = 5000;

export type CountersReport = Extract<FromWorker, { type: "counters" }>;

export class Dataplane {
  #worker: Worker | undefined;
  #wakeFd = -1;
  #wake = new BigUint64Array([1n]);
  #latest: CountersReport | undefined;
  #stopped: (() => void) | undefined;
  #tablesId = 0;
  #tablesWaiters = new Map<number, () => void>();
  /** the tcp transport's port once started (0 without one) */
  port = 0;

  constructor(private readonly opts: DataplaneOptions = {}) {}

  async start(): Promise<void> {
    this.#wakeFd = check(sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    const worker = new Worker(workerUrl(import.meta.url, "agent/dataplane/worker.ts"));
    this.#worker = worker;
    const ready = awaitReady<FromWorker>(
      worker,
      "dataplane worker",
      (msg) => {
        if (msg.type === "counters") {
          this.#latest = msg;
          this.opts.onCounters?.(msg);
        }
        else if (msg.type === "captureClosed") this.opts.onCaptureClosed?.(msg.capture);
        else if (msg.type === "tablesApplied") this.#applied(msg.id);
        else if (msg.type === "flows") this.opts.onFlows?.(msg.updates);
        else if (msg.type === "conversations") this.opts.onConversations?.(msg);
        else if (msg.type === "stopped") this.#stopped?.();
      },
      (message) => this.opts.onError?.(message),
    );
    this.#send({
      type: "init",
      wakeFd: this.#wakeFd,
      poolBytes: this.opts.poolBytes ?? 1 << 30,
      conversationCap: this.opts.conversationCap ?? DEFAULT_CONVERSATION_CAP,
      seed: this.opts.seed ?? (Math.random() * 2 ** 32) >>> 0,
      vnet: this.opts.vnet ?? true,
      ...(this.opts.listen ? { listen: this.opts.listen } : {}),
      ...(this.opts.quic ? { quic: this.opts.quic } : {}),
    });
    try {
      this.port = await ready;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /**
   * Installs new tables; resolves once the worker runs on them, after which it
   * no longer reads or writes the TUN descriptors only the old tables held. A
   * TUN must not be closed before that: its descriptor number could be reused
   * at once by anything the agent opens, and the worker would read and write it.
   */
  setTables(tables: DataplaneTables): Promise<void> {
    const id = ++this.#tablesId;
    const applied = new Promise<void>((resolve) => {
      if (!this.#worker) return resolve();
      this.#tablesWaiters.set(id, resolve);
      // a worker that stopped answering has stopped touching descriptors too
      const timer = setTimeout(() => {
        if (this.#tablesWaiters.delete(id)) this.opts.onError?.(`tables ${id} were not acknowledged within ${TABLES_ACK_MS} ms`);
        resolve();
      }, TABLES_ACK_MS);
      timer.unref?.();
    });
    this.#send({ type: "tables", id, tables });
    return applied;
  }

  #applied(id: number): void {
    // tables apply in order: an acknowledgement also covers every earlier id
    for (const [waiting, resolve] of this.#tablesWaiters) {
      if (waiting > id) continue;
      this.#tablesWaiters.delete(waiting);
      resolve();
    }
  }

  /** New flow classes for weighted sharing, applied in place (the tables are otherwise the same). */
  setClasses(tables: DataplaneTables): void {
    const { dirClassWeights, flowClass } = tables;
    this.#send({ type: "classes", classes: { dirClassWeights, flowClass } });
  }

  /** New routing (routes, weights, pins, link state), applied in place: nothing queued is dropped. */
  setRouting(routing: RoutingTables): void {
    this.#send({ type: "routing", routing });
  }

  reshape(updates: { dir: number; shaping: Shaping }[]): void {
    if (updates.length > 0) this.#send({ type: "shape", updates });
  }

  /** Every capture to run (the worker takes over their descriptors); ones left out are closed. */
  setCaptures(captures: CaptureOpen[]): void {
    this.#send({ type: "captures", captures });
  }

  /** The userspace nodes that get a TCP stack here, and the flow ends to run on them. */
  setUserspace(stacks: StackOrder[], flows: FlowOrder[]): void {
    this.#send({ type: "userspace", stacks, flows });
  }

  counters(): CountersReport | undefined {
    return this.#latest;
  }

  async stop(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    const done = new Promise<void>((resolve) => {
      this.#stopped = resolve;
      setTimeout(resolve, 1000);
    });
    worker.postMessage({ type: "stop" } satisfies ToWorker);
    sys.write(this.#wakeFd, this.#wake, 8);
    await done;
    worker.terminate();
    for (const resolve of this.#tablesWaiters.values()) resolve();
    this.#tablesWaiters.clear();
    closeFd(this.#wakeFd);
    this.#wakeFd = -1;
  }

  #send(msg: ToWorker): void {
    this.#worker?.postMessage(msg);
    if (this.#wakeFd >= 0) sys.write(this.#wakeFd, this.#wake, 8);
  }
}
