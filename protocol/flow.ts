/**
 * User-space flows: traffic the dataplane itself generates between two nodes
 * with the WASM TCP stack (agent/flows/). A request says how much to send
 * (`bytes`, or `seconds` of sending), optionally how fast (`rate`), with what
 * share of a congested link (`weight`) and on which route; the figures come
 * back per flow. Sizes, rates and durations take unit strings ("100MB",
 * "10Mbit", "5s") or numbers in bytes, bit/s and seconds.
 */
import { z } from "zod";
import { Name } from "./names.ts";
import { Duration, Rate, Size } from "./units.ts";

/** the largest weight: shares are in proportion, so a wider range buys nothing */
export const MAX_WEIGHT = 1000;

/** POST /namespaces/{ns}/flows, a `flows:` entry of a topology document, `nextmini flow add` */
export const FlowRequest = z
  .strictObject({
    src: Name.describe("the node that sends"),
    dst: Name.describe("the node that receives"),
    transport: z.literal("tcp").default("tcp").describe("the user-space TCP stack"),
    bytes: Size.optional().describe('how much to send, like "100MB"'),
    seconds: Duration.optional().describe('or for how long to send, like "10s"'),
    rate: Rate.optional().describe('at most this fast, like "10Mbit" (default: as fast as TCP goes)'),
    weight: z.number().positive().max(MAX_WEIGHT).default(1).describe("share of a congested link, in proportion to other flows' weights"),
    route: Name.optional().describe("the id of one of the namespace's routes from src to dst to pin the flow to"),
    port: z.number().int().min(1).max(65535).optional().describe("the destination port (default: one per flow)"),
  })
  .superRefine((f, ctx) => {
    if ((f.bytes === undefined) === (f.seconds === undefined)) {
      ctx.addIssue({ code: "custom", message: "a flow needs exactly one of bytes (how much to send) or seconds (how long to send)", path: ["bytes"] });
    }
    if (f.bytes !== undefined && !(f.bytes >= 1)) ctx.addIssue({ code: "custom", message: "a flow sends at least one byte", path: ["bytes"] });
    if (f.seconds !== undefined && !(f.seconds > 0)) ctx.addIssue({ code: "custom", message: "a flow sends for some time", path: ["seconds"] });
    if (f.rate !== undefined && !(f.rate > 0)) ctx.addIssue({ code: "custom", message: "leave it out for no limit; 0 would never send", path: ["rate"] });
    if (f.src === f.dst) ctx.addIssue({ code: "custom", message: `a flow goes between two nodes; src and dst are both ${f.src}`, path: ["dst"] });
  });
export type FlowRequest = z.infer<typeof FlowRequest>;
export type FlowRequestInput = z.input<typeof FlowRequest>;

export const FlowState = z.enum(["pending", "running", "finished", "failed"]);
export type FlowState = z.infer<typeof FlowState>;

/** One point of a flow's throughput over time: bit/s over the sample ending `at` ms after the flow started. */
export const ThroughputSample = z.strictObject({ at: z.number().nonnegative(), bps: z.number().nonnegative() });
export type ThroughputSample = z.infer<typeof ThroughputSample>;

/** throughput samples kept per flow end: the last minute at the agent's 100 ms sampling */
export const MAX_FLOW_SAMPLES = 600;

/**
 * The most bytes the `flows` through a bottleneck keep in flight between
 * them (each takes its weight's share), on a route of `bandwidth` bit/s at
 * its bottleneck and `rttMs` of propagation both ways, whose bottleneck has a
 * `queue` of packets. Each flow gets a bandwidth-delay product and all of
 * them half the queue on top, so each can fill the link alone and has
 * segments enough in flight to repair a random loss by fast retransmit; but
 * together never more than the BDP and three quarters of the queue, which
 * the path can hold (the rest is headroom for what a window does not count:
 * headers, ACKs in the delay lines). lwIP 2.1 does not use the SACKs it
 * receives, so a slow start that overflows a queue by hundreds of packets is
 * repaired one segment per round trip, with timeouts between.
 */
export function windowFor(bandwidth: number, rttMs: number, queue: number, flows = 1, mss = 1460): number {
  if (bandwidth <= 0) return Infinity;
  const bdp = Math.ceil((bandwidth / 8) * (rttMs / 1000));
  return Math.min(flows * bdp + Math.floor(queue / 2) * mss, bdp + Math.floor((queue * 3) / 4) * mss);
}

/** f1, f2, ...: from a per-namespace counter, never reused within the namespace */
export const FlowId = z.string().regex(/^f[1-9][0-9]*$/, { message: "expected a flow id like f1" });

const Port = z.number().int().min(1).max(65535);

