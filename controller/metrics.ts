/**
 * @module
 * GET /api/v1/metrics in the Prometheus text format (version 0.0.4): hosts up,
 * nodes by observed state, link directions' counters, rates and queues, drops
 * by reason per host, conversations per host and namespace. Built on demand
 * from the hub and the store; nothing is kept between scrapes. Labels are
 * bounded by hosts, namespaces, links and drop reasons (none per conversation).
 */
import { NODE_STATES } from "../protocol/state.ts";
import type { AgentHub } from "./hub.ts";
import type { LinkStatsRow } from "../protocol/api.ts";
import { linkStatsRows } from "./views.ts";
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

  // per link direction, as /stats lists them: label sets are bounded by the links (never one per conversation)
  const dirs = all.flatMap((ns) => linkStatsRows(ns, hub).map((row) => ({ row, labels: { namespace: ns.name, link: row.link, dir: row.dir } })));
  const perDirection = (name: string, type: "gauge" | "counter", help: string, value: (row: LinkStatsRow) => number) => {
    family(name, type, help);
    for (const { row, labels: l } of dirs) out.push(`${name}${labels(l)} ${value(row)}`);
  };
  perDirection("nextmini_link_packets_total", "counter", "Packets sent on a link direction.", (r) => r.packets);
  perDirection("nextmini_link_bytes_total", "counter", "IP bytes sent on a link direction.", (r) => r.bytes);
  family("nextmini_link_drops_total", "counter", "Segments dropped on a link direction, by reason.");
  for (const { row, labels: l } of dirs) {
    for (const [reason, n] of Object.entries(row.drops)) out.push(`nextmini_link_drops_total${labels({ ...l, reason })} ${n}`);
  }
  perDirection("nextmini_link_rate_bits", "gauge", "Bits per second sent on a link direction over the last half second.", (r) => r.bps);
  perDirection("nextmini_link_rate_packets", "gauge", "Packets per second sent on a link direction over the last half second.", (r) => r.pps);
  perDirection("nextmini_link_utilization", "gauge", "Rate over configured bandwidth of a link direction (0 when unlimited).", (r) => r.utilization);
  perDirection("nextmini_link_queue_segments", "gauge", "Segments in a link direction's queue and delay line now.", (r) => r.queued);
  perDirection("nextmini_link_queue_max_segments", "gauge", "The most segments in a link direction's queue since its agent's previous report.", (r) => r.queuedMax);
  family("nextmini_link_up", "gauge", "1 while a link's state is up, 0 while it is down.");
  for (const ns of all) for (const l of ns.links) out.push(`nextmini_link_up${labels({ namespace: ns.name, link: l.id })} ${l.state === "down" ? 0 : 1}`);

  family("nextmini_drops_total", "counter", "Packets a host's dataplane dropped or refused, by reason (docs/monitoring.md lists the reasons).");
  for (const [host, drops] of hub.hostDrops) {
    for (const [reason, n] of Object.entries(drops)) out.push(`nextmini_drops_total${labels({ host, reason })} ${n}`);
  }

  const totals = [...hub.conversations.totals];
  family("nextmini_conversations_live", "gauge", "Conversations a host's dataplane tracks now.");
  for (const [host, t] of totals) out.push(`nextmini_conversations_live${labels({ host })} ${t.live}`);
  family("nextmini_conversations_started_total", "counter", "Conversations a host's dataplane has seen start.");
  for (const [host, t] of totals) out.push(`nextmini_conversations_started_total${labels({ host })} ${t.started}`);
  family("nextmini_conversations_ended_total", "counter", "Conversations a host's dataplane has seen end (fin, rst, idle or evicted).");
  for (const [host, t] of totals) out.push(`nextmini_conversations_ended_total${labels({ host })} ${t.ended}`);
  family("nextmini_conversations_evicted_total", "counter", "Conversations evicted because a host's table was full.");
  for (const [host, t] of totals) out.push(`nextmini_conversations_evicted_total${labels({ host })} ${t.evicted}`);
  family("nextmini_conversations_listed", "gauge", "Conversations the controller lists, by namespace and state (ended ones for the retention).");
  for (const [namespace, c] of hub.conversations.counts()) {
    out.push(`nextmini_conversations_listed${labels({ namespace, state: "active" })} ${c.active}`);
    out.push(`nextmini_conversations_listed${labels({ namespace, state: "ended" })} ${c.ended}`);
  }
  family("nextmini_event_clients", "gauge", "Clients reading /events.");
  out.push(`nextmini_event_clients ${hub.events.clients}`);
  return `${out.join("\n")}\n`;
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`);
  return `{${parts.join(",")}}`;
}
