/**
 * POST /namespaces/{ns}/nodes and the queue: launching at once (201) or
 * queueing (202), names from ranges or node-N counts, refusals, and
 * GET/DELETE .../queue.
 */
import { describe, expect, test } from "bun:test";
import type { NodeRow } from "../../protocol/api.ts";
import type { LaunchGroup } from "../../protocol/launch.ts";
import { type ErrorBody, harness } from "../testing.ts";

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

/** Three connected hosts and a namespace `exp` holding them, queueing as asked. */
async function setup(queueing: boolean) {
  const h = harness();
  const agents = ["h1", "h2", "h3"].map((name) => h.agent(name));
  expect((await h.request("POST", "/namespaces", { name: "exp", queueing })).status).toBe(201);
  return { h, agents };
}

describe("launch with queueing off", () => {
  test("schedules and creates the nodes at once: 201 with the created nodes, addresses as documents give them", async () => {
    const { h, agents } = await setup(false);
    const res = await h.request("POST", "/namespaces/exp/nodes", { names: "vm[1-2]", vcpus: 2, memoryMB: 1024, kind: "userspace" });
    expect(res.status).toBe(201);
    const rows = await body<NodeRow[]>(res);
    expect(rows.map((r) => [r.name, r.host, r.kind, r.ip, r.index, r.vcpus, r.memoryMB, r.state])).toEqual([
      ["vm1", "h1", "userspace", "10.0.0.1/16", 1, 2, 1024, "building"],
      ["vm2", "h2", "userspace", "10.0.0.2/16", 2, 2, 1024, "building"],
    ]);
    // the agents hear of them, and the placement fields stay on the nodes (save writes them back)
    expect(agents[1].lastState()?.namespaces.find((n) => n.name === "exp")?.nodes.map((n) => n.name)).toEqual(["vm1", "vm2"]);
    const saved = await body<{ nodes: Record<string, unknown>[] }>(await h.request("GET", "/namespaces/exp/save"));
    expect(saved.nodes[0]).toEqual({ name: "vm1", kind: "userspace", ip: "10.0.0.1/16", host: "h1", mtu: 1500, vcpus: 2, memoryMB: 1024 });
    // a later launch counts them: a node that wants a host to itself goes to the empty one, with the next address
    const more = await body<NodeRow[]>(await h.request("POST", "/namespaces/exp/nodes", { names: "solo", coschedule: 0 }));
    expect(more).toMatchObject([{ name: "solo", host: "h3", ip: "10.0.0.3/16", index: 3 }]);
    expect(h.namespaces.node("exp", "solo")).toMatchObject({ coschedule: 0, kind: "netns" });
    expect(h.namespaces.get("exp").queue).toEqual([]);
  });

  test("a failed schedule creates nothing, answering the scheduler's code and sentence", async () => {
    const { h } = await setup(false);
    const pinned = await h.request("POST", "/namespaces/exp/nodes", { names: "a[1-2]", schedule: "h2", coschedule: 0 });
    expect(pinned.status).toBe(409);
    expect((await body<ErrorBody>(pinned)).error).toMatchObject({
      code: "no_host_fits",
      message: 'node "a2" cannot go on host "h2", where it is scheduled: "a2" would share the host with 1 other node but allows at most 0 (coschedule 0)',
    });
    const colocate = await h.request("POST", "/namespaces/exp/nodes", { names: "b", colocate: "nowhere" });
    expect(colocate.status).toBe(422);
    expect((await body<ErrorBody>(colocate)).error.code).toBe("unknown_colocate");
    expect(h.namespaces.get("exp").nodes).toEqual([]);
    // a subnet with no room left is a failure of the same kind
    await h.request("POST", "/namespaces", { name: "tiny", subnet: "10.1.0.0/30" });
    const full = await h.request("POST", "/namespaces/tiny/nodes", { count: 3 });
    expect(full.status).toBe(409);
    expect((await body<ErrorBody>(full)).error.message).toBe('namespace "tiny" cannot address the new nodes: subnet: no free address left in 10.1.0.0/30 for node-3');
    expect(h.namespaces.get("tiny").nodes).toEqual([]);
    const [run] = await body<{ state: string; total: number; error?: string }[]>(await h.request("GET", "/namespaces/tiny/schedule/status"));
    expect(run).toMatchObject({ state: "failed", total: 0, error: expect.stringContaining("no free address left") });
  });
});

