/**
 * @module
 * Link directions as agents report them, turned into rates: each agent sends
 * its counters (totals since it started, read at a time it gives) twice a
 * second, and the rate of a direction is the difference between its latest
 * report and the one about RATE_WINDOW_MS before, over the time between
 * their readings (not their arrivals), so it follows a change within a second. A
 * direction is shaped by the agent of its sending node, so summing hosts adds
 * at most one moving count; a restarted agent counts from zero again, which
 * is taken as a new start rather than a negative rate.
 */
import type { LinkCounters } from "../../protocol/wire.ts";

export interface DirectionRate {
  namespace: string;
  id: string;
  dir: "ab" | "ba";
  packets: number;
  bytes: number;
  drops: Record<string, number>;
  bps: number;
  pps: number;
  queued: number;
  queuedMax: number;
  dropsInterval: Record<string, number>;
  /** when its counters were read (ms since the epoch) */
  at: number;
}

/** Rates average over about this long. */
export const RATE_WINDOW_MS = 500;
/** Reports kept per direction: more than the window spans at two a second. */
const HISTORY = 8;

interface Sample {
  at: number;
  packets: number;
  bytes: number;
  drops: Record<string, number>;
  queuedMax: number;
}

const key = (namespace: string, id: string, dir: string) => `${namespace}\n${id}\n${dir}`;

export class LinkRates {
  /** host -> direction key -> its latest rate */
  readonly #hosts = new Map<string, Map<string, DirectionRate>>();
  /** host -> direction key -> its recent reports, oldest first */
  readonly #history = new Map<string, Map<string, Sample[]>>();

  /** A host's counters, read at `at`. */
  note(host: string, at: number, links: readonly LinkCounters[]): void {
    let dirs = this.#hosts.get(host);
    if (!dirs) this.#hosts.set(host, (dirs = new Map()));
    let history = this.#history.get(host);
    if (!history) this.#history.set(host, (history = new Map()));
    for (const c of links) {
      const k = key(c.namespace, c.id, c.dir);
      let samples = history.get(k) ?? [];
      // a report read no later than the last one replaces it (its counts are the newer)
      if (samples.length > 0 && at <= samples[samples.length - 1].at) samples.pop();
      const last = samples[samples.length - 1];
      // counts that went back: a fresh agent, which starts a new history
      if (last && (c.bytes < last.bytes || c.packets < last.packets)) samples = [];
      samples.push({ at, packets: c.packets, bytes: c.bytes, drops: c.drops, queuedMax: c.queuedMax ?? c.queued ?? 0 });
      if (samples.length > HISTORY) samples.shift();
      history.set(k, samples);
      // the newest report at least a window older than this one, else the oldest kept
      let from = samples[0];
      for (const s of samples) if (at - s.at >= RATE_WINDOW_MS) from = s;
      const dt = (at - from.at) / 1000;
      const dropsInterval: Record<string, number> = {};
      let queuedMax = 0;
      for (const s of samples) if (s.at > from.at && s.queuedMax > queuedMax) queuedMax = s.queuedMax;
      if (dt > 0) {
        for (const [reason, n] of Object.entries(c.drops)) {
          const d = n - (from.drops[reason] ?? 0);
          if (d > 0) dropsInterval[reason] = d;
        }
      }
      dirs.set(k, {
        namespace: c.namespace,
        id: c.id,
        dir: c.dir,
        packets: c.packets,
        bytes: c.bytes,
        drops: c.drops,
        bps: dt > 0 ? ((c.bytes - from.bytes) * 8) / dt : 0,
        pps: dt > 0 ? (c.packets - from.packets) / dt : 0,
        queued: c.queued ?? 0,
        queuedMax: dt > 0 ? queuedMax : (c.queuedMax ?? c.queued ?? 0),
        dropsInterval,
        at,
      });
    }
  }

  /** A host left: its directions no longer count. */
  forget(host: string): void {
    this.#hosts.delete(host);
    this.#history.delete(host);
  }

  /** The namespace's directions, summed over hosts; key "id/dir". */
  of(namespace: string): Map<string, DirectionRate> {
    const out = new Map<string, DirectionRate>();
    for (const dirs of this.#hosts.values()) {
      for (const r of dirs.values()) {
        if (r.namespace !== namespace) continue;
        const k = `${r.id}/${r.dir}`;
        const prev = out.get(k);
        if (!prev) {
          out.set(k, { ...r, drops: { ...r.drops }, dropsInterval: { ...r.dropsInterval } });
          continue;
        }
        prev.packets += r.packets;
        prev.bytes += r.bytes;
        prev.bps += r.bps;
        prev.pps += r.pps;
        prev.queued += r.queued;
        prev.queuedMax += r.queuedMax;
        prev.at = Math.max(prev.at, r.at);
        for (const [reason, n] of Object.entries(r.drops)) prev.drops[reason] = (prev.drops[reason] ?? 0) + n;
        for (const [reason, n] of Object.entries(r.dropsInterval)) prev.dropsInterval[reason] = (prev.dropsInterval[reason] ?? 0) + n;
      }
    }
    return out;
  }

  /** Every host's directions, for /metrics. */
  all(): { host: string; rate: DirectionRate }[] {
    const out: { host: string; rate: DirectionRate }[] = [];
    for (const [host, dirs] of this.#hosts) for (const rate of dirs.values()) out.push({ host, rate });
    return out;
  }
}
