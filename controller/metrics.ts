/**
 * @module
 * GET /api/v1/metrics in the Prometheus text format (version 0.0.4): hosts up,
 * nodes by observed state, and the link counters agents report. Built on
 * demand from the hub and the store; nothing is kept between scrapes.
 */
import { NODE_STATES } from "../protocol/state.ts";
import type { AgentHub } from "./hub.ts";
import type { Namespaces } from "./namespaces.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function renderMetrics(hub: AgentHub, namespaces: Namespaces): string {
  const out: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };

  const hosts = hub.hosts();
  family("nextmini_hosts_up", "gauge", "Hosts whose agent is connected and heartbeating.");
  out.push(`nextmini_hosts_up ${hosts.filter((h) => h.state === "up").length}`);
  family("nextmini_host_up", "gauge", "1 while the host's agent is connected and heartbeating, else 0.");
  for (const h of hosts) out.push(`nextmini_host_up${labels({ host: h.name })} ${h.state === "up" ? 1 : 0}`);

  const all = namespaces.list();
  family("nextmini_nodes", "gauge", "Nodes by namespace and observed state.");
  for (const ns of all) {
    const counts = new Map<string, number>(NODE_STATES.map((s) => [s, 0]));
    for (const n of ns.nodes) {
      const s = hub.observeNode(n.host, ns.name, n.name).state;
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    for (const [state, n] of counts) out.push(`nextmini_nodes${labels({ namespace: ns.name, state })} ${n}`);
  }

  const counters = all.flatMap((ns) => hub.linkCounters(ns.name));
  family("nextmini_link_packets_total", "counter", "Packets sent on a link direction.");
  for (const c of counters) out.push(`nextmini_link_packets_total${labels({ namespace: c.namespace, link: c.id, dir: c.dir })} ${c.packets}`);
  family("nextmini_link_bytes_total", "counter", "Bytes sent on a link direction.");
  for (const c of counters) out.push(`nextmini_link_bytes_total${labels({ namespace: c.namespace, link: c.id, dir: c.dir })} ${c.bytes}`);
  family("nextmini_link_drops_total", "counter", "Packets dropped on a link direction, by reason.");
  for (const c of counters) {
    for (const [reason, n] of Object.entries(c.drops)) {
      out.push(`nextmini_link_drops_total${labels({ namespace: c.namespace, link: c.id, dir: c.dir, reason })} ${n}`);
    }
  }
  return `${out.join("\n")}\n`;
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`);
  return `{${parts.join(",")}}`;
}
