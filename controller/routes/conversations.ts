/**
 * @module
 * GET /namespaces/{ns}/conversations (filters src, dst, route, state; any
 * format) and GET /namespaces/{ns}/conversations/{id} with its samples: the
 * flows the dataplane observed (controller/monitor/conversations.ts).
 */
import { Hono } from "hono";
import { ConversationQuery, type Conversation } from "../../protocol/conversation.ts";
import { ApiError } from "../../protocol/errors.ts";
import { formatMeasured } from "../../protocol/units.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, sendList } from "../http.ts";

const dropsText = (d: Record<string, number>) => Object.entries(d).map(([k, v]) => `${k}=${v}`).join(",") || "-";

export const CONVERSATION_LISTING: Listing<Conversation> = {
  columns: [
    { name: "id", value: (c) => c.id },
    { name: "host", value: (c) => c.host },
    { name: "src", value: (c) => c.src },
    { name: "dst", value: (c) => c.dst },
    { name: "proto", value: (c) => c.proto },
    { name: "srcPort", value: (c) => c.srcPort },
    { name: "dstPort", value: (c) => c.dstPort },
    { name: "route", value: (c) => c.route },
    { name: "path", value: (c) => c.path, text: (c) => c.path.join(">") },
    { name: "routeBack", value: (c) => c.routeBack ?? null, text: (c) => c.routeBack ?? "-" },
    { name: "pathBack", value: (c) => c.pathBack ?? null, text: (c) => c.pathBack?.join(">") ?? "-" },
    { name: "state", value: (c) => c.state },
    { name: "start", value: (c) => c.start },
    { name: "last", value: (c) => c.last },
    { name: "end", value: (c) => c.end ?? null, text: (c) => c.end ?? "-" },
    { name: "endReason", value: (c) => c.endReason ?? null, text: (c) => c.endReason ?? "-" },
    { name: "packets", value: (c) => c.packets },
    { name: "bytes", value: (c) => c.bytes },
    { name: "payload", value: (c) => c.payload, text: (c) => formatMeasured(c.payload, "B") },
    { name: "packetsBack", value: (c) => c.packetsBack },
    { name: "bytesBack", value: (c) => c.bytesBack },
    { name: "payloadBack", value: (c) => c.payloadBack, text: (c) => formatMeasured(c.payloadBack, "B") },
    { name: "bps", value: (c) => c.bps, text: (c) => formatMeasured(c.bps, "bit/s") },
    { name: "bpsBack", value: (c) => c.bpsBack, text: (c) => formatMeasured(c.bpsBack, "bit/s") },
    { name: "drops", value: (c) => c.drops, text: (c) => dropsText(c.drops) },
  ],
  table: ["id", "src", "dst", "proto", "srcPort", "dstPort", "route", "path", "state", "payload", "bps", "drops"],
};

export function conversationRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/conversations", (c) => {
    const ns = deps.namespaces.get(c.req.param("ns"));
    const { format: _f, columns: _c, ...filters } = c.req.query();
    const query = ConversationQuery.parse(filters);
    return sendList(c, deps.hub.conversations.list(ns.name, query), CONVERSATION_LISTING);
  });

  app.get("/namespaces/:ns/conversations/:id", (c) => {
    const ns = deps.namespaces.get(c.req.param("ns"));
    const id = c.req.param("id");
    const found = deps.hub.conversations.get(ns.name, id);
    if (!found) throw new ApiError(404, "conversation_not_found", `no conversation "${id}" in namespace "${ns.name}" (ended ones are kept for a while, then forgotten)`, { id });
    return c.json(found);
  });

  return app;
}
