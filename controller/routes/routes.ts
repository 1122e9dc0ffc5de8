/**
 * @module GET and PUT /namespaces/{ns}/routes (the explicit route table, whose
 * routes with the same ends form each pair's route set), PATCH a route's
 * weight, and GET and PUT /namespaces/{ns}/pins.
 */
import { Hono } from "hono";
import { RoutePatch, RoutesPut } from "../../protocol/api.ts";
import { Pins, type Pin } from "../../protocol/pins.ts";
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
    // a DAG route's hops, "a>b,a>c,..."; "-" for a path route
    { name: "edges", value: (r) => r.edges ?? null, text: (r) => (r.edges ? r.edges.map(([a, b]) => `${a}>${b}`).join(",") : "-") },
  ],
};

export const PIN_LISTING: Listing<Pin> = {
  columns: [
    { name: "src", value: (p) => p.src ?? null, text: (p) => p.src ?? "*" },
    { name: "dst", value: (p) => p.dst ?? null, text: (p) => p.dst ?? "*" },
    { name: "proto", value: (p) => p.proto ?? null, text: (p) => p.proto ?? "*" },
    { name: "srcPort", value: (p) => p.srcPort ?? null, text: (p) => (p.srcPort === undefined ? "*" : String(p.srcPort)) },
    { name: "dstPort", value: (p) => p.dstPort ?? null, text: (p) => (p.dstPort === undefined ? "*" : String(p.dstPort)) },
    { name: "route", value: (p) => p.route },
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

  app.patch("/namespaces/:ns/routes/:id", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns);
    const body = await readBody(c, RoutePatch);
    return c.json(deps.namespaces.patchRoute(ns, c.req.param("id"), body.weight));
  });

  app.get("/namespaces/:ns/pins", (c) => sendList(c, deps.namespaces.get(c.req.param("ns")).pins, PIN_LISTING));

  app.put("/namespaces/:ns/pins", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns);
    const body = await readBody(c, Pins);
    return c.json(deps.namespaces.replacePins(ns, body));
  });

  return app;
}
