/**
 * @module
 * GET /namespaces, GET /namespaces/{ns} and PUT /namespaces/{ns}/topology,
 * which applies a whole topology document (creating the namespace if needed).
 */
import { Hono } from "hono";
import type { NamespaceRow, TopologyApplied } from "../../protocol/api.ts";
import { ApiError, describeIssues } from "../../protocol/errors.ts";
import { Name } from "../../protocol/names.ts";
import { TopologyDocument } from "../../protocol/topology.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, sendList } from "../http.ts";
import { namespaceRow, namespaceSummary } from "../views.ts";

export const NAMESPACE_LISTING: Listing<NamespaceRow> = {
  columns: [
    { name: "name", value: (n) => n.name },
    { name: "nodes", value: (n) => n.nodes },
    { name: "hosts", value: (n) => n.hosts },
    { name: "queueing", value: (n) => n.queueing },
    { name: "load", value: (n) => n.load },
  ],
};

export function namespaceRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces", (c) => sendList(c, deps.namespaces.list().map(namespaceRow), NAMESPACE_LISTING));

  app.get("/namespaces/:ns", (c) => c.json(namespaceSummary(deps.namespaces.get(c.req.param("ns")), deps.hub)));

  app.put("/namespaces/:ns/topology", async (c) => {
    const name = c.req.param("ns");
    const valid = Name.safeParse(name);
    if (!valid.success) {
      const issue = `namespace: ${valid.error.issues[0]?.message ?? "invalid name"}`;
      throw new ApiError(422, "invalid_request", issue, { issues: [issue] });
    }
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch (e) {
      throw new ApiError(400, "invalid_json", `the topology is not valid JSON: ${(e as Error).message}`);
    }
    const doc = TopologyDocument.safeParse(raw);
    if (!doc.success) {
      const issues = describeIssues(doc.error.issues);
      throw new ApiError(422, "invalid_topology", `the topology is invalid: ${issues.join("; ")}`, { issues });
    }
    const result = deps.namespaces.applyDocument(name, doc.data);
    const body: TopologyApplied = {
      ...namespaceSummary(result.record, deps.hub),
      changes: { added: result.added, removed: result.removed, kept: result.kept },
    };
    return c.json(body);
  });

  return app;
}
