/**
 * @module
 * User-space flows of a namespace: add one (every check before anything is
 * stored), stop or remove one, settle one when its ends report, and list them
 * joined with what their agents report. A flow is desired state in its
 * namespace's record; agents get the ones not yet ended (flow-specs.ts) and
 * run them in their dataplanes (agent/flows/).
 *
 * Ends: the sender runs on the host of `src` and the receiver on the host of
 * `dst`, each in the node's WASM TCP stack when the node is `userspace`. A
 * kernel node (netns or host) at one end is met by its own programs: a flow
 * to one needs the port something listens on there; a flow from one is
 * received and measured by the userspace `dst`, whoever connects.
 */
import { askedFields, type FlowEnd, type FlowRecord, type FlowRequest, type FlowRow, type ThroughputSample } from "../protocol/flow.ts";
import { ApiError } from "../protocol/errors.ts";
import type { NodeSpec } from "../protocol/state.ts";
import type { AppDeps } from "./http.ts";
import type { FlowReports } from "./flow-reports.ts";
import type { NamespaceRecord } from "./store.ts";

/** default ports: FLOW_PORT_BASE + the flow's number, skipping ones in use toward the same node */
export const FLOW_PORT_BASE = 20000;

type Deps = Pick<AppDeps, "namespaces" | "hub">;

const over = (e: FlowEnd | undefined) => e !== undefined && (e.state === "finished" || e.state === "failed");

/** Adds a flow; it starts as soon as the agents of its ends have it. */
export function addFlow(deps: Deps, namespace: string, req: FlowRequest, now = Date.now()): FlowRow {
  const ns = deps.namespaces.get(namespace);
  const src = placedNode(ns, req.src, "src");
  const dst = placedNode(ns, req.dst, "dst");
  const issues: string[] = [];
  if (src.kind !== "userspace" && dst.kind !== "userspace") {
    issues.push(`src, dst: ${src.name} and ${dst.name} are both ${src.kind === dst.kind ? src.kind : "kernel"} nodes; a flow runs in the TCP stack of a userspace node at one end at least`);
  }
  if (dst.kind !== "userspace" && req.port === undefined) {
    issues.push(`port: ${dst.name} is a ${dst.kind} node; give the port a program in it listens on (like 5201 for iperf3 -s)`);
  }
  if (req.route !== undefined) {
    const route = ns.routes.find((r) => r.id === req.route);
    if (!route) issues.push(`route: no route "${req.route}" in namespace "${namespace}"${ns.routes.length > 0 ? ` (there are ${ns.routes.map((r) => r.id).join(", ")})` : ""}`);
    else if (route.path[0] !== req.src || route.path[route.path.length - 1] !== req.dst) {
      issues.push(`route: ${req.route} goes from ${route.path[0]} to ${route.path[route.path.length - 1]}, not from ${req.src} to ${req.dst}`);
    }
  }
  if (issues.length > 0) throw new ApiError(422, "invalid_flow", `the flow is invalid: ${issues.join("; ")}`, { issues });
  const active = ns.flows.filter((f) => f.ended === undefined && f.dst === req.dst);
  const n = ns.nextFlow;
  let port = req.port;
  if (port !== undefined) {
    const clash = active.find((f) => f.port === port);
    if (clash) throw new ApiError(409, "flow_port_in_use", `flow ${clash.id} already goes to ${req.dst} port ${port}; give another port or stop it first`, { id: clash.id });
  } else {
    port = FLOW_PORT_BASE + (n % 40000);
    while (active.some((f) => f.port === port)) port = port >= 65535 ? FLOW_PORT_BASE : port + 1;
  }
  const record: FlowRecord = {
    id: `f${n}`,
    src: req.src,
    dst: req.dst,
    transport: req.transport,
    port,
    weight: req.weight,
    ...askedFields(req),
    created: now,
  };
  deps.namespaces.replace({ ...ns, flows: [...ns.flows, record], nextFlow: n + 1 });
  return flowRow(deps.hub.flows, namespace, record);
}

/**
 * Stops a flow that has not ended (its agents reset its connection; it is
 * listed as failed, "stopped"); removes an ended one from the list.
 */
export function deleteFlow(deps: Deps, namespace: string, id: string, now = Date.now()): FlowRow & { removed: boolean } {
  const ns = deps.namespaces.get(namespace);
  const record = findFlow(ns, id);
  if (record.ended === undefined) {
    const stopped = finalRecord(deps.hub.flows, namespace, record, now, "stopped by request");
    deps.namespaces.replace({ ...ns, flows: ns.flows.map((f) => (f.id === id ? stopped : f)) });
    return { ...flowRow(deps.hub.flows, namespace, stopped), removed: false };
  }
  deps.namespaces.replace({ ...ns, flows: ns.flows.filter((f) => f.id !== id) });
  deps.hub.flows.forget(namespace, id);
  return { ...flowRow(deps.hub.flows, namespace, record), removed: true };
}

/**
 * An end of flow `id` reported that it finished or failed: once the flow as a
 * whole is over, its final figures go into its record and agents stop running it.
 */
