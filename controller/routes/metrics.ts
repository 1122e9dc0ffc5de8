/** @module GET /metrics: Prometheus text, behind the API token like everything else. */
import { Hono } from "hono";
import type { AppDeps } from "../http.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics.ts";

export function metricsRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/metrics", (c) => c.body(renderMetrics(deps.hub, deps.namespaces), 200, { "content-type": METRICS_CONTENT_TYPE }));
  return app;
}
