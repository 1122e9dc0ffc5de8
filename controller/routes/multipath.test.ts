/**
 * The multipath and monitoring API in-process: route weights, pins, link
 * state and the paths setting reach the agent's state; bad input names its
 * field and changes nothing; conversations agents report are listed with
 * rates and filters; /events streams what happens.
 */
import { describe, expect, test } from "bun:test";
import { harness, type ErrorBody, type FakeAgent, type Harness } from "../testing.ts";
import type { Conversation, ConversationReport } from "../../protocol/conversation.ts";
import type { LiveEvent } from "../../protocol/events.ts";
import type { Pin } from "../../protocol/pins.ts";

const TOPOLOGY = {
  nodes: ["h1", "h2", "s1", "s2"],
  links: [
    { a: "h1", b: "s1", bandwidth: "100Mbit" },
    { a: "s1", b: "h2", bandwidth: "100Mbit" },
    { a: "h1", b: "s2", bandwidth: "100Mbit" },
    { a: "s2", b: "h2", bandwidth: "100Mbit" },
  ],
  routes: [
    { id: "top", path: ["h1", "s1", "h2"] },
    { id: "bottom", path: ["h1", "s2", "h2"], weight: 3 },
  ],
};

async function ready(): Promise<{ h: Harness; agent: FakeAgent }> {
  const h = harness();
  const agent = h.agent("h1");
  const put = await h.request("PUT", "/namespaces/default/topology", TOPOLOGY);
  expect(put.status).toBe(200);
  agent.reportAllRunning();
  return { h, agent };
}

const issues = async (res: Response) => ((await res.json()) as ErrorBody).error.details?.issues;

describe("routes, pins, link state", () => {
  test("a route's weight changes live; the agent gets the new set", async () => {
    const { h, agent } = await ready();
    const res = await h.request("PATCH", "/namespaces/default/routes/bottom", { weight: 1 });
    expect(await res.json()).toEqual({ id: "bottom", path: ["h1", "s2", "h2"], weight: 1 });
    expect(agent.lastState()?.namespaces[0].routes.map((r) => r.weight)).toEqual([1, 1]);
  });

  test("bad weights and unknown routes are refused naming them, and nothing changes", async () => {
    const { h, agent } = await ready();
    const before = agent.lastState();
    const zero = await h.request("PATCH", "/namespaces/default/routes/bottom", { weight: 0 });
    expect(zero.status).toBe(422);
    expect((await issues(zero))?.[0]).toContain("weight");
    const negative = await h.request("PUT", "/namespaces/default/routes", [{ path: ["h1", "s1", "h2"], weight: -1 }]);
    expect(negative.status).toBe(422);
    expect((await issues(negative))?.[0]).toStartWith("[0].weight");
    const missing = await h.request("PATCH", "/namespaces/default/routes/nowhere", { weight: 2 });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe("route_not_found");
    expect(agent.lastState()).toEqual(before);
  });

  test("pins are stored and pushed; a pin naming a route that does not connect its src and dst is refused", async () => {
    const { h, agent } = await ready();
    const pins: Pin[] = [{ proto: "tcp", dstPort: 5202, route: "top" }];
    const put = await h.request("PUT", "/namespaces/default/pins", pins);
    expect(await put.json()).toEqual(pins);
    expect(agent.lastState()?.namespaces[0].pins).toEqual(pins);
    expect(await (await h.request("GET", "/namespaces/default/pins?format=table")).text()).toBe(
      "SRC   DST   PROTO   SRC PORT   DST PORT   ROUTE\n*     *     tcp     *          5202       top\n",
    );
    const wrongEnds = await h.request("PUT", "/namespaces/default/pins", [{ src: "h2", dst: "h1", route: "top" }]);
    expect(wrongEnds.status).toBe(422);
    expect(await issues(wrongEnds)).toEqual(['[0].route: route "top" goes from h1 to h2, not from h2 to h1']);
    const unknown = await h.request("PUT", "/namespaces/default/pins", [{ route: "nope" }, { route: "top", dstPort: 70000 }]);
    expect(unknown.status).toBe(422);
    expect((await issues(unknown))?.[0]).toStartWith("[1].dstPort");
    const noRoute = await h.request("PUT", "/namespaces/default/pins", [{ route: "nope" }]);
    expect(await issues(noRoute)).toEqual(['[0].route: no route with id "nope" (routes: top, bottom)']);
    expect(agent.lastState()?.namespaces[0].pins).toEqual(pins);
  });

  test("a link goes down and up: routing treats it as absent; only up and down are states", async () => {
    const { h, agent } = await ready();
    const down = await h.request("PATCH", "/namespaces/default/links/h1:s1", { state: "down" });
    expect(((await down.json()) as { state?: string }).state).toBe("down");
    const ns = agent.lastState()!.namespaces[0];
    expect(ns.links.find((l) => l.id === "h1:s1")?.state).toBe("down");
    // h1 reaches s1 the long way round now
    expect(ns.nextHops.h1[ns.nodes.findIndex((n) => n.name === "s1")]).toBe("s2");
    const bad = await h.request("PATCH", "/namespaces/default/links/h1:s1", { state: "sideways" });
    expect(bad.status).toBe(422);
    expect((await issues(bad))?.[0]).toStartWith("state");
    const up = await h.request("PATCH", "/namespaces/default/links/h1:s1", { state: "up" });
    expect(((await up.json()) as { state?: string }).state).toBeUndefined();
    expect(agent.lastState()!.namespaces[0].links.find((l) => l.id === "h1:s1")?.state).toBeUndefined();
  });

  test("paths: ecmp reaches the agents; a DAG route's edges come back as given", async () => {
    const { h, agent } = await ready();
    const patch = await h.request("PATCH", "/namespaces/default", { paths: "ecmp" });
    expect(((await patch.json()) as { paths: string }).paths).toBe("ecmp");
    expect(agent.lastState()?.namespaces[0].paths).toBe("ecmp");
    const bad = await h.request("PATCH", "/namespaces/default", { paths: "widest" });
    expect(bad.status).toBe(422);
    const saved = (await (await h.request("GET", "/namespaces/default/save")).json()) as { paths?: string };
    expect(saved.paths).toBe("ecmp");
  });
});

