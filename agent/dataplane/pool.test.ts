/** Tests for PacketPool: classes, lazy carving up to the cap, free lists, shrink. */
import { describe, expect, test } from "bun:test";
import { LARGE_SLOT, PacketPool, SLOTS_PER_CHUNK, SMALL_SLOT } from "./pool.ts";

describe("PacketPool", () => {
  test("hands out distinct, non-overlapping slots of the asked class", () => {
    const pool = new PacketPool(8 << 20);
    const small = pool.alloc(false);
    const large = pool.alloc(true);
    const small2 = pool.alloc(false);
    expect(new Set([small, large, small2]).size).toBe(3);
    expect(pool.view(small).length).toBe(SMALL_SLOT);
    expect(pool.view(large).length).toBe(LARGE_SLOT);
    expect(pool.capacity(small)).toBe(SMALL_SLOT);
    expect(pool.capacity(large)).toBe(LARGE_SLOT);
    expect(pool.inUseSmall).toBe(2);
    expect(pool.inUseLarge).toBe(1);
    // Views are made once, and map onto `mem` at `offset`.
    expect(pool.view(small)).toBe(pool.view(small));
    pool.view(large)[5] = 77;
    expect(pool.mem[pool.offset[large] + 5]).toBe(77);
    const spans = [small, large, small2].map((id) => [pool.offset[id], pool.offset[id] + pool.capacity(id)]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  });

  test("carves lazily, one chunk per class at a time", () => {
    const pool = new PacketPool(64 << 20);
    expect(pool.carvedBytes).toBe(0);
    pool.alloc(false);
    expect(pool.carvedSmall).toBe(SLOTS_PER_CHUNK);
    expect(pool.carvedLarge).toBe(0);
    expect(pool.carvedBytes).toBe(SLOTS_PER_CHUNK * SMALL_SLOT);
    for (let i = 1; i < SLOTS_PER_CHUNK; i++) pool.alloc(false);
    expect(pool.carvedSmall).toBe(SLOTS_PER_CHUNK);
    pool.alloc(false);
    expect(pool.carvedSmall).toBe(2 * SLOTS_PER_CHUNK);
  });

  test("returns -1 at the cap and reuses freed slots", () => {
    const pool = new PacketPool(2 * SLOTS_PER_CHUNK * SMALL_SLOT);
    const ids: number[] = [];
    for (;;) {
      const id = pool.alloc(false);
      if (id === -1) break;
      ids.push(id);
    }
    expect(ids.length).toBe(2 * SLOTS_PER_CHUNK);
    expect(pool.alloc(true)).toBe(-1);
    pool.free(ids[7]);
    expect(pool.inUseSmall).toBe(ids.length - 1);
    expect(pool.alloc(false)).toBe(ids[7]);
  });

  test("carves a partial last chunk so the cap is used, and small falls back to large", () => {
    const pool = new PacketPool(3 * LARGE_SLOT + 100);
    const large = [pool.alloc(true), pool.alloc(true), pool.alloc(true)];
    expect(large.every((id) => id >= 0)).toBe(true);
    expect(pool.alloc(true)).toBe(-1);
    pool.free(large[1]);
    // No room left to carve SMALL slots: a small request takes the free LARGE slot.
    const id = pool.alloc(false);
    expect(id).toBe(large[1]);
    expect(pool.capacity(id)).toBe(LARGE_SLOT);
    expect(pool.alloc(false)).toBe(-1);
  });

  test("free of a slot not in use throws", () => {
    const pool = new PacketPool(1 << 20);
    const id = pool.alloc(false);
    pool.free(id);
    expect(() => pool.free(id)).toThrow();
    expect(() => pool.free(12345)).toThrow();
    expect(pool.inUse(id)).toBe(false);
  });

  test("metadata arrays keep their identity as the pool grows", () => {
    const pool = new PacketPool(32 << 20);
    const len = pool.len;
    const ns = pool.ns;
    for (let i = 0; i < 300; i++) pool.alloc(i % 2 === 0);
    expect(pool.len).toBe(len);
    expect(pool.ns).toBe(ns);
  });

  test("shrink moves a small packet out of a LARGE slot with its metadata", () => {
    const pool = new PacketPool(16 << 20);
    const id = pool.alloc(true);
    const v = pool.view(id);
    for (let i = 0; i < 1510; i++) v[i] = (i * 31) & 0xff;
    pool.len[id] = 1510;
    pool.ns[id] = 3;
    pool.src[id] = 4;
    pool.dst[id] = 5;
    pool.route[id] = 6;
    pool.conv[id] = 7;
    const to = pool.shrink(id);
    expect(to).not.toBe(id);
    expect(pool.capacity(to)).toBe(SMALL_SLOT);
    expect(pool.inUse(id)).toBe(false);
    expect(pool.inUseLarge).toBe(0);
    expect(pool.inUseSmall).toBe(1);
    expect(pool.len[to]).toBe(1510);
    expect([pool.ns[to], pool.src[to], pool.dst[to], pool.route[to], pool.conv[to]]).toEqual([3, 4, 5, 6, 7]);
    const w = pool.view(to);
    let same = true;
    for (let i = 0; i < 1510; i++) if (w[i] !== ((i * 31) & 0xff)) same = false;
    expect(same).toBe(true);
  });

  test("shrink leaves big packets and small slots alone", () => {
    const pool = new PacketPool(16 << 20);
    const big = pool.alloc(true);
    pool.len[big] = SMALL_SLOT + 1;
    expect(pool.shrink(big)).toBe(big);
    const small = pool.alloc(false);
    pool.len[small] = 100;
    expect(pool.shrink(small)).toBe(small);
    const exact = pool.alloc(true);
    pool.len[exact] = SMALL_SLOT;
    expect(pool.capacity(pool.shrink(exact))).toBe(SMALL_SLOT);
  });
});
