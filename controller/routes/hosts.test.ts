/** GET /hosts: facts, commits (what the scheduler balances), liveness. */
import { expect, test } from "bun:test";
import type { HostRow } from "../../protocol/api.ts";
import { FACTS, FakeAgent, harness } from "../testing.ts";

test("lists joined hosts with facts, commits (each node's own vcpus and memory) and state, in json and table", async () => {
  const h = harness();
  h.agent("h1");
  new FakeAgent(h.hub, "192.0.2.20").hello("h2", undefined, { ...FACTS, cpus: 16, memTotalMB: 65536 });
  const nodes = [{ name: "a", host: "h1", vcpus: 2, memoryMB: 512 }, { name: "b", host: "h2" }, { name: "c", host: "h2", vcpus: 3 }];
  await h.request("PUT", "/namespaces/default/topology", { nodes, links: [{ a: "a", b: "b" }, { a: "b", b: "c" }] });
  const rows = (await (await h.request("GET", "/hosts")).json()) as HostRow[];
  const lastSeen = new Date(h.clock.ms).toISOString();
  expect(rows).toEqual([
    {
      name: "h1", address: "192.0.2.10", cpus: 4, memTotalMB: 8192, memUsedMB: 1024, load: 0.25, nodes: 1,
      cpuCommit: 2, memCommit: 512, netCommit: 1, state: "up", lastSeen, privileged: true, addresses: ["192.0.2.10"],
    },
    {
      name: "h2", address: "192.0.2.20", cpus: 16, memTotalMB: 65536, memUsedMB: 1024, load: 0.25, nodes: 2,
      cpuCommit: 4, memCommit: 4096, netCommit: 3, state: "up", lastSeen, privileged: true, addresses: ["192.0.2.10"],
    },
  ]);
  h.clock.advance(6000);
  const table = await (await h.request("GET", "/hosts?format=table&columns=name,state,nodes")).text();
  expect(table).toBe("NAME   STATE   NODES\nh1     down    1\nh2     down    2\n");
});
