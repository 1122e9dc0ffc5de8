/**
 * @module
 * Packet captures of a namespace (logic in controller/captures.ts):
 * POST /namespaces/{ns}/captures starts one on a node or a link; GET lists
 * them; DELETE .../{id} stops a running one, or removes a stopped one;
 * GET .../{id}/file downloads its pcap from the capturing host, streamed
 * through that host's agent as `nextmini cp` streams files (routes/files.ts).
 */
import { Hono } from "hono";
import { CaptureCreate, type CaptureRow } from "../../protocol/capture.ts";
import { captureRow, captureSettled, deleteCapture, findCapture, startCapture } from "../captures.ts";
import type { Listing } from "../format.ts";
import { allowSlowResponse, type AppDeps, readBody, sendList } from "../http.ts";
import { FILE_TIMEOUT_MS, READ_SCRIPT, sendFile } from "./files.ts";

export const CAPTURE_LISTING: Listing<CaptureRow> = {
  columns: [
    { name: "id", value: (r) => r.id },
    { name: "node", value: (r) => r.node },
    { name: "link", value: (r) => r.link },
    { name: "hosts", value: (r) => r.hosts },
    { name: "file", value: (r) => r.file },
    { name: "state", value: (r) => r.state },
    { name: "packets", value: (r) => r.packets },
    { name: "bytes", value: (r) => r.bytes },
    { name: "created", value: (r) => r.created },
    { name: "stopped", value: (r) => r.stopped },
    { name: "error", value: (r) => r.error },
  ],
  table: ["id", "node", "link", "hosts", "state", "packets", "bytes", "file", "error"],
};

/** The media type IANA registered for pcap files. */
const PCAP_TYPE = "application/vnd.tcpdump.pcap";

export function captureRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/captures", (c) => {
    const ns = c.req.param("ns");
    return sendList(c, deps.namespaces.get(ns).captures.map((r) => captureRow(deps.hub, ns, r)), CAPTURE_LISTING);
  });

  app.post("/namespaces/:ns/captures", async (c) => {
    const ns = c.req.param("ns");
    deps.namespaces.get(ns); // 404 before 422: the namespace is the first thing that can be wrong
    const body = await readBody(c, CaptureCreate);
    return c.json(startCapture(deps, ns, body), 201);
  });

  app.delete("/namespaces/:ns/captures/:id", (c) => c.json(deleteCapture(deps, c.req.param("ns"), c.req.param("id"))));

  app.get("/namespaces/:ns/captures/:id/file", async (c) => {
    const namespace = c.req.param("ns");
    const capture = findCapture(deps.namespaces.get(namespace), c.req.param("id"));
    await captureSettled(deps.hub, namespace, capture);
    allowSlowResponse(c, FILE_TIMEOUT_MS / 1000);
    // on the host, not in a node: the file is the agent's, and a link's ends may all be stopped
    const exec = deps.hub.exec(capture.host, { namespace, command: ["sh", "-c", READ_SCRIPT, "sh", capture.file], timeoutMs: FILE_TIMEOUT_MS, stdin: false });
    c.req.raw.signal.addEventListener("abort", () => exec.cancel(), { once: true });
    const name = `${namespace}-${capture.id}.pcap`;
    const headers = { "content-type": PCAP_TYPE, "content-disposition": `attachment; filename="${name}"` };
    return sendFile(c, exec, { host: capture.host, path: capture.file }, headers, deps.log);
  });

  return app;
}
