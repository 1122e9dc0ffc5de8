/**
 * GET /namespaces/{ns}/save: a namespace of 20 nodes with shaped links
 * (symmetric and per direction), routes and transports, saved, deleted and
 * applied again from the saved document (JSON and YAML), is the same.
 */
import { describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { harness } from "./testing.ts";

const topology = {
  subnet: "10.9.0.0/16",
  transport: "udp",
  transports: [{ between: ["h1", "h3"], transport: "quic" }],
  generate: [{ shape: "ring", n: 12, prefix: "r", link: { delay: "2ms", bandwidth: "1Gbit" } }],
  nodes: ["s[1-5]", { name: "s[6-7]", vcpus: 4, memoryMB: 512, coschedule: 3 }, { name: "x", ip: "10.9.0.200", mtu: 9000, colocate: "s6" }],
  links: [
    { a: "r1", b: "s1", bandwidth: "100Mbit", delay: "10ms", jitter: "1ms", loss: "0.1%", queue: 100 },
    { a: "s1", b: "s2", delay: 0.0123456789, ab: { loss: "1%" }, ba: { bandwidth: "10Mbit", reorder: true } },
    { id: "x-up", a: "x", b: "s2" },
    { a: "s2", b: "s3" },
  ],
  routes: [{ id: "slow", path: ["r1", "s1", "s2", "x"], weight: 2 }, { path: ["r3", "r2", "r1"] }],
};

describe("save", () => {
  test("a saved namespace applied to an empty one recreates its nodes, placements, links, routes and transports", async () => {
    const h = harness();
    for (const name of ["h1", "h2", "h3"]) h.agent(name);
    expect((await h.request("PUT", "/namespaces/exp/topology", topology)).status).toBe(200);
    const before = h.namespaces.get("exp");
    expect(before.nodes).toHaveLength(20);
    expect(new Set(before.nodes.map((n) => n.host)).size).toBe(3);

    const saved = (await (await h.request("GET", "/namespaces/exp/save")).json()) as Record<string, unknown>;
    const yaml = await (await h.request("GET", "/namespaces/exp/save?format=yaml")).text();
    expect(parseYaml(yaml)).toEqual(saved);
    expect(JSON.stringify(saved)).toContain('"bandwidth":"100Mbit"');
    expect((await h.request("DELETE", "/namespaces/exp")).status).toBe(200);
    // other load on a host now, so a document without hosts would place differently; on one
    // without a coschedule-limited node, where the load would break the saved placement's limits
    const free = ["h1", "h2", "h3"].find((host) => !before.nodes.some((n) => n.host === host && n.coschedule !== undefined));
    expect((await h.request("PUT", "/namespaces/ballast/topology", { nodes: [{ name: "b[1-9]", host: free }] })).status).toBe(200);

    for (const [name, doc] of [["exp", saved], ["again", parseYaml(yaml)]] as const) {
      expect((await h.request("PUT", `/namespaces/${name}/topology`, doc)).status).toBe(200);
      const after = h.namespaces.get(name);
      expect(after.subnet).toBe(before.subnet);
      expect(after.settings).toEqual(before.settings);
      expect(after.nodes).toEqual(before.nodes);
      expect(after.links).toEqual(before.links);
      expect(after.routes).toEqual(before.routes);
      // coschedule limits count every namespace's nodes: the two copies could not share the hosts
      expect((await h.request("DELETE", `/namespaces/${name}`)).status).toBe(200);
    }
  });
});
