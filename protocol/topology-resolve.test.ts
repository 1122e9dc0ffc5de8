/**
 * Tests for resolving topology documents: generator sizes, defaults layering,
 * per-direction overrides, numbering and addresses (with and without existing
 * nodes), every validation message, and that each file in examples/ resolves.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { DEFAULT_SHAPING, type NodeSpec } from "./state.ts";
import { TopologyError } from "./topology.ts";
import { loadTopologyFile, parseTopologyText } from "./topology-parse.ts";
import { addressNewNodes, resolveTopology, type ResolveOptions, type ResolvedTopology } from "./topology-resolve.ts";

function resolve(yaml: string, opts?: ResolveOptions): ResolvedTopology {
  return resolveTopology(parseTopologyText(yaml, "t.yaml"), opts);
}

function issuesOf(yaml: string, opts?: ResolveOptions): string[] {
  const doc = parseTopologyText(yaml, "t.yaml");
  try {
    resolveTopology(doc, opts);
  } catch (e) {
    if (e instanceof TopologyError) return e.issues;
    throw e;
  }
  throw new Error("expected the document to be refused");
}

const ips = (t: ResolvedTopology) => Object.fromEntries(t.nodes.map((n) => [n.name, n.ip]));
const pairs = (t: ResolvedTopology) => t.links.map((l) => `${l.a}-${l.b}`);

describe("generators", () => {
  test("line", () => {
    const t = resolve("generate: [{shape: line, n: 3}]");
    expect(t.nodes.map((n) => n.name)).toEqual(["h1", "h2", "h3"]);
    expect(pairs(t)).toEqual(["h1-h2", "h2-h3"]);
  });

  test("ring of n has n links", () => {
    for (const n of [3, 4, 10]) {
      const t = resolve(`generate: [{shape: ring, n: ${n}, prefix: r}]`);
      expect(t.nodes).toHaveLength(n);
      expect(t.links).toHaveLength(n);
    }
    expect(pairs(resolve("generate: [{shape: ring, n: 4, prefix: r}]"))).toEqual(["r1-r2", "r2-r3", "r3-r4", "r4-r1"]);
  });

  test("star: hub and n leaves", () => {
    const t = resolve("generate: [{shape: star, n: 4, prefix: s}]");
    expect(t.nodes.map((n) => n.name)).toEqual(["s1", "s2", "s3", "s4", "s0"]);
    expect(pairs(t)).toEqual(["s0-s1", "s0-s2", "s0-s3", "s0-s4"]);
    expect(resolve("generate: [{shape: star, n: 2, prefix: s, hub: sw}]").nodes.map((n) => n.name)).toEqual(["s1", "s2", "sw"]);
  });

  test("full mesh of n has n(n-1)/2 links", () => {
    for (const n of [1, 2, 4, 7]) {
      const t = resolve(`generate: [{shape: full_mesh, n: ${n}}]`);
      expect(t.nodes).toHaveLength(n);
      expect(t.links).toHaveLength((n * (n - 1)) / 2);
    }
  });

  test("dumbbell", () => {
    const t = resolve("generate: [{shape: dumbbell, n: 2}]");
    expect(t.nodes.map((n) => n.name)).toEqual(["left1", "left2", "right1", "right2", "sl", "sr"]);
    expect(pairs(t)).toEqual(["left1-sl", "left2-sl", "right1-sr", "right2-sr", "sl-sr"]);
    const named = resolve("generate: [{shape: dumbbell, n: 1, prefix: d, left: src, right: dst, switches: [a, b]}]");
    expect(named.nodes.map((n) => n.name)).toEqual(["dsrc1", "ddst1", "da", "db"]);
  });

  test("fat tree k=4: 20 switches, 16 hosts, 48 links", () => {
    const t = resolve("generate: [{shape: fat_tree, k: 4}]");
    const count = (p: string) => t.nodes.filter((n) => new RegExp(`^${p}\\d+$`).test(n.name)).length;
    expect(t.nodes).toHaveLength(36);
    expect([count("h"), count("e"), count("a"), count("c")]).toEqual([16, 8, 8, 4]);
    expect(t.links).toHaveLength(48);
    // every switch uses all k ports, every host its one
    const degree = new Map<string, number>();
    for (const l of t.links) for (const n of [l.a, l.b]) degree.set(n, (degree.get(n) ?? 0) + 1);
    for (const n of t.nodes) expect(degree.get(n.name)).toBe(n.name.startsWith("h") ? 1 : 4);
    // hosts first: h1..h16 hold 10.0.0.1..16
    expect(t.nodes[15]).toMatchObject({ name: "h16", index: 16, ip: "10.0.0.16/16" });
  });

  test("fat tree sizes follow k", () => {
    const t = resolve("generate: [{shape: fat_tree, k: 6}]");
    expect(t.nodes).toHaveLength(54 + 45);
    expect(t.links).toHaveLength(3 * 54);
  });

  test("torus 4x4: 16 nodes, 32 links", () => {
    const t = resolve("generate: [{shape: torus, dims: [4, 4], prefix: t}]");
    expect(t.nodes).toHaveLength(16);
    expect(t.links).toHaveLength(32);
    expect(t.nodes.slice(0, 5).map((n) => n.name)).toEqual(["t0-0", "t0-1", "t0-2", "t0-3", "t1-0"]);
    expect(pairs(t)).toContain("t3-3-t0-3");
    expect(pairs(t)).toContain("t0-3-t0-0");
  });

  test("torus with short dimensions makes no duplicate or self links", () => {
    // a dimension of 2 links each pair once (3 links here), one of 3 wraps around (6 links)
    expect(resolve("generate: [{shape: torus, dims: [2, 3]}]").links).toHaveLength(9);
    expect(resolve("generate: [{shape: torus, dims: [1, 5]}]").links).toHaveLength(5);
    expect(resolve("generate: [{shape: torus, dims: [2, 2, 2]}]").links).toHaveLength(12);
    expect(resolve("generate: [{shape: torus, dims: [3, 3, 3]}]").links).toHaveLength(81);
  });

  test("generator kind, and its link shaping", () => {
    const t = resolve("generate: [{shape: line, n: 2, kind: userspace, link: {delay: 10ms}}]");
    expect(t.nodes.map((n) => n.kind)).toEqual(["userspace", "userspace"]);
    expect(t.links[0].ab.delay).toBeCloseTo(0.01, 12);
    expect(t.links[0].ba.delay).toBeCloseTo(0.01, 12);
  });

  test("a dumbbell bottleneck sits on top of its link", () => {
    const t = resolve("generate: [{shape: dumbbell, n: 1, link: {bandwidth: 1Gbit, delay: 1ms}, bottleneck: {bandwidth: 10Mbit}}]");
    const bottleneck = t.links.find((l) => l.id === "sl:sr")!;
    expect(bottleneck.ab).toEqual({ ...DEFAULT_SHAPING, bandwidth: 10e6, delay: 0.001 });
    expect(t.links.find((l) => l.id === "left1:sl")!.ab.bandwidth).toBe(1e9);
  });

  test("generated and written nodes and links mix", () => {
    const t = resolve(`
generate: [{shape: line, n: 2}, {shape: line, n: 2, prefix: g}]
nodes: [x]
links: [{a: h2, b: g1}, {a: x, b: h1}]
`);
    expect(t.nodes.map((n) => [n.name, n.index])).toEqual([["h1", 1], ["h2", 2], ["g1", 3], ["g2", 4], ["x", 5]]);
    expect(pairs(t)).toEqual(["h1-h2", "g1-g2", "h2-g1", "x-h1"]);
  });

  test("generators too large to build are refused", () => {
    expect(issuesOf("subnet: 10.0.0.0/8\ngenerate: [{shape: torus, dims: [1000, 1000]}]")).toEqual([
      "generate[0]: torus of 1000000 nodes is too large (at most 100000)",
    ]);
  });

  test("generated names must be valid names", () => {
    const [p, l] = ["p".repeat(40), "l".repeat(30)];
    expect(issuesOf(`generate: [{shape: dumbbell, n: 1, prefix: ${p}, left: ${l}}]`)).toEqual([
      `generate[0]: made the name "${p}${l}1", which is not a valid name (is the prefix too long?)`,
    ]);
  });
});

describe("defaults and shaping", () => {
  test("an empty link is DEFAULT_SHAPING both ways", () => {
    const t = resolve("nodes: [a, b]\nlinks: [{a: a, b: b}]");
    expect(t.links).toEqual([{ id: "a:b", a: "a", b: "b", ab: DEFAULT_SHAPING, ba: DEFAULT_SHAPING }]);
  });

  test("layers: DEFAULT_SHAPING < defaults.link < generator link < link fields < ab/ba", () => {
    const t = resolve(`
defaults: { link: { bandwidth: 100Mbit, delay: 1ms, jitter: 1ms, queue: 50 } }
generate: [{ shape: line, n: 2, link: { delay: 2ms } }]
nodes: [x, y]
links:
  - { a: x, b: y, delay: 5ms, loss: 1%, ab: { loss: 10%, delay: 7ms }, ba: { bandwidth: 10Mbit } }
  - { a: h1, b: x }
`);
    const [gen, xy, hx] = t.links;
    expect(gen.ab).toEqual({ bandwidth: 100e6, delay: 0.002, jitter: 0.001, loss: 0, queue: 50, reorder: false });
    expect(xy.ab).toEqual({ bandwidth: 100e6, delay: 0.007, jitter: 0.001, loss: 0.1, queue: 50, reorder: false });
    expect(xy.ba).toEqual({ bandwidth: 10e6, delay: 0.005, jitter: 0.001, loss: 0.01, queue: 50, reorder: false });
    expect(hx.ab).toEqual({ bandwidth: 100e6, delay: 0.001, jitter: 0.001, loss: 0, queue: 50, reorder: false });
    expect(hx.ba).toEqual(hx.ab);
  });

  test("one-way loss leaves the other direction clean", () => {
    const t = resolve("nodes: [h1, h2]\nlinks: [{a: h1, b: h2, ab: {loss: 10%}}]");
    expect(t.links[0].ab.loss).toBe(0.1);
    expect(t.links[0].ba.loss).toBe(0);
  });

  test("node kind and mtu: the node, then defaults, then netns and 1500", () => {
    const t = resolve(`
defaults: { kind: userspace, mtu: 9000 }
nodes: [a, {name: b, kind: host, mtu: 1400}]
`);
    expect(t.nodes.map((n) => [n.name, n.kind, n.mtu])).toEqual([
      ["a", "userspace", 9000],
      ["b", "host", 1400],
    ]);
    expect(resolve("nodes: [a]").nodes[0]).toEqual({ name: "a", kind: "netns", index: 1, ip: "10.0.0.1/16", mtu: 1500 });
  });

  test("link ids default to a:b; routes to r1, r2 with weight 1", () => {
    const t = resolve(`
nodes: [a, b, c]
links: [{a: a, b: b}, {id: uplink, a: b, b: c}]
routes: [{path: [a, b, c]}, {id: back, path: [c, b, a], weight: 3}, {path: [a, b]}]
`);
    expect(t.links.map((l) => l.id)).toEqual(["a:b", "uplink"]);
    expect(t.routes).toEqual([
      { id: "r1", path: ["a", "b", "c"], weight: 1 },
      { id: "back", path: ["c", "b", "a"], weight: 3 },
      { id: "r3", path: ["a", "b"], weight: 1 },
    ]);
  });

  test("the name is passed through; hosts come from the node or defaultHost", () => {
    const t = resolve("name: demo\nnodes: [a, {name: b, host: hostb}]", { defaultHost: "hosta" });
    expect(t.name).toBe("demo");
    expect(t.nodes.map((n) => n.host)).toEqual(["hosta", "hostb"]);
    expect(resolve("nodes: [a]").nodes[0].host).toBeUndefined();
  });

  test("ranges expand in nodes, as strings and as objects", () => {
    const t = resolve('nodes: ["h[1-3]", {name: "vm[01-02]", kind: userspace}]');
    expect(t.nodes.map((n) => `${n.name}:${n.kind}:${n.index}`)).toEqual([
      "h1:netns:1",
      "h2:netns:2",
      "h3:netns:3",
      "vm01:userspace:4",
      "vm02:userspace:5",
    ]);
  });
});

describe("addresses", () => {
  test("subnet base + index", () => {
    const t = resolve('nodes: ["h[1-3]"]');
    expect(t.subnet).toBe("10.0.0.0/16");
    expect(ips(t)).toEqual({ h1: "10.0.0.1/16", h2: "10.0.0.2/16", h3: "10.0.0.3/16" });
  });

  test("a document subnet, else the namespace's", () => {
    expect(ips(resolve("subnet: 192.168.1.0/24\nnodes: [a]"))).toEqual({ a: "192.168.1.1/24" });
    expect(ips(resolve("nodes: [a]", { subnet: "172.16.0.0/12" }))).toEqual({ a: "172.16.0.1/12" });
    expect(ips(resolve("subnet: 192.168.1.0/24\nnodes: [a]", { subnet: "172.16.0.0/12" }))).toEqual({ a: "192.168.1.1/24" });
  });

  test("index 256 crosses into the next /24 of a /16", () => {
    const t = resolve('nodes: ["h[1-300]"]');
    expect(t.nodes[254].ip).toBe("10.0.0.255/16");
    expect(t.nodes[255].ip).toBe("10.0.1.0/16");
    expect(t.nodes[299].ip).toBe("10.0.1.44/16");
  });

  test("explicit addresses, with or without the prefix length, are skipped by the others", () => {
    const t = resolve("nodes: [h1, {name: h2, ip: 10.0.0.1}, h3, {name: h4, ip: 10.0.9.9/16}]");
    expect(ips(t)).toEqual({ h1: "10.0.0.2/16", h2: "10.0.0.1/16", h3: "10.0.0.3/16", h4: "10.0.9.9/16" });
    expect(t.nodes.map((n) => n.index)).toEqual([1, 2, 3, 4]);
  });

  test("a full /24 skips the network and broadcast addresses", () => {
    // a (index 254) holds h5's address, so h5 takes the one address left: a's own .254
    const t = resolve('subnet: 10.9.8.0/24\nnodes: ["h[1-253]", {name: a, ip: 10.9.8.5}]');
    const all = new Set(t.nodes.map((n) => n.ip));
    expect(all.size).toBe(254);
    expect(all.has("10.9.8.0/24")).toBe(false);
    expect(all.has("10.9.8.255/24")).toBe(false);
    expect(ips(t).h4).toBe("10.9.8.4/24");
    expect(ips(t).h5).toBe("10.9.8.254/24");
    expect(ips(t).h6).toBe("10.9.8.6/24");
  });

  test("a subnet too small for the nodes", () => {
    expect(issuesOf('subnet: 10.0.0.0/30\nnodes: ["h[1-5]"]')).toEqual(["subnet: 10.0.0.0/30 has room for 2 nodes, the topology has 5"]);
    expect(issuesOf("subnet: 10.0.0.0/31\nnodes: [a]")).toEqual(["subnet: 10.0.0.0/31 has room for 0 nodes, the topology has 1"]);
    expect(ips(resolve('subnet: 10.0.0.0/30\nnodes: ["h[1-2]"]'))).toEqual({ h1: "10.0.0.1/30", h2: "10.0.0.2/30" });
  });

  test("address errors", () => {
    expect(issuesOf("nodes: [{name: a, ip: 10.1.0.1}]")).toEqual(["nodes[0].ip: 10.1.0.1 is outside the subnet 10.0.0.0/16"]);
    expect(issuesOf("nodes: [{name: a, ip: 10.0.0.1/24}]")).toEqual(["nodes[0].ip: prefix length /24 differs from the subnet 10.0.0.0/16"]);
    expect(issuesOf("nodes: [{name: a, ip: 10.0.0.0}]")).toEqual(["nodes[0].ip: 10.0.0.0 is the network address of the subnet 10.0.0.0/16"]);
    expect(issuesOf("nodes: [{name: a, ip: 10.0.255.255}]")).toEqual([
      "nodes[0].ip: 10.0.255.255 is the broadcast address of the subnet 10.0.0.0/16",
    ]);
    expect(issuesOf("nodes: [{name: a, ip: 10.0.0.5}, b, {name: c, ip: 10.0.0.5/16}]")).toEqual([
      "nodes[2].ip: 10.0.0.5 is already the address of a",
    ]);
    expect(issuesOf('nodes: [{name: "h[1-2]", ip: 10.0.0.5}]')).toEqual(["nodes[0].ip: one address cannot be given to a range of 2 nodes"]);
  });
});

describe("existing nodes", () => {
  const existing: NodeSpec[] = [
    { name: "old", kind: "netns", index: 1, ip: "10.0.0.1/16", host: "hosta", mtu: 1500 },
    { name: "h2", kind: "netns", index: 2, ip: "10.0.0.2/16", host: "hostb", mtu: 1500 },
    { name: "h3", kind: "netns", index: 7, ip: "10.0.0.77/16", host: "hosta", mtu: 1500 },
  ];

  test("keep their index, address and host; new nodes avoid everything taken", () => {
    const t = resolve("nodes: [h1, h2, h3, h4]", { existing, defaultHost: "hostz" });
    expect(t.nodes.map((n) => [n.name, n.index, n.ip, n.host])).toEqual([
      ["h1", 3, "10.0.0.3/16", "hostz"],
      ["h2", 2, "10.0.0.2/16", "hostb"],
      ["h3", 7, "10.0.0.77/16", "hosta"],
      ["h4", 4, "10.0.0.4/16", "hostz"],
    ]);
  });

  test("the document's ip and host win; the old address goes back to the pool", () => {
    const t = resolve("nodes: [{name: h2, ip: 10.0.0.50, host: hostc}, n1, n2]", { existing });
    expect(t.nodes.map((n) => [n.name, n.index, n.ip, n.host])).toEqual([
      ["h2", 2, "10.0.0.50/16", "hostc"],
      ["n1", 3, "10.0.0.3/16", undefined],
      ["n2", 4, "10.0.0.4/16", undefined],
    ]);
    // in a /30 the only address left for n1 is the one h2 gave up
    const small = { ...existing[1], ip: "10.0.0.2/30" };
    const u = resolve("subnet: 10.0.0.0/30\nnodes: [{name: h2, ip: 10.0.0.1}, n1]", { existing: [small] });
    expect(ips(u)).toEqual({ h2: "10.0.0.1/30", n1: "10.0.0.2/30" });
  });

  test("an existing address outside a new subnet is replaced", () => {
    const t = resolve("subnet: 192.168.0.0/24\nnodes: [h2]", { existing });
    expect(t.nodes[0]).toMatchObject({ name: "h2", index: 2, ip: "192.168.0.2/24" });
  });

  test("a document address that an existing node held moves that node", () => {
    const t = resolve("nodes: [{name: x, ip: 10.0.0.2}, h2]", { existing });
    expect(ips(t)).toEqual({ x: "10.0.0.2/16", h2: "10.0.0.3/16" });
  });
});

describe("validation", () => {
  test("unknown nodes in links", () => {
    expect(issuesOf("nodes: [h1, h2]\nlinks: [{a: h1, b: h2}, {a: h2, b: h3}, {a: h9, b: h1}]")).toEqual([
      'links[1].b: unknown node "h3"',
      'links[2].a: unknown node "h9"',
    ]);
  });

  test("nodes named only in links are not created", () => {
    expect(issuesOf("links: [{a: x, b: y}]")).toEqual(['links[0].a: unknown node "x"', 'links[0].b: unknown node "y"']);
  });

  test("duplicate names, within nodes and against generators", () => {
    expect(issuesOf('generate: [{shape: line, n: 3}]\nnodes: [a, h2, {name: a}, "h[3-4]"]')).toEqual([
      'nodes[1]: duplicate name "h2" (already made by generate[0])',
      'nodes[2].name: duplicate name "a" (already made by nodes[0])',
      'nodes[3]: duplicate name "h3" (already made by generate[0])',
    ]);
    expect(issuesOf("generate: [{shape: line, n: 2}, {shape: ring, n: 3}]")).toEqual([
      'generate[1]: duplicate name "h1" (already made by generate[0]) and 1 more',
    ]);
    expect(issuesOf('generate: [{shape: line, n: 500}]\nnodes: ["h[1-1000]"]')).toEqual([
      'nodes[0]: duplicate name "h1" (already made by generate[0]) and 499 more',
    ]);
  });

  test("a link to itself", () => {
    expect(issuesOf("nodes: [a]\nlinks: [{a: a, b: a}]")).toEqual(["links[0]: a link cannot connect a node to itself"]);
  });

  test("the same pair twice, either way round", () => {
    expect(issuesOf("nodes: [h1, h2, h3]\nlinks: [{a: h1, b: h2}, {a: h2, b: h3}, {a: h2, b: h1, delay: 1ms}, {a: h1, b: h2, id: other}]")).toEqual([
      "links[2]: duplicate link between h2 and h1 (first at links[0])",
      "links[3]: duplicate link between h1 and h2 (first at links[0])",
    ]);
    expect(issuesOf("generate: [{shape: line, n: 2}]\nlinks: [{a: h1, b: h2}]")).toEqual([
      "links[0]: duplicate link between h1 and h2 (first at generate[0])",
    ]);
  });

  test("duplicate link and route ids", () => {
    expect(issuesOf("nodes: [a, b, c]\nlinks: [{a: a, b: b, id: x}, {a: b, b: c, id: x}]")).toEqual([
      'links[1].id: duplicate link id "x" (first at links[0])',
    ]);
    expect(issuesOf("nodes: [a, b, c]\nlinks: [{a: a, b: b, id: 'b:c'}, {a: b, b: c}]")).toEqual([
      'links[1]: duplicate link id "b:c" (first at links[0])',
    ]);
    expect(issuesOf("nodes: [a, b]\nlinks: [{a: a, b: b}]\nroutes: [{id: r2, path: [a, b]}, {path: [b, a]}]")).toEqual([
      'routes[1].id: duplicate route id "r2" (first at routes[0]; routes[1] has no id and is named by its position)',
    ]);
  });

  test("routes: unknown nodes, missing links, revisits", () => {
    const doc = `
nodes: [h1, h2, h3, h5]
links: [{a: h1, b: h2}, {a: h2, b: h3}]
routes:
  - { path: [h1, h2, h5] }
  - { path: [h1, h2, h1] }
  - { path: [h1, h9] }
  - { path: [h1, h2, h3] }
`;
    expect(issuesOf(doc)).toEqual([
      "routes[0].path[2]: no link between h2 and h5",
      'routes[1].path: a route must not visit a node twice ("h1" appears more than once)',
      'routes[2].path[1]: unknown node "h9"',
    ]);
  });

  test("every problem is reported at once, prefixed with the file name when given", () => {
    const doc = parseTopologyText(
      `
nodes: [h1, h1, {name: x, ip: 10.1.0.1}]
links: [{a: h1, b: h9}, {a: h1, b: h1}]
routes: [{path: [h1, x]}]
`,
      "t.yaml",
    );
    try {
      resolveTopology(doc, { fileName: "examples/bad.yaml" });
      throw new Error("expected a TopologyError");
    } catch (e) {
      const err = e as TopologyError;
      expect(err.issues).toEqual([
        'nodes[1]: duplicate name "h1" (already made by nodes[0])',
        'links[0].b: unknown node "h9"',
        "links[1]: a link cannot connect a node to itself",
        "routes[0].path[1]: no link between h1 and x",
        "nodes[2].ip: 10.1.0.1 is outside the subnet 10.0.0.0/16",
      ]);
      expect(err.message.split("\n")[0]).toBe('examples/bad.yaml: nodes[1]: duplicate name "h1" (already made by nodes[0])');
    }
  });

  test("a bad namespace subnet", () => {
    expect(issuesOf("nodes: [a]", { subnet: "nonsense" })).toEqual(['subnet: expected a subnet like "10.0.0.0/16", got "nonsense"']);
  });
});

describe("examples/", () => {
  const dir = new URL("../examples/", import.meta.url).pathname;
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));

  test("the expected examples are there", () => {
    for (const f of ["line.yaml", "dumbbell.yaml", "ring.yaml", "fat-tree.yaml", "two-paths.yaml", "lossy.yaml"]) {
      expect(files).toContain(f);
    }
  });

  for (const file of files) {
    test(`${file} parses and resolves`, async () => {
      const t = resolveTopology(await loadTopologyFile(dir + file), { fileName: file });
      expect(t.nodes.length).toBeGreaterThan(0);
    });
  }

  test("line.yaml is the README tour: h1-h2-h3, 10.0.0.x, 10ms and 100Mbit", async () => {
    const t = resolveTopology(await loadTopologyFile(`${dir}line.yaml`));
    expect(ips(t)).toEqual({ h1: "10.0.0.1/16", h2: "10.0.0.2/16", h3: "10.0.0.3/16" });
    expect(pairs(t)).toEqual(["h1-h2", "h2-h3"]);
    for (const l of t.links) {
      for (const s of [l.ab, l.ba]) {
        expect(s.bandwidth).toBe(100e6);
        expect(s.delay).toBeCloseTo(0.01, 12);
      }
    }
  });

  test("two-paths.yaml routes both ways through b", async () => {
    const t = resolveTopology(await loadTopologyFile(`${dir}two-paths.yaml`));
    expect(t.routes.map((r) => r.path.join(">"))).toEqual(["h1>b>h2", "h2>b>h1"]);
    expect(ips(t).h2).toBe("10.0.0.2/16");
  });

  test("lossy.yaml loses in one direction only", async () => {
    const [link] = resolveTopology(await loadTopologyFile(`${dir}lossy.yaml`)).links;
    expect([link.a, link.b, link.ab.loss, link.ba.loss]).toEqual(["h1", "h2", 0.1, 0]);
  });

  test("fat-tree.yaml and dumbbell.yaml sizes", async () => {
    const ft = resolveTopology(await loadTopologyFile(`${dir}fat-tree.yaml`));
    expect([ft.nodes.length, ft.links.length]).toEqual([36, 48]);
    const db = resolveTopology(await loadTopologyFile(`${dir}dumbbell.yaml`));
    expect(db.links.find((l) => l.id === "sl:sr")?.ab.bandwidth).toBe(10e6);
  });
});

test("addressNewNodes: launched nodes take the lowest free index and address, as a document's new nodes do", () => {
  const node = (name: string, index: number, ip: string): NodeSpec => ({ name, kind: "netns", index, ip, host: "h1", mtu: 1500 });
  const existing = [node("a", 1, "10.0.0.1/29"), node("b", 3, "10.0.0.2/29")];
  // c takes index 2; its address by index (.2) is b's, so it takes the lowest free one
  expect(addressNewNodes(["c"], "10.0.0.0/29", existing)).toEqual([{ name: "c", index: 2, ip: "10.0.0.3/29" }]);
  expect(() => addressNewNodes(["c", "d", "e", "f", "g"], "10.0.0.0/29", existing)).toThrow(/no free address left in 10.0.0.0\/29 for g/);
});
