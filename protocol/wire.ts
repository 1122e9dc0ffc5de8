/**
 * Frames on the agent socket (WS /api/v1/agent), msgpack-encoded. Contract:
 * `decodeFrame` is the only way bytes from the network become a frame; it
 * validates once with zod and returns a typed value or a reason, never throws.
 * Message kinds are a literal union; PROTOCOL_VERSION changes when a shape does.
 * Exec data (output, stdin) is binary, cut into EXEC_CHUNK_BYTES pieces and
 * flow-controlled by execAck credits (protocol/exec-window.ts).
 */
import { z } from "zod";
import { Packr } from "msgpackr";
import { Name } from "./names.ts";
import { NamespaceState, NodeState } from "./state.ts";
import { FlowReport } from "./flow.ts";
import { ConversationReport, MAX_CONVERSATIONS_PER_FRAME } from "./conversation.ts";
import { ProbeReceived, ProbeSent, ProbeTransport, PROBE_MAX_BYTES } from "./probe.ts";

/**
 * 2: exec streams its output (execOutput chunks, then execResult), takes stdin, and can be cancelled;
 * 3: namespaces carry flows, and agents report them (`flows`)
 * 4: route sets, pins and link state in namespaces; agents report conversations, drops by reason and queue depths
 * 5: probes of the network between two agents (probeServe, probeRun, probeCancel; probeReady, probeDone)
 */
export const PROTOCOL_VERSION = 5;

/**
 * Exec data travels in chunks of at most this many bytes, so a frame stays far
 * below the WebSocket payload limit (16 MB in Bun) whatever a command prints.
 */
export const EXEC_CHUNK_BYTES = 256 * 1024;
/**
 * Flow control for exec data, the same in both directions: a sender keeps at
 * most this many bytes sent but not yet acknowledged by an execAck, so a slow
 * reader (an HTTP client, a process not reading its stdin) holds back the
 * writer instead of piling data up in the controller or the agent.
 */
export const EXEC_WINDOW_BYTES = 2 * 1024 * 1024;
/** A receiver acknowledges consumed bytes once this many have gathered (less than the window, or it stalls). */
export const EXEC_ACK_BYTES = 256 * 1024;

/** Binary exec data (msgpack bin); never more than EXEC_CHUNK_BYTES. */
const ExecChunk = z
  .custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "expected binary data" })
  .refine((v) => v.byteLength <= EXEC_CHUNK_BYTES, { message: `an exec chunk carries at most ${EXEC_CHUNK_BYTES} bytes` });

export const ExecStream = z.enum(["stdout", "stderr"]);
export type ExecStream = z.infer<typeof ExecStream>;

const ExecId = z.number().int().nonnegative();
const ProbeId = z.number().int().nonnegative();
const Port = z.number().int().min(1).max(65535);
/** "I consumed `bytes` more bytes of this exec's data": returns that much of the window to the sender. */
const ExecAck = z.strictObject({ type: z.literal("execAck"), id: ExecId, bytes: z.number().int().positive() });

export const HostFacts = z.strictObject({
  cpus: z.number().int().positive(),
  memTotalMB: z.number().nonnegative(),
  memUsedMB: z.number().nonnegative(),
  load: z.number().nonnegative(),
  addresses: z.array(z.string()),
  privileged: z.boolean(),
  /** where the agent writes capture files nobody named (absolute; absent from agents before captures) */
  captureDir: z.string().optional(),
});
export type HostFacts = z.infer<typeof HostFacts>;

/** Where an agent accepts packets from other agents (its transports' listening address). */
export const DataEndpoint = z.strictObject({
  address: z.string(),
  port: z.number().int().min(1).max(65535),
  /** the quic transport's UDP port, once the agent has its certificate and listens */
  quicPort: z.number().int().min(1).max(65535).optional(),
});
export type DataEndpoint = z.infer<typeof DataEndpoint>;

