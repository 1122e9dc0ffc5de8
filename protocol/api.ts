/**
 * HTTP API bodies and responses that are not topology documents: what the
 * controller validates on the way in and promises on the way out, so the CLI
 * (or any client) can parse responses with the same schemas. Request fields
 * take units as strings or numbers (protocol/units.ts) and yield base units.
 */
import { z } from "zod";
import { Name } from "./names.ts";
import { HostTransport, NodeKind, NodeState, Transport } from "./state.ts";
import { Duration, Fraction, Rate } from "./units.ts";

/** Link and route ids appear in API paths; same alphabet as topology documents (ids like "a:b"). */
export const Id = z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,127}$/, {
  message: "expected an id of lowercase letters, digits, '_', '.', ':', '-' (at most 128, starting with a letter or digit)",
});

/** Shaping fields as a request gives them: every one optional, units allowed. */
const shapingFields = {
  bandwidth: Rate.optional(),
  delay: Duration.optional(),
  jitter: Duration.optional(),
  loss: Fraction.optional(),
  queue: z.number().int().positive().optional(),
  reorder: z.boolean().optional(),
};
export const ShapingInput = z.strictObject(shapingFields);
export type ShapingInput = z.infer<typeof ShapingInput>;

/** POST /namespaces/{ns}/links: symmetric fields apply both ways; ab/ba override one direction. */
export const LinkCreate = z.strictObject({
  a: Name,
  b: Name,
  id: Id.optional(),
  ...shapingFields,
  ab: ShapingInput.optional(),
  ba: ShapingInput.optional(),
});
export type LinkCreate = z.infer<typeof LinkCreate>;

/** PATCH /namespaces/{ns}/links/{id}: only the fields given change. */
export const LinkPatch = z.strictObject({
  ...shapingFields,
  ab: ShapingInput.optional(),
  ba: ShapingInput.optional(),
});
export type LinkPatch = z.infer<typeof LinkPatch>;

/** One entry of PUT /namespaces/{ns}/routes: a path, or edges that form one. */
export const RouteInput = z
  .strictObject({
    id: Id.optional(),
    path: z.array(Name).min(2).optional(),
    edges: z.array(z.tuple([Name, Name])).min(1).optional(),
    weight: z.number().positive().optional(),
  })
  .refine((r) => (r.path === undefined) !== (r.edges === undefined), {
    message: "give exactly one of path (a list of nodes) or edges (a list of [from, to] pairs)",
  });
export type RouteInput = z.infer<typeof RouteInput>;
export const RoutesPut = z.array(RouteInput);

/** POST /namespaces/{ns}/nodes/{name}/exec */
export const ExecRequest = z.strictObject({
  command: z.array(z.string()).min(1),
  timeoutMs: z.number().int().positive().max(86_400_000).optional(),
});
export type ExecRequest = z.infer<typeof ExecRequest>;

export const ExecResponse = z.object({ exitCode: z.number().int(), stdout: z.string(), stderr: z.string() });
export type ExecResponse = z.infer<typeof ExecResponse>;

export const Health = z.object({ ok: z.literal(true), version: z.string() });
export type Health = z.infer<typeof Health>;

/** GET /hosts: commits count what nodes placed on the host ask for. */
export const HostRow = z.object({
  name: z.string(),
  address: z.string(),
  cpus: z.number(),
  memTotalMB: z.number(),
  memUsedMB: z.number(),
  load: z.number(),
  nodes: z.number().int(),
  cpuCommit: z.number(),
  memCommit: z.number(),
  /** link ends of the host's nodes: minimega's count of network interfaces */
  netCommit: z.number(),
  state: z.enum(["up", "down"]),
  /** ISO 8601 time of the last hello or heartbeat */
  lastSeen: z.string(),
  privileged: z.boolean(),
  addresses: z.array(z.string()),
});
export type HostRow = z.infer<typeof HostRow>;

/** GET /namespaces: `hosts` are the hosts holding the namespace's nodes. */
export const NamespaceRow = z.object({
  name: z.string(),
  nodes: z.number().int(),
  hosts: z.array(z.string()),
  queueing: z.boolean(),
  load: z.string(),
});
export type NamespaceRow = z.infer<typeof NamespaceRow>;

/** GET /namespaces/{ns} and the answer to PUT /namespaces/{ns}/topology. */
export const NamespaceSummary = NamespaceRow.extend({
  subnet: z.string(),
  links: z.number().int(),
  routes: z.number().int(),
  transport: Transport,
  /** per host pair overrides of `transport` */
  transports: z.array(HostTransport),
  /** how many nodes are in each observed state */
  states: z.record(z.string(), z.number().int()),
});
export type NamespaceSummary = z.infer<typeof NamespaceSummary>;

export const TopologyApplied = NamespaceSummary.extend({
  changes: z.object({ added: z.array(z.string()), removed: z.array(z.string()), kept: z.array(z.string()) }),
});
export type TopologyApplied = z.infer<typeof TopologyApplied>;

/** GET /namespaces/{ns}/nodes */
export const NodeRow = z.object({
  name: z.string(),
  host: z.string(),
  kind: NodeKind,
  state: NodeState,
  ip: z.string(),
  vcpus: z.number(),
  memoryMB: z.number(),
  /** how many links end at this node */
  links: z.number().int(),
  netns: z.string().optional(),
  error: z.string().optional(),
  mtu: z.number().int(),
  index: z.number().int(),
});
export type NodeRow = z.infer<typeof NodeRow>;

/** GET /namespaces/{ns}/stats: one row per link direction an agent reported. */
export const LinkStatsRow = z.object({
  link: z.string(),
  dir: z.enum(["ab", "ba"]),
  from: z.string(),
  to: z.string(),
  packets: z.number(),
  bytes: z.number(),
  dropped: z.number(),
  drops: z.record(z.string(), z.number()),
});
export type LinkStatsRow = z.infer<typeof LinkStatsRow>;
