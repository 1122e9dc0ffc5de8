/**
 * @module
 * Namespaces: list, create, show, change settings and hosts, delete, and
 * PUT /namespaces/{ns}/topology, which applies a whole topology document
 * (creating the namespace if needed).
 * The document is JSON, or YAML when the body says so in its content type,
 * and is checked with the same messages `nextmini up` gives for a file.
 */
import { Hono } from "hono";
import { NamespaceCreate, NamespaceHostsChange, NamespacePatch, type NamespaceRow, type TopologyApplied } from "../../protocol/api.ts";
import { ApiError } from "../../protocol/errors.ts";
import { Name } from "../../protocol/names.ts";
import { type TopologyDocument, TopologyError } from "../../protocol/topology.ts";
import { addFlow } from "../flows.ts";
import { parseTopologyText, parseTopologyValue } from "../../protocol/topology-parse.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, readBody, sendList } from "../http.ts";
import { stringify as stringifyYaml } from "yaml";
import { saveDocument } from "../save.ts";
import type { NamespaceRecord } from "../store.ts";
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

  const summary = (ns: NamespaceRecord) => namespaceSummary(ns, deps.namespaces.hostsOf(ns), deps.hub);

  app.get("/namespaces", (c) =>
    sendList(
      c,
      deps.namespaces.list().map((ns) => namespaceRow(ns, deps.namespaces.hostsOf(ns))),
      NAMESPACE_LISTING,
    ),
  );

  app.post("/namespaces", async (c) => c.json(summary(deps.namespaces.create(await readBody(c, NamespaceCreate))), 201));

  app.get("/namespaces/:ns", (c) => c.json(summary(deps.namespaces.get(c.req.param("ns")))));

  app.patch("/namespaces/:ns", async (c) => {
    const name = c.req.param("ns");
    deps.namespaces.get(name); // 404 before 422
    return c.json(summary(deps.namespaces.update(name, await readBody(c, NamespacePatch))));
  });

  app.delete("/namespaces/:ns", (c) => {
    const removed = deps.namespaces.delete(c.req.param("ns"));
    return c.json({ name: removed.name, nodes: removed.nodes.map((n) => n.name), links: removed.links.length });
  });

  // ?format=yaml answers YAML (what `nextmini up` reads); JSON otherwise
  app.get("/namespaces/:ns/save", (c) => {
    const doc = saveDocument(deps.namespaces.get(c.req.param("ns")));
    if (c.req.query("format") !== "yaml") return c.json(doc);
    return c.body(stringifyYaml(doc), 200, { "content-type": "application/yaml; charset=utf-8" });
  });

  app.post("/namespaces/:ns/hosts", async (c) => {
    const name = c.req.param("ns");
    deps.namespaces.get(name);
    return c.json(summary(deps.namespaces.changeHosts(name, await readBody(c, NamespaceHostsChange))));
  });

  app.put("/namespaces/:ns/topology", async (c) => {
    const name = c.req.param("ns");
    const valid = Name.safeParse(name);
    if (!valid.success) {
      const issue = `namespace: ${valid.error.issues[0]?.message ?? "invalid name"}`;
      throw new ApiError(422, "invalid_request", issue, { issues: [issue] });
    }
    const doc = parseDocument(c.req.header("content-type") ?? "", await c.req.text());
    const result = deps.namespaces.applyDocument(name, doc);
    // checked with the document; they start once its nodes are in place
    const flows = result.flows.map((f) => addFlow(deps, name, f).id);
    const body: TopologyApplied = {
      ...summary(deps.namespaces.get(name)),
      changes: { added: result.added, removed: result.removed, kept: result.kept },
      flows,
    };
    return c.json(body);
  });

  return app;
}

const YAML_TYPES = /^(application|text)\/(x-)?yaml\b/i;

function parseDocument(contentType: string, text: string): TopologyDocument {
  try {
    if (YAML_TYPES.test(contentType)) return parseTopologyText(text, "topology");
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ApiError(400, "invalid_json", `the topology is not valid JSON: ${(e as Error).message}`);
    }
    return parseTopologyValue(raw);
  } catch (e) {
    if (!(e instanceof TopologyError)) throw e;
    throw new ApiError(422, "invalid_topology", `the topology is invalid: ${e.issues.join("; ")}`, { issues: e.issues });
  }
}
