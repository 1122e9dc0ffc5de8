/** Tests for the generators' naming and wiring, independent of resolving. */
import { describe, expect, test } from "bun:test";
import { generate, generatedNodeCount } from "./topology-generate.ts";
import type { Generator } from "./topology.ts";

const neighbours = (links: { a: string; b: string }[], name: string) =>
  links.flatMap((l) => (l.a === name ? [l.b] : l.b === name ? [l.a] : [])).sort();

describe("generate", () => {
  test("default prefixes", () => {
    expect(generate({ shape: "line", n: 2 }).nodes).toEqual(["h1", "h2"]);
    expect(generate({ shape: "ring", n: 3 }).nodes).toEqual(["h1", "h2", "h3"]);
    expect(generate({ shape: "star", n: 1 }).nodes).toEqual(["h1", "h0"]);
    expect(generate({ shape: "full_mesh", n: 2 }).nodes).toEqual(["h1", "h2"]);
    expect(generate({ shape: "torus", dims: [2] }).nodes).toEqual(["h0", "h1"]);
    expect(generate({ shape: "dumbbell", n: 1 }).nodes).toEqual(["left1", "right1", "sl", "sr"]);
    expect(generate({ shape: "fat_tree", k: 2 }).nodes).toEqual(["h1", "h2", "e1", "e2", "a1", "a2", "c1"]);
  });

  test("prefix goes in front of every name", () => {
    expect(generate({ shape: "star", n: 2, prefix: "s" }).nodes).toEqual(["s1", "s2", "s0"]);
    expect(generate({ shape: "dumbbell", n: 1, prefix: "x-" }).nodes).toEqual(["x-left1", "x-right1", "x-sl", "x-sr"]);
    expect(generate({ shape: "fat_tree", k: 2, prefix: "p" }).nodes).toEqual(["ph1", "ph2", "pe1", "pe2", "pa1", "pa2", "pc1"]);
    expect(generate({ shape: "torus", dims: [2, 2], prefix: "t" }).nodes).toEqual(["t0-0", "t0-1", "t1-0", "t1-1"]);
  });

  test("fat tree k=4 wiring follows the documented scheme", () => {
    const { links } = generate({ shape: "fat_tree", k: 4 });
    expect(neighbours(links, "h1")).toEqual(["e1"]);
    expect(neighbours(links, "h4")).toEqual(["e2"]);
    expect(neighbours(links, "e1")).toEqual(["a1", "a2", "h1", "h2"]);
    expect(neighbours(links, "e3")).toEqual(["a3", "a4", "h5", "h6"]);
    // the first aggregation switch of every pod reaches core 1 and 2, the second core 3 and 4
    expect(neighbours(links, "a1")).toEqual(["c1", "c2", "e1", "e2"]);
    expect(neighbours(links, "a4")).toEqual(["c3", "c4", "e3", "e4"]);
    expect(neighbours(links, "c1")).toEqual(["a1", "a3", "a5", "a7"]);
  });

  test("torus neighbours wrap around", () => {
    const { links } = generate({ shape: "torus", dims: [4, 4], prefix: "t" });
    expect(neighbours(links, "t0-0")).toEqual(["t0-1", "t0-3", "t1-0", "t3-0"]);
    expect(neighbours(links, "t2-1")).toEqual(["t1-1", "t2-0", "t2-2", "t3-1"]);
  });

  test("every generator's links join distinct pairs of its own nodes, once", () => {
    const gens: Generator[] = [
      { shape: "line", n: 5 },
      { shape: "ring", n: 5 },
      { shape: "star", n: 5 },
      { shape: "full_mesh", n: 6 },
      { shape: "dumbbell", n: 3 },
      { shape: "fat_tree", k: 6 },
      { shape: "torus", dims: [2, 3, 4] },
      { shape: "torus", dims: [1, 1] },
    ];
    for (const gen of gens) {
      const { nodes, links } = generate(gen);
      expect(nodes).toHaveLength(generatedNodeCount(gen));
      expect(new Set(nodes).size).toBe(nodes.length);
      const names = new Set(nodes);
      const seen = new Set<string>();
      for (const { a, b } of links) {
        expect(names.has(a) && names.has(b) && a !== b).toBe(true);
        const key = [a, b].sort().join(" ");
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
    }
  });

  test("link shaping: the generator's link, and a bottleneck on top of it", () => {
    const out = generate({ shape: "dumbbell", n: 1, link: { delay: 0.001, bandwidth: 1e9 }, bottleneck: { bandwidth: 1e7 } });
    expect(out.links.map((l) => l.shaping)).toEqual([
      { delay: 0.001, bandwidth: 1e9 },
      { delay: 0.001, bandwidth: 1e9 },
      { delay: 0.001, bandwidth: 1e7 },
    ]);
  });
});
