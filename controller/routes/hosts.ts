/** @module GET /hosts: every host that ever joined, with facts, commits and liveness. */
import { Hono } from "hono";
import type { HostRow } from "../../protocol/api.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, sendList } from "../http.ts";
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
  return app;
}
