/**
 * @module
 * POST /namespaces/{ns}/nodes/{name}/exec: a command inside a node, through its
 * host's agent. Answered whole as `{exitCode, stdout, stderr}`, or with
 * `stream: true` as NDJSON lines while output arrives. Stdin comes from the
 * JSON `stdin` text, or streams as the raw body of an application/octet-stream
 * request whose fields are in the query string. A client that goes away
 * cancels the command on the agent.
 */
import { type Context, Hono } from "hono";
import { type ExecLine, ExecQuery, ExecRequest, type ExecResponse } from "../../protocol/api.ts";
import { ApiError } from "../../protocol/errors.ts";
import type { NodeSpec } from "../../protocol/state.ts";
import type { RemoteExec } from "../execs.ts";
import { allowSlowResponse, type AppDeps, readBody } from "../http.ts";

/** Long enough for a ping or a short iperf3; callers with longer commands pass timeoutMs. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

export function execRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.post("/namespaces/:ns/nodes/:name/exec", async (c) => {
    const ns = c.req.param("ns");
    const node = deps.namespaces.node(ns, c.req.param("name"));
    const rawStdin = (c.req.header("content-type") ?? "").toLowerCase().startsWith("application/octet-stream");
    let body: ExecQuery;
    let stdinText: string | undefined;
    if (rawStdin) {
      body = ExecQuery.parse({ ...c.req.query(), command: c.req.queries("command") ?? [] });
    } else {
      const json = await readBody(c, ExecRequest);
      ({ stdin: stdinText, ...body } = json);
    }
    requireRunning(deps, ns, node, "exec needs");
    const timeoutMs = body.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    allowSlowResponse(c, timeoutMs / 1000 + 10);
    const exec = startExec(c, deps, node, { namespace: ns, command: body.command, timeoutMs, stdin: rawStdin || stdinText !== undefined });
    if (rawStdin) void exec.pipeFrom(c.req.raw.body);
    else if (stdinText !== undefined) void exec.write(new TextEncoder().encode(stdinText)).then(() => exec.end());
    if (body.stream) return c.body(execLines(exec), 200, { "content-type": "application/x-ndjson" });
    const result: ExecResponse = await exec.collect();
    return c.json(result);
  });

  return app;
}

/** A 409 unless the node's agent reports it running; `needs` starts the reason ("exec needs"). */
export function requireRunning(deps: AppDeps, namespace: string, node: NodeSpec, needs: string): void {
  const seen = deps.hub.observeNode(node.host, namespace, node.name);
  if (seen.state !== "running") {
    throw new ApiError(409, "node_not_running", `node ${node.name} is ${seen.state} on host ${node.host}; ${needs} a running node`, {
      state: seen.state,
    });
  }
}

/** Starts an exec on the node's agent that is cancelled when the HTTP client disconnects. */
export function startExec(c: Context, deps: AppDeps, node: NodeSpec, request: { namespace: string; command: string[]; timeoutMs: number; stdin: boolean }): RemoteExec {
  const exec = deps.hub.exec(node.host, { ...request, node: node.name });
  c.req.raw.signal.addEventListener("abort", () => exec.cancel(), { once: true });
  return exec;
}

/**
 * The exec's events as NDJSON: output decoded as UTF-8 per stream (a character
 * split across chunks is kept whole), then `{"exitCode"}`, or `{"error"}` when
 * the exec fails once the 200 has been sent. Lines are produced as the client
 * reads them, so a slow client slows the command's output, not the controller's memory.
 */
function execLines(exec: RemoteExec): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const line = (l: ExecLine) => encoder.encode(`${JSON.stringify(l)}\n`);
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const e = await exec.next();
        if (!e) {
          ctrl.close();
          return;
        }
        if (e.type === "output") {
          const data = decoders[e.stream].decode(e.data, { stream: true });
          if (data) ctrl.enqueue(line({ stream: e.stream, data }));
          return;
        }
        for (const stream of ["stdout", "stderr"] as const) {
          const rest = decoders[stream].decode();
          if (rest) ctrl.enqueue(line({ stream, data: rest }));
        }
        ctrl.enqueue(line({ exitCode: e.exitCode }));
        ctrl.close();
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, "internal", `internal error: ${(err as Error).message}`);
        ctrl.enqueue(line(e.toBody()));
        ctrl.close();
      }
    },
    cancel() {
      exec.cancel();
    },
  });
}
