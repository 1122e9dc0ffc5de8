/**
 * @module
 * GET /namespaces/{ns}/stats: `{links, flows}` in JSON (flows as
 * GET .../flows lists them); `format=table|csv` renders the link rows.
 */
import { Hono } from "hono";
import type { LinkStatsRow } from "../../protocol/api.ts";
import { type Listing, parseFormat, renderList } from "../format.ts";
import type { AppDeps } from "../http.ts";
import { formatMeasured, formatRate } from "../../protocol/units.ts";
import { linkStatsRows } from "../views.ts";
import { flowRow } from "../flows.ts";

export const LINK_STATS_LISTING: Listing<LinkStatsRow> = {
  columns: [
    { name: "link", value: (s) => s.link },
    { name: "dir", value: (s) => s.dir },
    { name: "from", value: (s) => s.from },
    { name: "to", value: (s) => s.to },
    { name: "state", value: (s) => s.state },
    { name: "bandwidth", value: (s) => s.bandwidth, text: (s) => (s.bandwidth > 0 ? formatRate(s.bandwidth) : "-") },
    { name: "packets", value: (s) => s.packets },
    { name: "bytes", value: (s) => s.bytes },
    { name: "dropped", value: (s) => s.dropped },
    { name: "drops", value: (s) => s.drops, text: (s) => Object.entries(s.drops).map(([k, v]) => `${k}=${v}`).join(",") || "-" },
    { name: "bps", value: (s) => s.bps, text: (s) => formatMeasured(s.bps, "bit/s") },
    { name: "pps", value: (s) => s.pps, text: (s) => String(Math.round(s.pps)) },
    { name: "utilization", value: (s) => s.utilization, text: (s) => (s.bandwidth > 0 ? `${(s.utilization * 100).toFixed(1)}%` : "-") },
    { name: "queued", value: (s) => s.queued },
    { name: "queuedMax", value: (s) => s.queuedMax },
    { name: "dropsInterval", value: (s) => s.dropsInterval, text: (s) => Object.entries(s.dropsInterval).map(([k, v]) => `${k}=${v}`).join(",") || "-" },
  ],
  table: ["link", "from", "to", "state", "bps", "utilization", "queued", "queuedMax", "packets", "dropped", "drops"],
};

export function statsRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/namespaces/:ns/stats", (c) => {
    const ns = deps.namespaces.get(c.req.param("ns"));
    const rows = linkStatsRows(ns, deps.hub);
    const query = { format: c.req.query("format"), columns: c.req.query("columns") };
    const r = renderList(rows, LINK_STATS_LISTING, query);
    if (parseFormat(query.format) !== "json") return c.body(r.body, 200, { "content-type": r.contentType });
    const flows = ns.flows.map((f) => flowRow(deps.hub.flows, ns.name, f));
    return c.body(`{"links":${r.body},"flows":${JSON.stringify(flows)}}`, 200, { "content-type": r.contentType });
  });
  return app;
}