/** What a flow is, resolved: what every stored or sent form of it holds. */
const FlowFields = {
  id: FlowId,
  src: Name,
  dst: Name,
  port: Port,
  bytes: z.number().positive().optional(),
  seconds: z.number().positive().optional(),
  rate: z.number().positive().optional(),
  weight: z.number().positive().max(MAX_WEIGHT),
  route: z.string().optional(),
};

/**
 * A flow as agents take it in their state: the sender's agent (the host of
 * `src`) connects and sends; the receiver's (the host of a userspace `dst`)
 * listens on `port`. `window` caps the sender's bytes in flight to what the
 * route holds (windowFor); absent on unlimited routes.
 */
export const FlowSpec = z.strictObject({
  ...FlowFields,
  window: z.number().int().positive().optional(),
});
export type FlowSpec = z.infer<typeof FlowSpec>;

export const FLOW_ROLES = ["sender", "receiver"] as const;
export const FlowRole = z.enum(FLOW_ROLES);
export type FlowRole = z.infer<typeof FlowRole>;

/** What one end of a flow has seen, as its agent reports it; times are ms since the epoch. */
export const FlowEnd = z.strictObject({
  state: FlowState,
  /** sender: bytes acknowledged; receiver: bytes received */
  bytes: z.number().nonnegative(),
  retransmits: z.number().int().nonnegative(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  /** finishedAt - startedAt on the agent's monotonic clock, exact where the epoch times are not */
  durationMs: z.number().nonnegative().optional(),
  /** sha256 of the stream written (sender) or received (receiver), once finished */
  sha256: z.string().optional(),
  error: z.string().optional(),
});
export type FlowEnd = z.infer<typeof FlowEnd>;

/**
 * An agent's report on its end of a flow (AgentFrame `flows`): `samples` are
 * the throughput samples taken since its last report, the first of them being
 * sample number `samplesFrom` of the flow.
 */
export const FlowReport = z.strictObject({
  namespace: Name,
  id: FlowId,
  role: FlowRole,
  ...FlowEnd.shape,
  samples: z.array(ThroughputSample),
  samplesFrom: z.number().int().nonnegative(),
});
export type FlowReport = z.infer<typeof FlowReport>;

/**
 * One flow as the controller stores it, inside its namespace's record: the
 * request as resolved, and, once an end has finished or failed, what it
 * reported last (the live figures in between stay in the controller's memory).
 */
export const FlowRecord = z.strictObject({
  ...FlowFields,
  transport: z.literal("tcp"),
  /** ms since the epoch */
  created: z.number(),
  /** set once the flow is finished or failed: agents no longer run it */
  ended: z.number().optional(),
  sender: FlowEnd.optional(),
  receiver: FlowEnd.optional(),
  /** the sender's throughput samples, kept once it ended */
  samples: z.array(ThroughputSample).optional(),
});
export type FlowRecord = z.infer<typeof FlowRecord>;

/** A row of GET /namespaces/{ns}/flows: the record joined with the latest reports. */
export const FlowRow = z.object({
  id: FlowId,
  src: z.string(),
  dst: z.string(),
  transport: z.literal("tcp"),
  port: Port,
  /** what was asked: bytes to send, or seconds of sending */
  bytes: z.number().optional(),
  seconds: z.number().optional(),
  rate: z.number().optional(),
  weight: z.number(),
  route: z.string().optional(),
  state: FlowState,
  /** bytes the receiver got (a kernel receiver does not report: then what the sender saw acknowledged) */
  delivered: z.number(),
  /** mean goodput so far, bit/s */
  throughput: z.number(),
  retransmits: z.number(),
  started: z.string().optional(),
  finished: z.string().optional(),
  /** from the sender's connect to the acknowledgement of its last byte */
  completionMs: z.number().optional(),
  sha256: z.string().optional(),
  /** the receiver's hash of what it got: equal to sha256 when every byte arrived intact */
  receivedSha256: z.string().optional(),
  error: z.string().optional(),
  created: z.string(),
  /** throughput over time (GET .../flows/{id} only) */
  samples: z.array(ThroughputSample).optional(),
});
export type FlowRow = z.infer<typeof FlowRow>;

/** The optional parts of a flow as asked (bytes or seconds, rate, route), present only when set. */
export function askedFields(f: Pick<FlowRecord, "bytes" | "seconds" | "rate" | "route">): Pick<FlowRecord, "bytes" | "seconds" | "rate" | "route"> {
  return {
    ...(f.bytes !== undefined ? { bytes: f.bytes } : {}),
    ...(f.seconds !== undefined ? { seconds: f.seconds } : {}),
    ...(f.rate !== undefined ? { rate: f.rate } : {}),
    ...(f.route !== undefined ? { route: f.route } : {}),
  };
}
