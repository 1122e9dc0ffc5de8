/** The conversation table alone: lookups both ways, LRU eviction, idle expiry, and its index under churn. */
import { describe, expect, test } from "bun:test";
import { ConversationTable, PATH_UNSET } from "./conversations.ts";
import { dropIndex } from "./drops.ts";

const S = 1e9;
const ports = (src: number, dst: number) => ((src << 16) | dst) >>> 0;

describe("ConversationTable", () => {
  test("a reversed tuple finds the same conversation, counted as its back direction", () => {
    const t = new ConversationTable(10);
    const e = t.lookup(1, 2, 6, ports(40000, 80), 0);
    expect(t.reverse).toBe(false);
    expect(t.pathOf(e, false)).toBe(PATH_UNSET);
    t.count(e, false, 3, 4500, 4380, 2, -1);
    expect(t.lookup(2, 1, 6, ports(80, 40000), 1)).toBe(e);
    expect(t.reverse).toBe(true);
    t.count(e, true, 1, 52, 0, 0x12 & 7, -1);
    // another protocol or port is another conversation
    expect(t.lookup(1, 2, 17, ports(40000, 80), 2)).not.toBe(e);
    expect(t.lookup(1, 2, 6, ports(40001, 80), 2)).not.toBe(e);
    t.countDrop(e, dropIndex("queue"), 2);
    const rec = t.collect(3).find((r) => r.srcPort === 40000 && r.proto === 6)!;
    expect(rec).toMatchObject({ src: 1, dst: 2, dstPort: 80, packets: 3, bytes: 4500, payload: 4380, packetsBack: 1, bytesBack: 52, syn: true });
    expect(rec.drops).toEqual([[dropIndex("queue"), 2]]);
    expect(t.started).toBe(3);
  });

  test("TCP payload counts each sequence once: a retransmission adds to bytes, not to payload", () => {
    const t = new ConversationTable(4);
    const e = t.lookup(1, 2, 6, ports(1, 2), 0);
    t.count(e, false, 1, 1500, 1448, 0, 0xfffffa00);
    // the next segment wraps the sequence space; then the first is sent again, then half of one overlaps
    t.count(e, false, 1, 1500, 1448, 0, (0xfffffa00 + 1448) >>> 0);
    t.count(e, false, 1, 1500, 1448, 0, 0xfffffa00);
    t.count(e, false, 1, 1500, 1448, 0, (0xfffffa00 + 2 * 1448 - 724) >>> 0);
    const [r] = t.collect(1);
    expect([r.packets, r.bytes, r.payload]).toEqual([4, 6000, 3 * 1448 - 724]);
  });

  test("full: the least recently active (of the sampled; here all) is evicted and reported once as evicted", () => {
    const t = new ConversationTable(3);
    const a = t.lookup(1, 2, 17, 1, 0);
    t.lookup(1, 2, 17, 2, 1);
    t.lookup(1, 2, 17, 3, 2);
    t.lookup(1, 2, 17, 1, 3); // a is recent again
    t.lookup(1, 2, 17, 4, 4); // evicts port 2
    expect(t.evicted).toBe(1);
    expect(t.live).toBe(3);
    expect(t.lookup(1, 2, 17, 1, 5)).toBe(a);
    const ended = t.collect(6).filter((r) => r.endReason);
    expect(ended.map((r) => [r.dstPort & 0xffff, r.endReason])).toEqual([[2, "evicted"]]);
  });

  test("idle conversations expire; a closed one lingers a second for its last packets", () => {
    const t = new ConversationTable(10, 30 * S);
    const tcp = t.lookup(1, 2, 6, ports(1, 2), 0);
    t.count(tcp, false, 1, 40, 0, 1, -1); // FIN
    const udp = t.lookup(1, 2, 17, ports(1, 2), 0);
    t.count(udp, false, 1, 100, 72, 0, -1);
    expect(t.collect(0.5 * S).filter((r) => r.endReason)).toEqual([]);
    // a last ACK within the linger still counts
    expect(t.lookup(2, 1, 6, ports(2, 1), 0.9 * S)).toBe(tcp);
    t.count(tcp, true, 1, 40, 0, 0, -1);
    expect(t.collect(1.5 * S).filter((r) => r.endReason)).toEqual([]);
    expect(t.collect(2 * S).filter((r) => r.endReason).map((r) => r.endReason)).toEqual(["fin"]);
    expect(t.collect(31 * S).filter((r) => r.endReason).map((r) => r.endReason)).toEqual(["idle"]);
    expect(t.live).toBe(0);
  });

  // an idle timeout of 5 (ns) keeps conversations expiring; an endless one makes every new one evict
  test.each([5, Infinity])("the index stays exact under churn (idle timeout %p)", (idle) => {
    const t = new ConversationTable(64, idle);
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const live = new Map<number, number>();
    for (let now = 0; now < 20_000; now++) {
      const port = rand(200);
      const e = t.lookup(1, 2, 17, port, now);
      const before = live.get(port);
      if (before !== undefined && t.isUsed(before) && t.portsOf(before) === port) expect(e).toBe(before);
      live.set(port, e);
      if (now % 7 === 0) t.collect(now);
    }
    // whatever is live is found again, each at its own entry
    const entries: number[] = [];
    t.forEach((e) => entries.push(e));
    expect(entries.length).toBe(t.live);
    for (const e of entries) expect(t.lookup(1, 2, 17, t.portsOf(e), 20_000)).toBe(e);
    expect(new Set(entries.map((e) => t.portsOf(e))).size).toBe(entries.length);
    if (idle === Infinity) expect(t.evicted).toBeGreaterThan(1000);
  });

  test("nodes renamed after a table change keep their conversations; gone nodes end theirs", () => {
    const t = new ConversationTable(10);
    const kept = t.lookup(1, 2, 6, ports(5, 6), 0);
    t.setPath(kept, false, 3);
    t.lookup(1, 3, 6, ports(5, 6), 0);
    t.remapNodes(Int32Array.from([0, 4, 5, -1]));
    expect(t.lookup(4, 5, 6, ports(5, 6), 1)).toBe(kept);
    expect(t.pathOf(kept, false)).toBe(PATH_UNSET);
    expect(t.live).toBe(1);
    expect(t.collect(2).filter((r) => r.endReason).length).toBe(1);
  });
});
