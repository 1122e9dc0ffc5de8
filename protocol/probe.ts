/**
 * Probes of the real network between two agents (POST /hosts/probe): what the
 * API takes and answers, and what the controller and the two agents say to
 * each other about one. The receiving agent ("to") listens, the sending agent
 * ("from") echoes ICMP to it like ping and then sends it `bytes` over the
 * transport's protocol; each reports its side, and the controller joins them.
 */
import { z } from "zod";
import { Name } from "./names.ts";
import { Size } from "./units.ts";

/** Protocols a probe can measure the bulk transfer with. */
export const PROBE_TRANSPORTS = ["tcp", "udp"] as const;
export const ProbeTransport = z.enum(PROBE_TRANSPORTS);
export type ProbeTransport = z.infer<typeof ProbeTransport>;

export const PROBE_DEFAULT_BYTES = 2 ** 30;
export const PROBE_MIN_BYTES = 2 ** 20;
export const PROBE_MAX_BYTES = 4 * 2 ** 30;
/** A transfer stops after this long, however much is left: a slow path still answers within the probe's time. */
export const PROBE_TRANSFER_MS = 10_000;
/** Echo requests per probe, and the gap between them. */
export const PROBE_PINGS = 20;
export const PROBE_PING_GAP_MS = 10;
/** An echo request unanswered this long counts as lost. */
export const PROBE_PING_WAIT_MS = 1_000;
/** UDP datagrams carry this much: a 1500-byte IPv4 packet. */
export const PROBE_DATAGRAM = 1472;

export const HostProbeRequest = z.strictObject({
  from: Name.describe("the agent that sends"),
  to: Name.describe("the agent that receives; its address is the one peers dial"),
  transport: ProbeTransport.default("tcp").describe("what carries the bulk transfer: tcp, or udp as fast as the sender can"),
  bytes: Size.optional()
    .describe('how much the bulk transfer moves, like "64MB" (at most 10 s of it)')
    .superRefine((v, ctx) => {
      if (v !== undefined && !(v >= PROBE_MIN_BYTES && v <= PROBE_MAX_BYTES)) {
        ctx.addIssue({ code: "custom", message: `bytes must be from ${PROBE_MIN_BYTES} (1 MiB) to ${PROBE_MAX_BYTES} (4 GiB), got ${v}` });
      }
    }),
});
export type HostProbeRequest = z.infer<typeof HostProbeRequest>;

/** Round trips of the echo requests, in milliseconds; null when none came back. */
export const ProbeRtt = z.strictObject({ min: z.number(), avg: z.number(), max: z.number() });

/** What the sending agent measured. */
export const ProbeSent = z.strictObject({
  pings: z.number().int().nonnegative(),
  replies: z.number().int().nonnegative(),
  rtt: ProbeRtt.nullable(),
  bytes: z.number().nonnegative(),
  datagrams: z.number().int().nonnegative(),
  /** the transfer hit PROBE_TRANSFER_MS before it sent everything */
  cut: z.boolean(),
});
export type ProbeSent = z.infer<typeof ProbeSent>;

/** What the receiving agent measured: bytes between the first and the last that came. */
export const ProbeReceived = z.strictObject({
  bytes: z.number().nonnegative(),
  datagrams: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
});
export type ProbeReceived = z.infer<typeof ProbeReceived>;

/** The answer of POST /hosts/probe. */
export const HostProbe = z.strictObject({
  from: Name,
  to: Name,
  address: z.string(),
  transport: ProbeTransport,
  /** echo requests sent and answered; loss is the fraction unanswered */
  pings: z.number().int(),
  loss: z.number(),
  rtt: ProbeRtt.nullable(),
  /** bit/s the receiver saw, from the first byte to the last */
  bandwidth: z.number(),
  bytes: z.number(),
  seconds: z.number(),
  /** udp: the fraction of datagrams sent that never came */
  datagramLoss: z.number().optional(),
  cut: z.boolean(),
});
export type HostProbe = z.infer<typeof HostProbe>;

/** Joins the two sides' figures into the API's answer. */
export function probeAnswer(req: { from: string; to: string; transport: ProbeTransport }, address: string, sent: ProbeSent, received: ProbeReceived): HostProbe {
  return {
    from: req.from,
    to: req.to,
    address,
    transport: req.transport,
    pings: sent.pings,
    loss: sent.pings === 0 ? 1 : 1 - sent.replies / sent.pings,
    rtt: sent.rtt,
    bandwidth: received.seconds > 0 ? (received.bytes * 8) / received.seconds : 0,
    bytes: received.bytes,
    seconds: received.seconds,
    ...(req.transport === "udp" ? { datagramLoss: sent.datagrams === 0 ? 0 : Math.max(0, 1 - received.datagrams / sent.datagrams) } : {}),
    cut: sent.cut,
  };
}