/** Another agent this one exchanges packets with. */
export const Peer = z.strictObject({
  name: Name,
  address: z.string(),
  port: z.number().int().min(1).max(65535),
  quicPort: z.number().int().min(1).max(65535).optional(),
});
export type Peer = z.infer<typeof Peer>;

/**
 * What an agent needs for mutual TLS with other agents (the quic transport):
 * the controller's CA certificate, and a certificate for this agent's name with
 * its private key, all PEM. The controller makes the key pair itself: the
 * bundle travels only over the agent socket after the join token was accepted,
 * so whoever could read it could already join as this agent.
 */
export const TlsBundle = z.strictObject({
  ca: z.string().startsWith("-----BEGIN CERTIFICATE-----"),
  cert: z.string().startsWith("-----BEGIN CERTIFICATE-----"),
  key: z.string().startsWith("-----BEGIN PRIVATE KEY-----"),
});
export type TlsBundle = z.infer<typeof TlsBundle>;

export const NodeStatus = z.strictObject({
  namespace: Name,
  name: Name,
  state: NodeState,
  error: z.string().optional(),
  /** the Linux network namespace holding the node, when it has one */
  netns: z.string().optional(),
});
export type NodeStatus = z.infer<typeof NodeStatus>;

export const LinkCounters = z.strictObject({
  namespace: Name,
  id: z.string(),
  dir: z.enum(["ab", "ba"]),
  packets: z.number(),
  bytes: z.number(),
  drops: z.record(z.string().max(64), z.number()),
  /** segments in its queue and delay line now, and the most since the last report */
  queued: z.number().nonnegative().optional(),
  queuedMax: z.number().nonnegative().optional(),
});
export type LinkCounters = z.infer<typeof LinkCounters>;

/** What an agent wrote for one capture: since it started, or in all when `closed` (it flushed and closed the file). */
export const CaptureCounters = z.strictObject({
  namespace: Name,
  id: z.string(),
  packets: z.number(),
  bytes: z.number(),
  /** the file could not be opened or written */
  error: z.string().optional(),
  closed: z.boolean().optional(),
});
export type CaptureCounters = z.infer<typeof CaptureCounters>;

export const AgentFrame = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("hello"),
    version: z.number(),
    name: Name,
    joinToken: z.string(),
    facts: HostFacts,
    data: DataEndpoint.optional(),
  }),
  z.strictObject({ type: z.literal("heartbeat"), facts: HostFacts }),
  /** the agent's data endpoint changed (its quic transport started after the welcome) */
  z.strictObject({ type: z.literal("endpoint"), data: DataEndpoint }),
  z.strictObject({ type: z.literal("status"), nodes: z.array(NodeStatus) }),
  /** captures: sent when the agent writes any (absent from agents before captures existed) */
  /** drops: the host's drops by reason (agent/dataplane/drops.ts), since the agent started; at: when the dataplane read them (ms since the epoch) */
  z.strictObject({
    type: z.literal("counters"),
    at: z.number().optional(),
    links: z.array(LinkCounters),
    captures: z.array(CaptureCounters).optional(),
    drops: z.record(z.string().max(64), z.number()).optional(),
  }),
  /** conversations that moved or ended in the last second; the agent's table totals */
  z.strictObject({
    type: z.literal("conversations"),
    reports: z.array(ConversationReport).max(MAX_CONVERSATIONS_PER_FRAME),
    live: z.number().int().nonnegative(),
    started: z.number().int().nonnegative(),
    ended: z.number().int().nonnegative(),
    evicted: z.number().int().nonnegative(),
  }),
  /** the ends of user-space flows this agent runs: sent as they change, at most twice a second */
  z.strictObject({ type: z.literal("flows"), flows: z.array(FlowReport) }),
  /** output of a running exec, in the order the process wrote it to each stream */
  z.strictObject({ type: z.literal("execOutput"), id: ExecId, stream: ExecStream, data: ExecChunk }),
  /** the exec ended; always the last frame of an exec, also after an execCancel */
  z.strictObject({ type: z.literal("execResult"), id: ExecId, exitCode: z.number().int() }),
  /** stdin bytes written to the process */
  ExecAck,
  /** the receiving side of a probe listens on `port` */
  z.strictObject({ type: z.literal("probeReady"), id: ProbeId, port: Port }),
  /** one side of a probe finished: its figures, or why it could not */
  z.strictObject({ type: z.literal("probeDone"), id: ProbeId, sent: ProbeSent.optional(), received: ProbeReceived.optional(), error: z.string().max(1000).optional() }),
  z.strictObject({ type: z.literal("error"), message: z.string() }),
]);
export type AgentFrame = z.infer<typeof AgentFrame>;

