/** GET /namespaces, GET /namespaces/{ns}, PUT /namespaces/{ns}/topology. */
import { describe, expect, test } from "bun:test";
import type { NamespaceRow, NamespaceSummary, TopologyApplied } from "../../protocol/api.ts";
import { API_TOKEN, type ErrorBody, harness } from "../testing.ts";
import type { HostTransport } from "../../protocol/state.ts";

const topology = {
  nodes: ["a", "b", "c"],
  links: [{ a: "a", b: "b", bandwidth: "100Mbit", delay: "5ms" }, { a: "b", b: "c" }],
  routes: [{ path: ["a", "b", "c"] }],
};

describe("namespaces", () => {
  test("lists default, and a namespace created by PUT topology", async () => {
    const h = harness();
    h.agent("h1");
    const put = await h.request("PUT", "/namespaces/lab/topology", topology);
    expect(put.status).toBe(200);
    const applied = (await put.json()) as TopologyApplied;
    expect(applied).toEqual({
      name: "lab",
      nodes: 3,
      hosts: ["h1"],
      queueing: false,
      load: "cpucommit",
      subnet: "10.0.0.0/16",
      transport: "tcp",
      transports: [],
      paths: "shortest",
      pins: 0,
      links: 2,
      routes: 1,
      states: { building: 3 },
      changes: { added: ["a", "b", "c"], removed: [], kept: [] },
      flows: [],
    });
    const list = (await (await h.request("GET", "/namespaces")).json()) as NamespaceRow[];
    expect(list).toEqual([
      // default and a namespace a document made hold every connected host
      { name: "default", nodes: 0, hosts: ["h1"], queueing: false, load: "cpucommit" },
      { name: "lab", nodes: 3, hosts: ["h1"], queueing: false, load: "cpucommit" },
    ]);
    const table = await (await h.request("GET", "/namespaces?format=table")).text();
    expect(table).toBe("NAME      NODES   HOSTS   QUEUEING   LOAD\ndefault   0       h1      false      cpucommit\nlab       3       h1      false      cpucommit\n");
  });

  test("GET one namespace counts nodes by observed state", async () => {
    const h = harness();
    const agent = h.agent("h1");
    await h.request("PUT", "/namespaces/default/topology", topology);
    agent.reportAllRunning();
    const body = (await (await h.request("GET", "/namespaces/default")).json()) as NamespaceSummary;
    expect(body).toMatchObject({ name: "default", nodes: 3, links: 2, routes: 1, states: { running: 3 } });
  });

  test("an unknown namespace is a 404 namespace_not_found", async () => {
    const h = harness();
    for (const path of ["/namespaces/nope", "/namespaces/nope/nodes", "/namespaces/nope/links", "/namespaces/nope/routes", "/namespaces/nope/stats"]) {
      const res = await h.request("GET", path);
      expect(res.status).toBe(404);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe("namespace_not_found");
      expect(body.error.message).toBe('no namespace named "nope"');
    }
  });

  test("an invalid topology is a 422 invalid_topology naming every problem, and nothing changes", async () => {
    const h = harness();
    h.agent("h1");
    const res = await h.request("PUT", "/namespaces/default/topology", {
      nodes: ["a"],
      links: [{ a: "a", b: "ghost", delay: "-3ms", loss: "150%" }],
      colour: "blue",
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("invalid_topology");
    const issues = body.error.details?.issues ?? [];
    expect(issues.some((i) => i.startsWith("links[0].delay: ") && i.includes("negative"))).toBe(true);
    expect(issues.some((i) => i.startsWith("links[0].loss: "))).toBe(true);
    expect(issues.some((i) => i.includes("colour"))).toBe(true);

    const unknown = await h.request("PUT", "/namespaces/default/topology", { nodes: ["a"], links: [{ a: "a", b: "ghost" }] });
    expect(((await unknown.json()) as ErrorBody).error.details?.issues).toEqual(['links[0].b: unknown node "ghost"']);
    expect(h.namespaces.get("default").nodes).toEqual([]);
  });

  test("a YAML body is accepted when the content type says so", async () => {
    const h = harness();
    h.agent("h1");
    const yaml = "generate:\n  - shape: line\n    n: 3\n    link: { delay: 2ms }\n";
    const res = await h.app.request("/api/v1/namespaces/default/topology", {
      method: "PUT",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/yaml" },
      body: yaml,
    });
    expect(res.status).toBe(200);
    expect(h.namespaces.get("default").nodes.map((n) => n.name)).toEqual(["h1", "h2", "h3"]);
    expect(h.namespaces.get("default").links[0].ab.delay).toBe(0.002);
    const bad = await h.app.request("/api/v1/namespaces/default/topology", {
      method: "PUT",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "text/yaml" },
      body: "nodse: [a]\n",
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as ErrorBody).error.details?.issues).toEqual(['nodse: unknown key (did you mean "nodes"?)']);
  });

  test("a bad namespace name is a 422; no hosts is a 503 no_hosts", async () => {
    const h = harness();
    const bad = await h.request("PUT", "/namespaces/Bad_Name/topology", topology);
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as ErrorBody).error.message).toStartWith("namespace: expected a name");
    const none = await h.request("PUT", "/namespaces/default/topology", topology);
    expect(none.status).toBe(503);
    expect(((await none.json()) as ErrorBody).error.code).toBe("no_hosts");
  });

  test("a document's transport reaches the agents and stays until a document names another", async () => {
    const h = harness();
    const agent = h.agent("h1");
    expect((await h.request("PUT", "/namespaces/lab/topology", { ...topology, transport: "quic" })).status).toBe(200);
    expect(agent.lastState()?.namespaces.find((n) => n.name === "lab")?.transport).toBe("quic");
    expect((await h.request("PUT", "/namespaces/lab/topology", topology)).status).toBe(200);
    expect(agent.lastState()?.namespaces.find((n) => n.name === "lab")?.transport).toBe("quic");
    const res = await h.request("PUT", "/namespaces/lab/topology", { ...topology, transport: "sctp" });
    expect(res.status).toBe(422);
    expect(JSON.stringify(await res.json())).toContain("transport");
  });

  test("per host pair transports reach the agents, show in the namespace and stay until a document names others", async () => {
    const h = harness();
    const agent = h.agent("h1");
    const transports: HostTransport[] = [{ between: ["h1", "h2"], transport: "udp" }];
    const put = await h.request("PUT", "/namespaces/lab/topology", { ...topology, transports });
    expect(put.status).toBe(200);
    expect(((await put.json()) as TopologyApplied).transports).toEqual(transports);
    expect(agent.lastState()?.namespaces.find((n) => n.name === "lab")?.hostTransports).toEqual(transports);
    expect((await h.request("PUT", "/namespaces/lab/topology", topology)).status).toBe(200);
    expect(((await (await h.request("GET", "/namespaces/lab")).json()) as TopologyApplied).transports).toEqual(transports);
    expect((await h.request("PUT", "/namespaces/lab/topology", { ...topology, transports: [] })).status).toBe(200);
    expect(agent.lastState()?.namespaces.find((n) => n.name === "lab")?.hostTransports).toEqual([]);
    const twice = await h.request("PUT", "/namespaces/lab/topology", { ...topology, transports: [...transports, { between: ["h2", "h1"], transport: "quic" }] });
    expect(twice.status).toBe(422);
    expect(((await twice.json()) as ErrorBody).error.message).toContain("transports[1]: hosts h2 and h1 already have a transport at transports[0]");
  });
});
