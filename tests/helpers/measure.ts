/** Parsers for the tools tests measure with: iperf3's JSON and ping's summary. */
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
}

export function ping(output: string): PingSummary {
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(output);
  if (!counts) throw new Error(`not ping output:\n${output}`);
  const transmitted = Number(counts[1]);
  const received = Number(counts[2]);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(output);
  const [min, avg, max, mdev] = rtt ? rtt.slice(1).map(Number) : [NaN, NaN, NaN, NaN];
  return { transmitted, received, loss: 1 - received / transmitted, min, avg, max, mdev };
}
