/**
 * POST/GET /namespaces/{ns}/schedule and .../schedule/move: dry runs store a
 * plan, moves edit it, a schedule follows it (or runs the scheduler) and
 * creates every queued node, all or nothing.
 */
import { describe, expect, test } from "bun:test";
import type { NodeRow } from "../../protocol/api.ts";
import type { PlanEntry } from "../../protocol/launch.ts";
import { Namespaces } from "../namespaces.ts";
import { Scheduling } from "../scheduling.ts";
import { type ErrorBody, harness } from "../testing.ts";

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

/** Three connected hosts, a queueing namespace `exp` holding them, and vm1-vm6 queued (db pinned to h3). */
async function queued() {
  const h = harness();
  const agents = ["h1", "h2", "h3"].map((name) => h.agent(name));
  await h.request("POST", "/namespaces", { name: "exp", queueing: true });
  expect((await h.request("POST", "/namespaces/exp/nodes", { names: "vm[1-6]" })).status).toBe(202);
  expect((await h.request("POST", "/namespaces/exp/nodes", { names: "db", schedule: "h3", vcpus: 4 })).status).toBe(202);
  return { h, agents };
}

const hosts = (h: ReturnType<typeof harness>) => Object.fromEntries(h.namespaces.get("exp").nodes.map((n) => [n.name, n.host]));

describe("schedule", () => {
  test("queue, dry-run, move, schedule: the nodes go where the edited plan says", async () => {
    const { h, agents } = await queued();
    const dry = await h.request("POST", "/namespaces/exp/schedule", { dryRun: true });
    expect(dry.status).toBe(200);
    const plan = await body<PlanEntry[]>(dry);
    expect(plan).toEqual([
      { node: "vm1", host: "h1" },
      { node: "vm2", host: "h2" },
      { node: "vm3", host: "h1" },
      { node: "vm4", host: "h2" },
      { node: "vm5", host: "h1" },
      { node: "vm6", host: "h2" },
      { node: "db", host: "h3" },
    ]);
    expect(h.namespaces.get("exp").nodes).toEqual([]);
    expect(await body<PlanEntry[]>(await h.request("GET", "/namespaces/exp/schedule"))).toEqual(plan);
    // the nodes listing shows the queued nodes on their planned hosts
    const listed = await body<Pick<NodeRow, "name" | "host" | "state">[]>(await h.request("GET", "/namespaces/exp/nodes?columns=name,host,state"));
    expect(listed).toContainEqual({ name: "vm1", host: "h1", state: "queued" });

    const moved = await h.request("POST", "/namespaces/exp/schedule/move", { nodes: "vm[1-2],vm5", host: "h3" });
    expect(moved.status).toBe(200);
    expect((await body<PlanEntry[]>(moved)).filter((p) => p.host === "h3").map((p) => p.node)).toEqual(["vm1", "vm2", "vm5", "db"]);
    expect(await (await h.request("GET", "/namespaces/exp/schedule?format=csv")).text()).toBe(
      "node,host\nvm1,h3\nvm2,h3\nvm3,h1\nvm4,h2\nvm5,h3\nvm6,h2\ndb,h3\n",
    );

    const run = await h.request("POST", "/namespaces/exp/schedule");
    expect(run.status).toBe(201);
    expect(hosts(h)).toEqual({ vm1: "h3", vm2: "h3", vm3: "h1", vm4: "h2", vm5: "h3", vm6: "h2", db: "h3" });
    expect(h.namespaces.get("exp").nodes.map((n) => n.ip)).toEqual(["1", "2", "3", "4", "5", "6", "7"].map((i) => `10.0.0.${i}/16`));
    // queue and plan are spent; each agent was told of the nodes
    expect(await body<unknown>(await h.request("GET", "/namespaces/exp/queue"))).toEqual([]);
    expect(await body<unknown>(await h.request("GET", "/namespaces/exp/schedule"))).toEqual([]);
    const seen = agents[2].lastState()?.namespaces.find((n) => n.name === "exp")?.nodes.filter((n) => n.host === "h3").map((n) => n.name);
    expect(seen).toEqual(["vm1", "vm2", "vm5", "db"]);
    expect(h.namespaces.node("exp", "db").vcpus).toBe(4);
  });

  test("without a stored plan the scheduler places the queue; an empty queue is a 409", async () => {
    const { h } = await queued();
    expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(201);
    expect(hosts(h)).toEqual({ vm1: "h1", vm2: "h2", vm3: "h1", vm4: "h2", vm5: "h1", vm6: "h2", db: "h3" });
    const empty = await h.request("POST", "/namespaces/exp/schedule", { dryRun: true });
    expect(empty.status).toBe(409);
    expect((await body<ErrorBody>(empty)).error.code).toBe("queue_empty");
  });

  test("a failed schedule launches nothing and keeps the queue", async () => {
    const { h, agents } = await queued();
    agents[2].session.onClose(); // db's pinned host goes away
    const before = h.namespaces.get("exp").queue;
    const res = await h.request("POST", "/namespaces/exp/schedule", {});
    expect(res.status).toBe(409);
    expect((await body<ErrorBody>(res)).error).toEqual({
      code: "host_down",
      message: 'node "db" is scheduled on host "h3", which is not connected',
      details: { node: "db", host: "h3" },
    });
    expect(h.namespaces.get("exp").nodes).toEqual([]);
    expect(h.namespaces.get("exp").queue).toEqual(before);
    expect(agents[0].lastState()?.namespaces ?? []).toEqual([]);
  });

  test("a stored plan that no longer fits is refused, naming what changed", async () => {
    const { h, agents } = await queued();
    await h.request("POST", "/namespaces/exp/schedule", { dryRun: true });
    await h.request("POST", "/namespaces/exp/nodes", { names: "late" });
    agents[1].session.onClose();
    const res = await h.request("POST", "/namespaces/exp/schedule", {});
    expect(res.status).toBe(409);
    const error = (await body<ErrorBody>(res)).error;
    expect(error.code).toBe("plan_invalid");
    expect(error.details?.issues).toEqual(["queued but not in the plan: late", "host h2 is not connected"]);
    expect(error.message).toEndWith("; dry-run again or move the nodes");
    expect(h.namespaces.get("exp").nodes).toEqual([]);
    // a fresh dry run fits again
    expect((await h.request("POST", "/namespaces/exp/schedule", { dryRun: true })).status).toBe(200);
    expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(201);
    expect(new Set(Object.values(hosts(h)))).toEqual(new Set(["h1", "h3"]));
  });

  test("the plan survives in the store: a controller over the same store reads it", async () => {
    const { h } = await queued();
    const plan = await body<PlanEntry[]>(await h.request("POST", "/namespaces/exp/schedule", { dryRun: true }));
    await h.request("POST", "/namespaces/exp/schedule/move", { nodes: "vm1", host: "h2" });
    const again = new Scheduling({ namespaces: new Namespaces({ store: h.store, agents: h.hub }), hub: h.hub, store: h.store });
    expect(again.plan("exp")).toEqual(plan.map((p) => (p.node === "vm1" ? { node: "vm1", host: "h2" } : p)));
    expect(again.queue("exp").flatMap((g) => g.names)).toEqual(["vm1", "vm2", "vm3", "vm4", "vm5", "vm6", "db"]);
  });
});

