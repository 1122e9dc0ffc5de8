/**
 * HTTP API bodies and responses that are not topology documents: what the
 * controller validates on the way in and promises on the way out, so the CLI
 * (or any client) can parse responses with the same schemas. Request fields
 * take units as strings or numbers (protocol/units.ts) and yield base units.
 */
import { z } from "zod";
import { Name } from "./names.ts";
import { HostTransport, LinkState, NodeKind, NodeState, PathMode, Transport } from "./state.ts";
import { Subnet } from "./topology.ts";
import { LinkRate } from "./events.ts";
import { Duration, Fraction, Rate } from "./units.ts";

/** Link and route ids appear in API paths; same alphabet as topology documents (ids like "a:b"). */
/** how the scheduler weighs hosts: the commit of vcpus, of memory, or of links */
export const LOAD_KINDS = ["cpucommit", "memcommit", "netcommit"] as const;

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

/** PATCH /namespaces/{ns}/links/{id}: only the fields given change; `state` takes the link down or up. */
export const LinkPatch = z.strictObject({
  ...shapingFields,
  ab: ShapingInput.optional(),
  ba: ShapingInput.optional(),
  state: LinkState.optional(),
});
export type LinkPatch = z.infer<typeof LinkPatch>;

/**
 * One entry of PUT /namespaces/{ns}/routes: a path, or edges that form a DAG
 * from one source to one destination (a flow takes one path through it).
 * Routes with the same ends form the pair's route set, shared by weight.
 */
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
/** A route table holds at most this many routes. */
export const MAX_ROUTES = 100_000;
export const RoutesPut = z.array(RouteInput).max(MAX_ROUTES, { message: `at most ${MAX_ROUTES} routes` });

/** PATCH /namespaces/{ns}/routes/{id}: a new weight, while traffic runs */
export const RoutePatch = z.strictObject({ weight: z.number().positive({ message: "a weight must be greater than 0" }).max(1e6) });
export type RoutePatch = z.infer<typeof RoutePatch>;

/** POST /namespaces/{ns}/nodes/{name}/exec as JSON; `stdin` is text fed to the command, else its stdin is empty. */
export const ExecRequest = z.strictObject({
  command: z.array(z.string()).min(1),
  timeoutMs: z.number().int().positive().max(86_400_000).optional(),
  /** answer application/x-ndjson lines (ExecLine) as output arrives, instead of one ExecResponse at the end */
  stream: z.boolean().optional(),
  stdin: z.string().optional(),
});
export type ExecRequest = z.infer<typeof ExecRequest>;

/** "true"/"false" (or 1/0) in a query string. */
const QueryBoolean = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/**
 * The same exec with stdin streamed as the raw request body (content-type
 * application/octet-stream): the fields come from the query string, `command`
 * once per argument, as Kubernetes' exec API takes them.
 */
export const ExecQuery = z.strictObject({
  command: z.array(z.string()).min(1),
  timeoutMs: z.coerce.number().int().positive().max(86_400_000).optional(),
  stream: QueryBoolean.optional(),
});
export type ExecQuery = z.infer<typeof ExecQuery>;

export const ExecResponse = z.object({ exitCode: z.number().int(), stdout: z.string(), stderr: z.string() });
export type ExecResponse = z.infer<typeof ExecResponse>;

/** POST /namespaces/{ns}/run: a command on every host of the namespace (not in a node). */
export const HostRunRequest = z.strictObject({
  command: z.array(z.string()).min(1),
  timeoutMs: z.number().int().positive().max(86_400_000).optional(),
});
export type HostRunRequest = z.infer<typeof HostRunRequest>;

/** One host's answer; a host that is not connected has exitCode -1 and `error`. */
export const HostRunRow = ExecResponse.extend({ host: z.string(), error: z.string().optional() });
export type HostRunRow = z.infer<typeof HostRunRow>;

/**
 * One line of a streamed exec answer: output as UTF-8 text (invalid bytes
 * become U+FFFD; binary content belongs in /files), then the exit code, or
 * an error when the exec failed after the answer had begun.
 */
export const ExecLine = z.union([
  z.strictObject({ stream: z.enum(["stdout", "stderr"]), data: z.string() }),
  z.strictObject({ exitCode: z.number().int() }),
  z.strictObject({ error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }) }),
]);
export type ExecLine = z.infer<typeof ExecLine>;

/** A file inside a node: absolute, since a node has no working directory to be relative to. */
const NodePath = z
  .string()
  .startsWith("/", { message: "must be an absolute path (starting with /)" })
  .refine((p) => !p.includes("\0"), { message: "must not contain a NUL byte" });

/** GET /namespaces/{ns}/nodes/{name}/files */
export const FileGetQuery = z.strictObject({ path: NodePath });

/** PUT /namespaces/{ns}/nodes/{name}/files: the body is the file's bytes */
export const FilePutQuery = z.strictObject({
  path: NodePath,
  /** octal permission bits of the written file, e.g. 0644; default: as created under the agent's umask */
  mode: z.string().regex(/^[0-7]{3,4}$/, { message: "expected octal permission bits like 0644" }).optional(),
});

export const FilePutResponse = z.object({ path: z.string(), bytes: z.number().int().nonnegative() });
export type FilePutResponse = z.infer<typeof FilePutResponse>;

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

/** POST /namespaces. `hosts` is a name, a range (`h[1-3]`) or a comma list; absent: every connected host. */
export const NamespaceCreate = z.strictObject({
  name: Name,
  hosts: z.string().min(1).optional(),
  queueing: z.boolean().optional(),
  load: z.enum(LOAD_KINDS).optional(),
  subnet: Subnet.optional(),
  transport: Transport.optional(),
  paths: PathMode.optional(),
});
export type NamespaceCreate = z.infer<typeof NamespaceCreate>;

/** PATCH /namespaces/{ns} */
export const NamespacePatch = z.strictObject({
  queueing: z.boolean().optional(),
  load: z.enum(LOAD_KINDS).optional(),
  /** shortest or ecmp: pairs without explicit routes are routed anew at once */
  paths: PathMode.optional(),
});
export type NamespacePatch = z.infer<typeof NamespacePatch>;

/** POST /namespaces/{ns}/hosts: each a name, range or comma list, or `all` */
export const NamespaceHostsChange = z
  .strictObject({ add: z.string().min(1).optional(), remove: z.string().min(1).optional() })
  .refine((c) => c.add !== undefined || c.remove !== undefined, { message: "give add, remove or both" });
export type NamespaceHostsChange = z.infer<typeof NamespaceHostsChange>;

/** GET /namespaces: `hosts` is the namespace's pool of hosts, where its nodes may be placed. */
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
  paths: PathMode,
  pins: z.number().int(),
  /** how many nodes are in each observed state */
  states: z.record(z.string(), z.number().int()),
});
export type NamespaceSummary = z.infer<typeof NamespaceSummary>;

export const TopologyApplied = NamespaceSummary.extend({
  changes: z.object({ added: z.array(z.string()), removed: z.array(z.string()), kept: z.array(z.string()) }),
  /** ids of the flows the document's `flows:` started */
  flows: z.array(z.string()),
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
/** GET /namespaces/{ns}/stats: one link direction (protocol/events.ts's LinkRate) */
export const LinkStatsRow = LinkRate;
export type LinkStatsRow = z.infer<typeof LinkStatsRow>;
