/**
 * The topology document: what people write (YAML or JSON, one schema) to
 * describe nodes, links, routes and generated shapes. Only the shape of the
 * document is checked here; names, addresses and defaults are settled in
 * topology-resolve.ts, which turns a document into state.ts specs. Objects are
 * strict so a misspelt key is an error instead of a silently ignored setting.
 * docs/topology.schema.json is exported from this file (scripts/export-schema.ts).
 */
import { FlowRequest } from "./flow.ts";
import { z } from "zod";
import { Duration, Fraction, Rate } from "./units.ts";
import { expandRange, Name, NAME_PATTERN } from "./names.ts";
import { HostTransport, LinkState, NodeKind, NodePlacement, PathMode, Transport } from "./state.ts";
import { Pins } from "./pins.ts";
import { parseAddress, parseCidr, formatCidr, maskOf } from "./ipv4.ts";

export const DEFAULT_SUBNET = "10.0.0.0/16";
export const DEFAULT_MTU = 1500;
/** Upper bounds that keep a typo like n: 1000000 from eating the controller's memory. */
export const MAX_GENERATED_NODES = 100000;
export const MAX_FULL_MESH = 1000;
export const MAX_FAT_TREE_K = 64;

/** Thrown by parsing and resolving: every problem found, each as "path: reason". */
export class TopologyError extends Error {
  constructor(
    readonly issues: string[],
    readonly fileName?: string,
  ) {
    super(issues.map((i) => (fileName ? `${fileName}: ${i}` : i)).join("\n"));
    this.name = "TopologyError";
  }
}

/** A name, or a range expression standing for several ("h[1-4]"). */
export const NameOrRange = z
  .string()
  .superRefine((text, ctx) => {
    let names: string[];
    try {
      names = expandRange(text);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return;
    }
    const bad = names.find((n) => !NAME_PATTERN.test(n));
    if (bad !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${bad}" is not a valid name: expected lowercase letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)`,
      });
    }
  })
  .describe('a node name, or a range such as "h[1-4]", "h[1,3,5-6]" or "vm[01-03]"');

/** Put in front of every name a generator makes; may be empty where the generator has base names. */
const Prefix = z
  .string()
  .regex(/^(?:[a-z0-9][a-z0-9_.-]{0,39})?$/, {
    message: "expected a prefix of lowercase letters, digits, '_', '.', '-' (at most 40, starting with a letter or digit)",
  })
  .describe("put in front of every name this generator makes");

/** Link and route ids appear in API paths, so they keep to a URL-safe alphabet. */
const Id = z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,127}$/, {
  message: "expected an id of lowercase letters, digits, '_', '.', ':', '-' (at most 128, starting with a letter or digit)",
});

