/**
 * @module
 * Links of a namespace: list, add, change shaping, remove. Shaping columns
 * show one value when both directions agree and "ab/ba" when they differ.
 */
import { Hono } from "hono";
import { LinkCreate, LinkPatch } from "../../protocol/api.ts";
import type { LinkSpec, Shaping } from "../../protocol/state.ts";
import { formatDuration, formatFraction, formatRate } from "../../protocol/units.ts";
import type { Column, Listing } from "../format.ts";
import { type AppDeps, readBody, sendList } from "../http.ts";

function shapingColumn<K extends keyof Shaping>(name: K, show: (v: Shaping[K]) => string): Column<LinkSpec> {
  return {
    name,
    value: (l) => (l.ab[name] === l.ba[name] ? l.ab[name] : { ab: l.ab[name], ba: l.ba[name] }),
    text: (l) => (l.ab[name] === l.ba[name] ? show(l.ab[name]) : `${show(l.ab[name])}/${show(l.ba[name])}`),
  };
}

export const LINK_LISTING: Listing<LinkSpec> = {
  columns: [
    { name: "id", value: (l) => l.id },
    { name: "a", value: (l) => l.a },
    { name: "b", value: (l) => l.b },
    shapingColumn("bandwidth", formatRate),
    shapingColumn("delay", formatDuration),
    shapingColumn("jitter", formatDuration),
    shapingColumn("loss", formatFraction),
    shapingColumn("queue", String),
    shapingColumn("reorder", String),
  ],
};

export function linkRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/links", (c) => sendList(c, deps.namespaces.get(c.req.param("ns")).links, LINK_LISTING));

  app.post("/namespaces/:ns/links", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns); // 404 before 422: the namespace is the first thing that can be wrong
    const body = await readBody(c, LinkCreate);
    return c.json(deps.namespaces.addLink(ns, body), 201);
  });

  app.patch("/namespaces/:ns/links/:id", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns);
    const body = await readBody(c, LinkPatch);
    return c.json(deps.namespaces.patchLink(ns, c.req.param("id"), body));
  });

  app.delete("/namespaces/:ns/links/:id", (c) => c.json(deps.namespaces.deleteLink(c.req.param("ns"), c.req.param("id"))));

  return app;
}
