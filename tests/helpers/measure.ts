/** Parsers for the tools tests measure with: iperf3's JSON, and ping's summary and replies. */
import { z } from "zod";

const IperfTcp = z.object({
  end: z.object({ sum_received: z.object({ bits_per_second: z.number() }) }),
  intervals: z.array(z.object({ sum: z.object({ start: z.number(), end: z.number(), bits_per_second: z.number() }) })),
});

const IperfUdp = z.object({
  end: z.object({
    streams: z.array(z.object({ udp: z.object({ out_of_order: z.number() }) })),
    sum_received: z.object({ bits_per_second: z.number(), lost_packets: z.number(), packets: z.number(), lost_percent: z.number() }),
  }),
});

export function iperfTcp(json: string) {
  return IperfTcp.parse(JSON.parse(json));
}

/** Receiver-side figures of a UDP test, with out-of-order datagrams summed over streams. */
export function iperfUdp(json: string) {
  const end = IperfUdp.parse(JSON.parse(json)).end;
  return { ...end.sum_received, outOfOrder: end.streams.reduce((n, s) => n + s.udp.out_of_order, 0) };
}

export interface PingSummary {
  transmitted: number;
  received: number;
  loss: number;
  min: number;
  avg: number;
  max: number;
  mdev: number;
  /** each reply's round trip (ms), in the order they came */
  times: number[];
}

export function ping(output: string): PingSummary {
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(output);
  if (!counts) throw new Error(`not ping output:\n${output}`);
  const transmitted = Number(counts[1]);
  const received = Number(counts[2]);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(output);
  const [min, avg, max, mdev] = rtt ? rtt.slice(1).map(Number) : [NaN, NaN, NaN, NaN];
  const times = [...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { transmitted, received, loss: 1 - received / transmitted, min, avg, max, mdev, times };
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
