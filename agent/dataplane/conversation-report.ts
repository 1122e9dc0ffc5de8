/**
 * Turns the conversation table's records (node ids, path indices, monotonic
 * nanoseconds) into the reports agents send (names, route ids, node paths, ms
 * since the epoch), using the tables they were counted under. Runs once a
 * second in the dataplane worker, off the per-packet path.
 */
import type { ConversationReport } from "../../protocol/conversation.ts";
import { MAX_REPORTED_HOPS } from "../../protocol/conversation.ts";
import type { ConversationRecord } from "./conversations.ts";
import { DROP_REASONS } from "./drops.ts";
import type { DataplaneTables } from "./tables.ts";

/** Route name of a direction that follows the next-hop tables. */
export const SHORTEST_ROUTE = "shortest";

function nodeName(t: DataplaneTables, g: number): string {
  const key = t.nodeKeys[g];
  return key.slice(key.indexOf("/") + 1);
}

/** Whether `g` is a node of these tables. */
function held(t: DataplaneTables, g: number): boolean {
  return g >= 0 && g < t.nodeKeys.length;
}

/** The route id and node names a direction from `src` to `dst` takes on path `path` (or by next hops). */
export function describePath(t: DataplaneTables, path: number, src: number, dst: number): { route: string; path: string[] } {
  const r = t.routing;
  const nodes = [nodeName(t, src)];
  if (path >= 0 && path < r.pathStart.length) {
    const start = r.pathStart[path];
    const len = Math.min(r.pathLen[path], MAX_REPORTED_HOPS);
    for (let h = 0; h < len; h++) nodes.push(nodeName(t, t.dirTo[r.routeHops[start + h]]));
    return { route: r.memberName[r.pathMember[path]], path: nodes };
  }
  const ns = t.nodeNs[src];
  const base = t.nsBase[ns];
  const n = t.nsSize[ns];
  let at = src;
  for (let h = 0; h < MAX_REPORTED_HOPS && at !== dst; h++) {
    const dir = r.nextDir[ns][(at - base) * n + (dst - base)];
    if (!(dir >= 0)) break;
    at = t.dirTo[dir];
    nodes.push(nodeName(t, at));
  }
  return { route: SHORTEST_ROUTE, path: nodes };
}

/**
 * Reports for `records`; `toEpochMs(ns)` converts the worker's clock. Records
 * of nodes the tables no longer hold are left out.
 */
export function conversationReports(records: ConversationRecord[], t: DataplaneTables, toEpochMs: (ns: number) => number): ConversationReport[] {
  const out: ConversationReport[] = [];
  for (const c of records) {
    if (!held(t, c.src) || !held(t, c.dst) || t.nodeNs[c.src] !== t.nodeNs[c.dst]) continue;
    const fwd = describePath(t, c.path, c.src, c.dst);
    const drops: Record<string, number> = {};
    for (const [reason, n] of c.drops) drops[DROP_REASONS[reason]] = n;
    const key = t.nodeKeys[c.src];
    const report: ConversationReport = {
      seq: c.seq,
      namespace: key.slice(0, key.indexOf("/")),
      src: nodeName(t, c.src),
      dst: nodeName(t, c.dst),
      proto: c.proto,
      srcPort: c.srcPort,
      dstPort: c.dstPort,
      route: fwd.route,
      path: fwd.path,
      start: toEpochMs(c.first),
      last: toEpochMs(c.last),
      packets: c.packets,
      bytes: c.bytes,
      payload: c.payload,
      packetsBack: c.packetsBack,
      bytesBack: c.bytesBack,
      payloadBack: c.payloadBack,
      syn: c.syn,
      drops,
      ...(c.endReason ? { endReason: c.endReason } : {}),
    };
    if (c.packetsBack > 0) {
      const back = describePath(t, c.pathBack, c.dst, c.src);
      report.routeBack = back.route;
      report.pathBack = back.path;
    }
    out.push(report);
  }
  return out;
}
