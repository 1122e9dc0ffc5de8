/** GET and PUT /namespaces/{ns}/routes. */
import { expect, test } from "bun:test";
import type { RouteSpec } from "../../protocol/state.ts";
import { type ErrorBody, harness } from "../testing.ts";

async function ready() {
  const h = harness();
  const agent = h.agent("h1");
  await h.request("PUT", "/namespaces/default/topology", {
    nodes: ["a", "b", "c", "d"],
    links: [{ a: "a", b: "b" }, { a: "b", b: "c" }, { a: "c", b: "d" }, { a: "a", b: "d" }],
  });
  return { h, agent };
}

test("PUT replaces the table, pushes it, and GET lists it in every format", async () => {
  const { h, agent } = await ready();
  const res = await h.request("PUT", "/namespaces/default/routes", [
    { path: ["a", "b", "c"] },
    { id: "long", path: ["a", "d", "c"], weight: 3 },
  ]);
  expect(res.status).toBe(200);
  const expected: RouteSpec[] = [
    { id: "r1", path: ["a", "b", "c"], weight: 1 },
    { id: "long", path: ["a", "d", "c"], weight: 3 },
  ];
  expect(await res.json()).toEqual(expected);
  expect(agent.lastState()?.namespaces[0].routes).toEqual(expected);
  expect(await (await h.request("GET", "/namespaces/default/routes")).json()).toEqual(expected);
  expect(await (await h.request("GET", "/namespaces/default/routes?format=table")).text()).toBe(
    "ID     SRC   DST   PATH    WEIGHT   EDGES\nr1     a     c     a>b>c   1        -\nlong   a     c     a>d>c   3        -\n",
  );
  expect(await (await h.request("GET", "/namespaces/default/routes?format=csv&columns=id,path")).text()).toBe(
    'id,path\nr1,"a,b,c"\nlong,"a,d,c"\n',
  );
});

test("a hop between unlinked nodes is a 422 naming the route and pair, and nothing changes", async () => {
  const { h, agent } = await ready();
  await h.request("PUT", "/namespaces/default/routes", [{ path: ["a", "b"] }]);
  const pushes = agent.of("state").length;
  const res = await h.request("PUT", "/namespaces/default/routes", [{ path: ["b", "c"] }, { id: "jump", path: ["a", "c"] }]);
  expect(res.status).toBe(422);
  const body = (await res.json()) as ErrorBody;
  expect(body.error.code).toBe("invalid_request");
  expect(body.error.details?.issues).toEqual(['[1].path[1]: route "jump" ([1]) goes a -> c, but no link joins a and c']);
  expect(h.namespaces.get("default").routes).toEqual([{ id: "r1", path: ["a", "b"], weight: 1 }]);
  expect(agent.of("state").length).toBe(pushes);
});

test("edges forming a chain become a path; a DAG keeps its edges; edges that are no DAG from one node to one node are refused", async () => {
  const { h } = await ready();
  const chain = await h.request("PUT", "/namespaces/default/routes", [{ edges: [["a", "b"], ["b", "c"]] }]);
  expect(await chain.json()).toEqual([{ id: "r1", path: ["a", "b", "c"], weight: 1 }]);
  const diamond = [["a", "b"], ["a", "d"], ["b", "c"], ["d", "c"]];
  const dag = await h.request("PUT", "/namespaces/default/routes", [{ id: "both", edges: diamond }]);
  expect(await dag.json()).toEqual([{ id: "both", path: ["a", "b", "c"], weight: 1, edges: diamond }]);
  const forked = await h.request("PUT", "/namespaces/default/routes", [{ edges: [["a", "b"], ["a", "d"]] }]);
  expect(forked.status).toBe(422);
  expect(((await forked.json()) as ErrorBody).error.message).toContain("[0].edges: a route's edges must end at one node (found b, d)");
  const cycle = await h.request("PUT", "/namespaces/default/routes", [{ edges: [["a", "b"], ["b", "c"], ["c", "d"], ["d", "a"]] }]);
  expect(((await cycle.json()) as ErrorBody).error.message).toContain("must start at one node (found none: the edges form a cycle)");
  const both = await h.request("PUT", "/namespaces/default/routes", [{ path: ["a", "b"], edges: [["a", "b"]] }]);
  expect(both.status).toBe(422);
  const notList = await h.request("PUT", "/namespaces/default/routes", { path: ["a", "b"] });
  expect(notList.status).toBe(422);
});
