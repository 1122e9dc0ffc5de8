/** @module GET /health: liveness and version, the one route that needs no token. */
import { Hono } from "hono";
import type { Health } from "../../protocol/api.ts";
import type { AppDeps } from "../http.ts";

export function healthRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ ok: true, version: deps.version } satisfies Health));
  return app;
}