export const ControllerFrame = z.discriminatedUnion("type", [
  /** tls: absent only from a controller without a CA (tests of the hub alone) */
  z.strictObject({ type: z.literal("welcome"), version: z.number(), host: Name, tls: TlsBundle.optional() }),
  /** the whole desired state for this host: every namespace with a node on it */
  z.strictObject({ type: z.literal("state"), namespaces: z.array(NamespaceState), peers: z.array(Peer) }),
  z.strictObject({
    type: z.literal("exec"),
    id: ExecId,
    namespace: Name,
    /** absent: run on the host itself (POST /namespaces/{ns}/run), in the agent's own namespaces */
    node: Name.optional(),
    command: z.array(z.string()).min(1),
    timeoutMs: z.number().int().positive(),
    /** true: execInput frames follow, ending with eof; false: stdin is /dev/null */
    stdin: z.boolean(),
  }),
  z.strictObject({ type: z.literal("execInput"), id: ExecId, data: ExecChunk, eof: z.boolean().optional() }),
  /** output bytes the controller's client consumed */
  ExecAck,
  /** the client went away or gave up: kill the process; its execResult still follows */
  z.strictObject({ type: z.literal("execCancel"), id: ExecId }),
  /** receive a probe: listen on `address` (this agent's own) over `transport`, answer probeReady, then probeDone with what came */
  z.strictObject({ type: z.literal("probeServe"), id: ProbeId, address: z.string().max(64), transport: ProbeTransport }),
  /** send a probe: echo requests to `address`, then `bytes` over `transport` to its `port`; probeDone with what was sent */
  z.strictObject({
    type: z.literal("probeRun"),
    id: ProbeId,
    address: z.string().max(64),
    port: Port,
    transport: ProbeTransport,
    bytes: z.number().int().positive().max(PROBE_MAX_BYTES),
  }),
  /** the probe was given up (the other side failed, or the controller's wait ran out): stop and close */
  z.strictObject({ type: z.literal("probeCancel"), id: ProbeId }),
  z.strictObject({ type: z.literal("error"), message: z.string(), fatal: z.boolean() }),
]);
export type ControllerFrame = z.infer<typeof ControllerFrame>;

const packr = new Packr({ useRecords: false });

export function encodeFrame(frame: AgentFrame | ControllerFrame): Uint8Array {
  return packr.pack(frame);
}

/** Cuts data into pieces of at most EXEC_CHUNK_BYTES (views, not copies). */
export function execChunks(data: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < data.byteLength; at += EXEC_CHUNK_BYTES) pieces.push(data.subarray(at, at + EXEC_CHUNK_BYTES));
  return pieces;
}

export type Decoded<T> = { ok: true; frame: T } | { ok: false; reason: string };

function decodeWith<T>(schema: z.ZodType<T>, bytes: Uint8Array): Decoded<T> {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (e) {
    return { ok: false, reason: `not msgpack: ${(e as Error).message}` };
  }
  const r = schema.safeParse(raw);
  if (!r.success) return { ok: false, reason: z.prettifyError(r.error).replaceAll("\n", "; ") };
  return { ok: true, frame: r.data };
}

export function decodeAgentFrame(bytes: Uint8Array): Decoded<AgentFrame> {
  return decodeWith(AgentFrame, bytes);
}

export function decodeControllerFrame(bytes: Uint8Array): Decoded<ControllerFrame> {
  return decodeWith(ControllerFrame, bytes);
}
