/**
 * @module
 * Packet captures in the API: what POST /namespaces/{ns}/captures takes, what
 * the controller stores per capture (inside its namespace's record), and the
 * rows it lists. A capture writes a pcap file (LINKTYPE_RAW: IP packets, no
 * link layer) on the host whose agent sees every packet it is after: a
 * node's host, or for a link the host of its `a` end (see docs/captures.md).
 */
import { z } from "zod";
import { Name } from "./names.ts";

export const CAPTURE_STATES = ["running", "stopped"] as const;
export const CaptureState = z.enum(CAPTURE_STATES);
export type CaptureState = z.infer<typeof CaptureState>;

/** c1, c2, ...: from a per-namespace counter, never reused within the namespace */
export const CaptureId = z.string().regex(/^c[1-9][0-9]*$/, { message: "expected a capture id like c1" });

/** A file on a host: absolute, since the agent's working directory is nobody's business. */
export const HostPath = z
  .string()
  .max(4096)
  .startsWith("/", { message: "must be an absolute path on the host, like /tmp/link.pcap" })
  .refine((p) => !p.endsWith("/"), { message: "names a directory; give a file name" })
  .refine((p) => !p.includes("\0"), { message: "must not contain a NUL byte" });

/** POST body; exactly one of node and link (checked in controller/captures.ts, which names the fields). */
export const CaptureCreate = z.strictObject({
  node: Name.optional().describe("capture what the node sends into the dataplane and what it is delivered"),
  link: z.string().min(1).optional().describe("capture both directions of the link (its id), as delivered"),
  file: HostPath.optional().describe("where the pcap goes on the capturing host (default: <agent state dir>/captures/<ns>-<id>.pcap)"),
});
export type CaptureCreate = z.infer<typeof CaptureCreate>;

const CaptureFields = {
  id: CaptureId,
  /** the host whose agent writes the file */
  host: Name,
  file: HostPath,
  state: CaptureState,
  /** ms since the epoch */
  created: z.number(),
  stopped: z.number().optional(),
};

/** One capture as the controller stores it; stopped ones stay until deleted, so their file can be fetched. */
export const CaptureRecord = z.union([z.strictObject({ ...CaptureFields, node: Name }), z.strictObject({ ...CaptureFields, link: z.string() })]);
export type CaptureRecord = z.infer<typeof CaptureRecord>;

/** A row of GET /namespaces/{ns}/captures: the record joined with what the capturing agent reports. */
export const CaptureRow = z.object({
  id: CaptureId,
  node: z.string().optional(),
  link: z.string().optional(),
  /** where the file is written (one host: see the module comment) */
  hosts: z.array(z.string()),
  file: z.string(),
  state: CaptureState,
  /** packets and bytes written since the capturing agent started (0 until it reports) */
  packets: z.number(),
  bytes: z.number(),
  created: z.string(),
  stopped: z.string().optional(),
  /** why the agent cannot write the file, when it cannot */
  error: z.string().optional(),
});
export type CaptureRow = z.infer<typeof CaptureRow>;

/** DELETE answer: the capture as it was left; `removed` when it was already stopped and is now gone. */
export const CaptureDeleted = CaptureRow.extend({ removed: z.boolean() });
export type CaptureDeleted = z.infer<typeof CaptureDeleted>;
