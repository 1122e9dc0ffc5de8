/**
 * @module
 * The JSON shapes the API answers with (protocol/api.ts), built from desired
 * state (the store, through Namespaces) joined with what agents observe (the
 * hub). Shared by the route files so a namespace reads the same wherever it
 * appears.
 */
import type { HostRow, LinkStatsRow, NamespaceRow, NamespaceSummary, NodeRow } from "../protocol/api.ts";
import type { AgentHub } from "./hub.ts";
import type { Namespaces } from "./namespaces.ts";
import type { NamespaceRecord } from "./store.ts";

/** What every node asks of its host until nodes carry their own sizes. */
export const NODE_VCPUS = 1;
export const NODE_MEMORY_MB = 2048;

export function nodeRows(ns: NamespaceRecord, hub: AgentHub): NodeRow[] {
  const linkCount = new Map<string, number>();
  for (const l of ns.links) {
    linkCount.set(l.a, (linkCount.get(l.a) ?? 0) + 1);
    linkCount.set(l.b, (linkCount.get(l.b) ?? 0) + 1);
  }
  return ns.nodes.map((n) => {
    const seen = hub.observeNode(n.host, ns.name, n.name);
    return {
      name: n.name,
      host: n.host,
      kind: n.kind,
      state: seen.state,
      ip: n.ip,
      vcpus: NODE_VCPUS,
      memoryMB: NODE_MEMORY_MB,
      links: linkCount.get(n.name) ?? 0,
      ...(seen.netns === undefined ? {} : { netns: seen.netns }),
      ...(seen.error === undefined ? {} : { error: seen.error }),
      mtu: n.mtu,
      index: n.index,
    };
  });
}

export function hostRows(hub: AgentHub, namespaces: Namespaces): HostRow[] {
  const nodes = new Map<string, number>();
  const linkEnds = new Map<string, number>();
  for (const ns of namespaces.list()) {
    const where = new Map(ns.nodes.map((n) => [n.name, n.host]));
    for (const n of ns.nodes) nodes.set(n.host, (nodes.get(n.host) ?? 0) + 1);
    for (const l of ns.links) {
      for (const end of [l.a, l.b]) {
        const host = where.get(end);
        if (host !== undefined) linkEnds.set(host, (linkEnds.get(host) ?? 0) + 1);
      }
    }
  }
  return hub.hosts().map((h) => {
    const count = nodes.get(h.name) ?? 0;
    return {
      name: h.name,
      address: h.address,
      cpus: h.facts.cpus,
      memTotalMB: h.facts.memTotalMB,
      memUsedMB: h.facts.memUsedMB,
      load: h.facts.load,
      nodes: count,
      cpuCommit: count * NODE_VCPUS,
      memCommit: count * NODE_MEMORY_MB,
      netCommit: linkEnds.get(h.name) ?? 0,
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
  return {
    ...namespaceRow(ns, pool),
    subnet: ns.subnet,
    links: ns.links.length,
    routes: ns.routes.length,
    transport: ns.settings.transport,
    transports: ns.settings.hostTransports,
    states,
  };
}

/** Counter rows for the namespace's links, in link order; directions no agent reported are left out. */
export function linkStatsRows(ns: NamespaceRecord, hub: AgentHub): LinkStatsRow[] {
  const counters = new Map(hub.linkCounters(ns.name).map((c) => [`${c.id}/${c.dir}`, c]));
  const rows: LinkStatsRow[] = [];
  for (const l of ns.links) {
    for (const dir of ["ab", "ba"] as const) {
      const c = counters.get(`${l.id}/${dir}`);
      if (!c) continue;
      const [from, to] = dir === "ab" ? [l.a, l.b] : [l.b, l.a];
      const dropped = Object.values(c.drops).reduce((s, n) => s + n, 0);
      rows.push({ link: l.id, dir, from, to, packets: c.packets, bytes: c.bytes, dropped, drops: c.drops });
    }
  }
  return rows;
}
