/**
 * @module
 * Packet captures of a namespace: start one on a node or a link, stop it
 * (it stays listed, so its file can still be fetched), remove a stopped one,
 * and list them joined with what the capturing agent reports. Captures are
 * desired state in the namespace's record; the capturing host's agent gets
 * the running ones in its state (`captureSpecs`) and converges, like nodes.
 *
 * Where: a node's capture runs on the node's host. A link's runs on the host
 * of its `a` end, which sees every packet of both directions as it is
 * delivered (agent/dataplane/forwarder.ts): one file in delivery order, with
 * nothing to merge, even when the link spans two hosts.
 *
 * Removing a stopped capture removes its record, never its file: the file is
 * the experiment's evidence, may not have been fetched yet, and its host may
 * be down; it stays where `file` says until someone deletes it.
 */
import path from "node:path";
import type { CaptureCreate, CaptureDeleted, CaptureRecord, CaptureRow } from "../protocol/capture.ts";
import { ApiError } from "../protocol/errors.ts";
import type { CaptureSpec } from "../protocol/state.ts";
import type { AppDeps } from "./http.ts";
import type { AgentHub } from "./hub.ts";
import type { NamespaceRecord } from "./store.ts";

/** How long a download of a just-stopped capture waits for its agent to say the file is complete. */
export const SETTLE_WAIT_MS = 5000;
/** Past this long after the stop there is nothing to wait for (and the agent may never say: it restarted). */
const SETTLE_WINDOW_MS = 10_000;

type Deps = Pick<AppDeps, "namespaces" | "hub" | "store">;

/** The running captures `host` writes for namespace `ns`, as its agent takes them. */
export function captureSpecs(ns: NamespaceRecord, host: string): CaptureSpec[] {
  return ns.captures
    .filter((c) => c.state === "running" && c.host === host)
    .map((c) => ("node" in c ? { id: c.id, node: c.node, file: c.file, created: c.created } : { id: c.id, link: c.link, file: c.file, created: c.created }));
}

/**
 * The record with running captures of nodes or links it no longer has marked
 * stopped (the same record when there are none): a capture of something
 * removed would otherwise be listed as running while recording nothing.
 */
export function stopOrphanedCaptures(ns: NamespaceRecord, now: number): NamespaceRecord {
  const nodes = new Set(ns.nodes.map((n) => n.name));
  const links = new Set(ns.links.map((l) => l.id));
  const orphaned = (c: CaptureRecord) => c.state === "running" && ("node" in c ? !nodes.has(c.node) : !links.has(c.link));
  if (!ns.captures.some(orphaned)) return ns;
  return { ...ns, captures: ns.captures.map((c) => (orphaned(c) ? { ...c, state: "stopped" as const, stopped: now } : c)) };
}

/** Starts a capture of a node or a link; every check comes before anything is stored. */
export function startCapture(deps: Deps, namespace: string, input: CaptureCreate, now = Date.now()): CaptureRow {
  const ns = deps.namespaces.get(namespace);
  if ((input.node === undefined) === (input.link === undefined)) {
    const why = input.node === undefined ? "give node (a node's name) or link (a link's id)" : "give node or link, not both";
    throw new ApiError(422, "invalid_request", `the capture is invalid: ${why}`, { issues: [`node, link: ${why}`] });
  }
  const { host, target } = input.node !== undefined ? nodeTarget(ns, input.node) : linkTarget(ns, input.link ?? "");
  if (host === "") throw new ApiError(409, "node_not_placed", `${target} has no host yet, so nothing carries its packets`, { host });
  const twin = ns.captures.find((c) => c.state === "running" && ("node" in c ? c.node === input.node : c.link === input.link));
  if (twin) throw new ApiError(409, "capture_exists", `${target} is already captured by ${twin.id} (into ${twin.file}); stop it first`, { id: twin.id });
  const id = `c${ns.nextCapture}`;
  const file = input.file ?? defaultFile(deps, host, namespace, id);
  for (const other of deps.namespaces.list()) {
    const clash = other.captures.find((c) => c.state === "running" && c.host === host && c.file === file);
    if (clash) {
      throw new ApiError(409, "capture_file_in_use", `${file} on host ${host} is being written by capture ${clash.id} of namespace "${other.name}"; give another file`, {
        namespace: other.name,
        id: clash.id,
      });
    }
  }
  const base = { id, host, file, state: "running" as const, created: now };
  const record: CaptureRecord = input.node !== undefined ? { ...base, node: input.node } : { ...base, link: input.link ?? "" };
  deps.namespaces.replace({ ...ns, captures: [...ns.captures, record], nextCapture: ns.nextCapture + 1 });
  return captureRow(deps.hub, namespace, record);
}

