/**
 * @module
 * The main thread's handle on the QUIC worker (worker.ts): makes the two rings
 * and the eventfds that wake the dataplane and the worker, starts the worker,
 * forwards peer lists and keeps its latest counters. The dataplane worker gets
 * `rings` and `inWakeFd` too: it pushes to `rings.out` (whose `notify()` rings
 * the worker's eventfd) and pops from `rings.in`. Rings and eventfds exist
 * from construction, so the dataplane can be given them before the TLS bundle
 * (the controller's welcome) arrives and the worker starts.
 */
import { check, closeFd, EFD_CLOEXEC, EFD_NONBLOCK, sys } from "../sys/libc.ts";
import type { Peer, TlsBundle } from "../../protocol/wire.ts";
import { createRing, DEFAULT_RING_BYTES, setWakeFd } from "../dataplane/ring.ts";
import type { FromQuic, QuicCounters, ToQuic } from "./messages.ts";
import { awaitReady, workerUrl } from "../worker-ready.ts";

const WAKE = new BigUint64Array([1n]);

export interface QuicOptions {
  /** this agent's name: its certificate's, and what decides who dials whom */
  me: string;
  /** where peers reach this agent (port 0: any free port, see `port`) */
  listen: { address: string; port: number };
  /** data bytes of each ring (default 16 MiB) */
  ringBytes?: number;
  /** lines for the agent's log: links up and down, refused peers, failed dials, a worker that died */
  onLog?: (message: string) => void;
}

export class QuicTransport {
  /** out: dataplane -> QUIC (u32 peer index + frame); in: QUIC -> dataplane (same records) */
  readonly rings: { out: SharedArrayBuffer; in: SharedArrayBuffer };
  /** readable (an eventfd) when the dataplane armed a wake-up on `rings.in` and records came; closed by stop() */
  readonly inWakeFd: number;
  /** written by the out ring's `notify()` and after every message: the worker waits in ppoll on them */
  readonly #outWakeFd: number;
  readonly #ctlWakeFd: number;
  /** the UDP port the worker listens on, once started */
  port = 0;
  #worker: Worker | undefined;
  #latest: QuicCounters | undefined;
  #stopped: (() => void) | undefined;
  #started = false;
  #closed = false;

  constructor(private readonly opts: QuicOptions) {
    const bytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
    this.rings = { out: createRing(bytes), in: createRing(bytes) };
    this.inWakeFd = check(sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    this.#outWakeFd = check(sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    this.#ctlWakeFd = check(sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd");
    setWakeFd(this.rings.out, this.#outWakeFd);
  }

  /** Starts the worker with this agent's certificate; resolves once it listens. Once per transport. */
  async start(tls: TlsBundle): Promise<void> {
    if (this.#started) throw new Error("quic transport: started twice");
    this.#started = true;
    const worker = new Worker(workerUrl(import.meta.url, "agent/quic/worker.ts"));
    this.#worker = worker;
    const ready = awaitReady<FromQuic>(
      worker,
      "quic worker",
      (msg) => {
        if (msg.type === "counters") {
          const { type: _, ...counters } = msg;
          this.#latest = counters;
        } else if (msg.type === "log") {
          this.opts.onLog?.(msg.message);
        } else if (msg.type === "stopped") {
          this.#stopped?.();
        }
      },
      (message) => this.opts.onLog?.(message),
    );
    this.#send({
      type: "init",
      rings: this.rings,
      inWakeFd: this.inWakeFd,
      outWakeFd: this.#outWakeFd,
      ctlWakeFd: this.#ctlWakeFd,
      listen: this.opts.listen,
      tls,
      me: this.opts.me,
    });
    try {
      this.port = await ready;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** The peers in the dataplane's order: record prefixes are indices into this list. */
  setPeers(peers: Peer[]): void {
    this.#send({ type: "peers", peers });
  }

  counters(): QuicCounters | undefined {
    return this.#latest;
  }

  /** Closes every connection (peers see a clean close), then the worker and the eventfds. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) {
      const done = new Promise<void>((resolve) => {
        this.#stopped = resolve;
        setTimeout(resolve, 2000);
      });
      this.#send({ type: "stop" }, worker);
      await done;
      worker.terminate();
    }
    if (!this.#closed) {
      // whoever still holds the out ring must not write a number that may be reused
      setWakeFd(this.rings.out, -1);
      for (const fd of [this.inWakeFd, this.#outWakeFd, this.#ctlWakeFd]) closeFd(fd);
    }
    this.#closed = true;
  }

  #send(msg: ToQuic, worker = this.#worker): void {
    if (!worker) return;
    worker.postMessage(msg);
    sys.write(this.#ctlWakeFd, WAKE, 8);
  }
}
