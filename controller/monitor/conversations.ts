/**
 * @module
 * The conversations agents observe, kept in the controller's memory: each
 * agent reports, once a second, the conversations that moved or ended; here
 * they get their ids (agent, its session, its number), a sample per report
 * (payload bit/s each way) and their ends. Ended conversations stay listed for
 * `retentionMs` (10 minutes by default). Bounded: at most `cap` conversations
 * in all, the oldest ended ones forgotten first.
 */
import {
  PROTOCOL_NAMES,
  type Conversation,
  type ConversationQuery,
  type ConversationReport,
  type ConversationSample,
} from "../../protocol/conversation.ts";

export const DEFAULT_RETENTION_MS = 10 * 60_000;
export const DEFAULT_CONVERSATIONS_CAP = 500_000;
/** samples kept per conversation: ten minutes at one a second */
export const MAX_CONVERSATION_SAMPLES = 600;
/** a conversation not reported for this long has moved nothing: its rate reads 0 */
const STALE_MS = 1500;

export type ConversationEvent = "start" | "end" | "route";

interface Entry {
  row: Conversation;
  namespace: string;
  samples: ConversationSample[];
  /** when it was last reported (controller clock), and its payload totals then */
  reportedAt: number;
}

export interface ConversationStoreOptions {
  retentionMs?: number;
  cap?: number;
  now?: () => number;
  /** a conversation started, ended or changed route */
  onEvent?: (namespace: string, event: ConversationEvent, row: Conversation) => void;
}

export class ConversationStore {
  readonly #entries = new Map<string, Entry>();
  readonly #retentionMs: number;
  readonly #cap: number;
  readonly #now: () => number;
  readonly #onEvent: ConversationStoreOptions["onEvent"];
  /** per host: the agent's table totals as it last reported them */
  readonly totals = new Map<string, { live: number; started: number; ended: number; evicted: number }>();

  constructor(opts: ConversationStoreOptions = {}) {
    this.#retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    this.#cap = opts.cap ?? DEFAULT_CONVERSATIONS_CAP;
    this.#now = opts.now ?? Date.now;
    this.#onEvent = opts.onEvent;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** One report frame of `host`'s agent; `session` tells its runs apart (their numbers restart). */
  note(host: string, session: string, reports: readonly ConversationReport[], totals: { live: number; started: number; ended: number; evicted: number }): void {
    const now = this.#now();
    this.totals.set(host, totals);
    for (const r of reports) {
      const id = `${host}.${session}.${r.seq}`;
      let e = this.#entries.get(id);
      const ended = r.endReason !== undefined;
      if (!e) {
        const dt = Math.max(1, r.last - r.start) / 1000;
        e = {
          namespace: r.namespace,
          samples: [],
          reportedAt: now,
          row: {
            ...rowOf(id, host, r),
            bps: (r.payload * 8) / dt,
            bpsBack: (r.payloadBack * 8) / dt,
          },
        };
        this.#entries.set(id, e);
        this.#onEvent?.(r.namespace, "start", e.row);
      } else {
        const dt = Math.max(1, now - e.reportedAt) / 1000;
        const before = e.row;
        const row = rowOf(id, host, r);
        row.bps = Math.max(0, ((r.payload - before.payload) * 8) / dt);
        row.bpsBack = Math.max(0, ((r.payloadBack - before.payloadBack) * 8) / dt);
        e.row = row;
        e.reportedAt = now;
        if (before.route !== row.route || before.path.join(">") !== row.path.join(">")) this.#onEvent?.(r.namespace, "route", row);
      }
      e.samples.push({ t: now, bps: e.row.bps, bpsBack: e.row.bpsBack });
      if (e.samples.length > MAX_CONVERSATION_SAMPLES) e.samples.splice(0, e.samples.length - MAX_CONVERSATION_SAMPLES);
      if (ended) this.#onEvent?.(r.namespace, "end", e.row);
    }
    this.#prune(now);
  }

  /** The namespace's conversations, oldest first, filtered. */
  list(namespace: string, q: ConversationQuery = {}): Conversation[] {
    const now = this.#now();
    this.#prune(now);
    const out: Conversation[] = [];
    for (const e of this.#entries.values()) {
      if (e.namespace !== namespace) continue;
      const row = this.#current(e, now);
      if (q.src !== undefined && row.src !== q.src) continue;
      if (q.dst !== undefined && row.dst !== q.dst) continue;
      if (q.route !== undefined && row.route !== q.route) continue;
      if (q.state !== undefined && row.state !== q.state) continue;
      out.push(row);
    }
    return out;
  }

  /** One conversation with its samples, or undefined. */
  get(namespace: string, id: string): Conversation | undefined {
    const e = this.#entries.get(id);
    if (!e || e.namespace !== namespace) return undefined;
    return { ...this.#current(e, this.#now()), samples: e.samples };
  }

  /** Forgets a namespace's conversations (it was deleted). */
  forgetNamespace(namespace: string): void {
    for (const [id, e] of this.#entries) if (e.namespace === namespace) this.#entries.delete(id);
  }

  /** Live conversations and those ended within the retention, per namespace (for /metrics). */
  counts(): Map<string, { active: number; ended: number }> {
    const out = new Map<string, { active: number; ended: number }>();
    for (const e of this.#entries.values()) {
      const c = out.get(e.namespace) ?? { active: 0, ended: 0 };
      if (e.row.state === "ended") c.ended++;
      else c.active++;
      out.set(e.namespace, c);
    }
    return out;
  }

  #current(e: Entry, now: number): Conversation {
    if (e.row.state === "ended" || now - e.reportedAt <= STALE_MS) return e.row;
    return { ...e.row, bps: 0, bpsBack: 0 };
  }

  #prune(now: number): void {
    for (const [id, e] of this.#entries) {
      if (e.row.state === "ended" && now - e.reportedAt > this.#retentionMs) this.#entries.delete(id);
    }
    if (this.#entries.size <= this.#cap) return;
    // the oldest ended first (the map keeps insertion order), then the oldest of all
    for (const [id, e] of this.#entries) {
      if (this.#entries.size <= this.#cap) return;
      if (e.row.state === "ended") this.#entries.delete(id);
    }
    for (const id of this.#entries.keys()) {
      if (this.#entries.size <= this.#cap) return;
      this.#entries.delete(id);
    }
  }
}

function rowOf(id: string, host: string, r: ConversationReport): Conversation {
  const ended = r.endReason !== undefined;
  return {
    id,
    host,
    src: r.src,
    dst: r.dst,
    proto: PROTOCOL_NAMES[r.proto] ?? String(r.proto),
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    route: r.route,
    path: r.path,
    ...(r.routeBack === undefined ? {} : { routeBack: r.routeBack }),
    ...(r.pathBack === undefined ? {} : { pathBack: r.pathBack }),
    state: ended ? "ended" : "active",
    start: new Date(r.start).toISOString(),
    last: new Date(r.last).toISOString(),
    ...(ended ? { end: new Date(r.last).toISOString(), endReason: r.endReason } : {}),
    packets: r.packets,
    bytes: r.bytes,
    payload: r.payload,
    packetsBack: r.packetsBack,
    bytesBack: r.bytesBack,
    payloadBack: r.payloadBack,
    bps: 0,
    bpsBack: 0,
    drops: r.drops,
  };
}
