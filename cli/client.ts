/**
 * The CLI's HTTP client for the controller API: adds the bearer token, turns
 * the API's error bodies into one readable line, and says plainly when no
 * controller answers.
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { ApiErrorBody } from "../protocol/errors.ts";
import { str, type Values } from "./options.ts";

export class ClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Client {
  base: string;
  request(method: string, pathname: string, body?: unknown): Promise<Response>;
  /** A request whose body is raw bytes (a file, stdin), sent as application/octet-stream while it is read. */
  upload(method: string, pathname: string, body: ReadableStream<Uint8Array> | Blob): Promise<Response>;
  json<T>(method: string, pathname: string, body?: unknown): Promise<T>;
  text(pathname: string): Promise<string>;
}

export function tokenFrom(values: Values): string {
  const given = values.token;
  if (typeof given === "string" && given) return given;
  const file = path.join(str(values, "state-dir"), "token");
  if (!existsSync(file)) throw new ClientError(`no API token: pass --token or NEXTMINI_TOKEN, or run on the controller's host where ${file} exists`);
  return readFileSync(file, "utf8").trim();
}

export function createClient(values: Values): Client {
  const base = str(values, "controller").replace(/\/$/, "");
  const token = tokenFrom(values);
  const send = async (method: string, pathname: string, body?: { data: string | ReadableStream<Uint8Array> | Blob; type: string }): Promise<Response> => {
    let res: Response;
    try {
      // Bun's fetch streams a ReadableStream body while the answer is already being read (full duplex)
      res = await fetch(`${base}/api/v1${pathname}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": body.type } : {}) },
        body: body?.data,
      });
    } catch (e) {
      throw new ClientError(`cannot reach the controller at ${base}: ${(e as Error).message} (is 'nextmini up' or 'nextmini controller' running?)`);
    }
    if (!res.ok) throw new ClientError(await describeError(res), res.status);
    return res;
  };
  const request = (method: string, pathname: string, body?: unknown) =>
    send(method, pathname, body === undefined ? undefined : { data: JSON.stringify(body), type: "application/json" });
  return {
    base,
    request,
    upload: (method, pathname, body) => send(method, pathname, { data: body, type: "application/octet-stream" }),
    async json<T>(method: string, pathname: string, body?: unknown): Promise<T> {
      return (await (await request(method, pathname, body)).json()) as T;
    },
    async text(pathname: string): Promise<string> {
      return (await request("GET", pathname)).text();
    },
  };
}

async function describeError(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = ApiErrorBody.parse(JSON.parse(text));
    const issues = body.error.details?.issues;
    const lines = Array.isArray(issues) ? issues.map((i) => `  ${String(i)}`) : [];
    return [`${body.error.message} (${body.error.code}, HTTP ${res.status})`, ...lines].join("\n");
  } catch {
    return `HTTP ${res.status}: ${text.slice(0, 500)}`;
  }
}
