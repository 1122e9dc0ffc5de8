/**
 * Flows through the API with fake agents: add one (both ends' hosts get it in
 * their state, with the window its route holds), list it with what the agents
 * report, settle it when its ends are over (agents then no longer get it),
 * stop and remove it, start flows from a topology document, and every refusal.
 */
import { describe, expect, test } from "bun:test";
import type { FlowReport, FlowRow } from "../../protocol/flow.ts";
import { type ErrorBody, type FakeAgent, harness } from "../testing.ts";

/** u1 on h1 and u2 on h2 (userspace), k on h2 (netns); u1-u2 at 100 Mbit/s with 5 ms each way, u2-k unshaped. */
async function ready() {
  const h = harness();
  const h1 = h.agent("h1");
  const h2 = h.agent("h2");
  const topo = {
    nodes: [
      { name: "u1", kind: "userspace", host: "h1" },
      { name: "u2", kind: "userspace", host: "h2" },
      { name: "k", host: "h2" },
    ],
    links: [{ a: "u1", b: "u2", bandwidth: "100Mbit", delay: "5ms", queue: 100 }, { a: "u2", b: "k" }],
    routes: [{ id: "direct", path: ["u1", "u2"] }],
  };
  expect((await h.request("PUT", "/namespaces/default/topology", topo)).status).toBe(200);
  return { h, h1, h2 };
}

const flowsOf = (agent: FakeAgent) => agent.lastState()?.namespaces.find((n) => n.name === "default")?.flows;

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

function report(id: string, role: "sender" | "receiver", fields: Partial<FlowReport>): FlowReport {
  return { namespace: "default", id, role, state: "running", bytes: 0, retransmits: 0, samples: [], samplesFrom: 0, ...fields };
}

