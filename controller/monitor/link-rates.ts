/**
 * @module
 * Link directions as agents report them, turned into rates: each agent sends
 * its counters (totals since it started, read at a time it gives) once a
 * second, and the rate of a direction is the difference between two reports
 * over the time between their readings, not between their arrivals. A
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

const key = (namespace: string, id: string, dir: string) => `${namespace}\n${id}\n${dir}`;

export class LinkRates {
  /** host -> direction key -> its latest rate */
  readonly #hosts = new Map<string, Map<string, DirectionRate>>();

  /** A host's counters, read at `at`. */
  note(host: string, at: number, links: readonly LinkCounters[]): void {
    let dirs = this.#hosts.get(host);
    if (!dirs) this.#hosts.set(host, (dirs = new Map()));
    for (const c of links) {
      const k = key(c.namespace, c.id, c.dir);
      const prev = dirs.get(k);
      const dt = prev ? (at - prev.at) / 1000 : 0;
      // a fresh agent (counts went back) or the first report: no rate yet
      const fresh = !prev || c.bytes < prev.bytes || c.packets < prev.packets || dt <= 0;
      const dropsInterval: Record<string, number> = {};
      if (!fresh) {
        for (const [reason, n] of Object.entries(c.drops)) {
          const d = n - (prev.drops[reason] ?? 0);
          if (d > 0) dropsInterval[reason] = d;
        }
      }
      if (prev && dt <= 0 && c.bytes === prev.bytes) continue;
      dirs.set(k, {
        namespace: c.namespace,
        id: c.id,
        dir: c.dir,
        packets: c.packets,
        bytes: c.bytes,
        drops: c.drops,
        bps: fresh ? 0 : ((c.bytes - prev.bytes) * 8) / dt,
        pps: fresh ? 0 : (c.packets - prev.packets) / dt,
        queued: c.queued ?? 0,
        queuedMax: c.queuedMax ?? c.queued ?? 0,
        dropsInterval,
        at,
      });
    }
  }

  /** A host left: its directions no longer count. */
  forget(host: string): void {
    this.#hosts.delete(host);
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
