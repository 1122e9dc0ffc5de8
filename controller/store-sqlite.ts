/**
 * @module
 * The default Store: one SQLite file, `<stateDir>/state.db`, in WAL mode so
 * readers never wait on the writer. Each namespace is one JSON row and each
 * host another; rows are validated with zod when loaded, so a file edited by
 * hand (or written by an older version) fails loudly naming the row instead of
 * feeding bad state to agents.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { describeIssues } from "../protocol/errors.ts";
import { HostRecord, NamespaceRecord, type Store } from "./store.ts";

type Row = { name: string; doc: string };

export class SqliteStore implements Store {
  readonly path: string;
  #db: Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.path = join(stateDir, "state.db");
    this.#db = new Database(this.path, { create: true, strict: true });
    this.#db.run("PRAGMA journal_mode = WAL");
    // NORMAL is durable across application crashes in WAL mode; only a power
    // loss can drop the last commits, which agents would re-report anyway.
    this.#db.run("PRAGMA synchronous = NORMAL");
    this.#db.run("PRAGMA busy_timeout = 5000");
    this.#db.run("CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, doc TEXT NOT NULL)");
    this.#db.run("CREATE TABLE IF NOT EXISTS hosts (name TEXT PRIMARY KEY, doc TEXT NOT NULL)");
  }

  listNamespaces(): NamespaceRecord[] {
    const rows = this.#db.query<Row, []>("SELECT name, doc FROM namespaces ORDER BY name").all();
    return rows.map((r) => load(NamespaceRecord, "namespace", r));
  }

  getNamespace(name: string): NamespaceRecord | undefined {
    const row = this.#db.query<Row, [string]>("SELECT name, doc FROM namespaces WHERE name = ?").get(name);
    return row ? load(NamespaceRecord, "namespace", row) : undefined;
  }

  putNamespace(ns: NamespaceRecord): void {
    this.#db.query("INSERT OR REPLACE INTO namespaces (name, doc) VALUES (?, ?)").run(ns.name, JSON.stringify(ns));
  }

  deleteNamespace(name: string): void {
    this.#db.query("DELETE FROM namespaces WHERE name = ?").run(name);
  }

  listHosts(): HostRecord[] {
    const rows = this.#db.query<Row, []>("SELECT name, doc FROM hosts ORDER BY name").all();
    return rows.map((r) => load(HostRecord, "host", r));
  }

  getHost(name: string): HostRecord | undefined {
    const row = this.#db.query<Row, [string]>("SELECT name, doc FROM hosts WHERE name = ?").get(name);
    return row ? load(HostRecord, "host", row) : undefined;
  }

  putHost(host: HostRecord): void {
    this.#db.query("INSERT OR REPLACE INTO hosts (name, doc) VALUES (?, ?)").run(host.name, JSON.stringify(host));
  }

  close(): void {
    this.#db.close();
  }
}

function load<T>(schema: z.ZodType<T>, what: string, row: Row): T {
  let raw: unknown;
  try {
    raw = JSON.parse(row.doc);
  } catch (e) {
    throw new Error(`state.db: ${what} "${row.name}" is not valid JSON: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(`state.db: ${what} "${row.name}" is invalid: ${describeIssues(r.error.issues).join("; ")}`);
  return r.data;
}
