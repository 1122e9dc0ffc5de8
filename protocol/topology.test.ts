/**
 * Tests for the topology document schema and parsing: YAML and JSON, units,
 * the wording of every error, and that docs/topology.schema.json is current.
 */
import { describe, expect, test } from "bun:test";
import { TopologyDocument, TopologyError, topologyJsonSchema, topologyJsonSchemaText } from "./topology.ts";
import { loadTopologyFile, parseTopologyText, parseTopologyValue } from "./topology-parse.ts";

/** The issues a text produces, or a failure if it parses. */
function issuesOf(text: string, fileName = "t.yaml"): string[] {
  try {
    parseTopologyText(text, fileName);
  } catch (e) {
    if (e instanceof TopologyError) return e.issues;
    throw e;
  }
  throw new Error("expected the text to be refused");
}

describe("parsing", () => {
  test("YAML with every field", () => {
    const doc = parseTopologyText(
      `
name: tour
subnet: 10.1.0.0/24
defaults: { kind: userspace, mtu: 9000, link: { bandwidth: 1Gbit, delay: 1ms } }
nodes:
  - h1
  - "h[2-3]"
  - { name: h4, kind: netns, ip: 10.1.0.40/24, host: hosta, mtu: 1500 }
links:
  - { a: h1, b: h2, bandwidth: 100Mbit, delay: 10ms, jitter: 1ms, loss: 1%, queue: 500, reorder: true }
  - { id: uplink, a: h2, b: h3, ab: { loss: 10% }, ba: { bandwidth: 10Mbit } }
routes:
  - { path: [h1, h2, h3], weight: 2 }
generate:
  - { shape: line, n: 2, prefix: l, kind: host, link: { delay: 2ms } }
`,
      "tour.yaml",
    );
    expect(doc.name).toBe("tour");
    expect(doc.subnet).toBe("10.1.0.0/24");
    expect(doc.defaults).toEqual({ kind: "userspace", mtu: 9000, link: { bandwidth: 1e9, delay: 0.001 } });
    expect(doc.nodes).toEqual(["h1", "h[2-3]", { name: "h4", kind: "netns", ip: "10.1.0.40/24", host: "hosta", mtu: 1500 }]);
    expect(doc.links?.[0]).toEqual({ a: "h1", b: "h2", bandwidth: 100e6, delay: 0.01, jitter: 0.001, loss: 0.01, queue: 500, reorder: true });
    expect(doc.links?.[1]).toEqual({ id: "uplink", a: "h2", b: "h3", ab: { loss: 0.1 }, ba: { bandwidth: 10e6 } });
    expect(doc.routes).toEqual([{ path: ["h1", "h2", "h3"], weight: 2 }]);
    expect(doc.generate).toEqual([{ shape: "line", n: 2, prefix: "l", kind: "host", link: { delay: 0.002 } }]);
  });

  test("JSON is detected by its opening brace and means the same", () => {
    const yaml = parseTopologyText("nodes: [h1, h2]\nlinks:\n  - { a: h1, b: h2, delay: 10ms }\n", "a.yaml");
    const json = parseTopologyText('  \n{"nodes": ["h1", "h2"], "links": [{"a": "h1", "b": "h2", "delay": "10ms"}]}', "a.json");
    expect(json).toEqual(yaml);
  });

  test("plain numbers are base units", () => {
    const doc = parseTopologyText('{"nodes": ["a", "b"], "links": [{"a": "a", "b": "b", "bandwidth": 1000000, "delay": 0.01, "loss": 0.5}]}', "x.json");
    expect(doc.links?.[0]).toEqual({ a: "a", b: "b", bandwidth: 1e6, delay: 0.01, loss: 0.5 });
  });

  test("a $schema key is allowed for editors", () => {
    expect(parseTopologyText('{"$schema": "../docs/topology.schema.json", "nodes": ["a"]}', "x.json").nodes).toEqual(["a"]);
  });

  test("every generator shape parses", () => {
    const doc = parseTopologyText(
      `
generate:
  - { shape: line, n: 3, prefix: h, link: { delay: 10ms } }
  - { shape: ring, n: 4, prefix: r }
  - { shape: star, n: 4, prefix: s, hub: sw }
  - { shape: full_mesh, n: 4, prefix: m }
  - { shape: dumbbell, n: 2, left: l, right: r, switches: [x, y], link: { delay: 1ms }, bottleneck: { bandwidth: 10Mbit } }
  - { shape: fat_tree, k: 4, prefix: ft- }
  - { shape: torus, dims: [4, 4], prefix: t, kind: userspace }
`,
      "g.yaml",
    );
    expect(doc.generate?.map((g) => g.shape)).toEqual(["line", "ring", "star", "full_mesh", "dumbbell", "fat_tree", "torus"]);
  });
});

