/**
 * @module
 * What every route file shares: the dependencies the app is built from, body
 * parsing that turns bad JSON into a 400 and schema failures into a 422
 * naming the field, and listing responses in the asked format.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../protocol/errors.ts";
import { type Listing, renderList } from "./format.ts";
import type { AgentHub } from "./hub.ts";
import type { Namespaces } from "./namespaces.ts";
import type { Store } from "./store.ts";

export type AppDeps = {
  store: Store;
  hub: AgentHub;
  namespaces: Namespaces;
  apiToken: string;
  /** agents authenticate with it in their hello (checked by the hub); kept here for completeness */
  joinToken?: string;
  version: string;
  /** where an operator finds the API token, for the 401 message */
  tokenHint?: string;
  log?: (line: string) => void;
};

/** The JSON body validated by `schema`; zod failures go to the app's error handler (422). */
export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch (e) {
    throw new ApiError(400, "invalid_json", `the request body is not valid JSON: ${(e as Error).message}`);
  }
  return schema.parse(raw);
}

/** A listing in the format and columns the query asks for. */
export function sendList<T>(c: Context, rows: readonly T[], listing: Listing<T>): Response {
  const r = renderList(rows, listing, { format: c.req.query("format"), columns: c.req.query("columns") });
  return c.body(r.body, 200, { "content-type": r.contentType });
}

/**
 * Lifts Bun's per-connection idle timeout (10 s by default) for a request that
 * waits on an agent, such as exec, which may legitimately run for minutes.
 */
export function allowSlowResponse(c: Context, seconds: number): void {
  const env: unknown = c.env;
  if (typeof env !== "object" || env === null || !("timeout" in env) || typeof env.timeout !== "function") return;
  // 0 disables the timeout; Bun caps the value at 255 seconds otherwise
  env.timeout(c.req.raw, seconds > 255 ? 0 : Math.ceil(seconds));
}
