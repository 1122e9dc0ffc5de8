/** Namespace logic: placement, keeping identities, validation that changes nothing, pushes. */
import { describe, expect, test } from "bun:test";
import { ApiError } from "../protocol/errors.ts";
import { DEFAULT_SHAPING } from "../protocol/state.ts";
import { TopologyDocument, type TopologyDocumentInput } from "../protocol/topology.ts";
import { harness } from "./testing.ts";

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

/** A document as a user writes it, parsed the way PUT /topology parses it. */
const doc = (input: TopologyDocumentInput) => TopologyDocument.parse(input);

const line = doc({
  nodes: ["a", "b", "c"],
  links: [{ a: "a", b: "b", delay: "10ms" }, { a: "b", b: "c" }],
  routes: [{ path: ["a", "b", "c"] }],
});

describe("namespaces", () => {
  test("default always exists, empty", () => {
    const h = harness();
    expect(h.namespaces.list().map((n) => n.name)).toEqual(["default"]);
    expect(h.namespaces.get("default")).toMatchObject({ subnet: "10.0.0.0/16", nodes: [], links: [], routes: [] });
    expect(caught(() => h.namespaces.get("nope"))).toMatchObject({ status: 404, code: "namespace_not_found" });
  });

  test("no connected host: 503 no_hosts and nothing changes", () => {
    const h = harness();
    const e = caught(() => h.namespaces.applyDocument("default", line));
    expect(e).toMatchObject({ status: 503, code: "no_hosts" });
    expect(e.message).toStartWith('no connected host in this namespace to place node "a" on; start an agent');
    expect(h.namespaces.get("default").nodes).toEqual([]);
  });

  test("places new nodes on the least-loaded host, pushes state with next hops", () => {
    const h = harness();
    const a1 = h.agent("h1");
    const a2 = h.agent("h2");
    const r = h.namespaces.applyDocument("default", line);
    expect(r.added).toEqual(["a", "b", "c"]);
    expect(r.record.nodes.map((n) => [n.name, n.host, n.index, n.ip])).toEqual([
      ["a", "h1", 1, "10.0.0.1/16"],
      ["b", "h2", 2, "10.0.0.2/16"],
      ["c", "h1", 3, "10.0.0.3/16"],
    ]);
    for (const agent of [a1, a2]) {
      const state = agent.lastState()?.namespaces ?? [];
      expect(state.map((n) => n.name)).toEqual(["default"]);
      expect(state[0].nextHops).toEqual({ a: ["", "b", "b"], b: ["a", "", "c"], c: ["b", "b", ""] });
      expect(state[0].links[0].ab).toEqual({ ...DEFAULT_SHAPING, delay: 0.01 });
      expect(state[0].routes).toEqual([{ id: "r1", path: ["a", "b", "c"], weight: 1 }]);
    }
  });

  test("re-applying keeps index, address and host of surviving nodes; removed nodes' hosts are told", () => {
    const h = harness();
    h.agent("h1");
    const a2 = h.agent("h2");
    h.namespaces.applyDocument("default", doc({ nodes: ["a", "b"], links: [{ a: "a", b: "b" }] }));
    expect(h.namespaces.node("default", "b").host).toBe("h2");
    const pushes = a2.of("state").length;
    const r = h.namespaces.applyDocument("default", doc({ nodes: ["x", "a"], links: [{ a: "x", b: "a" }] }));
    expect(r).toMatchObject({ added: ["x"], removed: ["b"], kept: ["a"] });
    expect(h.namespaces.node("default", "a")).toMatchObject({ index: 1, ip: "10.0.0.1/16", host: "h1" });
    // x goes to h2, now empty; its index is the lowest free one (b's index 2 may still be in use)
    expect(h.namespaces.node("default", "x").host).toBe("h2");
    expect(a2.of("state").length).toBe(pushes + 1);
  });

  test("a node's host pins it; a pin on a host that is not connected, or unknown, is refused naming it", () => {
    const h = harness();
    h.agent("h1");
    h.agent("h2");
    h.agent("h3").session.onClose();
    h.namespaces.applyDocument("default", doc({ nodes: [{ name: "p", host: "h2" }, "r"] }));
    expect(h.namespaces.get("default").nodes.map((n) => n.host)).toEqual(["h2", "h1"]);
    const before = h.namespaces.get("default");
    const down = caught(() => h.namespaces.applyDocument("default", doc({ nodes: ["p", "r", { name: "q", host: "h3" }] })));
    expect(down).toMatchObject({ status: 409, code: "host_down", message: 'node "q" is scheduled on host "h3", which is not connected' });
    const unknown = caught(() => h.namespaces.applyDocument("default", doc({ nodes: [{ name: "q", host: "h9" }] })));
    expect(unknown).toMatchObject({ status: 422, code: "unknown_host", details: { node: "q", host: "h9" } });
    expect(h.namespaces.get("default")).toEqual(before);
  });

  test("a document's placement fields are honoured and kept on the nodes", () => {
    const h = harness();
    for (const name of ["h1", "h2", "h3"]) h.agent(name);
    const r = h.namespaces.applyDocument(
      "default",
      doc({ nodes: [{ name: "solo", coschedule: 0, vcpus: 2 }, { name: "big", memoryMB: 512 }, { name: "pal", colocate: "big" }, "x", "y"] }),
    );
    const host = (n: string) => r.record.nodes.find((m) => m.name === n)?.host;
    expect(host("pal")).toBe(host("big"));
    expect(r.record.nodes.filter((n) => n.host === host("solo")).map((n) => n.name)).toEqual(["solo"]);
    expect(r.record.nodes.find((n) => n.name === "solo")).toMatchObject({ coschedule: 0, vcpus: 2 });
    expect(r.record.nodes.find((n) => n.name === "pal")).toMatchObject({ colocate: "big" });
    // a pin and a colocate must agree (a fresh cluster: "solo" allows no company on its host)
    const fresh = harness();
    for (const name of ["h1", "h2"]) fresh.agent(name);
    const e = caught(() => fresh.namespaces.applyDocument("other", doc({ nodes: [{ name: "a", host: "h1" }, { name: "b", host: "h2", colocate: "a" }] })));
    expect(e).toMatchObject({ status: 422, code: "colocate_conflict" });
    expect(e.message).toStartWith('node "b" is on host "h2" but colocates with "a", which is on host "h1"');
  });

  test("an invalid document is a 422 listing every issue, and changes nothing", () => {
    const h = harness();
    h.agent("h1");
    h.namespaces.applyDocument("default", line);
    const before = h.namespaces.get("default");
    const e = caught(() => h.namespaces.applyDocument("default", doc({ nodes: ["a"], links: [{ a: "a", b: "zz" }] })));
    expect(e).toMatchObject({ status: 422, code: "invalid_topology" });
    expect(e.details?.issues).toEqual(['links[0].b: unknown node "zz"']);
    expect(h.namespaces.get("default")).toEqual(before);
  });

  test("a new namespace is created by applying a topology", () => {
    const h = harness();
    h.agent("h1");
    h.namespaces.applyDocument("lab", doc({ subnet: "10.9.0.0/24", nodes: ["n1"] }));
    expect(h.namespaces.list().map((n) => n.name)).toEqual(["default", "lab"]);
    expect(h.namespaces.node("lab", "n1").ip).toBe("10.9.0.1/24");
    expect(h.namespaces.stateFor("h1").map((n) => n.name)).toEqual(["lab"]);
  });
});

