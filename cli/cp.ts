/**
 * `nextmini cp SRC DST`: copies one file into or out of a node, docker cp
 * style: exactly one side is NODE:/absolute/path, and `-` as the local side is
 * stdin or stdout. It goes through the API (PUT and GET .../files), so the
 * node may be on any host; bytes stream both ways without being held whole.
 */
import { open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { type ExecResponse, FilePutResponse } from "../protocol/api.ts";
import { NAME_PATTERN } from "../protocol/names.ts";
import { type Client, ClientError, createClient } from "./client.ts";
import { CLIENT, COMMON, type CommandSpec, type Values, str, UsageError } from "./options.ts";

export const spec: CommandSpec = {
  name: "cp",
  usage: "cp SRC DST",
  summary: "Copy a file into or out of a node; one side is NODE:/path.",
  description: [
    "Exactly one of SRC and DST is NODE:/absolute/path; the other is a local path, or '-' for stdin",
    "(as SRC) or stdout (as DST). A destination that is a directory (locally, or in the node), or that",
    "ends in '/', gets the source's base name. A local file's permission bits go with it into the node.",
    "Files are written to a temporary name and renamed at the end, so an interrupted copy leaves the",
    "destination as it was. One file at a time: pipe a tar through '-' for a directory.",
  ].join("\n"),
  options: { ...CLIENT, ...COMMON },
  examples: [
    "nextmini cp ./data.bin h1:/tmp/data.bin",
    "nextmini cp h1:/tmp/out.txt .",
    "tar c results | nextmini cp - h1:/tmp/results.tar",
    "nextmini cp h1:/var/log/syslog - | tail",
  ],
};

type Remote = { node: string; path: string };

export async function main(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length !== 2) throw new UsageError("cp needs a source and a destination: nextmini cp SRC DST (one of them NODE:/path)");
  const [src, dst] = positionals;
  const from = remoteSide(src);
  const to = remoteSide(dst);
  if ((from === undefined) === (to === undefined)) {
    throw new UsageError(`exactly one of SRC and DST must be NODE:/path (got "${src}" and "${dst}"); use plain cp for two local paths`);
  }
  const client = createClient(values);
  const namespace = str(values, "namespace");
  if (to) await upload(client, namespace, src, to);
  else if (from) await download(client, namespace, from, dst);
  return 0;
}

/** NODE:/path, or undefined for a local path (one starting with '/' or '.' never names a node). */
function remoteSide(arg: string): Remote | undefined {
  const colon = arg.indexOf(":");
  if (colon <= 0 || !NAME_PATTERN.test(arg.slice(0, colon))) return undefined;
  const remote = { node: arg.slice(0, colon), path: arg.slice(colon + 1) };
  if (!remote.path.startsWith("/")) throw new UsageError(`"${arg}": the path in a node must be absolute, like ${remote.node}:/tmp/file`);
  return remote;
}

function filesPath(namespace: string, remote: Remote, extra: Record<string, string> = {}): string {
  return `/namespaces/${namespace}/nodes/${remote.node}/files?${new URLSearchParams({ path: remote.path, ...extra })}`;
}

async function upload(client: Client, namespace: string, src: string, to: Remote): Promise<void> {
  let body: ReadableStream<Uint8Array> | Blob;
  let mode: string | undefined;
  let name: string | undefined;
  if (src === "-") {
    body = Bun.stdin.stream();
  } else {
    const st = await stat(src).catch((e: NodeJS.ErrnoException) => {
      throw new ClientError(`cannot read ${src}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
    });
    if (st.isDirectory()) throw new ClientError(`${src} is a directory; cp copies one file (pipe a tar through '-' for a directory)`);
    body = Bun.file(src);
    mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
    name = path.basename(src);
  }
  let dest = to.path;
  if (dest.endsWith("/") || (name !== undefined && (await isDirectoryInNode(client, namespace, to)))) {
    if (name === undefined) throw new UsageError(`stdin has no file name: give the file's full path in the node, not the directory ${to.path}`);
    dest = `${dest.replace(/\/+$/, "")}/${name}`;
  }
  const res = await client.upload("PUT", filesPath(namespace, { ...to, path: dest }, mode ? { mode } : {}), body);
  FilePutResponse.parse(await res.json());
}

/** `test -d` in the node, through the exec API: is the destination a directory to copy into? */
async function isDirectoryInNode(client: Client, namespace: string, remote: Remote): Promise<boolean> {
  const r = await client.json<ExecResponse>("POST", `/namespaces/${namespace}/nodes/${remote.node}/exec`, { command: ["test", "-d", remote.path] });
  return r.exitCode === 0;
}

async function download(client: Client, namespace: string, from: Remote, dst: string): Promise<void> {
  const res = await client.request("GET", filesPath(namespace, from));
  const what = `${from.node}:${from.path}`;
  if (dst === "-") return saveDownload(res, "-", what);
  const isDir = dst.endsWith("/") || (await stat(dst).then((s) => s.isDirectory(), () => false));
  await saveDownload(res, isDir ? path.join(dst, path.basename(from.path)) : dst, what);
}

/**
 * Writes a download's body to `target` ("-": stdout) through a partial file
 * renamed at the end, so a transfer that breaks off never leaves a file that
 * looks whole. `what` names the source in errors.
 */
export async function saveDownload(res: Response, target: string, what: string): Promise<void> {
  if (!res.body) throw new ClientError(`no content for ${what}`);
  if (target === "-") {
    for await (const chunk of res.body) await Bun.write(Bun.stdout, chunk);
    return;
  }
  // beside the target, so the final rename stays on one filesystem
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.nextmini-${process.pid}`);
  const file = await open(partial, "w").catch((e: Error) => {
    throw new ClientError(`cannot write ${target}: ${e.message}`);
  });
  try {
    for await (const chunk of res.body) await file.write(chunk);
    await file.close();
    await rename(partial, target);
  } catch (e) {
    await file.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw new ClientError(`copying ${what} to ${target} broke off: ${(e as Error).message}`);
  }
}