describe("flows", () => {
  test("a flow goes to both ends' hosts with its port and window; reports make its row; ended flows leave the state", async () => {
    const { h, h1, h2 } = await ready();
    const res = await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "u2", bytes: "10MB", weight: 2 });
    expect(res.status).toBe(201);
    const row = (await res.json()) as FlowRow;
    expect(row).toMatchObject({ id: "f1", src: "u1", dst: "u2", port: 20001, bytes: 10e6, weight: 2, state: "pending", delivered: 0 });
    // BDP of 100 Mbit/s over 10 ms plus half the 100-packet queue, all of it for the one flow
    const spec = { id: "f1", src: "u1", dst: "u2", port: 20001, bytes: 10e6, weight: 2, window: 125_000 + 50 * 1460 };
    expect(flowsOf(h1)).toEqual([spec]);
    expect(flowsOf(h2)).toEqual([spec]);

    const start = 1_700_000_000_000;
    h1.send({ type: "flows", flows: [report("f1", "sender", { bytes: 5e6, startedAt: start, samples: [{ at: 100, bps: 90e6 }], samplesFrom: 0 })] });
    h2.send({ type: "flows", flows: [report("f1", "receiver", { bytes: 5.1e6, startedAt: start + 5 })] });
    const running = (await (await h.request("GET", "/namespaces/default/flows/f1")).json()) as FlowRow;
    expect(running).toMatchObject({ state: "running", delivered: 5.1e6, samples: [{ at: 100, bps: 90e6 }] });

    const done = { state: "finished" as const, bytes: 10e6, startedAt: start, finishedAt: start + 900, durationMs: 900.5, sha256: "ab" };
    h1.send({ type: "flows", flows: [report("f1", "sender", { ...done, retransmits: 3, samples: [{ at: 200, bps: 95e6 }], samplesFrom: 1 })] });
    // the sender alone is not the end of it: the receiver has not said it got everything
    expect(flowsOf(h1)).toHaveLength(1);
    h2.send({ type: "flows", flows: [report("f1", "receiver", { ...done, startedAt: start + 5, durationMs: 895 })] });
    expect(flowsOf(h1)).toEqual([]);
    expect(flowsOf(h2)).toEqual([]);
    const rows = (await (await h.request("GET", "/namespaces/default/flows")).json()) as FlowRow[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: "finished", delivered: 10e6, completionMs: 900.5, retransmits: 3, sha256: "ab", receivedSha256: "ab" });
    expect(rows[0].samples).toBeUndefined();
    const one = (await (await h.request("GET", "/namespaces/default/flows/f1")).json()) as FlowRow;
    expect(one.samples).toEqual([
      { at: 100, bps: 90e6 },
      { at: 200, bps: 95e6 },
    ]);
    const stats = (await (await h.request("GET", "/namespaces/default/stats")).json()) as { flows: FlowRow[] };
    expect(stats.flows.map((f) => [f.id, f.state, f.delivered])).toEqual([["f1", "finished", 10e6]]);
    const table = await (await h.request("GET", "/namespaces/default/flows?format=table")).text();
    expect(table).toContain("finished");
    expect(table).toContain("10MB");

    // an ended flow is removed from the list by DELETE
    const del = await h.request("DELETE", "/namespaces/default/flows/f1");
    expect(((await del.json()) as { removed: boolean }).removed).toBe(true);
    expect(await (await h.request("GET", "/namespaces/default/flows")).json()).toEqual([]);
  });

  test("DELETE stops a running flow: it is failed, stopped, and its agents no longer run it", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "u2", seconds: 60 });
    const res = await h.request("DELETE", "/namespaces/default/flows/f1");
    expect(await res.json()).toMatchObject({ id: "f1", state: "failed", error: "stopped by request", removed: false });
    expect(flowsOf(h1)).toEqual([]);
  });

  test("a failed end ends the flow at once", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "u2", bytes: 1000 });
    h1.send({ type: "flows", flows: [report("f1", "sender", { state: "failed", error: "the connection ended: refused after 0 of 0 bytes were acknowledged" })] });
    const row = (await (await h.request("GET", "/namespaces/default/flows/f1")).json()) as FlowRow;
    expect(row).toMatchObject({ state: "failed", error: expect.stringContaining("refused") });
    expect(flowsOf(h1)).toEqual([]);
  });

  test("kernel ends: to one, a port is required; from one, the userspace end receives; two kernel ends are refused", async () => {
    const { h, h2 } = await ready();
    const noPort = await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "k", bytes: 1000 });
    expect(noPort.status).toBe(422);
    expect((await errorOf(noPort)).message).toContain("port: k is a netns node");
    expect((await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "k", bytes: 1000, port: 5201 })).status).toBe(201);
    expect((await h.request("POST", "/namespaces/default/flows", { src: "k", dst: "u2", bytes: 1000 })).status).toBe(201);
    expect(flowsOf(h2)?.map((f) => [f.id, f.src, f.dst, f.port])).toEqual([
      ["f1", "u1", "k", 5201],
      ["f2", "k", "u2", 20002],
    ]);
    // k and u2 only: a flow from k to k is src = dst (the schema refuses it)
    const twoKernel = await h.request("POST", "/namespaces/default/flows", { src: "k", dst: "k", bytes: 1 });
    expect(twoKernel.status).toBe(422);
  });

  test("refusals name what was wrong", async () => {
    const { h } = await ready();
    const cases: [unknown, number, string][] = [
      [{ src: "u1", dst: "nope", bytes: 1 }, 404, 'dst: no node named "nope"'],
      [{ src: "u1", dst: "u2" }, 422, "exactly one of bytes"],
      [{ src: "u1", dst: "u2", bytes: 1, route: "other" }, 422, 'route: no route "other"'],
      [{ src: "u2", dst: "u1", bytes: 1, route: "direct" }, 422, "direct goes from u1 to u2, not from u2 to u1"],
    ];
    for (const [body, status, text] of cases) {
      const res = await h.request("POST", "/namespaces/default/flows", body);
      expect(res.status).toBe(status);
      expect((await errorOf(res)).message).toContain(text);
    }
    await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "u2", bytes: 1, port: 7000 });
    const clash = await h.request("POST", "/namespaces/default/flows", { src: "u1", dst: "u2", bytes: 1, port: 7000 });
    expect(clash.status).toBe(409);
    expect((await errorOf(clash)).message).toContain("flow f1 already goes to u2 port 7000");
    expect((await h.request("GET", "/namespaces/default/flows/f9")).status).toBe(404);
  });

  test("a topology document's flows start when it is applied; bad ones refuse the whole document", async () => {
    const h = harness();
    const h1 = h.agent("h1");
    const doc = {
      nodes: [{ name: "a", kind: "userspace" }, { name: "b", kind: "userspace" }],
      links: [{ a: "a", b: "b" }],
      flows: [{ src: "a", dst: "b", bytes: "1MB" }],
    };
    const res = await h.request("PUT", "/namespaces/default/topology", doc);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { flows: string[] }).flows).toEqual(["f1"]);
    expect(flowsOf(h1)?.map((f) => f.id)).toEqual(["f1"]);
    const bad = await h.request("PUT", "/namespaces/other/topology", { ...doc, flows: [{ src: "a", dst: "zz", bytes: 1 }] });
    expect(bad.status).toBe(422);
    expect((await errorOf(bad)).message).toContain('flows[0].dst: unknown node "zz"');
  });
});
