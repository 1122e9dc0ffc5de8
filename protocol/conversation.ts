/**
 * @module
 * Conversations: the flows the dataplane observes (a TCP or UDP 5-tuple, ICMP
 * by identifier), as Wireshark uses the word; "flow" stays the name of
 * traffic the controller installs. What an agent reports (ConversationReport,
 * on the agent socket, once a second for those that moved) and what the API
 * lists (Conversation).
 *
 * Units: bytes are IP bytes (headers and retransmissions included: what
 * links carry); `payload` counts the transport's payload once (TCP: bytes
 * past the highest sequence seen, so retransmissions do not count; what
 * iperf3 and other programs count);
 * times are ms since the epoch; rates bit/s of payload.
 */
import { z } from "zod";
import { Name } from "./names.ts";

export const CONVERSATION_STATES = ["active", "ended"] as const;
export const ConversationState = z.enum(CONVERSATION_STATES);
export type ConversationState = z.infer<typeof ConversationState>;

/** fin/rst: closed by TCP; idle: nothing for the idle timeout; evicted: the agent's table was full */
export const END_REASONS = ["fin", "rst", "idle", "evicted"] as const;
export const EndReason = z.enum(END_REASONS);

/** Live conversations an agent tracks by default (`--conversations`). */
export const DEFAULT_CONVERSATION_CAP = 100_000;

/** A reported conversation carries at most this many hops per path (longer paths are cut, and say so). */
export const MAX_REPORTED_HOPS = 256;
/** An agent reports at most this many conversations in one frame; more go in the next. */
export const MAX_CONVERSATIONS_PER_FRAME = 20_000;

const Count = z.number().nonnegative();
const NodePath = z.array(Name).max(MAX_REPORTED_HOPS + 1);

export const ConversationReport = z.strictObject({
  /** unique on the reporting agent for its life; with the agent's name and start, the conversation's id */
  seq: z.number().int().positive(),
  namespace: Name,
  src: Name,
  dst: Name,
  /** IP protocol number */
  proto: z.number().int().min(0).max(255),
  srcPort: z.number().int().min(0).max(65535),
  dstPort: z.number().int().min(0).max(65535),
  /** the route id it took, "ecmp" for a computed equal-cost path, "shortest" for the next-hop tables */
  route: z.string().max(128),
  path: NodePath,
  routeBack: z.string().max(128).optional(),
  pathBack: NodePath.optional(),
  start: z.number(),
  last: z.number(),
  packets: Count,
  bytes: Count,
  payload: Count,
  packetsBack: Count,
  bytesBack: Count,
  payloadBack: Count,
  /** TCP: its SYN was seen */
  syn: z.boolean(),
  drops: z.record(z.string().max(64), Count),
  endReason: EndReason.optional(),
});
export type ConversationReport = z.infer<typeof ConversationReport>;

export const ConversationSample = z.strictObject({
  /** ms since the epoch, the end of the second it covers */
  t: z.number(),
  /** payload bit/s, each way */
  bps: z.number(),
  bpsBack: z.number(),
});
export type ConversationSample = z.infer<typeof ConversationSample>;

export const PROTOCOL_NAMES: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp" };

/** One row of GET /namespaces/{ns}/conversations. */
export const Conversation = z.strictObject({
  id: z.string(),
  host: z.string(),
  src: z.string(),
  dst: z.string(),
  /** "tcp", "udp", "icmp", or the protocol number */
  proto: z.string(),
  srcPort: z.number(),
  dstPort: z.number(),
  route: z.string(),
  path: z.array(z.string()),
  routeBack: z.string().optional(),
  pathBack: z.array(z.string()).optional(),
  state: ConversationState,
  /** ISO times */
  start: z.string(),
  last: z.string(),
  end: z.string().optional(),
  endReason: EndReason.optional(),
  packets: z.number(),
  bytes: z.number(),
  payload: z.number(),
  packetsBack: z.number(),
  bytesBack: z.number(),
  payloadBack: z.number(),
  /** payload bit/s over the last second, each way */
  bps: z.number(),
  bpsBack: z.number(),
  drops: z.record(z.string(), z.number()),
  /** GET .../conversations/{id} only: one sample a second */
  samples: z.array(ConversationSample).optional(),
});
export type Conversation = z.infer<typeof Conversation>;

/** ?src=&dst=&route=&state= */
export const ConversationQuery = z.strictObject({
  src: Name.optional(),
  dst: Name.optional(),
  route: z.string().max(128).optional(),
  state: ConversationState.optional(),
});
export type ConversationQuery = z.infer<typeof ConversationQuery>;
