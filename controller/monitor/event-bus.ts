/**
 * @module
 * Fans live events out to clients of /events. Each client has a bounded
 * buffer of serialized events; publishing never waits for a client, so a slow
 * one cannot slow the controller or the others. When a client's buffer is
 * full, further events are counted as missed; the client's next read starts
 * with a `dropped` event giving the count.
 */
import type { EventKind, LiveEvent } from "../../protocol/events.ts";

/**
 * One event as clients get it, serialized once for all of them: the JSON (a
 * WebSocket message) and its Server-Sent Events framing as bytes. A links
 * event of 1,000 links is about half a megabyte; encoding it per client
 * would cost more than everything else the controller does.
 */
export class Serialized {
  #sse: Uint8Array | undefined;
  constructor(readonly json: string) {}
  /** `data: <json>\n\n` (an empty json is an SSE comment that keeps the stream alive) */
  get sse(): Uint8Array {
    this.#sse ??= ENCODER.encode(this.json === "" ? ": keepalive\n\n" : `data: ${this.json}\n\n`);
    return this.#sse;
  }
}

const ENCODER = new TextEncoder();
/** keeps an idle stream open through proxies and idle timers */
export const KEEPALIVE = new Serialized("");

/** Events a client may have waiting before it misses some. */
export const CLIENT_BUFFER_EVENTS = 1024;

export interface EventFilter {
  namespace?: string;
  kinds?: readonly EventKind[];
}

export class EventClient {
  readonly #queue: Serialized[] = [];
  #missed = 0;
  #wake: (() => void) | undefined;
  closed = false;

  constructor(
    readonly filter: EventFilter,
    readonly capacity: number,
    readonly now: () => number,
  ) {}

  wants(e: LiveEvent): boolean {
    const f = this.filter;
    if (f.kinds && !f.kinds.includes(e.kind)) return false;
    if (f.namespace !== undefined && "namespace" in e && e.namespace !== f.namespace) return false;
    return true;
  }

  offer(event: Serialized): void {
    if (this.#queue.length >= this.capacity) this.#missed++;
    else this.#queue.push(event);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Events waiting, a `dropped` notice first when some were missed; empty when none. */
  take(): Serialized[] {
    const out: Serialized[] = [];
    if (this.#missed > 0) {
      out.push(new Serialized(JSON.stringify({ kind: "dropped", t: this.now(), missed: this.#missed } satisfies LiveEvent)));
      this.#missed = 0;
    }
    out.push(...this.#queue.splice(0));
    return out;
  }

  /** Resolves when an event is waiting (at once if one is) or the client closed. */
  ready(): Promise<void> {
    if (this.#queue.length > 0 || this.#missed > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.#wake = resolve));
  }

  close(): void {
    this.closed = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export class EventBus {
  readonly #clients = new Set<EventClient>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get clients(): number {
    return this.#clients.size;
  }

  subscribe(filter: EventFilter, capacity = CLIENT_BUFFER_EVENTS): EventClient {
    const c = new EventClient(filter, capacity, this.#now);
    this.#clients.add(c);
    return c;
  }

  unsubscribe(c: EventClient): void {
    this.#clients.delete(c);
    c.close();
  }

  /** Whether any client would take an event of this kind (lets publishers skip building it). */
  wanted(kind: EventKind): boolean {
    for (const c of this.#clients) if (!c.filter.kinds || c.filter.kinds.includes(kind)) return true;
    return false;
  }

  /** Serializes once, offers to every client that wants it. */
  publish(e: LiveEvent): void {
    let once: Serialized | undefined;
    for (const c of this.#clients) {
      if (!c.wants(e)) continue;
      once ??= new Serialized(JSON.stringify(e));
      c.offer(once);
    }
  }
}
