/** @module GET and PUT /namespaces/{ns}/routes: the explicit route table. */
import { Hono } from "hono";
import { RoutesPut } from "../../protocol/api.ts";
import type { RouteSpec } from "../../protocol/state.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, readBody, sendList } from "../http.ts";

export const ROUTE_LISTING: Listing<RouteSpec> = {
  columns: [
    { name: "id", value: (r) => r.id },
    { name: "src", value: (r) => r.path[0] },
    { name: "dst", value: (r) => r.path[r.path.length - 1] },
    // ">" keeps a path one table cell with no spaces, so `awk` can still split rows
    { name: "path", value: (r) => r.path, text: (r) => r.path.join(">") },
    { name: "weight", value: (r) => r.weight },
  ],
};

export function routeRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/routes", (c) => sendList(c, deps.namespaces.get(c.req.param("ns")).routes, ROUTE_LISTING));

  app.put("/namespaces/:ns/routes", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns);
    const body = await readBody(c, RoutesPut);
    return c.json(deps.namespaces.replaceRoutes(ns, body));
  });

  return app;
}
