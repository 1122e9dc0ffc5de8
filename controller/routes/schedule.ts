/**
 * @module
 * The schedule of a namespace: POST /namespaces/{ns}/schedule places the
 * queue (a dry run stores and answers the plan; otherwise the nodes are
 * created, 201, answering where they went), GET answers the stored plan,
 * POST .../schedule/move edits it, GET .../schedule/status lists the runs.
 */
import { Hono } from "hono";
import { type PlanEntry, ScheduleMove, ScheduleRequest, type ScheduleStatusRow } from "../../protocol/launch.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, readBody, sendList } from "../http.ts";
import { Scheduling } from "../scheduling.ts";

export const PLAN_LISTING: Listing<PlanEntry> = {
  columns: [
    { name: "node", value: (p) => p.node },
    { name: "host", value: (p) => p.host },
  ],
};

export const STATUS_LISTING: Listing<ScheduleStatusRow> = {
  columns: [
    { name: "start", value: (r) => r.start },
    { name: "end", value: (r) => r.end },
    { name: "state", value: (r) => r.state },
    { name: "launched", value: (r) => r.launched },
    { name: "failures", value: (r) => r.failures },
    { name: "total", value: (r) => r.total },
    { name: "hosts", value: (r) => r.hosts },
    { name: "error", value: (r) => r.error },
  ],
};

export function scheduleRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const scheduling = new Scheduling(deps);

  app.post("/namespaces/:ns/schedule", async (c) => {
    const name = c.req.param("ns");
    deps.namespaces.get(name);
    // `curl -X POST .../schedule` sends no body at all: that is {} (not a dry run)
    const { dryRun } = c.req.raw.body === null ? ScheduleRequest.parse({}) : await readBody(c, ScheduleRequest);
    return c.json(scheduling.schedule(name, dryRun), dryRun ? 200 : 201);
  });

  app.get("/namespaces/:ns/schedule", (c) => sendList(c, scheduling.plan(c.req.param("ns")), PLAN_LISTING));

  app.post("/namespaces/:ns/schedule/move", async (c) => {
    const name = c.req.param("ns");
    deps.namespaces.get(name);
    const { nodes, host } = await readBody(c, ScheduleMove);
    return c.json(scheduling.move(name, nodes, host));
  });

  app.get("/namespaces/:ns/schedule/status", (c) => sendList(c, scheduling.status(c.req.param("ns")), STATUS_LISTING));

  return app;
}
