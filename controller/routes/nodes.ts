/** @module GET /namespaces/{ns}/nodes and POST /namespaces/{ns}/nodes/{name}/exec. */
import { Hono } from "hono";
import { ExecRequest, type ExecResponse, type NodeRow } from "../../protocol/api.ts";
import { ApiError } from "../../protocol/errors.ts";
import type { Listing } from "../format.ts";
import { allowSlowResponse, type AppDeps, readBody, sendList } from "../http.ts";
import { nodeRows } from "../views.ts";

/** Long enough for a ping or a short iperf3; callers with longer commands pass timeoutMs. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

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

  app.post("/namespaces/:ns/nodes/:name/exec", async (c) => {
    const ns = c.req.param("ns");
    const node = deps.namespaces.node(ns, c.req.param("name"));
    const body = await readBody(c, ExecRequest);
    const seen = deps.hub.observeNode(node.host, ns, node.name);
    if (seen.state !== "running") {
      throw new ApiError(409, "node_not_running", `node ${node.name} is ${seen.state} on host ${node.host}; exec needs a running node`, {
        state: seen.state,
      });
    }
    const timeoutMs = body.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    allowSlowResponse(c, timeoutMs / 1000 + 10);
    const result: ExecResponse = await deps.hub.exec(node.host, ns, node.name, body.command, timeoutMs);
    return c.json(result);
  });

  return app;
}
