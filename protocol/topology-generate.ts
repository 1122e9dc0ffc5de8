/**
 * Generators: shapes that expand into node names and links. `prefix` is put in
 * front of every name a generator makes. End hosts come before switches, so
 * that in a document that is one shape, host i gets the i-th address.
 *
 *   line       <p>1 .. <p>n, <p>i - <p>i+1                               prefix "h"
 *   ring       as line, plus <p>n - <p>1 (n >= 3)                        prefix "h"
 *   star       leaves <p>1 .. <p>n, then the hub (default <p>0)           prefix "h"
 *   full_mesh  <p>1 .. <p>n, every pair once                             prefix "h"
 *   dumbbell   <p>left1..N, <p>right1..N, then switches <p>sl, <p>sr;     prefix ""
 *              left hosts to sl, right hosts to sr, sl - sr is the bottleneck
 *              (`left`, `right`, `switches` change the base names)
 *   fat_tree   hosts <p>h1..k^3/4, edge <p>e1..k^2/2, aggregation        prefix ""
 *              <p>a1..k^2/2, core <p>c1..k^2/4. Pod q (from 0) holds edge and
 *              aggregation switches q*k/2+1 .. (q+1)*k/2; edge switch e holds hosts
 *              (e-1)*k/2+1 .. e*k/2; the j-th (from 0) aggregation switch of every
 *              pod links to core switches j*k/2+1 .. (j+1)*k/2.
 *   torus      <p> followed by 0-based coordinates joined by "-": t0-0,  prefix "h"
 *              t0-1 .. t3-3 for dims [4, 4], in row-major order; each node
 *              links to the next one in every dimension, wrapping around (a
 *              dimension of 2 gives one link, of 1 none)
 *
 * Links are made in a fixed order so ids, indices and routes are reproducible.
 */
import type { Generator, ShapingOverrides } from "./topology.ts";

export type GeneratedLink = { a: string; b: string; shaping: ShapingOverrides };
export type Generated = { nodes: string[]; links: GeneratedLink[] };

/** Expands one generator. Bounds (n, k, dims) are the schema's job; torus size is checked by the caller. */
export function generate(gen: Generator): Generated {
  const link = gen.link ?? {};
  switch (gen.shape) {
    case "line":
    case "ring":
    case "full_mesh": {
      const p = gen.prefix ?? "h";
      const nodes = numbered(p, gen.n);
      const links: GeneratedLink[] = [];
      if (gen.shape === "full_mesh") {
        for (let i = 0; i < nodes.length; i++) {
          for (let j = i + 1; j < nodes.length; j++) links.push({ a: nodes[i], b: nodes[j], shaping: link });
        }
      } else {
        for (let i = 0; i + 1 < nodes.length; i++) links.push({ a: nodes[i], b: nodes[i + 1], shaping: link });
        if (gen.shape === "ring") links.push({ a: nodes[nodes.length - 1], b: nodes[0], shaping: link });
      }
      return { nodes, links };
    }
    case "star": {
      const p = gen.prefix ?? "h";
      const leaves = numbered(p, gen.n);
      const hub = gen.hub ?? `${p}0`;
      return { nodes: [...leaves, hub], links: leaves.map((leaf) => ({ a: hub, b: leaf, shaping: link })) };
    }
    case "dumbbell": {
      const p = gen.prefix ?? "";
      const left = numbered(p + (gen.left ?? "left"), gen.n);
      const right = numbered(p + (gen.right ?? "right"), gen.n);
      const [sl, sr] = (gen.switches ?? ["sl", "sr"]).map((s) => p + s);
      const links: GeneratedLink[] = [
        ...left.map((h) => ({ a: h, b: sl, shaping: link })),
        ...right.map((h) => ({ a: h, b: sr, shaping: link })),
        { a: sl, b: sr, shaping: { ...link, ...defined(gen.bottleneck ?? {}) } },
      ];
      return { nodes: [...left, ...right, sl, sr], links };
    }
    case "fat_tree":
      return fatTree(gen.k, gen.prefix ?? "", link);
    case "torus":
      return torus(gen.dims, gen.prefix ?? "h", link);
  }
}

/** Node count without building anything, so a huge torus is refused before it is built. */
export function generatedNodeCount(gen: Generator): number {
  switch (gen.shape) {
    case "star":
      return gen.n + 1;
    case "dumbbell":
      return 2 * gen.n + 2;
    case "fat_tree":
      return (gen.k ** 3) / 4 + (5 * gen.k ** 2) / 4;
    case "torus":
      return gen.dims.reduce((x, d) => x * d, 1);
    default:
      return gen.n;
  }
}

function numbered(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

/** Drops keys whose value is undefined so spreading never erases a lower layer. */
function defined(o: ShapingOverrides): ShapingOverrides {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function fatTree(k: number, p: string, shaping: ShapingOverrides): Generated {
  const half = k / 2;
  const hosts = numbered(`${p}h`, (k * k * k) / 4);
  const edge = numbered(`${p}e`, (k * k) / 2);
  const agg = numbered(`${p}a`, (k * k) / 2);
  const core = numbered(`${p}c`, half * half);
  const links: GeneratedLink[] = [];
  edge.forEach((e, ei) => {
    for (let h = 0; h < half; h++) links.push({ a: hosts[ei * half + h], b: e, shaping });
  });
  for (let pod = 0; pod < k; pod++) {
    for (let e = 0; e < half; e++) {
      for (let a = 0; a < half; a++) links.push({ a: edge[pod * half + e], b: agg[pod * half + a], shaping });
    }
  }
  for (let pod = 0; pod < k; pod++) {
    for (let a = 0; a < half; a++) {
      for (let c = 0; c < half; c++) links.push({ a: agg[pod * half + a], b: core[a * half + c], shaping });
    }
  }
  return { nodes: [...hosts, ...edge, ...agg, ...core], links };
}

function torus(dims: number[], p: string, shaping: ShapingOverrides): Generated {
  const total = dims.reduce((x, d) => x * d, 1);
  const coords = (i: number): number[] => {
    const out: number[] = new Array(dims.length);
    for (let d = dims.length - 1; d >= 0; d--) {
      out[d] = i % dims[d];
      i = Math.floor(i / dims[d]);
    }
    return out;
  };
  const nameOf = (c: number[]) => `${p}${c.join("-")}`;
  const nodes: string[] = [];
  const links: GeneratedLink[] = [];
  for (let i = 0; i < total; i++) nodes.push(nameOf(coords(i)));
  for (let i = 0; i < total; i++) {
    const c = coords(i);
    dims.forEach((size, d) => {
      // With 2 the wrap-around link is the same pair as the forward one; with 1 it is a self-link.
      if (size === 1 || (size === 2 && c[d] === 1)) return;
      const next = c.slice();
      next[d] = (c[d] + 1) % size;
      links.push({ a: nodes[i], b: nameOf(next), shaping });
    });
  }
  return { nodes, links };
}
