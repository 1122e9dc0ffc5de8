/**
 * @module
 * The live events of GET /api/v1/events (Server-Sent Events, or the same JSON
 * over a WebSocket at the same path). Every event has `kind` and `t` (ms since
 * the epoch); most name their namespace. A client that falls behind gets a
 * `dropped` event saying how many it missed, and then the stream goes on.
 */
import { z } from "zod";
import { Name } from "./names.ts";
import { Conversation } from "./conversation.ts";

export const EVENT_KINDS = ["links", "conversation", "flow", "node", "host", "topology", "dropped"] as const;
export const EventKind = z.enum(EVENT_KINDS);
export type EventKind = z.infer<typeof EventKind>;

/** One link direction as the controller last heard of it, with rates over the agent's last report interval. */
export const LinkRate = z.strictObject({
  link: z.string(),
  dir: z.enum(["ab", "ba"]),
  from: z.string(),
  to: z.string(),
  state: z.enum(["up", "down"]),
  /** configured bandwidth, bit/s (0: unlimited) */
  bandwidth: z.number(),
  /** totals since the agent started */
  packets: z.number(),
  bytes: z.number(),
  dropped: z.number(),
  drops: z.record(z.string(), z.number()),
  /** IP bits/s and packets/s over the last interval */
  bps: z.number(),
  pps: z.number(),
  /** bps / bandwidth (0 when unlimited) */
  utilization: z.number(),
  /** segments queued now, and the most over the last interval */
  queued: z.number(),
  queuedMax: z.number(),
  /** drops by reason over the last interval */
  dropsInterval: z.record(z.string(), z.number()),
});
export type LinkRate = z.infer<typeof LinkRate>;

const base = { t: z.number() };

export const LiveEvent = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("links"), ...base, namespace: Name, links: z.array(LinkRate) }),
  z.strictObject({
    kind: z.literal("conversation"),
    ...base,
    namespace: Name,
    event: z.enum(["start", "end", "route"]),
    conversation: Conversation,
  }),
  z.strictObject({
    kind: z.literal("flow"),
    ...base,
    namespace: Name,
    id: z.string(),
    role: z.enum(["sender", "receiver"]),
    state: z.string(),
    bytes: z.number(),
  }),
  z.strictObject({ kind: z.literal("node"), ...base, namespace: Name, node: Name, host: z.string(), state: z.string(), error: z.string().optional() }),
  z.strictObject({ kind: z.literal("host"), ...base, host: z.string(), state: z.enum(["up", "down"]) }),
  z.strictObject({ kind: z.literal("topology"), ...base, namespace: Name, changed: z.array(z.string()), deleted: z.boolean().optional() }),
  z.strictObject({ kind: z.literal("dropped"), ...base, missed: z.number().int().positive() }),
]);
export type LiveEvent = z.infer<typeof LiveEvent>;

export const MIN_EVENT_INTERVAL_MS = 100;
export const MAX_EVENT_INTERVAL_MS = 60_000;

/** ?namespace=&kinds=a,b&interval=1s */
export const EventQuery = z.strictObject({
  namespace: Name.optional(),
  kinds: z
    .string()
    .max(200)
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const out: EventKind[] = [];
      for (const k of v.split(",")) {
        const r = EventKind.safeParse(k.trim());
        if (!r.success) {
          ctx.addIssue({ code: "custom", message: `unknown kind "${k}" (kinds: ${EVENT_KINDS.join(", ")})` });
          return z.NEVER;
        }
        out.push(r.data);
      }
      return out;
    }),
  /** link stats interval in ms */
  interval: z.coerce
    .number()
    .int()
    .min(MIN_EVENT_INTERVAL_MS, { message: `interval is at least ${MIN_EVENT_INTERVAL_MS} ms` })
    .max(MAX_EVENT_INTERVAL_MS, { message: `interval is at most ${MAX_EVENT_INTERVAL_MS} ms` })
    .optional(),
});
export type EventQuery = z.infer<typeof EventQuery>;
