/** Shortest-path next hops, route validation and path walking on small graphs. */
import { describe, expect, test } from "bun:test";
import { computeNextHops, pathBetween, validateRoutes } from "./routing.ts";

const nodes = (...names: string[]) => names.map((name) => ({ name }));
const link = (a: string, b: string) => ({ a, b });

describe("computeNextHops", () => {
  test("line a-b-c-d", () => {
    const ns = nodes("a", "b", "c", "d");
    const hops = computeNextHops(ns, [link("a", "b"), link("b", "c"), link("c", "d")]);
    expect(hops).toEqual({
      a: ["", "b", "b", "b"],
      b: ["a", "", "c", "c"],
      c: ["b", "b", "", "d"],
      d: ["c", "c", "c", ""],
    });
    expect(pathBetween(hops, ns, "a", "d")).toEqual(["a", "b", "c", "d"]);
    expect(pathBetween(hops, ns, "d", "a")).toEqual(["d", "c", "b", "a"]);
    expect(pathBetween(hops, ns, "b", "b")).toEqual(["b"]);
  });

  test("ring of four breaks ties by neighbour name, whatever the link order", () => {
    // n1 - n2 - n3 - n4 - n1: n1 reaches n3 in two hops through n2 or n4
    const ns = nodes("n1", "n2", "n3", "n4");
    const forward = [link("n1", "n2"), link("n2", "n3"), link("n3", "n4"), link("n4", "n1")];
    const hops = computeNextHops(ns, forward);
    expect(hops.n1[2]).toBe("n2");
    expect(hops.n3[0]).toBe("n2");
    expect(hops.n2[3]).toBe("n1");
    expect(hops.n4[1]).toBe("n1");
    expect(computeNextHops(ns, [...forward].reverse())).toEqual(hops);
    expect(computeNextHops([...ns].reverse(), forward).n1).toEqual([...hops.n1].reverse());
  });

  test("diamond takes the smaller-named middle node", () => {
    const ns = nodes("s", "y", "x", "t");
    const hops = computeNextHops(ns, [link("s", "y"), link("y", "t"), link("s", "x"), link("x", "t")]);
    expect(pathBetween(hops, ns, "s", "t")).toEqual(["s", "x", "t"]);
    expect(pathBetween(hops, ns, "t", "s")).toEqual(["t", "x", "s"]);
  });

  test("disconnected graph leaves unreachable destinations empty", () => {
    const ns = nodes("a", "b", "c", "d", "lonely");
    const hops = computeNextHops(ns, [link("a", "b"), link("c", "d")]);
    expect(hops.a).toEqual(["", "b", "", "", ""]);
    expect(hops.lonely).toEqual(["", "", "", "", ""]);
    expect(pathBetween(hops, ns, "a", "c")).toEqual([]);
    expect(pathBetween(hops, ns, "a", "nobody")).toEqual([]);
  });

  test("ignores self-loops, parallel links and links to unknown nodes", () => {
    const ns = nodes("a", "b");
    const hops = computeNextHops(ns, [link("a", "a"), link("a", "b"), link("b", "a"), link("a", "ghost")]);
    expect(hops).toEqual({ a: ["", "b"], b: ["a", ""] });
  });

  test("1000-node line: every table is complete and paths are right", () => {
    const ns = Array.from({ length: 1000 }, (_, i) => ({ name: `n${i}` }));
    const links = ns.slice(1).map((x, i) => link(ns[i].name, x.name));
    const hops = computeNextHops(ns, links);
    expect(Object.keys(hops).length).toBe(1000);
    expect(hops.n0[999]).toBe("n1");
    expect(hops.n999[0]).toBe("n998");
    expect(hops.n500[500]).toBe("");
    expect(pathBetween(hops, ns, "n0", "n999").length).toBe(1000);
  });
});

describe("validateRoutes", () => {
  const links = [link("a", "b"), link("b", "c")];

  test("accepts paths along links in either direction", () => {
    expect(validateRoutes([{ id: "r1", path: ["a", "b", "c"] }, { id: "r2", path: ["c", "b"] }], links)).toEqual([]);
  });

  test("names the route and the unlinked pair", () => {
    const issues = validateRoutes([{ id: "ok", path: ["a", "b"] }, { id: "jump", path: ["a", "c"] }], links);
    expect(issues).toEqual([`[1].path[1]: route "jump" ([1]) goes a -> c, but no link joins a and c`]);
  });

  test("reports unknown nodes, loops and duplicate ids", () => {
    const issues = validateRoutes(
      [{ id: "r", path: ["a", "b", "a"] }, { id: "r", path: ["a", "zz"] }],
      [...links, link("a", "zz")],
      ["a", "b", "c"],
    );
    expect(issues).toContain(`[0].path[2]: route "r" ([0]) visits "a" twice`);
    expect(issues).toContain(`[1].id: duplicate route id "r"`);
    expect(issues).toContain(`[1].path[1]: route "r" ([1]) names "zz", which is not a node`);
  });
});
