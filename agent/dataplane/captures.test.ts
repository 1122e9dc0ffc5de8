/** The worker's capture set on real files: binding targets to tables, flushing, closing what leaves the set. */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CaptureSet } from "./captures.ts";
import { PCAP_RECORD_HEADER_BYTES } from "./pcap.ts";

const dir = mkdtempSync(path.join(tmpdir(), "nextmini-captures-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NODES = ["default/a", "default/b", "lab/a"];
const DIRS = ["default/a:b/ab", "default/a:b/ba"];

function open(name: string): { file: string; fd: number } {
  const file = path.join(dir, name);
  return { file, fd: openSync(file, "w") };
}

describe("CaptureSet", () => {
  test("binds node and direction keys of the tables to writer indices; others stay -1", () => {
    const set = new CaptureSet();
    const n = open("n.pcap");
    const l = open("l.pcap");
    set.update([
      { key: "default/c1", fd: n.fd, nodes: ["default/b"], dirs: [] },
      { key: "default/c2", fd: l.fd, nodes: [], dirs: ["default/a:b/ba", "default/gone:x/ab"] },
    ]);
    const h = set.bind(NODES, DIRS);
    expect([...h.node]).toEqual([-1, 0, -1]);
    expect([...h.dir]).toEqual([-1, 1]);
    expect(h.writers).toHaveLength(2);
    set.closeAll();
  });

  test("records reach the file on flush; a capture left out of the set is flushed and closed with its counts", () => {
    const set = new CaptureSet();
    const c = open("c.pcap");
    set.update([{ key: "default/c1", fd: c.fd, nodes: ["default/a"], dirs: [] }]);
    const { writers } = set.bind(NODES, DIRS);
    writers[0].record(Buffer.alloc(60, 0x45), 0, 60, Bun.nanoseconds());
    expect(readFileSync(c.file).byteLength).toBe(0);
    set.flush();
    expect(readFileSync(c.file).byteLength).toBe(PCAP_RECORD_HEADER_BYTES + 60);
    writers[0].record(Buffer.alloc(40, 0x45), 0, 40, Bun.nanoseconds());
    expect(set.counters()).toEqual([{ key: "default/c1", packets: 2, bytes: 100 }]);
    const closed = set.update([]);
    expect(closed).toEqual([{ key: "default/c1", packets: 2, bytes: 100 }]);
    expect(readFileSync(c.file).byteLength).toBe(2 * PCAP_RECORD_HEADER_BYTES + 100);
    expect(() => fstatSync(c.fd)).toThrow();
    expect(set.size).toBe(0);
  });

  test("a capture that stays keeps its writer and what it buffered", () => {
    const set = new CaptureSet();
    const c = open("k.pcap");
    const open1 = { key: "default/c1", fd: c.fd, nodes: ["default/a"], dirs: [] };
    set.update([open1]);
    const first = set.bind(NODES, DIRS).writers[0];
    first.record(Buffer.alloc(10), 0, 10, 0);
    expect(set.update([{ ...open1, dirs: ["default/a:b/ab"] }])).toEqual([]);
    const again = set.bind(NODES, DIRS);
    expect(again.writers[0]).toBe(first);
    expect([...again.dir]).toEqual([0, -1]);
    expect(first.buffered).toBe(PCAP_RECORD_HEADER_BYTES + 10);
    set.closeAll();
  });

  test("a file that cannot be written reports why, and its records as not written", () => {
    const set = new CaptureSet();
    // a descriptor opened read-only: write(2) fails with EBADF
    const file = path.join(dir, "ro.pcap");
    closeSync(openSync(file, "w"));
    const fd = openSync(file, "r");
    set.update([{ key: "default/c1", fd, nodes: ["default/a"], dirs: [] }]);
    set.bind(NODES, DIRS).writers[0].record(Buffer.alloc(10), 0, 10, 0);
    set.flush();
    const [count] = set.counters();
    expect(count.packets).toBe(0);
    expect(count.error).toMatch(/writing the capture file failed: Bad file descriptor/);
    set.closeAll();
  });
});
