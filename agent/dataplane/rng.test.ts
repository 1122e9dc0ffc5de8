/** Tests for the seeded PRNG: repeatable streams and sane distributions. */
import { expect, test } from "bun:test";
import { Rng } from "./rng.ts";

test("same seed, same stream; different seeds, different streams", () => {
  const a = new Rng(1);
  const b = new Rng(1);
  const c = new Rng(2);
  const xs = Array.from({ length: 8 }, () => a.u32());
  expect(Array.from({ length: 8 }, () => b.u32())).toEqual(xs);
  expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(xs);
  expect(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
  a.reseed(1);
  expect(a.u32()).toBe(xs[0]);
});

test("uniform and normal have the right moments", () => {
  const r = new Rng(12345);
  const n = 200000;
  let su = 0;
  let sn = 0;
  let sn2 = 0;
  let min = 1;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    su += u;
    if (u < min) min = u;
    if (u > max) max = u;
    const z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  expect(min).toBeGreaterThanOrEqual(0);
  expect(max).toBeLessThan(1);
  expect(Math.abs(su / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
  expect(Math.abs(sn / n)).toBeLessThan(4 / Math.sqrt(n));
  expect(Math.abs(sn2 / n - 1)).toBeLessThan(0.015);
});
