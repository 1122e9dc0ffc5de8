/**
 * @module
 * GET and PUT /namespaces/{ns}/nodes/{name}/files?path=/abs/path: a file's
 * bytes out of a node, or into it (`nextmini cp`).
 *
 * Both run as an exec of `sh` inside the node on its agent, not as file I/O
 * by the agent itself: the file is then the one a command in the node sees
 * (`ip netns exec` binds /etc/netns/<ns>/* over /etc; a node kind with its own
 * mount namespace would differ more), and the bytes ride exec's chunked,
 * flow-controlled and cancellable stream, so a file of any size moves in
 * bounded pieces without new frames. The scripts report what went wrong by
 * exit code, which becomes the HTTP status.
 *
 * A write goes to a temporary file beside the target and is renamed over it
 * at the end, so an interrupted upload never leaves a truncated file.
 *
 * `sendFile` answers any such read, also one run on a host rather than in a
 * node (capture downloads, routes/captures.ts).
 */
import { type Context, Hono } from "hono";
import { FileGetQuery, type FilePutResponse, FilePutQuery } from "../../protocol/api.ts";
import { ApiError } from "../../protocol/errors.ts";
import type { NodeSpec } from "../../protocol/state.ts";
import type { RemoteExec } from "../execs.ts";
import { allowSlowResponse, type AppDeps } from "../http.ts";
import { requireRunning, startExec } from "./nodes-exec.ts";

/** A transfer is killed after this long; an hour moves many GB on any network worth emulating over. */
export const FILE_TIMEOUT_MS = 60 * 60 * 1000;

/** Exit codes of the scripts (sysexits' EX_NOINPUT and two more), outside what cat, chmod or mv return. */
const MISSING = 66;
const DIRECTORY = 67;
const DENIED = 68;

export const READ_SCRIPT = `[ -e "$1" ] || exit ${MISSING}; [ ! -d "$1" ] || exit ${DIRECTORY}; [ -r "$1" ] || exit ${DENIED}; exec cat -- "$1"`;

// $1 the path, $2 the mode or empty. On cancel the agent sends TERM, then closes stdin: cat ends at
// the end of file and the pending trap removes the temporary file instead of renaming it
export const WRITE_SCRIPT = [
  `dir=$(dirname -- "$1"); [ -d "$dir" ] || exit ${MISSING}; [ ! -d "$1" ] || exit ${DIRECTORY}; [ -w "$dir" ] || exit ${DENIED}`,
  `tmp="$dir/.$(basename -- "$1").nextmini.$$"`,
  `trap 'rm -f -- "$tmp"; exit 143' TERM`,
  `cat > "$tmp" && { [ -z "$2" ] || chmod "$2" "$tmp"; } && mv -f -- "$tmp" "$1" || { code=$?; rm -f -- "$tmp"; exit $code; }`,
].join("\n");

/** Where a file is: in a node (on its host), or on the host itself. */
export type Where = { node?: string; host: string; path: string };

export function fileRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/namespaces/:ns/nodes/:name/files", async (c) => {
    const { ns, node } = target(c, deps);
    const { path } = FileGetQuery.parse(c.req.query());
    requireRunning(deps, ns, node, "reading a file needs");
    const exec = transfer(c, deps, ns, node, ["sh", "-c", READ_SCRIPT, "sh", path], false);
    return sendFile(c, exec, { node: node.name, host: node.host, path }, { "content-type": "application/octet-stream" }, deps.log);
  });

  app.put("/namespaces/:ns/nodes/:name/files", async (c) => {
    const { ns, node } = target(c, deps);
    const { path, mode } = FilePutQuery.parse(c.req.query());
    requireRunning(deps, ns, node, "writing a file needs");
    const exec = transfer(c, deps, ns, node, ["sh", "-c", WRITE_SCRIPT, "sh", path, mode ?? ""], true);
    const [bytes, result] = await Promise.all([exec.pipeFrom(c.req.raw.body), exec.collect()]);
    if (result.exitCode !== 0) throw fileError("write", result.exitCode, result.stderr, { node: node.name, host: node.host, path });
    const answer: FilePutResponse = { path, bytes };
    return c.json(answer);
  });

  return app;
}