describe("names", () => {
  test("duplicates (existing, queued, or given twice) are refused with the names, 409", async () => {
    const { h } = await setup(true);
    await h.request("PUT", "/namespaces/exp/topology", { nodes: ["a1"] });
    await h.request("POST", "/namespaces/exp/nodes", { names: "q[1-2]" });
    const res = await h.request("POST", "/namespaces/exp/nodes", { names: "a[0-1]" });
    expect(res.status).toBe(409);
    expect(await body<ErrorBody>(res)).toEqual({
      error: { code: "node_exists", message: 'namespace "exp" already has (running or queued) or is given twice: "a1"', details: { nodes: ["a1"] } },
    });
    const queued = await body<ErrorBody>(await h.request("POST", "/namespaces/exp/nodes", { names: "q2" }));
    expect(queued.error.details).toEqual({ nodes: ["q2"] });
    const twice = await body<ErrorBody>(await h.request("POST", "/namespaces/exp/nodes", { names: "z[1,1]" }));
    expect(twice.error.details).toEqual({ nodes: ["z1"] });
    // the same names in another namespace are fine
    expect((await h.request("POST", "/namespaces/default/nodes", { names: "a1" })).status).toBe(201);
  });

  test("count names node-N from a counter that is never reused, after a flush or a removal", async () => {
    const { h, agents } = await setup(true);
    const first = await h.request("POST", "/namespaces/exp/nodes", { count: 2 });
    expect(first.status).toBe(202);
    expect((await body<LaunchGroup>(first)).names).toEqual(["node-1", "node-2"]);
    expect((await h.request("DELETE", "/namespaces/exp/queue")).status).toBe(200);
    expect((await body<LaunchGroup>(await h.request("POST", "/namespaces/exp/nodes", { count: 1 }))).names).toEqual(["node-3"]);
    // a node named by hand in the counter's way is skipped
    await h.request("POST", "/namespaces/exp/nodes", { names: "node-4" });
    await h.request("PATCH", "/namespaces/exp", { queueing: false });
    await h.request("POST", "/namespaces/exp/schedule", {});
    const launched = await body<NodeRow[]>(await h.request("POST", "/namespaces/exp/nodes", { count: 2 }));
    expect(launched.map((r) => r.name)).toEqual(["node-5", "node-6"]);
    // node-6 fails on its host, and a failed node may be removed
    const on = agents[["h1", "h2", "h3"].indexOf(h.namespaces.node("exp", "node-6").host)];
    on.send({ type: "status", nodes: [{ namespace: "exp", name: "node-6", state: "error", error: "test" }] });
    expect((await h.request("DELETE", "/namespaces/exp/nodes/node-6")).status).toBe(200);
    const after = await body<NodeRow[]>(await h.request("POST", "/namespaces/exp/nodes", { count: 1 }));
    expect(after.map((r) => r.name)).toEqual(["node-7"]);
  });
});