describe("errors", () => {
  test("messages start with the file name and hold every issue", () => {
    try {
      parseTopologyText("nodes: [h1]\nlinks:\n  - { a: h1, b: h2, delay: ten, loss: 200% }\n", "examples/x.yaml");
      throw new Error("expected a TopologyError");
    } catch (e) {
      expect(e).toBeInstanceOf(TopologyError);
      const err = e as TopologyError;
      expect(err.fileName).toBe("examples/x.yaml");
      expect(err.issues).toEqual([
        'links[0].delay: expected a duration like "10ms", got "ten"',
        'links[0].loss: expected a percentage from 0% to 100%, got "200%"',
      ]);
      expect(err.message).toBe(
        'examples/x.yaml: links[0].delay: expected a duration like "10ms", got "ten"\n' +
          'examples/x.yaml: links[0].loss: expected a percentage from 0% to 100%, got "200%"',
      );
    }
  });

  test("the brief's example: a bad unit four links down", () => {
    const links = ["{a: a, b: b}", "{a: a, b: c}", "{a: a, b: d}", "{a: a, b: e, delay: ten}"].join(", ");
    expect(issuesOf(`links: [${links}]`)).toEqual(['links[3].delay: expected a duration like "10ms", got "ten"']);
  });

  test("negative values", () => {
    expect(issuesOf("links: [{a: a, b: b, delay: -5ms}]")).toEqual([
      'links[0].delay: expected a duration like "10ms", got "-5ms" (negative values are not allowed)',
    ]);
    expect(issuesOf('{"links": [{"a": "a", "b": "b", "jitter": -0.001, "bandwidth": -1}]}')).toEqual([
      'links[0].bandwidth: expected a rate like "100Mbit", got -1',
      'links[0].jitter: expected a duration like "10ms", got -0.001',
    ]);
  });

  test("loss over 100%", () => {
    expect(issuesOf("links: [{a: a, b: b, loss: 110%}]")).toEqual(['links[0].loss: expected a percentage from 0% to 100%, got "110%"']);
    expect(issuesOf('{"links": [{"a": "a", "b": "b", "loss": 1.5}]}')).toEqual([
      'links[0].loss: expected a fraction from 0 to 1 or a percentage like "1%", got 1.5',
    ]);
  });

  test("unit fields of the wrong type", () => {
    expect(issuesOf("links: [{a: a, b: b, delay: true, bandwidth: [1]}]")).toEqual([
      'links[0].bandwidth: expected a rate like "100Mbit", got a list',
      'links[0].delay: expected a duration like "10ms", got true',
    ]);
    expect(issuesOf("links: [{a: a, b: b, ab: {loss: {}}}]")).toEqual(['links[0].ab.loss: expected a percentage like "1%", got an object']);
  });

  test("unknown keys name themselves and the likely key", () => {
    expect(issuesOf("links: [{a: a, b: b, bandwdith: 10Mbit}]")).toEqual(['links[0].bandwdith: unknown key (did you mean "bandwidth"?)']);
    expect(issuesOf("links: [{a: a, b: b, colour: red}]")).toEqual([
      "links[0].colour: unknown key; expected one of id, a, b, bandwidth, delay, jitter, loss, queue, reorder, ab, ba, state",
    ]);
    expect(issuesOf("nodse: [a]")).toEqual(['nodse: unknown key (did you mean "nodes"?)']);
    expect(issuesOf("nodes: [{name: a, ipp: 10.0.0.1}]")).toEqual(['nodes[0].ipp: unknown key (did you mean "ip"?)']);
    expect(issuesOf("defaults: {link: {dealy: 1ms}}")).toEqual(['defaults.link.dealy: unknown key (did you mean "delay"?)']);
    expect(issuesOf("links: [{a: a, b: b, ba: {los: 1%}}]")).toEqual(['links[0].ba.los: unknown key (did you mean "loss"?)']);
    expect(issuesOf("generate: [{shape: star, n: 3, hubb: x}]")).toEqual(['generate[0].hubb: unknown key (did you mean "hub"?)']);
    expect(issuesOf("generate: [{shape: torus, dims: [2], n: 3}]")[0]).toStartWith("generate[0].n: unknown key; expected one of shape, dims,");
  });

  test("two unknown keys in one object are two issues", () => {
    expect(issuesOf("links: [{a: a, b: b, x: 1, y: 2}]").map((i) => i.split(":")[0])).toEqual(["links[0].x", "links[0].y"]);
  });

  test("missing and mistyped fields", () => {
    expect(issuesOf("links: [{a: h1}]")).toEqual(["links[0].b: required"]);
    expect(issuesOf("links: [{a: h1, b: h2, queue: lots}]")).toEqual(['links[0].queue: expected a number, got "lots"']);
    expect(issuesOf("links: [{a: h1, b: h2, queue: 0}]")).toEqual(["links[0].queue: expected more than 0, got 0"]);
    expect(issuesOf("links: [{a: h1, b: h2, queue: 1.5}]")).toEqual(["links[0].queue: expected an integer, got 1.5"]);
    expect(issuesOf("links: [{a: h1, b: h2, reorder: yes please}]")).toEqual(['links[0].reorder: expected a boolean, got "yes please"']);
    expect(issuesOf("links: {a: h1}")).toEqual(["links: expected a list, got an object"]);
    expect(issuesOf("routes: [{path: [h1]}]")).toEqual(["routes[0].path: expected at least 2 items, got 1"]);
    expect(issuesOf("routes: [{path: [h1, h2], weight: 0}]")).toEqual(["routes[0].weight: expected more than 0, got 0"]);
  });

  test("names, ranges and node entries", () => {
    expect(issuesOf("nodes: [H1]")).toEqual([
      "nodes[0]: \"H1\" is not a valid name: expected lowercase letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)",
    ]);
    expect(issuesOf('nodes: ["h[3-1]"]')).toEqual(['nodes[0]: malformed range "h[3-1]": 3-1 counts down']);
    expect(issuesOf('nodes: [{name: "h[1-"}]')[0]).toStartWith('nodes[0].name: malformed range "h[1-"');
    expect(issuesOf("nodes: [5]")).toEqual(["nodes[0]: expected a string or an object, got 5"]);
    expect(issuesOf("nodes: [{name: a, kind: vm}]")).toEqual(['nodes[0].kind: expected one of netns, host, userspace, got "vm"']);
    expect(issuesOf("nodes: [{name: a, mtu: 100}]")).toEqual(["nodes[0].mtu: expected at least 576, got 100"]);
    expect(issuesOf("nodes: [{name: a, ip: 10.0.0}]")).toEqual([
      'nodes[0].ip: expected an IPv4 address like "10.0.0.2" or "10.0.0.2/16", got "10.0.0"',
    ]);
    expect(issuesOf("links: [{a: H1, b: h2}]")[0]).toStartWith('links[0].a: expected a name of lowercase letters');
    expect(issuesOf("links: [{a: H1, b: h2}]")[0]).toEndWith(', got "H1"');
  });

  test("subnets", () => {
    expect(issuesOf("subnet: 10.0.0.1/16")).toEqual(["subnet: 10.0.0.1/16 has host bits set; did you mean 10.0.0.0/16?"]);
    expect(issuesOf("subnet: 10.0.0.0")).toEqual(['subnet: expected a subnet like "10.0.0.0/16", got "10.0.0.0"']);
  });

  test("generators", () => {
    expect(issuesOf("generate: [{shape: hexagon, n: 3}]")).toEqual([
      'generate[0].shape: expected one of line, ring, star, full_mesh, dumbbell, fat_tree, torus, got "hexagon"',
    ]);
    expect(issuesOf("generate: [{n: 3}]")).toEqual(["generate[0].shape: required, one of line, ring, star, full_mesh, dumbbell, fat_tree, torus"]);
    expect(issuesOf("generate: [{shape: ring, n: 2}]")).toEqual(["generate[0].n: expected at least 3, got 2"]);
    expect(issuesOf("generate: [{shape: line}]")).toEqual(["generate[0].n: required"]);
    expect(issuesOf("generate: [{shape: fat_tree, k: 5}]")).toEqual(["generate[0].k: k must be even"]);
    expect(issuesOf("generate: [{shape: full_mesh, n: 5000}]")).toEqual(["generate[0].n: expected at most 1000, got 5000"]);
    expect(issuesOf("generate: [{shape: torus, dims: []}]")).toEqual(["generate[0].dims: expected at least 1 item, got 0"]);
    expect(issuesOf("generate: [{shape: line, n: 2, prefix: H}]")[0]).toStartWith("generate[0].prefix: expected a prefix");
    expect(issuesOf("generate: [{shape: line, n: 2, link: {delay: soon}}]")).toEqual([
      'generate[0].link.delay: expected a duration like "10ms", got "soon"',
    ]);
  });

  test("the document itself", () => {
    expect(issuesOf("")).toEqual(["the document is empty; expected a mapping with generate, nodes, links or routes"]);
    expect(issuesOf("# nothing but a comment\n")).toEqual(["the document is empty; expected a mapping with generate, nodes, links or routes"]);
    expect(issuesOf("- h1\n- h2\n")).toEqual(["(document): expected an object, got a list"]);
    expect(issuesOf("just words")).toEqual(['(document): expected an object, got "just words"']);
  });

  test("YAML syntax errors name the line", () => {
    expect(issuesOf("nodes: [h1, h2]\nlinks:\n  - { a: h1, b: h2\n")).toEqual([
      "line 4, column 1: Flow map in block collection must be sufficiently indented and end with a }",
    ]);
    expect(issuesOf("nodes: [h1]\nnodes: [h2]\n")).toEqual(["line 2, column 1: Map keys must be unique"]);
    const [first] = issuesOf("name: x\n  subnet: 10.0.0.0/16\n");
    expect(first).toMatch(/^line \d+, column \d+: /);
  });

  test("an alias to a missing anchor", () => {
    expect(issuesOf("nodes: *missing\n")[0]).toStartWith("invalid YAML: Unresolved alias");
  });

  test("invalid JSON", () => {
    expect(issuesOf('{"nodes": [h1]}', "x.json")[0]).toStartWith("invalid JSON: ");
  });
});

