/**
 * GET /namespaces/{ns}/schedule/status: a row per run, running until every
 * node it launched is reported running or in error, then completed or
 * failed; schedules that failed before launching are failed rows too.
 */
import { describe, expect, test } from "bun:test";
import type { ScheduleStatusRow } from "../../protocol/launch.ts";
import { harness } from "../testing.ts";

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function scheduled() {
  const h = harness();
  const agents = ["h1", "h2", "h3"].map((name) => h.agent(name));
  await h.request("POST", "/namespaces", { name: "exp", queueing: true });
  await h.request("POST", "/namespaces/exp/nodes", { names: "vm[1-5]" });
  expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(201);
  const status = async () => body<ScheduleStatusRow[]>(await h.request("GET", "/namespaces/exp/schedule/status"));
  return { h, agents, status };
}

describe("schedule status", () => {
  test("a run is running until the agents report every node running, then completed", async () => {
    const { agents, status } = await scheduled();
    const [first] = await status();
    expect(first).toEqual({ start: expect.any(String), state: "running", launched: 0, failures: 0, total: 5, hosts: 3 });
    agents[0].reportAllRunning();
    agents[1].reportAllRunning();
    expect(await status()).toEqual([{ ...first, launched: 4 }]);
    agents[2].reportAllRunning();
    const [done] = await status();
    expect(done).toMatchObject({ state: "completed", launched: 5, failures: 0, total: 5, hosts: 3 });
    expect(done.end).toBeString();
    // settled runs keep their counts, whatever the nodes do later
    agents[2].session.onClose();
    expect(await status()).toEqual([done]);
  });

  test("a node in error fails the run once the rest have settled; a lost host keeps it running", async () => {
    const { h, agents, status } = await scheduled();
    const onH1 = h.namespaces.get("exp").nodes.filter((n) => n.host === "h1").map((n) => n.name);
    agents[0].send({ type: "status", nodes: [{ namespace: "exp", name: onH1[0], state: "error", error: "no room" }] });
    agents[1].reportAllRunning();
    agents[2].session.onClose();
    // h1: one in error, one not reported; h2: both running; h3 (one node) lost
    expect((await status())[0]).toMatchObject({ state: "running", launched: 2, failures: 1 });
    agents[0].send({ type: "status", nodes: onH1.slice(1).map((name) => ({ namespace: "exp", name, state: "running" as const })) });
    h.agent("h3").reportAllRunning();
    expect((await status())[0]).toMatchObject({ state: "failed", launched: 4, failures: 1, total: 5 });
  });

  test("a schedule that fails before launching is a failed row with its error; dry runs and refusals leave no row", async () => {
    const { h, status } = await scheduled();
    await h.request("POST", "/namespaces/exp/schedule", { dryRun: true }); // queue_empty: no row
    await h.request("POST", "/namespaces/exp/nodes", { names: "big", schedule: "h1", coschedule: 0 });
    expect((await h.request("POST", "/namespaces/exp/schedule", { dryRun: true })).status).toBe(409);
    expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(409);
    const rows = await status();
    expect(rows).toHaveLength(2);
    expect(rows[1]).toEqual({
      start: rows[1].start,
      end: rows[1].end,
      state: "failed",
      launched: 0,
      failures: 0,
      total: 0,
      hosts: 0,
      error: 'node "big" cannot go on host "h1", where it is scheduled: "big" would share the host with 2 other nodes but allows at most 0 (coschedule 0)',
    });
    expect(h.namespaces.get("exp").queue.map((g) => g.names)).toEqual([["big"]]);
  });

  test("launches with queueing off are runs too; the listing takes format and columns", async () => {
    const { h, agents } = await scheduled();
    await h.request("PATCH", "/namespaces/exp", { queueing: false });
    await h.request("POST", "/namespaces/exp/nodes", { count: 2 });
    for (const a of agents) a.reportAllRunning();
    const csv = await (await h.request("GET", "/namespaces/exp/schedule/status?format=csv&columns=state,launched,total,hosts")).text();
    expect(csv).toBe("state,launched,total,hosts\ncompleted,5,5,3\ncompleted,2,2,2\n");
    const table = await (await h.request("GET", "/namespaces/exp/schedule/status?format=table&columns=state,total,error")).text();
    expect(table).toBe("STATE       TOTAL   ERROR\ncompleted   5       -\ncompleted   2       -\n");
    expect((await h.request("GET", "/namespaces/exp/schedule/status?columns=nope")).status).toBe(422);
  });
});