export function settleFlow(deps: Deps, namespace: string, id: string, now = Date.now()): void {
  const ns = deps.namespaces.find(namespace);
  const record = ns?.flows.find((f) => f.id === id);
  if (!ns || !record || record.ended !== undefined) return;
  const sender = deps.hub.flows.get(namespace, id, "sender")?.end;
  const receiver = deps.hub.flows.get(namespace, id, "receiver")?.end;
  const kinds = new Map(ns.nodes.map((n) => [n.name, n.kind]));
  const sends = kinds.get(record.src) === "userspace";
  const receives = kinds.get(record.dst) === "userspace";
  const failed = sender?.state === "failed" || receiver?.state === "failed";
  // both ends it has must be over; a failure at either end is the end of it
  const done = failed || ((!sends || over(sender)) && (!receives || over(receiver)));
  if (!done) return;
  deps.namespaces.replace({ ...ns, flows: ns.flows.map((f) => (f.id === id ? finalRecord(deps.hub.flows, namespace, record, now) : f)) });
}

/** The record with its ends' last figures, marked ended at `now`. */
function finalRecord(reports: FlowReports, namespace: string, record: FlowRecord, now: number, stopped?: string): FlowRecord {
  const sender = reports.get(namespace, record.id, "sender");
  const receiver = reports.get(namespace, record.id, "receiver");
  const samples = (sender ?? receiver)?.samples;
  const stop = (e: FlowEnd | undefined): FlowEnd | undefined =>
    stopped === undefined || over(e) ? e : { ...(e ?? { bytes: 0, retransmits: 0 }), state: "failed", error: stopped };
  const s = stop(sender?.end) ?? (stopped !== undefined ? { state: "failed" as const, bytes: 0, retransmits: 0, error: stopped } : undefined);
  const r = receiver?.end !== undefined ? stop(receiver.end) : undefined;
  return {
    ...record,
    ended: now,
    ...(s ? { sender: s } : {}),
    ...(r ? { receiver: r } : {}),
    ...(samples && samples.length > 0 ? { samples: [...samples] } : {}),
  };
}

/** The flow, or a 404 naming it and the ones there are. */
export function findFlow(ns: NamespaceRecord, id: string): FlowRecord {
  const record = ns.flows.find((f) => f.id === id);
  if (!record) {
    const known = ns.flows.map((f) => f.id);
    throw new ApiError(404, "flow_not_found", `no flow "${id}" in namespace "${ns.name}"${known.length > 0 ? ` (there are ${known.join(", ")})` : ""}`, { flows: known });
  }
  return record;
}

/** A listing row: the record joined with the live reports (or its final figures, once ended). */
export function flowRow(reports: FlowReports, namespace: string, f: FlowRecord, withSamples = false): FlowRow {
  const liveS = reports.get(namespace, f.id, "sender");
  const liveR = reports.get(namespace, f.id, "receiver");
  const sender = f.sender ?? liveS?.end;
  const receiver = f.receiver ?? liveR?.end;
  const first = sender ?? receiver;
  const state =
    f.ended !== undefined
      ? sender?.state === "failed" || receiver?.state === "failed"
        ? "failed"
        : "finished"
      : sender?.state === "running" || receiver?.state === "running" || over(sender) || over(receiver)
        ? "running"
        : "pending";
  const delivered = receiver?.bytes ?? sender?.bytes ?? 0;
  const started = first?.startedAt;
  const finishedAt = sender?.finishedAt ?? receiver?.finishedAt;
  const completionMs = sender?.durationMs ?? receiver?.durationMs;
  const elapsed = completionMs ?? (started !== undefined ? (finishedAt ?? Date.now()) - started : 0);
  const error = sender?.error ?? receiver?.error;
  const samples: ThroughputSample[] = f.samples ?? (liveS ?? liveR)?.samples ?? [];
  return {
    id: f.id,
    src: f.src,
    dst: f.dst,
    transport: f.transport,
    port: f.port,
    ...askedFields(f),
    weight: f.weight,
    state,
    delivered,
    throughput: elapsed > 0 ? (delivered * 8 * 1000) / elapsed : 0,
    retransmits: sender?.retransmits ?? 0,
    ...(started !== undefined ? { started: new Date(started).toISOString() } : {}),
    ...(finishedAt !== undefined && state === "finished" ? { finished: new Date(finishedAt).toISOString() } : {}),
    ...(completionMs !== undefined && state === "finished" ? { completionMs } : {}),
    ...(sender?.sha256 !== undefined ? { sha256: sender.sha256 } : {}),
    ...(receiver?.sha256 !== undefined ? { receivedSha256: receiver.sha256 } : {}),
    ...(error !== undefined ? { error } : {}),
    created: new Date(f.created).toISOString(),
    ...(withSamples ? { samples } : {}),
  };
}

function placedNode(ns: NamespaceRecord, name: string, field: string): NodeSpec {
  const node = ns.nodes.find((n) => n.name === name);
  if (node) {
    if (node.host === "") throw new ApiError(409, "node_not_placed", `${field}: node ${name} has no host yet`, { node: name });
    return node;
  }
  if (ns.queue.some((g) => g.names.includes(name))) {
    throw new ApiError(409, "node_not_placed", `${field}: node ${name} is queued and has no host yet; schedule it before starting a flow from or to it`, { node: name });
  }
  throw new ApiError(404, "node_not_found", `${field}: no node named "${name}" in namespace "${ns.name}"`, { node: name });
}
