/**
 * @module
 * User-space flows of a namespace (logic in controller/flows.ts):
 * POST /namespaces/{ns}/flows adds one; GET lists them; GET .../{id} shows
 * one with its throughput over time; DELETE .../{id} stops a running one, or
 * removes an ended one from the list.
 */
import { Hono } from "hono";
import { FlowRequest, type FlowRow } from "../../protocol/flow.ts";
import { formatDuration, formatRate, formatSize } from "../../protocol/units.ts";
import { addFlow, deleteFlow, findFlow, flowRow } from "../flows.ts";
import type { Listing } from "../format.ts";
import { type AppDeps, readBody, sendList } from "../http.ts";

/** three significant digits: a table shows a measurement, not its noise */
const rough = (n: number) => Number(n.toPrecision(3));

export const FLOW_LISTING: Listing<FlowRow> = {
  columns: [
    { name: "id", value: (r) => r.id },
    { name: "src", value: (r) => r.src },
    { name: "dst", value: (r) => r.dst },
    { name: "transport", value: (r) => r.transport },
    { name: "port", value: (r) => r.port },
    { name: "bytes", value: (r) => r.bytes, text: (r) => (r.bytes === undefined ? "" : formatSize(r.bytes)) },
    { name: "seconds", value: (r) => r.seconds, text: (r) => (r.seconds === undefined ? "" : formatDuration(r.seconds)) },
    { name: "rate", value: (r) => r.rate, text: (r) => (r.rate === undefined ? "" : formatRate(r.rate)) },
    { name: "weight", value: (r) => r.weight },
    { name: "route", value: (r) => r.route },
    { name: "state", value: (r) => r.state },
    { name: "delivered", value: (r) => r.delivered, text: (r) => formatSize(rough(r.delivered)) },
    { name: "throughput", value: (r) => r.throughput, text: (r) => (r.throughput > 0 ? formatRate(rough(r.throughput)) : "") },
    { name: "retransmits", value: (r) => r.retransmits },
    { name: "started", value: (r) => r.started },
    { name: "finished", value: (r) => r.finished },
    { name: "completionMs", value: (r) => r.completionMs, text: (r) => (r.completionMs === undefined ? "" : `${r.completionMs.toFixed(1)}ms`) },
    { name: "sha256", value: (r) => r.sha256 },
    { name: "receivedSha256", value: (r) => r.receivedSha256 },
    { name: "error", value: (r) => r.error },
    { name: "created", value: (r) => r.created },
  ],
  table: ["id", "src", "dst", "bytes", "seconds", "rate", "weight", "state", "delivered", "throughput", "completionMs", "retransmits", "error"],
};

export function flowRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/flows", (c) => {
    const ns = c.req.param("ns");
    return sendList(c, deps.namespaces.get(ns).flows.map((f) => flowRow(deps.hub.flows, ns, f)), FLOW_LISTING);
  });

  app.post("/namespaces/:ns/flows", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns); // 404 before 422: the namespace is the first thing that can be wrong
    const body = await readBody(c, FlowRequest);
    return c.json(addFlow(deps, ns, body), 201);
  });

  app.get("/namespaces/:ns/flows/:id", (c) => {
    const ns = c.req.param("ns");
    return c.json(flowRow(deps.hub.flows, ns, findFlow(deps.namespaces.get(ns), c.req.param("id")), true));
  });

  app.delete("/namespaces/:ns/flows/:id", (c) => c.json(deleteFlow(deps, c.req.param("ns"), c.req.param("id"))));

  return app;
}
