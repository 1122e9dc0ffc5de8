/**
 * Credit-based flow control for exec data, used by both halves: the sender of
 * a stream of chunks (the agent for output, the controller for stdin) holds a
 * CreditWindow, the receiver an AckBatcher that returns credit as it consumes.
 * The WebSocket itself has no backpressure the hub or the agent can see, so
 * without this a fast writer and a slow reader would buffer whole files.
 */
import { EXEC_ACK_BYTES, EXEC_WINDOW_BYTES } from "./wire.ts";

/** The sender's side: at most `limit` bytes sent and not yet acknowledged. */
export class CreditWindow {
  #unacked = 0;
  #closed = false;
  #waiters: (() => void)[] = [];

  constructor(readonly limit = EXEC_WINDOW_BYTES) {}

  /**
   * Resolves true once `bytes` more may be sent (counting them as sent), or
   * false when the window was closed meanwhile: the stream ended, send nothing.
   */
  async reserve(bytes: number): Promise<boolean> {
    while (!this.#closed && this.#unacked >= this.limit) await new Promise<void>((r) => this.#waiters.push(r));
    if (this.#closed) return false;
    this.#unacked += bytes;
    return true;
  }

  ack(bytes: number): void {
    this.#unacked = Math.max(0, this.#unacked - bytes);
    this.#wake();
  }

  /** Ends the stream: pending and later reserves resolve false. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * The receiver's side: counts consumed bytes and acknowledges them in batches
 * of at least `every` bytes. `every` must stay below the sender's window, or a
 * sender waiting on a full window would never hear back.
 */
export class AckBatcher {
  #pending = 0;

  constructor(
    readonly sendAck: (bytes: number) => void,
    readonly every = EXEC_ACK_BYTES,
  ) {}

  consumed(bytes: number): void {
    this.#pending += bytes;
    if (this.#pending < this.every) return;
    const n = this.#pending;
    this.#pending = 0;
    this.sendAck(n);
  }
}
