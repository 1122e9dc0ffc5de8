/**
 * @module
 * POST /namespaces/{ns}/nodes (launch: 201 with the created nodes, or 202
 * with the queued group when the namespace queues), and the queue:
 * GET /namespaces/{ns}/queue lists it in order, DELETE flushes it.
 */
import { Hono } from "hono";
import { type LaunchGroup, LaunchRequest } from "../../protocol/launch.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, readBody, sendList } from "../http.ts";
import { Scheduling } from "../scheduling.ts";
import { nodeRows } from "../views.ts";

/** A long group reads as its first and last names in a table; json and csv keep every name. */
function shortNames(names: readonly string[]): string {
  return names.length <= 4 ? names.join(",") : `${names[0]},${names[1]},...,${names[names.length - 1]}`;
}

export const QUEUE_LISTING: Listing<LaunchGroup> = {
  columns: [
    { name: "names", value: (g) => g.names, text: (g) => shortNames(g.names) },
    { name: "count", value: (g) => g.names.length },
    { name: "kind", value: (g) => g.kind ?? "netns" },
    { name: "vcpus", value: (g) => g.vcpus },
    { name: "memoryMB", value: (g) => g.memoryMB },
    { name: "schedule", value: (g) => g.schedule },
    { name: "coschedule", value: (g) => g.coschedule },
    { name: "colocate", value: (g) => g.colocate },
  ],
};

export function launchRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const scheduling = new Scheduling(deps);

  app.post("/namespaces/:ns/nodes", async (c) => {
    const name = c.req.param("ns");
    deps.namespaces.get(name); // 404 before 422
    const result = scheduling.launch(name, await readBody(c, LaunchRequest));
    if ("queued" in result) return c.json(result.queued, 202);
    const created = new Set(result.created.map((n) => n.name));
    return c.json(
      nodeRows(deps.namespaces.get(name), deps.hub).filter((r) => created.has(r.name)),
      201,
    );
  });

  app.get("/namespaces/:ns/queue", (c) => sendList(c, scheduling.queue(c.req.param("ns")), QUEUE_LISTING));

  app.delete("/namespaces/:ns/queue", (c) => c.json(scheduling.flush(c.req.param("ns"))));

  return app;
}
