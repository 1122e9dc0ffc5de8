/**
 * @module
 * GET /namespaces/{ns}/stats: `{links, flows}` in JSON; `format=table|csv`
 * renders the link rows (flows arrive with the flows issue).
 */
import { Hono } from "hono";
import type { LinkStatsRow } from "../../protocol/api.ts";
import { type Listing, parseFormat, renderList } from "../format.ts";
import type { AppDeps } from "../http.ts";
import { linkStatsRows } from "../views.ts";

export const LINK_STATS_LISTING: Listing<LinkStatsRow> = {
  columns: [
    { name: "link", value: (s) => s.link },
    { name: "dir", value: (s) => s.dir },
    { name: "from", value: (s) => s.from },
    { name: "to", value: (s) => s.to },
    { name: "packets", value: (s) => s.packets },
    { name: "bytes", value: (s) => s.bytes },
    { name: "dropped", value: (s) => s.dropped },
    { name: "drops", value: (s) => s.drops, text: (s) => Object.entries(s.drops).map(([k, v]) => `${k}=${v}`).join(",") || "-" },
  ],
  table: ["link", "from", "to", "packets", "bytes", "dropped", "drops"],
};

export function statsRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/namespaces/:ns/stats", (c) => {
    const rows = linkStatsRows(deps.namespaces.get(c.req.param("ns")), deps.hub);
    const query = { format: c.req.query("format"), columns: c.req.query("columns") };
    const r = renderList(rows, LINK_STATS_LISTING, query);
    if (parseFormat(query.format) !== "json") return c.body(r.body, 200, { "content-type": r.contentType });
    return c.body(`{"links":${r.body},"flows":[]}`, 200, { "content-type": r.contentType });
  });
  return app;
}