export const Subnet = z
  .string()
  .superRefine((text, ctx) => {
    const a = parseAddress(text);
    if (a === undefined || a.prefix === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a subnet like "10.0.0.0/16", got "${text}"` });
    } else if (parseCidr(text) === undefined) {
      const fixed = formatCidr({ base: (a.addr & maskOf(a.prefix)) >>> 0, prefix: a.prefix });
      ctx.addIssue({ code: "custom", message: `${text} has host bits set; did you mean ${fixed}?` });
    }
  })
  .describe(`IPv4 subnet the node addresses come from (default ${DEFAULT_SUBNET})`);

const Address = z
  .string()
  .superRefine((text, ctx) => {
    if (parseAddress(text) === undefined) {
      ctx.addIssue({ code: "custom", message: `expected an IPv4 address like "10.0.0.2" or "10.0.0.2/16", got "${text}"` });
    }
  })
  .describe("IPv4 address inside the subnet, with or without the subnet's prefix length");

const Mtu = z.number().int().min(576).max(65535).describe(`bytes (default ${DEFAULT_MTU})`);

/** Shaping fields a document may set; anything left out comes from the layer below. */
const shapingFields = {
  bandwidth: Rate.optional().describe('rate like "100Mbit" or bit/s; 0 is unlimited'),
  delay: Duration.optional().describe('one-way delay like "10ms" or seconds'),
  jitter: Duration.optional().describe('standard deviation of the added delay, like "1ms"'),
  loss: Fraction.optional().describe('fraction of packets dropped at random, like "1%" or 0.01'),
  queue: z.number().int().positive().optional().describe("packets waiting for the rate limiter before drop-tail"),
  reorder: z.boolean().optional().describe("let jitter reorder packets; false keeps them in order"),
};
export const ShapingOverrides = z
  .strictObject(shapingFields)
  .meta({ id: "ShapingOverrides", description: "link shaping; fields left out come from the layer below" });
export type ShapingOverrides = z.infer<typeof ShapingOverrides>;

export const NodeObject = z.strictObject({
  name: NameOrRange,
  kind: NodeKind.optional(),
  ip: Address.optional(),
  host: Name.optional().describe("pin the node to this host"),
  mtu: Mtu.optional(),
  ...NodePlacement.shape,
  command: z
    .array(z.string())
    .min(1)
    .optional()
    .describe("a program started in the node each time it comes up; output in <agent state dir>/logs/<namespace>-<node>.log"),
});
export const NodeEntry = z.union([NameOrRange, NodeObject]);
export type NodeEntry = z.infer<typeof NodeEntry>;

export const LinkEntry = z.strictObject({
  id: Id.optional().describe('defaults to "<a>:<b>"'),
  a: Name,
  b: Name,
  ...shapingFields,
  ab: ShapingOverrides.optional().describe("a->b only, on top of the fields above"),
  ba: ShapingOverrides.optional().describe("b->a only, on top of the fields above"),
  state: LinkState.optional().describe("down: the link drops everything and routing treats it as absent (default up)"),
});
export type LinkEntry = z.infer<typeof LinkEntry>;
/** A link as written in a file, before units are parsed. */
export type LinkEntryInput = z.input<typeof LinkEntry>;
export type ShapingOverridesInput = z.input<typeof ShapingOverrides>;

export const RouteEntry = z
  .strictObject({
    id: Id.optional().describe('defaults to "r<position>", counting from 1'),
    path: z.array(Name).min(2).optional().describe("nodes from the source to the destination, each hop over a link"),
    edges: z
      .array(z.tuple([Name, Name]))
      .min(1)
      .optional()
      .describe("instead of path: [from, to] hops forming a DAG from one source to one destination; each flow takes one path through it"),
    weight: z.number().positive().optional().describe("share of flows among routes with the same ends (default 1)"),
  })
  .refine((r) => (r.path === undefined) !== (r.edges === undefined), { message: "give exactly one of path or edges" });
export type RouteEntry = z.infer<typeof RouteEntry>;

function count(min: number, max: number) {
  return z.number().int().min(min).max(max);
}

// Every generator takes the same three optional fields.
const generatorFields = {
  prefix: Prefix.optional(),
  kind: NodeKind.optional(),
  link: ShapingOverrides.optional().describe("shaping of every link this generator makes"),
};

export const LineGenerator = z.strictObject({
  shape: z.literal("line"),
  n: count(1, MAX_GENERATED_NODES),
  ...generatorFields,
});
export const RingGenerator = z.strictObject({
  shape: z.literal("ring"),
  n: count(3, MAX_GENERATED_NODES),
  ...generatorFields,
});
export const StarGenerator = z.strictObject({
  shape: z.literal("star"),
  n: count(1, MAX_GENERATED_NODES),
  hub: Name.optional().describe('name of the hub (default "<prefix>0")'),
  ...generatorFields,
});
export const FullMeshGenerator = z.strictObject({
  shape: z.literal("full_mesh"),
  n: count(1, MAX_FULL_MESH),
  ...generatorFields,
});
export const DumbbellGenerator = z.strictObject({
  shape: z.literal("dumbbell"),
  n: count(1, MAX_GENERATED_NODES).describe("hosts on each side"),
  left: Prefix.optional().describe('base name of the left hosts (default "left")'),
  right: Prefix.optional().describe('base name of the right hosts (default "right")'),
  switches: z.tuple([Name, Name]).optional().describe('base names of the left and right switches (default ["sl", "sr"])'),
  bottleneck: ShapingOverrides.optional().describe("shaping of the switch-to-switch link, on top of link"),
  ...generatorFields,
});
export const FatTreeGenerator = z.strictObject({
  shape: z.literal("fat_tree"),
  k: count(2, MAX_FAT_TREE_K)
    .refine((k) => k % 2 === 0, { message: "k must be even" })
    .describe("ports per switch; k^3/4 hosts"),
  ...generatorFields,
});
export const TorusGenerator = z.strictObject({
  shape: z.literal("torus"),
  dims: z.array(count(1, MAX_GENERATED_NODES)).min(1).max(8).describe("size of each dimension, e.g. [4, 4]"),
  ...generatorFields,
});

export const GENERATOR_SHAPES = ["line", "ring", "star", "full_mesh", "dumbbell", "fat_tree", "torus"] as const;
export const Generator = z.discriminatedUnion("shape", [
  LineGenerator,
  RingGenerator,
  StarGenerator,
  FullMeshGenerator,
  DumbbellGenerator,
  FatTreeGenerator,
  TorusGenerator,
]);
export type Generator = z.infer<typeof Generator>;

export const TopologyDefaults = z.strictObject({
  kind: NodeKind.optional().describe("kind of nodes that do not set one (default netns)"),
  mtu: Mtu.optional(),
  link: ShapingOverrides.optional().describe("shaping of every link, under what links and generators set"),
});

export const TopologyDocument = z
  .strictObject({
    $schema: z.string().optional().describe("lets editors find this schema; ignored"),
    name: Name.optional().describe("informational"),
    subnet: Subnet.optional(),
    transport: Transport.optional().describe("how agents carry this namespace's packets between hosts: tcp (default), udp or quic"),
    transports: z
      .array(HostTransport.describe("`between` two hosts (agent names), in either direction, use `transport`"))
      .optional()
      .describe("per host pair overrides of `transport`, e.g. quic between datacenters and tcp inside them"),
    defaults: TopologyDefaults.optional(),
    generate: z.array(Generator).optional().describe("shapes whose nodes and links come before nodes and links"),
    nodes: z.array(NodeEntry).optional(),
    links: z.array(LinkEntry).optional(),
    routes: z.array(RouteEntry).optional(),
    paths: PathMode.optional().describe("pairs without explicit routes: one shortest path (default), or every equal-cost shortest path shared by flows (ecmp)"),
    pins: Pins.optional().describe("policy pins: flows matching a rule take its route; first match wins"),
    flows: z.array(FlowRequest).optional().describe("user-space flows to start when the document is applied (userspace nodes' TCP stacks send them)"),
  })
  .meta({ title: "nextmini topology", description: "Nodes, links, routes, generated shapes and flows of one nextmini experiment." });
export type TopologyDocument = z.infer<typeof TopologyDocument>;
/** What a file may contain before units are parsed: "10ms" as well as 0.01. */
export type TopologyDocumentInput = z.input<typeof TopologyDocument>;

/**
 * The JSON Schema of a topology file. `io: "input"` describes what may be
 * written (unit strings), not the numbers parsing yields, so the transforms in
 * units.ts need no hand-written stand-ins.
 */
export function topologyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(TopologyDocument, { io: "input", target: "draft-2020-12" });
}

/** The schema file's exact text: what scripts/export-schema.ts writes and the tests compare against. */
export function topologyJsonSchemaText(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}
