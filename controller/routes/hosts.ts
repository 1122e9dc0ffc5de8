/**
 * @module GET /hosts: every host that ever joined, with facts, commits and
 * liveness; POST /hosts/probe: the real network between two of them.
 */
import { Hono } from "hono";
import type { HostRow } from "../../protocol/api.ts";
import { HostProbeRequest, PROBE_PING_WAIT_MS, PROBE_PINGS, PROBE_TRANSFER_MS } from "../../protocol/probe.ts";
import type { Listing } from "../format.ts";
import { allowSlowResponse, type AppDeps, readBody, sendList } from "../http.ts";
import { hostRows } from "../views.ts";

export const HOST_LISTING: Listing<HostRow> = {
  columns: [
    { name: "name", value: (h) => h.name },
    { name: "address", value: (h) => h.address },
    { name: "state", value: (h) => h.state },
    { name: "cpus", value: (h) => h.cpus },
    { name: "memTotalMB", value: (h) => h.memTotalMB },
    { name: "memUsedMB", value: (h) => h.memUsedMB },
    { name: "load", value: (h) => h.load },
    { name: "nodes", value: (h) => h.nodes },
    { name: "cpuCommit", value: (h) => h.cpuCommit },
    { name: "memCommit", value: (h) => h.memCommit },
    { name: "netCommit", value: (h) => h.netCommit },
    { name: "lastSeen", value: (h) => h.lastSeen },
    { name: "privileged", value: (h) => h.privileged },
    { name: "addresses", value: (h) => h.addresses },
  ],
  table: ["name", "address", "state", "cpus", "memUsedMB", "memTotalMB", "load", "nodes", "cpuCommit", "memCommit", "netCommit", "lastSeen"],
};

export function hostRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/hosts", (c) => sendList(c, hostRows(deps.hub, deps.namespaces), HOST_LISTING));
  app.post("/hosts/probe", async (c) => {
    const req = await readBody(c, HostProbeRequest);
    // the pings (up to a second each when lost), the transfer, and starting both sides
    allowSlowResponse(c, (PROBE_PINGS * PROBE_PING_WAIT_MS + PROBE_TRANSFER_MS) / 1000 + 40);
    return c.json(await deps.hub.probes.probe(req));
  });
  return app;
}