describe("launch with queueing on", () => {
  test("queues the group (202); GET queue lists groups in order in every format; the nodes list shows them queued", async () => {
    const { h, agents } = await setup(true);
    const res = await h.request("POST", "/namespaces/exp/nodes", { names: "vm[1-5]", vcpus: 2 });
    expect(res.status).toBe(202);
    expect(await body<LaunchGroup>(res)).toEqual({ names: ["vm1", "vm2", "vm3", "vm4", "vm5"], vcpus: 2, memoryMB: 2048, coschedule: -1 });
    await h.request("POST", "/namespaces/exp/nodes", { names: "db", schedule: "h3", coschedule: 0, kind: "host" });
    expect((await body<LaunchGroup[]>(await h.request("GET", "/namespaces/exp/queue"))).map((g) => g.names.length)).toEqual([5, 1]);
    expect(await (await h.request("GET", "/namespaces/exp/queue?format=table")).text()).toBe(
      [
        "NAMES             COUNT   KIND    VCPUS   MEMORY MB   SCHEDULE   COSCHEDULE   COLOCATE",
        "vm1,vm2,...,vm5   5       netns   2       2048        -          -1           -",
        "db                1       host    1       2048        h3         0            -",
        "",
      ].join("\n"),
    );
    expect(await (await h.request("GET", "/namespaces/exp/queue?format=csv&columns=names,schedule")).text()).toBe(
      'names,schedule\n"vm1,vm2,vm3,vm4,vm5",\ndb,h3\n',
    );
    const rows = await body<NodeRow[]>(await h.request("GET", "/namespaces/exp/nodes"));
    expect(rows.map((r) => [r.name, r.state, r.host])).toContainEqual(["db", "queued", ""]);
    expect((await body<{ states: Record<string, number> }>(await h.request("GET", "/namespaces/exp"))).states).toEqual({ queued: 6 });
    expect(h.namespaces.get("exp").nodes).toEqual([]);
    expect(agents[0].lastState()?.namespaces ?? []).toEqual([]);
  });

  test("DELETE queue flushes without launching, answering what it flushed", async () => {
    const { h } = await setup(true);
    await h.request("POST", "/namespaces/exp/nodes", { names: "a[1-2]" });
    const flushed = await body<LaunchGroup[]>(await h.request("DELETE", "/namespaces/exp/queue"));
    expect(flushed.map((g) => g.names)).toEqual([["a1", "a2"]]);
    expect(await body<unknown>(await h.request("GET", "/namespaces/exp/queue"))).toEqual([]);
    expect(h.namespaces.get("exp").nodes).toEqual([]);
  });

  test("refusals: a pin outside the namespace, a command for a userspace node, a bad body, an unknown namespace", async () => {
    const { h } = await setup(true);
    const pin = await h.request("POST", "/namespaces/exp/nodes", { names: "a", schedule: "h9" });
    expect(pin.status).toBe(422);
    expect((await body<ErrorBody>(pin)).error).toMatchObject({
      code: "unknown_host",
      message: 'node "a" is scheduled on host "h9", which is not a host of this namespace',
    });
    const cmd = await h.request("POST", "/namespaces/exp/nodes", { names: "a", kind: "userspace", command: ["sleep", "1"] });
    expect(cmd.status).toBe(422);
    expect((await body<ErrorBody>(cmd)).error.message).toStartWith("command: a userspace node has no kernel interface");
    const both = await h.request("POST", "/namespaces/exp/nodes", { names: "a", count: 2 });
    expect(both.status).toBe(422);
    expect((await h.request("POST", "/namespaces/nope/nodes", { names: "a" })).status).toBe(404);
    expect((await h.request("GET", "/namespaces/nope/queue")).status).toBe(404);
    expect(h.namespaces.get("exp").queue).toEqual([]);
  });

  test("a command travels with the queued group to the nodes the agents get", async () => {
    const { h, agents } = await setup(true);
    expect((await h.request("POST", "/namespaces/exp/nodes", { names: "c[1-2]", command: ["sh", "-c", "echo up"] })).status).toBe(202);
    expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(201);
    const sent = agents[0].lastState()?.namespaces.find((n) => n.name === "exp")?.nodes ?? [];
    expect(sent.filter((n) => n.name.startsWith("c")).map((n) => n.command)).toEqual([["sh", "-c", "echo up"], ["sh", "-c", "echo up"]]);
  });
});