describe("move", () => {
  test("refusals: no stored plan says to dry-run first; nodes not in the plan and hosts outside the namespace are named", async () => {
    const { h } = await queued();
    const none = await h.request("POST", "/namespaces/exp/schedule/move", { nodes: "vm1", host: "h2" });
    expect(none.status).toBe(409);
    expect((await body<ErrorBody>(none)).error.message).toBe(
      'namespace "exp" has no stored plan; dry-run first: POST /namespaces/exp/schedule {"dryRun": true}',
    );
    await h.request("POST", "/namespaces/exp/schedule", { dryRun: true });
    const missing = await h.request("POST", "/namespaces/exp/schedule/move", { nodes: "vm[5-8]", host: "h2" });
    expect(missing.status).toBe(422);
    expect((await body<ErrorBody>(missing)).error).toMatchObject({
      code: "not_in_plan",
      message: 'not in the stored plan of namespace "exp": "vm7", "vm8"',
    });
    const outside = await h.request("POST", "/namespaces/exp/schedule/move", { nodes: "vm1", host: "h9" });
    expect(outside.status).toBe(422);
    expect((await body<ErrorBody>(outside)).error.message).toBe('host "h9" is not a host of namespace "exp" (its hosts: h1, h2, h3)');
    expect((await h.request("POST", "/namespaces/exp/schedule/move", { nodes: "vm[", host: "h1" })).status).toBe(422);
    expect((await h.request("POST", "/namespaces/nope/schedule/move", { nodes: "vm1", host: "h1" })).status).toBe(404);
    // nothing moved
    expect((await body<PlanEntry[]>(await h.request("GET", "/namespaces/exp/schedule"))).find((p) => p.node === "vm5")?.host).toBe("h1");
  });
});
