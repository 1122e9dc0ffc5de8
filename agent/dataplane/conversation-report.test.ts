/**
 * Conversation reports across a table change: records hold node and path ids,
 * so they are described under the tables they were counted under, and a record
 * whose ids the tables do not hold is left out rather than misnamed (before,
 * one such record threw in the dataplane worker and stopped every packet).
 */
import { describe, expect, test } from "bun:test";
import { ConversationTable } from "./conversations.ts";
import { conversationReports } from "./conversation-report.ts";
import { lineNamespace } from "./namespace.fixture.ts";
import { compileTables } from "./tables.ts";

const ports = (src: number, dst: number) => ((src << 16) | dst) >>> 0;
const toMs = (ns: number) => ns / 1e6;

describe("conversation reports", () => {
  // a - b - c - d, then c and d removed: node ids 0..3, then 0..1
  const before = compileTables([lineNamespace(["a", "b", "c", "d"])], new Map(), undefined, [], false);
  const after = compileTables([lineNamespace(["a", "b"])], new Map(), undefined, [], false);

  test("a conversation of a removed node ends under its old ids and is described by the old tables", () => {
    const t = new ConversationTable(16);
    const gone = t.lookup(0, 3, 17, ports(1000, 2000), 0);
    t.count(gone, false, 1, 100, 0, 0, 0);
    const kept = t.lookup(0, 1, 17, ports(1000, 2000), 0);
    t.count(kept, false, 1, 100, 0, 0, 0);
    // what moved so far, under the old tables
    expect(conversationReports(t.collect(1), before, toMs).map((r) => `${r.src}>${r.dst} ${r.path.join(">")}`).sort()).toEqual(["a>b a>b", "a>d a>b>c>d"]);
    t.remapNodes(Int32Array.from([0, 1, -1, -1]));
    const ended = t.collect(2);
    expect(ended.map((r) => [r.src, r.dst, r.endReason])).toEqual([[0, 3, "evicted"]]);
    expect(conversationReports(ended, before, toMs).map((r) => `${r.src}>${r.dst} ${r.path.join(">")} ${r.endReason}`)).toEqual(["a>d a>b>c>d evicted"]);
  });

  test("records whose ids the tables do not hold are left out, never misnamed or thrown on", () => {
    const t = new ConversationTable(16);
    const e = t.lookup(2, 3, 17, ports(1, 2), 0);
    t.count(e, false, 1, 100, 0, 0, 0);
    const stale = t.collect(1);
    expect(() => conversationReports(stale, after, toMs)).not.toThrow();
    expect(conversationReports(stale, after, toMs)).toEqual([]);
    expect(conversationReports([{ ...stale[0], src: -1 }], before, toMs)).toEqual([]);
    expect(conversationReports([{ ...stale[0], path: 99 }], before, toMs).map((r) => r.path)).toEqual([["c", "d"]]);
  });
});
