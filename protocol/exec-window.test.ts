/** CreditWindow and AckBatcher: the flow control both halves use for exec data. */
import { expect, test } from "bun:test";
import { AckBatcher, CreditWindow } from "./exec-window.ts";

test("a full window holds a reserve until an ack makes room; close releases it with false", async () => {
  const w = new CreditWindow(10);
  expect(await w.reserve(6)).toBe(true);
  expect(await w.reserve(6)).toBe(true); // under the limit when asked: may overshoot by one piece
  let second: boolean | undefined;
  void w.reserve(1).then((ok) => (second = ok));
  await Bun.sleep(1);
  expect(second).toBeUndefined();
  w.ack(5);
  await Bun.sleep(1);
  expect(second).toBe(true);
  expect(await w.reserve(5)).toBe(true); // 13 outstanding: full again
  let third: boolean | undefined;
  void w.reserve(1).then((ok) => (third = ok));
  w.close();
  await Bun.sleep(1);
  expect(third).toBe(false);
  expect(await w.reserve(1)).toBe(false);
});

test("acks go out in batches of at least `every` bytes", () => {
  const sent: number[] = [];
  const a = new AckBatcher((n) => sent.push(n), 100);
  a.consumed(60);
  expect(sent).toEqual([]);
  a.consumed(60);
  a.consumed(300);
  expect(sent).toEqual([120, 300]);
});
