/**
 * @module
 * POST /namespaces/{ns}/run: one command on every host of the namespace, at
 * once, through each host's agent (minimega's `ns run`). The answer lists
 * every host in name order with its exit code and output; a host that is not
 * connected, or whose agent fails, is in the list with exitCode -1 and why,
 * so one bad host does not hide the others' results.
 */
import { Hono } from "hono";
import { HostRunRequest, type HostRunRow } from "../../protocol/api.ts";
import type { Listing } from "../format.ts";
import { allowSlowResponse, type AppDeps, readBody, sendList } from "../http.ts";
import { DEFAULT_EXEC_TIMEOUT_MS } from "./nodes-exec.ts";

export const HOST_RUN_LISTING: Listing<HostRunRow> = {
  columns: [
    { name: "host", value: (r) => r.host },
    { name: "exitCode", value: (r) => r.exitCode },
    { name: "stdout", value: (r) => r.stdout },
    { name: "stderr", value: (r) => r.stderr },
    { name: "error", value: (r) => r.error },
  ],
};

export function runRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.post("/namespaces/:ns/run", async (c) => {
    const namespace = c.req.param("ns");
    const ns = deps.namespaces.get(namespace);
    const body = await readBody(c, HostRunRequest);
    const timeoutMs = body.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    allowSlowResponse(c, timeoutMs / 1000 + 10);
    const hosts = deps.namespaces.hostsOf(ns);
    const rows = await Promise.all(
      hosts.map(async (host): Promise<HostRunRow> => {
        try {
          const exec = deps.hub.exec(host, { namespace, command: body.command, timeoutMs, stdin: false });
          return { host, ...(await exec.collect()) };
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          return { host, exitCode: -1, stdout: "", stderr: "", error: why };
        }
      }),
    );
    return sendList(c, rows, HOST_RUN_LISTING);
  });

  return app;
}