describe("links and routes", () => {
  function ready() {
    const h = harness();
    const agent = h.agent("h1");
    h.namespaces.applyDocument("default", doc({ nodes: ["a", "b", "c", "d"], links: [{ a: "a", b: "b" }, { a: "b", b: "c" }] }));
    return { h, agent };
  }

  test("add, patch and delete a link, pushing state each time", () => {
    const { h, agent } = ready();
    const n = agent.of("state").length;
    const link = h.namespaces.addLink("default", { a: "c", b: "d", delay: 0.005, ba: { bandwidth: 1e6 } });
    expect(link).toEqual({
      id: "c:d",
      a: "c",
      b: "d",
      ab: { ...DEFAULT_SHAPING, delay: 0.005 },
      ba: { ...DEFAULT_SHAPING, delay: 0.005, bandwidth: 1e6 },
    });
    expect(h.namespaces.nextHops("default").a[3]).toBe("b");
    const patched = h.namespaces.patchLink("default", "c:d", { loss: 0.01, ab: { delay: 0.02 } });
    expect(patched.ab).toEqual({ ...DEFAULT_SHAPING, delay: 0.02, loss: 0.01 });
    expect(patched.ba).toEqual({ ...DEFAULT_SHAPING, delay: 0.005, bandwidth: 1e6, loss: 0.01 });
    expect(h.namespaces.deleteLink("default", "c:d")).toEqual(patched);
    expect(h.namespaces.nextHops("default").a[3]).toBe("");
    expect(agent.of("state").length).toBe(n + 3);
  });

  test("link errors: unknown node names the field, duplicates conflict, unknown ids are 404", () => {
    const { h } = ready();
    const e = caught(() => h.namespaces.addLink("default", { a: "a", b: "zz" }));
    expect(e).toMatchObject({ status: 422, code: "invalid_request" });
    expect(e.details?.issues).toEqual(['b: no node named "zz" in namespace "default"']);
    expect(caught(() => h.namespaces.addLink("default", { a: "b", b: "a" }))).toMatchObject({ status: 409, code: "link_exists" });
    expect(caught(() => h.namespaces.addLink("default", { a: "a", b: "a" })).details?.issues).toEqual([
      "b: a link cannot connect a node to itself",
    ]);
    expect(caught(() => h.namespaces.patchLink("default", "nope", {}))).toMatchObject({ status: 404, code: "link_not_found" });
    expect(caught(() => h.namespaces.deleteLink("default", "nope"))).toMatchObject({ status: 404 });
  });

  test("a link a route uses cannot be removed", () => {
    const { h } = ready();
    h.namespaces.replaceRoutes("default", [{ path: ["a", "b", "c"] }]);
    const e = caught(() => h.namespaces.deleteLink("default", "b:c"));
    expect(e).toMatchObject({ status: 409, code: "link_in_use", details: { routes: ["r1"] } });
  });

  test("routes: validated against links, edges accepted when they form a chain", () => {
    const { h } = ready();
    const routes = h.namespaces.replaceRoutes("default", [
      { path: ["a", "b"] },
      { id: "via-edges", edges: [["b", "c"], ["a", "b"]], weight: 2 },
    ]);
    expect(routes).toEqual([
      { id: "r1", path: ["a", "b"], weight: 1 },
      { id: "via-edges", path: ["a", "b", "c"], weight: 2 },
    ]);
    const bad = caught(() => h.namespaces.replaceRoutes("default", [{ path: ["a", "c"] }]));
    expect(bad).toMatchObject({ status: 422, code: "invalid_request" });
    expect(bad.details?.issues).toEqual(['[0].path[1]: route "r1" ([0]) goes a -> c, but no link joins a and c']);
    const dag = caught(() => h.namespaces.replaceRoutes("default", [{ edges: [["a", "b"], ["a", "c"]] }]));
    expect(dag.message).toContain("[0].edges: a route's edges must end at one node (found b, c)");
    expect(h.namespaces.get("default").routes).toEqual(routes);
  });
});
