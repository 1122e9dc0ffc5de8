/** GET /namespaces/{ns}/nodes in every format. */
import { describe, expect, test } from "bun:test";
import type { NodeRow } from "../../protocol/api.ts";
import { type ErrorBody, harness } from "../testing.ts";

async function ready() {
  const h = harness();
  const agent = h.agent("h1");
  const res = await h.request("PUT", "/namespaces/default/topology", {
    nodes: ["a", "b", { name: "c", kind: "userspace" }],
    links: [{ a: "a", b: "b" }, { a: "b", b: "c" }],
  });
  expect(res.status).toBe(200);
  return { h, agent };
}

describe("GET nodes", () => {
  test("json rows carry the API fields plus netns, mtu and index", async () => {
    const { h, agent } = await ready();
    agent.send({ type: "status", nodes: [{ namespace: "default", name: "a", state: "running", netns: "nm-default-a" }] });
    const rows = (await (await h.request("GET", "/namespaces/default/nodes")).json()) as NodeRow[];
    expect(rows).toEqual([
      { name: "a", host: "h1", kind: "netns", state: "running", ip: "10.0.0.1/16", vcpus: 1, memoryMB: 2048, links: 1, netns: "nm-default-a", mtu: 1500, index: 1 },
      { name: "b", host: "h1", kind: "netns", state: "building", ip: "10.0.0.2/16", vcpus: 1, memoryMB: 2048, links: 2, mtu: 1500, index: 2 },
      { name: "c", host: "h1", kind: "userspace", state: "building", ip: "10.0.0.3/16", vcpus: 1, memoryMB: 2048, links: 1, mtu: 1500, index: 3 },
    ]);
  });

  test("table, csv and columns", async () => {
    const { h } = await ready();
    const table = await h.request("GET", "/namespaces/default/nodes?format=table");
    expect(table.headers.get("content-type")).toStartWith("text/plain");
    expect(await table.text()).toBe(
      [
        "NAME   HOST   KIND        STATE      IP            LINKS",
        "a      h1     netns       building   10.0.0.1/16   1",
        "b      h1     netns       building   10.0.0.2/16   2",
        "c      h1     userspace   building   10.0.0.3/16   1",
        "",
      ].join("\n"),
    );
    const csv = await h.request("GET", "/namespaces/default/nodes?format=csv&columns=name,ip,netns");
    expect(csv.headers.get("content-type")).toStartWith("text/csv");
    expect(await csv.text()).toBe("name,ip,netns\na,10.0.0.1/16,\nb,10.0.0.2/16,\nc,10.0.0.3/16,\n");
    const json = await h.request("GET", "/namespaces/default/nodes?columns=name,state");
    expect(await json.json()).toEqual([
      { name: "a", state: "building" },
      { name: "b", state: "building" },
      { name: "c", state: "building" },
    ]);
  });

  test("an unknown column or format is a 422 naming it and the valid ones", async () => {
    const { h } = await ready();
    const res = await h.request("GET", "/namespaces/default/nodes?columns=name,colour");
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.message).toBe(
      'unknown column "colour"; valid columns: name, host, kind, state, ip, vcpus, memoryMB, links, netns, mtu, index, error',
    );
    expect((await h.request("GET", "/namespaces/default/nodes?format=yaml")).status).toBe(422);
  });

  test("nodes of a host that stopped heartbeating are lost", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    h.clock.advance(5001);
    const rows = (await (await h.request("GET", "/namespaces/default/nodes?columns=name,state")).json()) as NodeRow[];
    expect(rows.map((r) => r.state)).toEqual(["lost", "lost", "lost"]);
  });
});