/**
 * Answers the bytes a READ_SCRIPT exec prints, with `headers`. The status
 * depends on whether the file opened, so it waits for the first bytes or the
 * exit: a missing, unreadable or directory path is an error answer, not a 200.
 */
export async function sendFile(c: Context, exec: RemoteExec, where: Where, headers: Record<string, string>, log?: (line: string) => void): Promise<Response> {
  const stderr: Uint8Array[] = [];
  for (;;) {
    const e = await exec.next();
    if (!e) throw new ApiError(502, "exec_cancelled", `reading ${where.path} ${on(where)} was cancelled`, where);
    if (e.type === "exit") {
      if (e.exitCode !== 0) throw fileError("read", e.exitCode, text(stderr), where);
      return c.body(new Uint8Array(0), 200, headers);
    }
    if (e.stream === "stderr") stderr.push(e.data);
    else return c.body(fileBytes(exec, e.data, where, log), 200, headers);
  }
}

function on(where: Where): string {
  return where.node === undefined ? `on host ${where.host}` : `on node ${where.node} (host ${where.host})`;
}

function target(c: Context, deps: AppDeps): { ns: string; node: NodeSpec } {
  const ns = c.req.param("ns") ?? "";
  return { ns, node: deps.namespaces.node(ns, c.req.param("name") ?? "") };
}

function transfer(c: Context, deps: AppDeps, ns: string, node: NodeSpec, command: string[], stdin: boolean): RemoteExec {
  allowSlowResponse(c, FILE_TIMEOUT_MS / 1000);
  return startExec(c, deps, node, { namespace: ns, command, timeoutMs: FILE_TIMEOUT_MS, stdin });
}

/**
 * The rest of the file after its first chunk. A failure once the 200 is out
 * (the agent went away, cat hit an I/O error) errors the stream, which aborts
 * the response: the client sees a broken transfer, never a short file that
 * looks whole.
 */
function fileBytes(exec: RemoteExec, first: Uint8Array, where: Where, log?: (line: string) => void): ReadableStream<Uint8Array> {
  const stderr: Uint8Array[] = [];
  const abort = (ctrl: ReadableStreamDefaultController<Uint8Array>, why: string) => {
    log?.(`reading ${where.path} ${on(where)} broke off: ${why}`);
    ctrl.error(new Error(why));
  };
  return new ReadableStream<Uint8Array>({
    start(ctrl) {
      ctrl.enqueue(first);
    },
    async pull(ctrl) {
      try {
        const e = await exec.next();
        if (!e) return abort(ctrl, "cancelled");
        if (e.type === "output") {
          if (e.stream === "stdout") ctrl.enqueue(e.data);
          else stderr.push(e.data);
        } else if (e.exitCode === 0) {
          ctrl.close();
        } else {
          abort(ctrl, `exit ${e.exitCode}: ${text(stderr).trim()}`);
        }
      } catch (err) {
        abort(ctrl, (err as Error).message);
      }
    },
    cancel() {
      exec.cancel();
    },
  });
}

function fileError(op: "read" | "write", exitCode: number, stderr: string, where: Where): ApiError {
  const at = on(where);
  switch (exitCode) {
    case MISSING:
      return op === "read"
        ? new ApiError(404, "file_not_found", `no file ${where.path} ${at}`, where)
        : new ApiError(404, "directory_not_found", `cannot write ${where.path} ${at}: its directory does not exist`, where);
    case DIRECTORY:
      return new ApiError(409, "is_a_directory", `${where.path} ${at} is a directory; files are copied one at a time`, where);
    case DENIED:
      return new ApiError(403, "permission_denied", `${where.path} ${at} is not ${op === "read" ? "readable" : "writable"}`, where);
    default: {
      const why = stderr.trim() || `exit code ${exitCode}`;
      return new ApiError(500, "file_error", `${op === "read" ? "reading" : "writing"} ${where.path} ${at} failed: ${why}`, { ...where, exitCode });
    }
  }
}

function text(chunks: Uint8Array[]): string {
  return Buffer.concat(chunks).toString("utf8");
}
