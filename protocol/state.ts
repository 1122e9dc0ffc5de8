/**
 * Desired state as the controller resolves it and pushes it to agents: numbers
 * in base units (bit/s, seconds, fractions, packets), every name resolved, every
 * address assigned. Topology documents (protocol/topology.ts) are what people
 * write; this is what the dataplane realizes.
 */
import { z } from "zod";
import { Name } from "./names.ts";
import { CaptureId, HostPath } from "./capture.ts";
import { FlowSpec } from "./flow.ts";
import { Pin } from "./pins.ts";

export const NODE_KINDS = ["netns", "host", "userspace"] as const;
export const NodeKind = z.enum(NODE_KINDS);
export type NodeKind = z.infer<typeof NodeKind>;

/** One direction of a link. bandwidth 0 means unlimited. */
export const Shaping = z.strictObject({
  bandwidth: z.number().nonnegative(), // bit/s
  delay: z.number().nonnegative(), // seconds
  jitter: z.number().nonnegative(), // seconds (standard deviation of the added delay)
  loss: z.number().min(0).max(1), // fraction of packets (segments) dropped at random
  queue: z.number().int().positive(), // packets waiting for the rate limiter before drop-tail
  reorder: z.boolean(), // let jitter reorder packets (netem's behaviour); off keeps FIFO
});
export type Shaping = z.infer<typeof Shaping>;

export const DEFAULT_SHAPING: Shaping = { bandwidth: 0, delay: 0, jitter: 0, loss: 0, queue: 1000, reorder: false };

/** Shaping with the fields `over` sets on top of `under` (defaults, then a link's fields, then one direction's). */
export function layerShaping(under: Shaping, over: { [K in keyof Shaping]?: Shaping[K] | undefined } | undefined): Shaping {
  if (over === undefined) return under;
  return {
    bandwidth: over.bandwidth ?? under.bandwidth,
    delay: over.delay ?? under.delay,
    jitter: over.jitter ?? under.jitter,
    loss: over.loss ?? under.loss,
    queue: over.queue ?? under.queue,
    reorder: over.reorder ?? under.reorder,
  };
}

/**
 * What a node commits on its host and where the scheduler may put it
 * (minimega's fields). Absent means the default (protocol/launch.ts): 1 vcpu,
 * 2048 MB, no coschedule limit, no colocation.
 */
export const NodePlacement = z.strictObject({
  vcpus: z.number().int().positive().optional().describe("virtual cpus the node commits on its host (default 1)"),
  memoryMB: z.number().int().positive().optional().describe("memory the node commits on its host, in MB (default 2048)"),
  coschedule: z.number().int().min(-1).optional().describe("at most this many other nodes on its host; 0 = alone, -1 = no limit (default)"),
  colocate: Name.optional().describe("on the same host as this node"),
});
export type NodePlacement = z.infer<typeof NodePlacement>;

/** running: build it; stopped: stop its programs (SIGTERM, then SIGKILL) and tear it down; killed: SIGKILL and tear down */
export const DESIRED_STATES = ["running", "stopped", "killed"] as const;
export const DesiredState = z.enum(DESIRED_STATES);
export type DesiredState = z.infer<typeof DesiredState>;

export const NodeSpec = z.strictObject({
  name: Name,
  kind: NodeKind,
  /** 1-based position in the namespace; the default address is derived from it. */
  index: z.number().int().positive(),
  /** IPv4 address with prefix, e.g. "10.0.0.1/16". */
  ip: z.string(),
  host: z.string(),
  mtu: z.number().int().min(576).max(65535),
  ...NodePlacement.shape,
  /** a program the agent starts in the node each time it comes up; its output goes to the agent's log dir */
  command: z.array(z.string()).min(1).optional(),
  /** absent: running */
  desired: DesiredState.optional(),
});
export type NodeSpec = z.infer<typeof NodeSpec>;

/** down: the link drops everything offered to it and routing treats it as absent (Mininet's `link a b down`) */
export const LINK_STATES = ["up", "down"] as const;
export const LinkState = z.enum(LINK_STATES);
export type LinkState = z.infer<typeof LinkState>;

