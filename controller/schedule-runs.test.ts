/**
 * A namespace whose scheduler still runs cannot be deleted: DELETE
 * /namespaces/{ns} is a 409 naming the run and its pending nodes until every
 * node it launched is reported running (or failed, or no longer wanted).
 */
import { describe, expect, test } from "bun:test";
import { type ErrorBody, harness } from "./testing.ts";

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function scheduled() {
  const h = harness();
  const agents = ["h1", "h2"].map((name) => h.agent(name));
  await h.request("POST", "/namespaces", { name: "exp", queueing: true });
  await h.request("POST", "/namespaces/exp/nodes", { names: "vm[1-3]" });
  expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(201);
  return { h, agents };
}

describe("deleting a namespace while its scheduler runs", () => {
  test("is refused naming the run and the nodes not yet up; once the agents report them running it goes through", async () => {
    const { h, agents } = await scheduled();
    agents[0].reportAllRunning();
    const refused = await h.request("DELETE", "/namespaces/exp");
    expect(refused.status).toBe(409);
    const { error } = await body<ErrorBody>(refused);
    expect(error.code).toBe("namespace_busy");
    const onH2 = h.namespaces.get("exp").nodes.filter((n) => n.host === "h2").map((n) => n.name);
    expect(onH2.length).toBeGreaterThan(0);
    expect(error.message).toContain('namespace "exp" cannot be deleted now: its scheduler is still launching nodes');
    expect(error.message).toContain(`has ${3 - onH2.length} of 3 nodes running, 0 failed and ${onH2.length} not yet up (${onH2.join(", ")})`);
    expect(error.message).toContain("nextmini node kill all -n exp");
    // nothing was removed
    expect(h.namespaces.get("exp").nodes).toHaveLength(3);

    agents[1].reportAllRunning();
    const deleted = await h.request("DELETE", "/namespaces/exp");
    expect(deleted.status).toBe(200);
    expect(h.namespaces.find("exp")).toBeUndefined();
  });

  test("a node in error settles too; so does killing the nodes a lost host keeps pending", async () => {
    const { h, agents } = await scheduled();
    const nodes = h.namespaces.get("exp").nodes;
    const onH1 = nodes.filter((n) => n.host === "h1").map((n) => n.name);
    agents[0].send({ type: "status", nodes: onH1.map((name) => ({ namespace: "exp", name, state: "error" as const, error: "no room" })) });
    agents[1].session.onClose();
    // h2 is lost: its nodes keep the run running, since the host may come back
    expect((await h.request("DELETE", "/namespaces/exp")).status).toBe(409);
    expect((await h.request("POST", "/namespaces/exp/nodes/all/kill")).status).toBe(200);
    expect((await h.request("DELETE", "/namespaces/exp")).status).toBe(200);
  });

  test("a namespace with only settled or failed-before-launching runs deletes at once", async () => {
    const h = harness();
    h.agent("h1").reportAllRunning();
    await h.request("POST", "/namespaces", { name: "exp", queueing: true });
    await h.request("POST", "/namespaces/exp/nodes", { names: "big", schedule: "h1", coschedule: 0 });
    await h.request("POST", "/namespaces/exp/nodes", { names: "small", schedule: "h1" });
    // fails before launching: a failed row, nothing pending
    expect((await h.request("POST", "/namespaces/exp/schedule", {})).status).toBe(409);
    expect((await h.request("DELETE", "/namespaces/exp")).status).toBe(200);
  });
});
