/** Placement: requested hosts, fewest-nodes balancing, name tie-breaks. */
import { expect, test } from "bun:test";
import { placeNodes } from "./placement.ts";

test("balances by node count, ties by host name", () => {
  const r = placeNodes([{ name: "a" }, { name: "b" }, { name: "c" }], ["h2", "h1"], new Map([["h2", 1]]));
  expect(r).toEqual({ ok: true, hosts: new Map([["a", "h1"], ["b", "h1"], ["c", "h2"]]) });
});

test("honours a requested host that is up and falls back when it is not", () => {
  const r = placeNodes([{ name: "a", host: "h2" }, { name: "b", host: "gone" }], ["h1", "h2"], new Map());
  expect(r).toEqual({ ok: true, hosts: new Map([["a", "h2"], ["b", "h1"]]) });
});

test("no hosts: names every node left without one", () => {
  expect(placeNodes([{ name: "a" }, { name: "b" }], [], new Map())).toEqual({ ok: false, unplaced: ["a", "b"] });
  expect(placeNodes([], [], new Map())).toEqual({ ok: true, hosts: new Map() });
});