function report(seq: number, over: Partial<ConversationReport> = {}): ConversationReport {
  return {
    seq,
    namespace: "default",
    src: "h1",
    dst: "h2",
    proto: 6,
    srcPort: 40000 + seq,
    dstPort: 5201,
    route: "top",
    path: ["h1", "s1", "h2"],
    start: 1_700_000_000_000,
    last: 1_700_000_000_500,
    packets: 100,
    bytes: 150_000,
    payload: 144_800,
    packetsBack: 50,
    bytesBack: 2600,
    payloadBack: 0,
    syn: true,
    drops: {},
    ...over,
  };
}

describe("conversations", () => {
  const totals = { live: 2, started: 2, ended: 0, evicted: 0 };

  test("listed with rates from successive reports, filtered, one with its samples; unknown ids are 404", async () => {
    const { h, agent } = await ready();
    agent.send({ type: "conversations", reports: [report(1), report(2, { route: "bottom", path: ["h1", "s2", "h2"] })], ...totals });
    h.clock.advance(1000);
    agent.send({ type: "conversations", reports: [report(1, { payload: 144_800 + 1_250_000, last: 1_700_000_001_500 })], ...totals });
    const list = (await (await h.request("GET", "/namespaces/default/conversations")).json()) as Conversation[];
    expect(list.map((c) => [c.id.split(".").pop(), c.route, c.proto, c.state])).toEqual([
      ["1", "top", "tcp", "active"],
      ["2", "bottom", "tcp", "active"],
    ]);
    expect(list[0].bps).toBe(10_000_000);
    const bottom = (await (await h.request("GET", "/namespaces/default/conversations?route=bottom")).json()) as Conversation[];
    expect(bottom.map((c) => c.srcPort)).toEqual([40002]);
    const one = (await (await h.request("GET", `/namespaces/default/conversations/${list[0].id}`)).json()) as Conversation;
    expect(one.samples?.map((s) => s.bps)).toEqual([(144_800 * 8) / 0.5, 10_000_000]);
    const missing = await h.request("GET", "/namespaces/default/conversations/h1.x.9");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe("conversation_not_found");
    const badState = await h.request("GET", "/namespaces/default/conversations?state=sleeping");
    expect(badState.status).toBe(422);
    expect((await issues(badState))?.[0]).toStartWith("state");
  });

  test("an ended conversation is listed with its end and reason; a table and csv render", async () => {
    const { h, agent } = await ready();
    agent.send({ type: "conversations", reports: [report(1, { endReason: "fin" })], ...totals });
    const [c] = (await (await h.request("GET", "/namespaces/default/conversations?state=ended")).json()) as Conversation[];
    expect([c.state, c.endReason, c.end]).toEqual(["ended", "fin", new Date(1_700_000_000_500).toISOString()]);
    const table = await (await h.request("GET", "/namespaces/default/conversations?format=table&columns=src,dst,proto,route,path,state")).text();
    expect(table).toBe("SRC   DST   PROTO   ROUTE   PATH       STATE\nh1    h2    tcp     top     h1>s1>h2   ended\n");
    const metrics = await (await h.request("GET", "/metrics")).text();
    expect(metrics).toContain('nextmini_conversations_listed{namespace="default",state="ended"} 1');
    expect(metrics).toContain('nextmini_conversations_live{host="h1"} 2');
  });
});