export const LinkSpec = z.strictObject({
  id: z.string(),
  a: Name,
  b: Name,
  ab: Shaping, // a -> b
  ba: Shaping, // b -> a
  /** absent: up */
  state: LinkState.optional(),
});
export type LinkSpec = z.infer<typeof LinkSpec>;

/**
 * An explicit route from path[0] to path[last]. Routes with the same ends form
 * the pair's route set: each new flow takes one, in proportion to `weight`.
 * With `edges` the route is a DAG and a flow takes one of its paths
 * (protocol/paths.ts); `path` is then the DAG's first path in name order.
 */
export const RouteSpec = z.strictObject({
  id: z.string(),
  path: z.array(Name).min(2),
  weight: z.number().positive(),
  edges: z.array(z.tuple([Name, Name])).min(1).optional(),
});
export type RouteSpec = z.infer<typeof RouteSpec>;

/**
 * Per-node next-hop tables for shortest-path routing: nextHop[node][i] is the
 * name of the neighbour to send to for destination nodes[i] (by NodeSpec order),
 * or "" when the destination is the node itself or unreachable.
 */
export const NextHops = z.record(z.string(), z.array(z.string()));
export type NextHops = z.infer<typeof NextHops>;

/**
 * How a namespace routes pairs without explicit routes: one shortest path, or
 * every equal-cost shortest path as the pair's route set (protocol/paths.ts).
 */
export const PATH_MODES = ["shortest", "ecmp"] as const;
export const PathMode = z.enum(PATH_MODES);
export type PathMode = z.infer<typeof PathMode>;

/** How agents carry a namespace's packets between hosts. */
export const TRANSPORTS = ["tcp", "udp", "quic"] as const;
export const Transport = z.enum(TRANSPORTS);
export type Transport = z.infer<typeof Transport>;

/**
 * The transport between two particular hosts, overriding the namespace's: a
 * cluster spread over datacenters may want quic across the WAN and tcp inside
 * each site. The pair is unordered: both agents must pick the same transport,
 * since each sends with the one it looks up for the other.
 */
export const HostTransport = z.strictObject({
  between: z.tuple([Name, Name]),
  transport: Transport,
});
export type HostTransport = z.infer<typeof HostTransport>;

/** The transport `a` and `b` use for a namespace whose own is `fallback`. */
export function transportBetween(a: string, b: string, fallback: Transport, overrides: readonly HostTransport[]): Transport {
  for (const o of overrides) {
    const [x, y] = o.between;
    if ((x === a && y === b) || (x === b && y === a)) return o.transport;
  }
  return fallback;
}

/**
 * A packet capture the receiving agent writes (only the host that writes it is
 * told): `node` captures what the node sends and is delivered; `link` both
 * directions of the link as they are delivered. `created` (ms since the epoch)
 * tells a restarted agent whether a file already there is this capture's, to
 * append to, or an older one's, to replace. Shape: protocol/capture.ts.
 */
export const CaptureSpec = z.union([
  z.strictObject({ id: CaptureId, node: Name, file: HostPath, created: z.number() }),
  z.strictObject({ id: CaptureId, link: z.string(), file: HostPath, created: z.number() }),
]);
export type CaptureSpec = z.infer<typeof CaptureSpec>;

export const NamespaceState = z.strictObject({
  name: Name,
  subnet: z.string(),
  transport: Transport,
  /** per host pair overrides of `transport` (absent from controllers before they existed) */
  hostTransports: z.array(HostTransport).default([]),
  nodes: z.array(NodeSpec),
  links: z.array(LinkSpec),
  routes: z.array(RouteSpec),
  nextHops: NextHops,
  /** the running captures this host writes (absent from controllers before captures existed) */
  captures: z.array(CaptureSpec).default([]),
  /** the flows still to run or running (absent from controllers before flows existed) */
  flows: z.array(FlowSpec).default([]),
  /** how pairs without explicit routes are routed (protocol/paths.ts) */
  paths: PathMode.default("shortest"),
  /** policy pins, tried in order as a conversation starts */
  pins: z.array(Pin).default([]),
});
export type NamespaceState = z.infer<typeof NamespaceState>;

export const NODE_STATES = ["queued", "building", "running", "stopped", "error", "lost"] as const;
export const NodeState = z.enum(NODE_STATES);
export type NodeState = z.infer<typeof NodeState>;
