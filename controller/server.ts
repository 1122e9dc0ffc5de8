/**
 * @module
 * `startController`: the controller as a running server. Loads or creates the
 * tokens and the certificate authority (agents' TLS), opens the store, wires
 * store, hub and namespace logic together, builds the app and serves it (HTTP
 * and the agent WebSocket) with Bun.serve. Port 0 picks a free port; the
 * returned url carries the real one.
 */
import { websocket } from "hono/bun";
import { join } from "node:path";
import { VERSION } from "../version.ts";
import { createApp } from "./app.ts";
import { CertificateAuthority } from "./ca.ts";
import { settleFlow } from "./flows.ts";
import { AgentHub } from "./hub.ts";
import { Namespaces } from "./namespaces.ts";
import { schedulerBusy } from "./schedule-runs.ts";
import type { Store } from "./store.ts";
import { MemoryStore } from "./store-memory.ts";
import { SqliteStore } from "./store-sqlite.ts";
import { API_TOKEN_FILE, JOIN_TOKEN_FILE, loadOrCreateTokens } from "./tokens.ts";

export type ControllerOptions = {
  /** "host:port", "[v6]:port" or ":port"; port 0 picks a free one */
  listen: string;
  /** holds `token`, `join-token`, `ca.key`, `ca.crt` and (with the sqlite store) `state.db` */
  stateDir: string;
  store?: "sqlite" | "memory";
  log?: (line: string) => void;
  heartbeatTimeoutMs?: number;
};

export type RunningController = {
  /** e.g. "http://127.0.0.1:7400", without the /api/v1 base */
  url: string;
  port: number;
  apiToken: string;
  joinToken: string;
  /** true when a token was created by this start; the caller prints them once */
  createdTokens: boolean;
  stop(): Promise<void>;
};

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const log = opts.log ?? (() => {});
  const { hostname, port } = parseListen(opts.listen);
  const tokens = loadOrCreateTokens(opts.stateDir);
  const ca = await CertificateAuthority.loadOrCreate(opts.stateDir);
  const store: Store = opts.store === "memory" ? new MemoryStore() : new SqliteStore(opts.stateDir);

  // The hub asks namespace logic for each host's state and namespace logic
  // pushes through the hub; the closure breaks the construction cycle.
  const hub: AgentHub = new AgentHub({
    joinToken: tokens.joinToken,
    store,
    stateFor: (host) => namespaces.stateFor(host),
    onFlowEnded: (namespace, id) => settleFlow({ namespaces, hub }, namespace, id),
    log,
    heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
    joinTokenHint: `${join(opts.stateDir, JOIN_TOKEN_FILE)} on the controller's host`,
    issueTls: (host, data) => ca.issue(host, data?.address),
  });
  const namespaces = new Namespaces({
    store,
    agents: hub,
    log,
    busy: schedulerBusy(store, hub),
    onChange: (namespace, changed, deleted) => hub.namespaceChanged(namespace, changed, deleted),
  });
  const app = createApp({
    store,
    hub,
    namespaces,
    apiToken: tokens.apiToken,
    joinToken: tokens.joinToken,
    version: VERSION,
    tokenHint: join(opts.stateDir, API_TOKEN_FILE),
    log,
  });

  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ hostname, port, fetch: (req, srv) => app.fetch(req, srv), websocket });
  } catch (e) {
    store.close();
    throw new Error(`cannot listen on ${opts.listen}: ${(e as Error).message}`);
  }
  hub.start();
  const actualPort = server.port ?? port;
  const shown = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  const url = `http://${shown.includes(":") ? `[${shown}]` : shown}:${actualPort}`;
  log(`controller: serving ${url}/api/v1 (state in ${opts.stateDir}, ${opts.store ?? "sqlite"} store)`);

  let stopped = false;
  return {
    url,
    port: actualPort,
    apiToken: tokens.apiToken,
    joinToken: tokens.joinToken,
    createdTokens: tokens.created,
    async stop() {
      if (stopped) return;
      stopped = true;
      hub.stop();
      await server.stop(true);
      store.close();
    },
  };
}

/** "127.0.0.1:7400", "[::1]:7400", ":7400" (every interface) or "7400". */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen must look like 127.0.0.1:7400, [::1]:7400 or :7400, got "${listen}"`);
  // like Go's net.Listen, an empty host means every interface
  const hostname = m[1] ?? (m[2] ? m[2] : "0.0.0.0");
  return { hostname, port };
}