describe("events", () => {
  /** Reads SSE `data:` events from a streamed response until `count` have come or `ms` passed. */
  async function readEvents(res: Response, count: number, ms = 2000): Promise<LiveEvent[]> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const out: LiveEvent[] = [];
    let text = "";
    const until = Date.now() + ms;
    while (out.length < count && Date.now() < until) {
      const r = await Promise.race([reader.read(), Bun.sleep(until - Date.now()).then(() => undefined)]);
      if (!r || r.done) break;
      text += decoder.decode(r.value, { stream: true });
      let cut: number;
      while ((cut = text.indexOf("\n\n")) >= 0) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        if (block.startsWith("data: ")) out.push(JSON.parse(block.slice(6)) as LiveEvent);
      }
    }
    await reader.cancel();
    return out;
  }

  test("a client gets topology, node and conversation events of its namespace, and link stats at its interval", async () => {
    const { h, agent } = await ready();
    const res = await h.request("GET", "/events?namespace=default&kinds=topology,conversation,links&interval=100");
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    await h.request("PATCH", "/namespaces/default/links/h1:s1", { state: "down" });
    agent.send({ type: "conversations", reports: [report(1)], live: 1, started: 1, ended: 0, evicted: 0 });
    const events = await readEvents(res, 3);
    expect(events.map((e) => e.kind).sort()).toEqual(["conversation", "links", "topology"]);
    const topology = events.find((e) => e.kind === "topology");
    expect(topology).toMatchObject({ namespace: "default", changed: ["links"] });
    expect(events.find((e) => e.kind === "conversation")).toMatchObject({ event: "start", conversation: { route: "top" } });
    expect(h.hub.events.clients).toBe(0);
  });

  test("bad queries are refused naming the field", async () => {
    const { h } = await ready();
    const fast = await h.request("GET", "/events?interval=10");
    expect(fast.status).toBe(422);
    expect((await issues(fast))?.[0]).toContain("interval is at least 100 ms");
    const kind = await h.request("GET", "/events?kinds=links,gossip");
    expect((await issues(kind))?.[0]).toContain('unknown kind "gossip"');
    expect((await h.request("GET", "/events?namespace=nowhere")).status).toBe(404);
  });

  test("a client that does not read misses events and is told how many; the others get them all", () => {
    const h = harness();
    const slow = h.hub.events.subscribe({}, 10);
    const fast = h.hub.events.subscribe({});
    for (let i = 0; i < 25; i++) h.hub.events.publish({ kind: "host", t: i, host: `h${i}`, state: "up" });
    expect(fast.take()).toHaveLength(25);
    const got = slow.take().map((t) => JSON.parse(t.json) as LiveEvent);
    expect(got[0]).toMatchObject({ kind: "dropped", missed: 15 });
    expect(got.slice(1).map((e) => (e.kind === "host" ? e.host : ""))).toEqual(Array.from({ length: 10 }, (_, i) => `h${i}`));
  });
});
