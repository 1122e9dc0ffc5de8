/** Route sets as pure functions: equal-cost paths (a fat tree, links down, the bound) and DAG routes. */
import { describe, expect, test } from "bun:test";
import { dagIssues, dagPaths, dagRoute, ecmpPaths, routePaths } from "./paths.ts";
import { resolveTopology } from "./topology-resolve.ts";

const fatTree = resolveTopology({ generate: [{ shape: "fat_tree", k: 4 }] });
const names = fatTree.nodes.map((n) => n.name);
const at = (name: string) => names.indexOf(name);

describe("ecmpPaths", () => {
  test("a k=4 fat tree: 4 equal paths between pods, 2 within a pod, none to pick between hosts of one edge switch", () => {
    const { sets, exceeded } = ecmpPaths(names, fatTree.links);
    expect(exceeded).toBe(false);
    const pathsOf = (a: string, b: string) => (sets.get(at(a) * names.length + at(b)) ?? []).map((p) => p.map((i) => names[i]));
    const across = pathsOf("h1", "h16");
    expect(across).toHaveLength(4);
    for (const p of across) expect(p).toHaveLength(7);
    // name order, so every agent derives the same list
    expect(across.map((p) => p.join(">"))).toEqual([...across.map((p) => p.join(">"))].sort());
    expect(pathsOf("h1", "h3")).toHaveLength(2);
    expect(pathsOf("h1", "h2")).toHaveLength(0);
  });

  test("links that are down are not paths", () => {
    const links = fatTree.links.map((l) => (l.a === "a1" || l.b === "a1" ? { ...l, state: "down" as const } : l));
    const { sets } = ecmpPaths(names, links);
    const across = sets.get(at("h1") * names.length + at("h16")) ?? [];
    expect(across).toHaveLength(2);
    for (const p of across) expect(p.map((i) => names[i])).not.toContain("a1");
  });

  test("the hop budget bounds the work", () => {
    expect(ecmpPaths(names, fatTree.links, 100).exceeded).toBe(true);
  });
});

describe("DAG routes", () => {
  const diamond: [string, string][] = [
    ["h1", "s2"],
    ["h1", "s1"],
    ["s1", "h2"],
    ["s2", "h2"],
  ];

  test("every path from source to destination, children in name order", () => {
    expect(dagPaths(diamond, "h1", "h2", 64).paths).toEqual([
      ["h1", "s1", "h2"],
      ["h1", "s2", "h2"],
    ]);
    const route = dagRoute("r", 2, diamond, "edges", []);
    expect(route).toEqual({ id: "r", path: ["h1", "s1", "h2"], weight: 2, edges: diamond });
    expect(routePaths(route)).toHaveLength(2);
    // a chain is a path route
    expect(dagRoute("c", 1, [["a", "b"], ["b", "c"]], "edges", [])).toEqual({ id: "c", path: ["a", "b", "c"], weight: 1 });
  });

  test("refused: two sources or sinks, a cycle, an edge off every path, a repeated edge", () => {
    expect(dagIssues([["a", "b"], ["c", "b"]], "e")).toEqual(["e: a route's edges must start at one node (found a, c)"]);
    expect(dagIssues([["a", "b"], ["b", "a"]], "e")[0]).toContain("found none: the edges form a cycle");
    expect(dagIssues([["a", "b"], ["b", "c"], ["c", "b"], ["b", "d"]], "e")).toEqual(["e: the edges form a cycle"]);
    expect(dagIssues([["a", "b"], ["a", "b"]], "e")).toEqual(["e[1]: the edge a -> b is given twice"]);
  });
});
