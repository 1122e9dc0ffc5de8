/**
 * Node lifecycle through the API: stop, kill and start set what agents are
 * told (targets by name, range or all, per namespace), and removal takes only
 * stopped or failed nodes, with their links and routes.
 */
import { describe, expect, test } from "bun:test";
import { type ErrorBody, harness } from "../testing.ts";

const topology = {
  nodes: [{ name: "foo", host: "h1" }, { name: "a[0-2]", host: "h1" }],
  links: [
    { a: "foo", b: "a0" },
    { a: "a0", b: "a1" },
    { a: "a1", b: "a2" },
  ],
  routes: [{ id: "via-a1", path: ["a0", "a1", "a2"] }],
};

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

function setup() {
  const h = harness();
  const agent = h.agent("h1");
  const desired = (ns: string) =>
    Object.fromEntries((agent.lastState()?.namespaces.find((n) => n.name === ns)?.nodes ?? []).map((n) => [n.name, n.desired ?? "running"]));
  return { h, agent, desired };
}

describe("node lifecycle", () => {
  test("stopping all in one namespace leaves the same names in another running", async () => {
    const { h, desired } = setup();
    for (const ns of ["one", "two"]) expect((await h.request("PUT", `/namespaces/${ns}/topology`, topology)).status).toBe(200);
    const stopped = await h.request("POST", "/namespaces/one/nodes/all/stop");
    expect(await body<unknown>(stopped)).toEqual({ action: "stop", nodes: ["foo", "a0", "a1", "a2"] });
    expect(desired("one")).toEqual({ foo: "stopped", a0: "stopped", a1: "stopped", a2: "stopped" });
    expect(desired("two")).toEqual({ foo: "running", a0: "running", a1: "running", a2: "running" });
  });

  test("ranges pick nodes; kill and start; a name it does not have is a 404 naming it", async () => {
    const { h, desired } = setup();
    await h.request("PUT", "/namespaces/one/topology", topology);
    expect((await h.request("POST", `/namespaces/one/nodes/${encodeURIComponent("a[1-2]")}/kill`)).status).toBe(200);
    expect(desired("one")).toEqual({ foo: "running", a0: "running", a1: "killed", a2: "killed" });
    await h.request("POST", "/namespaces/one/nodes/a2/start");
    expect(desired("one")).toEqual({ foo: "running", a0: "running", a1: "killed", a2: "running" });
    const missing = await h.request("POST", `/namespaces/one/nodes/${encodeURIComponent("a[2-4]")}/stop`);
    expect(missing.status).toBe(404);
    expect((await body<ErrorBody>(missing)).error.message).toBe('no node named "a3", "a4" in namespace "one"');
    expect((await h.request("POST", "/namespaces/one/nodes/a1/pause")).status).toBe(404);
    expect(desired("one").a1).toBe("killed");
  });

  test("only stopped or failed nodes are removed, with their links and the routes through them", async () => {
    const { h, agent } = setup();
    await h.request("PUT", "/namespaces/one/topology", topology);
    agent.reportAllRunning();
    const running = await h.request("DELETE", "/namespaces/one/nodes/a1");
    expect(running.status).toBe(409);
    expect((await body<ErrorBody>(running)).error.message).toBe("only stopped or failed nodes can be removed: a1 is running; stop or kill them first");

    await h.request("POST", "/namespaces/one/nodes/a1/stop");
    agent.send({ type: "status", nodes: [{ namespace: "one", name: "a1", state: "stopped" }] });
    const removed = await h.request("DELETE", "/namespaces/one/nodes/a1");
    expect(await body<unknown>(removed)).toEqual({ nodes: ["a1"], links: ["a0:a1", "a1:a2"], routes: ["via-a1"] });
    const ns = h.namespaces.get("one");
    expect(ns.nodes.map((n) => n.name)).toEqual(["foo", "a0", "a2"]);
    expect(ns.links.map((l) => l.id)).toEqual(["foo:a0"]);
    expect(ns.routes).toEqual([]);
    expect(agent.lastState()?.namespaces[0].nodes.map((n) => n.name)).toEqual(["foo", "a0", "a2"]);

    agent.send({ type: "status", nodes: [{ namespace: "one", name: "a2", state: "error", error: "boom" }] });
    expect((await h.request("DELETE", "/namespaces/one/nodes/a2")).status).toBe(200);
  });
});
