/**
 * One suite run against every Store implementation, so the memory store used
 * by tests cannot drift from the SQLite store used in production.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { DEFAULT_SHAPING } from "../protocol/state.ts";
import { DEFAULT_SETTINGS, type HostRecord, type NamespaceRecord, type Store } from "./store.ts";
import { MemoryStore } from "./store-memory.ts";
import { SqliteStore } from "./store-sqlite.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "nextmini-store-"));
  dirs.push(d);
  return d;
}

function ns(name: string): NamespaceRecord {
  return {
    name,
    subnet: "10.0.0.0/16",
    settings: { ...DEFAULT_SETTINGS },
    nodes: [
      { name: "a", kind: "netns", index: 1, ip: "10.0.0.1/16", host: "h1", mtu: 1500 },
      { name: "b", kind: "userspace", index: 2, ip: "10.0.0.2/16", host: "h2", mtu: 1500 },
    ],
    links: [{ id: "a-b", a: "a", b: "b", ab: { ...DEFAULT_SHAPING, delay: 0.01 }, ba: { ...DEFAULT_SHAPING } }],
    routes: [{ id: "r1", path: ["a", "b"], weight: 1 }],
    pins: [],
    queue: [{ names: ["q0", "q1"], vcpus: 2, memoryMB: 1024, coschedule: -1, colocate: "a" }],
    nextNode: 7,
    plan: [
      { node: "q0", host: "h1" },
      { node: "q1", host: "h1" },
    ],
    runs: [{ start: 1700000000000, end: 1700000001000, state: "completed", nodes: [], total: 2, launched: 2, failures: 0, hosts: 2 }],
    captures: [
      { id: "c1", link: "a-b", host: "h1", file: "/tmp/default-c1.pcap", state: "stopped", created: 1700000000000, stopped: 1700000005000 },
      { id: "c2", node: "b", host: "h2", file: "/tmp/b.pcap", state: "running", created: 1700000006000 },
    ],
    nextCapture: 3,
    flows: [{ id: "f1", src: "a", dst: "b", transport: "tcp", port: 20001, bytes: 1e6, weight: 1, created: 1700000007000 }],
    nextFlow: 2,
  };
}

const host: HostRecord = {
  name: "h1",
  address: "192.0.2.1",
  facts: { cpus: 4, memTotalMB: 8000, memUsedMB: 1000, load: 0.5, addresses: ["192.0.2.1"], privileged: false },
  lastSeen: 1700000000000,
};

const implementations: [string, () => Store][] = [
  ["memory", () => new MemoryStore()],
  ["sqlite", () => new SqliteStore(tempDir())],
];

for (const [kind, make] of implementations) {
  describe(`${kind} store`, () => {
    test("starts empty", () => {
      const s = make();
      expect(s.listNamespaces()).toEqual([]);
      expect(s.listHosts()).toEqual([]);
      expect(s.getNamespace("default")).toBeUndefined();
      s.close();
    });

    test("puts, replaces, lists in name order and deletes namespaces", () => {
      const s = make();
      s.putNamespace(ns("zeta"));
      s.putNamespace(ns("alpha"));
      expect(s.listNamespaces().map((n) => n.name)).toEqual(["alpha", "zeta"]);
      expect(s.getNamespace("alpha")).toEqual(ns("alpha"));
      const changed = { ...ns("alpha"), routes: [] };
      s.putNamespace(changed);
      expect(s.getNamespace("alpha")?.routes).toEqual([]);
      s.deleteNamespace("alpha");
      expect(s.getNamespace("alpha")).toBeUndefined();
      expect(s.listNamespaces().map((n) => n.name)).toEqual(["zeta"]);
      s.close();
    });

    test("returned records are copies", () => {
      const s = make();
      s.putNamespace(ns("default"));
      const got = s.getNamespace("default");
      got?.nodes.pop();
      expect(s.getNamespace("default")?.nodes.length).toBe(2);
      s.close();
    });

    test("puts and lists hosts", () => {
      const s = make();
      s.putHost(host);
      s.putHost({ ...host, name: "h0" });
      s.putHost({ ...host, lastSeen: 1700000001000 });
      expect(s.listHosts().map((h) => h.name)).toEqual(["h0", "h1"]);
      expect(s.getHost("h1")?.lastSeen).toBe(1700000001000);
      expect(s.getHost("nope")).toBeUndefined();
      s.close();
    });
  });
}

describe("sqlite store", () => {
  test("survives reopening the same state dir, in WAL mode", () => {
    const dir = tempDir();
    const s1 = new SqliteStore(dir);
    s1.putNamespace(ns("default"));
    s1.putHost(host);
    s1.close();
    const s2 = new SqliteStore(dir);
    expect(s2.getNamespace("default")).toEqual(ns("default"));
    expect(s2.listHosts()).toEqual([host]);
    s2.close();
    const db = new Database(join(dir, "state.db"));
    expect(db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    db.close();
  });

  test("a namespace saved before launch queues, captures and flows existed reads with an empty queue, no plan, no runs, no captures, no flows", () => {
    const dir = tempDir();
    new SqliteStore(dir).close();
    const { queue: _q, nextNode: _n, plan: _p, runs: _r, captures: _c, nextCapture: _nc, flows: _f, nextFlow: _nf, ...older } = ns("old");
    const db = new Database(join(dir, "state.db"));
    db.query("INSERT INTO namespaces (name, doc) VALUES (?, ?)").run("old", JSON.stringify(older));
    db.close();
    const s = new SqliteStore(dir);
    expect(s.getNamespace("old")).toEqual({ ...older, queue: [], nextNode: 1, runs: [], captures: [], nextCapture: 1, flows: [], nextFlow: 1 });
    s.close();
  });

  test("a corrupt row fails naming it", () => {
    const dir = tempDir();
    new SqliteStore(dir).close();
    const db = new Database(join(dir, "state.db"));
    db.run(`INSERT INTO namespaces (name, doc) VALUES ('bad', '{"name":"bad"}')`);
    db.close();
    const s = new SqliteStore(dir);
    expect(() => s.getNamespace("bad")).toThrow(/namespace "bad" is invalid: subnet/);
    s.close();
  });
});
