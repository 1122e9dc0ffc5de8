/**
 * @module
 * POST /namespaces/{ns}/nodes/{name}/{start|stop|kill} and
 * DELETE /namespaces/{ns}/nodes/{name}: `name` may be a range or `all`.
 */
import { Hono } from "hono";
import { applyLifecycle, LifecycleAction, removeNodes } from "../lifecycle.ts";
import type { AppDeps } from "../http.ts";

export function lifecycleRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.post("/namespaces/:ns/nodes/:name/:action{start|stop|kill}", (c) => {
    const action = LifecycleAction.parse(c.req.param("action"));
    const nodes = applyLifecycle(deps.namespaces, c.req.param("ns"), c.req.param("name"), action);
    return c.json({ action, nodes });
  });

  app.delete("/namespaces/:ns/nodes/:name", (c) => {
    const ns = c.req.param("ns");
    return c.json(removeNodes(deps.namespaces, ns, c.req.param("name"), (host, node) => deps.hub.observeNode(host, ns, node).state));
  });

  return app;
}