describe("parseTopologyValue", () => {
  test("checks a decoded value with the same wording, without a file name", () => {
    expect(parseTopologyValue({ nodes: ["a"] })).toEqual({ nodes: ["a"] });
    try {
      parseTopologyValue({ links: [{ a: "a", b: "b", delay: "ten" }] });
      throw new Error("expected a TopologyError");
    } catch (e) {
      expect((e as TopologyError).issues).toEqual(['links[0].delay: expected a duration like "10ms", got "ten"']);
      expect((e as TopologyError).message).toBe('links[0].delay: expected a duration like "10ms", got "ten"');
    }
  });
});

describe("loadTopologyFile", () => {
  test("reads a file and names it in errors", async () => {
    const doc = await loadTopologyFile(new URL("../examples/line.yaml", import.meta.url).pathname);
    expect(doc.name).toBe("line");
    const missing = "/nonexistent/nextmini/topology.yaml";
    await expect(loadTopologyFile(missing)).rejects.toThrow(`${missing}: cannot read the file: no such file`);
  });
});

describe("JSON Schema", () => {
  test("docs/topology.schema.json is what scripts/export-schema.ts writes now", async () => {
    const committed = await Bun.file(new URL("../docs/topology.schema.json", import.meta.url)).text();
    // On failure: bun scripts/export-schema.ts
    expect(committed).toBe(topologyJsonSchemaText());
  });

  test("describes input: unit fields take strings or numbers, objects are closed", () => {
    const schema = topologyJsonSchema() as {
      additionalProperties: boolean;
      properties: { links: { items: { properties: Record<string, { type?: unknown }>; additionalProperties: boolean } } };
    };
    expect(schema.additionalProperties).toBe(false);
    const link = schema.properties.links.items;
    expect(link.additionalProperties).toBe(false);
    expect(link.properties.delay.type).toEqual(["string", "number"]);
    expect(link.properties.reorder.type).toBe("boolean");
  });

  test("the schema object is the zod schema's input side", () => {
    expect(TopologyDocument.safeParse({ links: [{ a: "a", b: "b", delay: "1ms" }] }).success).toBe(true);
  });
});
