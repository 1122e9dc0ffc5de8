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
