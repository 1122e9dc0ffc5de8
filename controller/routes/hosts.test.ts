/** GET /hosts: facts, commits, liveness. */
import { expect, test } from "bun:test";
import type { HostRow } from "../../protocol/api.ts";
import { FACTS, FakeAgent, harness } from "../testing.ts";

test("lists joined hosts with facts, commits and state, in json and table", async () => {
  const h = harness();
  h.agent("h1");
  new FakeAgent(h.hub, "192.0.2.20").hello("h2", undefined, { ...FACTS, cpus: 16, memTotalMB: 65536 });
  await h.request("PUT", "/namespaces/default/topology", { nodes: ["a", "b", "c"], links: [{ a: "a", b: "b" }, { a: "b", b: "c" }] });
  const rows = (await (await h.request("GET", "/hosts")).json()) as HostRow[];
  const lastSeen = new Date(h.clock.ms).toISOString();
  expect(rows).toEqual([
    {
      name: "h1", address: "192.0.2.10", cpus: 4, memTotalMB: 8192, memUsedMB: 1024, load: 0.25, nodes: 2,
      cpuCommit: 2, memCommit: 4096, netCommit: 2, state: "up", lastSeen, privileged: true, addresses: ["192.0.2.10"],
    },
    {
      name: "h2", address: "192.0.2.20", cpus: 16, memTotalMB: 65536, memUsedMB: 1024, load: 0.25, nodes: 1,
      cpuCommit: 1, memCommit: 2048, netCommit: 2, state: "up", lastSeen, privileged: true, addresses: ["192.0.2.10"],
    },
  ]);
  h.clock.advance(6000);
  const table = await (await h.request("GET", "/hosts?format=table&columns=name,state,nodes")).text();
  expect(table).toBe("NAME   STATE   NODES\nh1     down    2\nh2     down    1\n");
});