/** Stops a running capture (it stays listed); removes a stopped one from the list (its file stays). */
export function deleteCapture(deps: Deps, namespace: string, id: string, now = Date.now()): CaptureDeleted {
  const ns = deps.namespaces.get(namespace);
  const record = findCapture(ns, id);
  if (record.state === "running") {
    const stopped: CaptureRecord = { ...record, state: "stopped", stopped: now };
    deps.namespaces.replace({ ...ns, captures: ns.captures.map((c) => (c.id === id ? stopped : c)) });
    return { ...captureRow(deps.hub, namespace, stopped), removed: false };
  }
  deps.namespaces.replace({ ...ns, captures: ns.captures.filter((c) => c.id !== id) });
  return { ...captureRow(deps.hub, namespace, record), removed: true };
}

/** The capture, or a 404 naming it and the ones there are. */
export function findCapture(ns: NamespaceRecord, id: string): CaptureRecord {
  const record = ns.captures.find((c) => c.id === id);
  if (!record) {
    const known = ns.captures.map((c) => c.id);
    throw new ApiError(404, "capture_not_found", `no capture "${id}" in namespace "${ns.name}"${known.length > 0 ? ` (there are ${known.join(", ")})` : ""}`, {
      captures: known,
    });
  }
  return record;
}

export function captureRow(hub: AgentHub, namespace: string, c: CaptureRecord): CaptureRow {
  const seen = hub.captureCounters(c.host, namespace, c.id);
  return {
    id: c.id,
    ...("node" in c ? { node: c.node } : { link: c.link }),
    hosts: [c.host],
    file: c.file,
    state: c.state,
    packets: seen?.packets ?? 0,
    bytes: seen?.bytes ?? 0,
    created: new Date(c.created).toISOString(),
    ...(c.stopped === undefined ? {} : { stopped: new Date(c.stopped).toISOString() }),
    ...(seen?.error === undefined ? {} : { error: seen.error }),
  };
}

/**
 * Resolves once a just-stopped capture's agent said its file is complete
 * (last records written, file closed), so a download right after a stop
 * holds every packet. Anything else resolves at once: a running capture is
 * read as far as it was written (at most 200 ms behind), and a capture
 * stopped long ago, or one whose agent reported an error, has nothing to wait for.
 */
export async function captureSettled(hub: AgentHub, namespace: string, c: CaptureRecord, now: () => number = Date.now): Promise<void> {
  if (c.state !== "stopped" || c.stopped === undefined || now() - c.stopped > SETTLE_WINDOW_MS) return;
  const limit = now() + SETTLE_WAIT_MS;
  for (;;) {
    const seen = hub.captureCounters(c.host, namespace, c.id);
    if (seen?.closed || seen?.error !== undefined || !hub.isUp(c.host) || now() >= limit) return;
    await Bun.sleep(20);
  }
}

function nodeTarget(ns: NamespaceRecord, name: string): { host: string; target: string } {
  const node = ns.nodes.find((n) => n.name === name);
  if (!node) {
    if (ns.queue.some((g) => g.names.includes(name))) {
      throw new ApiError(409, "node_not_placed", `node ${name} is queued and has no host yet; schedule it before capturing it`, { node: name });
    }
    throw new ApiError(404, "node_not_found", `no node named "${name}" in namespace "${ns.name}"`, { node: name });
  }
  return { host: node.host, target: `node ${name}` };
}

function linkTarget(ns: NamespaceRecord, id: string): { host: string; target: string } {
  const link = ns.links.find((l) => l.id === id);
  if (!link) {
    const known = ns.links.map((l) => l.id);
    throw new ApiError(404, "link_not_found", `no link with id "${id}" in namespace "${ns.name}"`, { link: id, links: known });
  }
  // the a end's host sees both directions (module comment)
  const a = ns.nodes.find((n) => n.name === link.a);
  return { host: a?.host ?? "", target: `link ${id}` };
}

function defaultFile(deps: Deps, host: string, namespace: string, id: string): string {
  const dir = deps.store.getHost(host)?.facts.captureDir;
  if (dir === undefined) {
    throw new ApiError(409, "no_capture_dir", `host ${host} has not said where its agent keeps capture files (has it joined with this release?); give file, an absolute path on ${host}`, {
      host,
    });
  }
  return path.posix.join(dir, `${namespace}-${id}.pcap`);
}
