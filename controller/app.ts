/**
 * @module
 * `createApp(deps)`: the controller's Hono app. It only assembles the route
 * files under routes/, the bearer-token check and the one error handler that
 * turns ApiError, zod failures and surprises into `{"error": {...}}`.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError, describeIssues } from "../protocol/errors.ts";
import type { AppDeps } from "./http.ts";
import { agentRoutes } from "./routes/agent.ts";
import { captureRoutes } from "./routes/captures.ts";
import { fileRoutes } from "./routes/files.ts";
import { flowRoutes } from "./routes/flows.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { hostRoutes } from "./routes/hosts.ts";
import { launchRoutes } from "./routes/launch.ts";
import { lifecycleRoutes } from "./routes/lifecycle.ts";
import { linkRoutes } from "./routes/links.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { namespaceRoutes } from "./routes/namespaces.ts";
import { nodeRoutes } from "./routes/nodes.ts";
import { execRoutes } from "./routes/nodes-exec.ts";
import { routeRoutes } from "./routes/routes.ts";
import { runRoutes } from "./routes/run.ts";
import { scheduleRoutes } from "./routes/schedule.ts";
import { statsRoutes } from "./routes/stats.ts";
import { constantTimeEqual } from "./tokens.ts";

export type { AppDeps } from "./http.ts";

export const API_BASE = "/api/v1";

/** Paths that do not take the API token: health checks, and agents (they present the join token). */
const OPEN = new Set([`GET ${API_BASE}/health`, `GET ${API_BASE}/agent`]);

export function createApp(deps: AppDeps): Hono {
  const log = deps.log ?? (() => {});
  const app = new Hono();

  app.use("*", async (c, next) => {
    if (OPEN.has(`${c.req.method} ${c.req.path}`)) return next();
    const hint = `pass Authorization: Bearer <token>; the token is in ${deps.tokenHint ?? "~/.nextmini/token"} on the controller's host`;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
    if (!m) throw new ApiError(401, "unauthorized", `missing API token: ${hint}`);
    if (!constantTimeEqual(m[1], deps.apiToken)) throw new ApiError(401, "unauthorized", `API token rejected: ${hint}`);
    await next();
  });

  for (const routes of [healthRoutes, hostRoutes, namespaceRoutes, runRoutes, nodeRoutes, launchRoutes, scheduleRoutes, lifecycleRoutes, execRoutes, fileRoutes, linkRoutes, routeRoutes, captureRoutes, flowRoutes, statsRoutes, metricsRoutes, conversationRoutes, eventRoutes, agentRoutes]) {
    app.route(API_BASE, routes(deps));
  }

  app.notFound((c) => {
    const e = new ApiError(404, "not_found", `no such endpoint: ${c.req.method} ${c.req.path}`);
    return c.json(e.toBody(), 404);
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      const headers: Record<string, string> = err.status === 401 ? { "www-authenticate": 'Bearer realm="nextmini"' } : {};
      return c.json(err.toBody(), err.status, headers);
    }
    if (err instanceof z.ZodError) {
      const issues = describeIssues(err.issues);
      const e = new ApiError(422, "invalid_request", `invalid request: ${issues.join("; ")}`, { issues });
      return c.json(e.toBody(), 422);
    }
    log(`internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return c.json(new ApiError(500, "internal", `internal error: ${err.message}`).toBody(), 500);
  });

  return app;
}
