/**
 * @module
 * What agents say about the ends of running flows, kept in the controller's
 * memory between their reports: the latest figures of each end and its
 * throughput samples, joined from the increments agents send. A flow's final
 * figures are written into its record when it ends (controller/flows.ts), so
 * nothing that matters after the run lives only here.
 */
import { MAX_FLOW_SAMPLES, type FlowEnd, type FlowReport, type FlowRole, type ThroughputSample } from "../protocol/flow.ts";

export interface LiveEnd {
  end: FlowEnd;
  samples: ThroughputSample[];
  /** samples ever received: where the next increment should start */
  count: number;
}

const key = (namespace: string, id: string, role: FlowRole) => `${namespace}/${id}/${role}`;

export class FlowReports {
  readonly #ends = new Map<string, LiveEnd>();

  /** Notes the reports; returns the ones that just ended (finished or failed). */
  note(reports: FlowReport[]): FlowReport[] {
    const ended: FlowReport[] = [];
    for (const r of reports) {
      const k = key(r.namespace, r.id, r.role);
      let live = this.#ends.get(k);
      const wasOver = live !== undefined && (live.end.state === "finished" || live.end.state === "failed");
      if (!live) this.#ends.set(k, (live = { end: r, samples: [], count: 0 }));
      const { namespace: _n, id: _i, role: _r, samples, samplesFrom, ...end } = r;
      live.end = end;
      // an increment may repeat samples already had (a resent report): skip those
      const skip = Math.max(0, live.count - samplesFrom);
      for (let i = skip; i < samples.length; i++) live.samples.push(samples[i]);
      if (live.samples.length > MAX_FLOW_SAMPLES) live.samples.splice(0, live.samples.length - MAX_FLOW_SAMPLES);
      live.count = Math.max(live.count, samplesFrom + samples.length);
      if (!wasOver && (end.state === "finished" || end.state === "failed")) ended.push(r);
    }
    return ended;
  }

  get(namespace: string, id: string, role: FlowRole): LiveEnd | undefined {
    return this.#ends.get(key(namespace, id, role));
  }

  /** Forgets a flow (its record was removed, or its namespace). */
  forget(namespace: string, id: string): void {
    this.#ends.delete(key(namespace, id, "sender"));
    this.#ends.delete(key(namespace, id, "receiver"));
  }
}
