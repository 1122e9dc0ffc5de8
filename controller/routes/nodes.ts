/** @module GET /namespaces/{ns}/nodes (exec is in nodes-exec.ts, files in files.ts). */
import { Hono } from "hono";
import type { NodeRow } from "../../protocol/api.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, sendList } from "../http.ts";
import { nodeRows } from "../views.ts";

export const NODE_LISTING: Listing<NodeRow> = {
  columns: [
    { name: "name", value: (n) => n.name },
    { name: "host", value: (n) => n.host },
    { name: "kind", value: (n) => n.kind },
    { name: "state", value: (n) => n.state },
    { name: "ip", value: (n) => n.ip },
    { name: "vcpus", value: (n) => n.vcpus },
    { name: "memoryMB", value: (n) => n.memoryMB },
    { name: "links", value: (n) => n.links },
    { name: "netns", value: (n) => n.netns },
    { name: "mtu", value: (n) => n.mtu },
    { name: "index", value: (n) => n.index },
    { name: "error", value: (n) => n.error },
  ],
  table: ["name", "host", "kind", "state", "ip", "links"],
};

export function nodeRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/nodes", (c) => sendList(c, nodeRows(deps.namespaces.get(c.req.param("ns")), deps.hub), NODE_LISTING));

  return app;
}
