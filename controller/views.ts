/**
 * @module
 * The JSON shapes the API answers with (protocol/api.ts), built from desired
 * state (the store, through Namespaces) joined with what agents observe (the
 * hub). Shared by the route files so a namespace reads the same wherever it
 * appears.
 */
import type { HostRow, LinkStatsRow, NamespaceRow, NamespaceSummary, NodeRow } from "../protocol/api.ts";
import { DEFAULT_MEMORY_MB, DEFAULT_VCPUS } from "../protocol/launch.ts";
import { DEFAULT_MTU } from "../protocol/topology.ts";
import type { AgentHub } from "./hub.ts";
import type { Namespaces } from "./namespaces.ts";
import { linkEnds, nodesOnHosts } from "./scheduling-facts.ts";
import type { NamespaceRecord } from "./store.ts";

/**
 * The namespace's nodes, then its queued ones (state `queued`, on the host a
 * stored plan gives them, else none; no address until they launch).
 */
export function nodeRows(ns: NamespaceRecord, hub: AgentHub): NodeRow[] {
  const linkCount = linkEnds(ns.links);
  const planned = new Map((ns.plan ?? []).map((p) => [p.node, p.host]));
  const queued = ns.queue.flatMap((g) =>
    g.names.map((name): NodeRow => ({
      name,
      host: planned.get(name) ?? "",
      kind: g.kind ?? "netns",
      state: "queued",
      ip: "",
      vcpus: g.vcpus,
      memoryMB: g.memoryMB,
      links: 0,
      mtu: DEFAULT_MTU,
      index: 0,
    })),
  );
  const nodes = ns.nodes.map((n) => {
    const seen = hub.observeNode(n.host, ns.name, n.name);
    return {
      name: n.name,
      host: n.host,
      kind: n.kind,
      state: seen.state,
      ip: n.ip,
      vcpus: n.vcpus ?? DEFAULT_VCPUS,
      memoryMB: n.memoryMB ?? DEFAULT_MEMORY_MB,
      links: linkCount.get(n.name) ?? 0,
      ...(seen.netns === undefined ? {} : { netns: seen.netns }),
      ...(seen.error === undefined ? {} : { error: seen.error }),
      mtu: n.mtu,
      index: n.index,
    };
  });
  return [...nodes, ...queued];
}

/**
 * Hosts with what the nodes on them commit, summed over every namespace from
 * the same per-node figures the scheduler balances (scheduling-facts.ts):
 * cpuCommit in vcpus, memCommit in MB, netCommit in link ends. The scheduler's
 * cpucommit and memcommit loads are these divided by cpus and memTotalMB.
 */
export function hostRows(hub: AgentHub, namespaces: Namespaces): HostRow[] {
  const commits = new Map<string, { nodes: number; vcpus: number; memoryMB: number; links: number }>();
  for (const n of nodesOnHosts(namespaces.list())) {
    const c = commits.get(n.host) ?? { nodes: 0, vcpus: 0, memoryMB: 0, links: 0 };
    c.nodes++;
    c.vcpus += n.vcpus;
    c.memoryMB += n.memoryMB;
    c.links += n.links;
    commits.set(n.host, c);
  }
  return hub.hosts().map((h) => {
    const c = commits.get(h.name);
    return {
      name: h.name,
      address: h.address,
      cpus: h.facts.cpus,
      memTotalMB: h.facts.memTotalMB,
      memUsedMB: h.facts.memUsedMB,
      load: h.facts.load,
      nodes: c?.nodes ?? 0,
      cpuCommit: c?.vcpus ?? 0,
      memCommit: c?.memoryMB ?? 0,
      netCommit: c?.links ?? 0,
      state: h.state,
      lastSeen: new Date(h.lastSeen).toISOString(),
      privileged: h.facts.privileged,
      addresses: h.facts.addresses,
    };
  });
}

/** `pool` is Namespaces.hostsOf(ns): the hosts its nodes may be placed on. */
export function namespaceRow(ns: NamespaceRecord, pool: string[]): NamespaceRow {
  return {
    name: ns.name,
    nodes: ns.nodes.length,
    hosts: pool,
    queueing: ns.settings.queueing,
    load: ns.settings.load,
  };
}

export function namespaceSummary(ns: NamespaceRecord, pool: string[], hub: AgentHub): NamespaceSummary {
  const states: Record<string, number> = {};
  for (const n of ns.nodes) {
    const s = hub.observeNode(n.host, ns.name, n.name).state;
    states[s] = (states[s] ?? 0) + 1;
  }
  const queued = ns.queue.reduce((sum, g) => sum + g.names.length, 0);
  if (queued > 0) states.queued = queued;
  return {
    ...namespaceRow(ns, pool),
    subnet: ns.subnet,
    links: ns.links.length,
    routes: ns.routes.length,
    transport: ns.settings.transport,
    transports: ns.settings.hostTransports,
    paths: ns.settings.paths,
    pins: ns.pins.length,
    states,
  };
}

/**
 * The namespace's link directions in link order, with the counters and rates
 * agents last reported; directions no agent reported are left out.
 */
export function linkStatsRows(ns: NamespaceRecord, hub: AgentHub): LinkStatsRow[] {
  const rates = hub.links.of(ns.name);
  const rows: LinkStatsRow[] = [];
  for (const l of ns.links) {
    for (const dir of ["ab", "ba"] as const) {
      const r = rates.get(`${l.id}/${dir}`);
      if (!r) continue;
      const [from, to] = dir === "ab" ? [l.a, l.b] : [l.b, l.a];
      const dropped = Object.values(r.drops).reduce((s, n) => s + n, 0);
      const bandwidth = l[dir].bandwidth;
      rows.push({
        link: l.id,
        dir,
        from,
        to,
        state: l.state ?? "up",
        bandwidth,
        packets: r.packets,
        bytes: r.bytes,
        dropped,
        drops: r.drops,
        bps: r.bps,
        pps: r.pps,
        utilization: bandwidth > 0 ? r.bps / bandwidth : 0,
        queued: r.queued,
        queuedMax: r.queuedMax,
        dropsInterval: r.dropsInterval,
      });
    }
  }
  return rows;
}
