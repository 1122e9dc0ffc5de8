/**
 * @module
 * Policy pins: rules on a flow's 5-tuple that send matching flows on a named
 * route instead of the one the route set's weights would give them. The
 * ingress agent tries them in order when a conversation starts (never per
 * packet); the first match wins. A pin applies only to flows between its
 * route's ends, so `src` and `dst` may be left out.
 */
import { z } from "zod";
import { Name } from "./names.ts";

/** IP protocol numbers a pin (and a conversation) names by word. */
export const IP_PROTOCOLS = { icmp: 1, tcp: 6, udp: 17 } as const;
export const PIN_PROTOCOLS = ["tcp", "udp", "icmp"] as const;

/** A route id as it appears in API paths (the alphabet of protocol/api.ts's Id). */
const RouteId = z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,127}$/, {
  message: "expected a route id of lowercase letters, digits, '_', '.', ':', '-' (at most 128, starting with a letter or digit)",
});
const Port = z.number().int().min(1).max(65535);

export const Pin = z.strictObject({
  src: Name.optional().describe("source node (default: the route's source)"),
  dst: Name.optional().describe("destination node (default: the route's destination)"),
  proto: z.enum(PIN_PROTOCOLS).optional().describe("tcp, udp or icmp (default: any)"),
  srcPort: Port.optional(),
  dstPort: Port.optional(),
  route: RouteId.describe("the id of the route matching flows take"),
});
export type Pin = z.infer<typeof Pin>;

/** A namespace holds at most this many pins (each new conversation tries them in order). */
export const MAX_PINS = 1024;
export const Pins = z.array(Pin).max(MAX_PINS, { message: `at most ${MAX_PINS} pins` });
