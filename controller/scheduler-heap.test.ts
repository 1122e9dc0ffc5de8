/** IndexedHeap against a sorted list, with keys changing in both directions while ids sit in the heap. */
import { expect, test } from "bun:test";
import { IndexedHeap } from "./scheduler-heap.ts";

test("pops in key order after pushes, updates and re-pushes", () => {
  const n = 200;
  const key = Array.from({ length: n }, (_, i) => (i * 7919) % 101);
  const heap = new IndexedHeap(n, (a, b) => key[a] < key[b] || (key[a] === key[b] && a < b));
  for (let i = 0; i < n; i++) heap.push(i);
  heap.push(5); // already in: no duplicate
  expect(heap.size).toBe(n);
  for (let i = 0; i < n; i += 3) {
    key[i] += i % 2 === 0 ? 50 : -50;
    heap.update(i);
  }
  const drain = (k: number) => {
    const out: number[] = [];
    while (out.length < k && heap.size > 0) out.push(heap.pop() as number);
    return out;
  };
  const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => key[a] - key[b] || a - b);
  const first = drain(20);
  expect(first).toEqual(sorted.slice(0, 20));
  for (const id of first.slice(0, 10)) heap.push(id);
  const kept = first.slice(10);
  expect(drain(Infinity)).toEqual(sorted.filter((i) => !kept.includes(i)));
  expect(heap.has(0)).toBe(false);
  expect(heap.peek()).toBeUndefined();
});
