/** Links: list, add, change shaping (pushed to the agent), remove, and every way to get it wrong. */
import { describe, expect, test } from "bun:test";
import { DEFAULT_SHAPING, type LinkSpec } from "../../protocol/state.ts";
import { type ErrorBody, harness } from "../testing.ts";

async function ready() {
  const h = harness();
  const agent = h.agent("h1");
  const res = await h.request("PUT", "/namespaces/default/topology", { nodes: ["a", "b", "c"], links: [{ a: "a", b: "b" }] });
  expect(res.status).toBe(200);
  return { h, agent };
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

describe("POST links", () => {
  test("adds a link with units as strings or numbers: 201 with the link", async () => {
    const { h, agent } = await ready();
    const res = await h.request("POST", "/namespaces/default/links", {
      a: "b",
      b: "c",
      bandwidth: "100Mbit",
      delay: 0.01,
      jitter: "1ms",
      loss: "1%",
      queue: 500,
      ba: { bandwidth: "10Mbit" },
    });
    expect(res.status).toBe(201);
    const link = (await res.json()) as LinkSpec;
    const ab = { bandwidth: 1e8, delay: 0.01, jitter: 0.001, loss: 0.01, queue: 500, reorder: false };
    expect(link).toEqual({ id: "b:c", a: "b", b: "c", ab, ba: { ...ab, bandwidth: 1e7 } });
    expect(agent.lastState()?.namespaces[0].links.at(-1)).toEqual(link);
    expect(agent.lastState()?.namespaces[0].nextHops.a).toEqual(["", "b", "b"]);
  });

  test("an unknown node is a 422 naming b", async () => {
    const { h } = await ready();
    const res = await h.request("POST", "/namespaces/default/links", { a: "a", b: "zz" });
    expect(res.status).toBe(422);
    const e = await errorOf(res);
    expect(e.code).toBe("invalid_request");
    expect(e.details?.issues).toEqual(['b: no node named "zz" in namespace "default"']);
  });

  test("a negative delay and a loss over 100% are 422s naming the field", async () => {
    const { h } = await ready();
    const neg = await errorOf(await h.request("POST", "/namespaces/default/links", { a: "b", b: "c", delay: "-5ms" }));
    expect(neg.details?.issues).toEqual(['delay: expected a duration like "10ms", got "-5ms" (negative values are not allowed)']);
    const loss = await errorOf(await h.request("POST", "/namespaces/default/links", { a: "b", b: "c", ab: { loss: "150%" } }));
    expect(loss.details?.issues).toEqual(['ab.loss: expected a percentage from 0% to 100%, got "150%"']);
    const typo = await errorOf(await h.request("POST", "/namespaces/default/links", { a: "b", b: "c", latency: "5ms" }));
    expect(typo.details?.issues?.[0]).toContain("latency");
    expect(h.namespaces.get("default").links).toHaveLength(1);
  });

  test("a duplicate link, either way round, is a 409 naming the existing one", async () => {
    const { h } = await ready();
    const res = await h.request("POST", "/namespaces/default/links", { a: "b", b: "a" });
    expect(res.status).toBe(409);
    const e = await errorOf(res);
    expect(e.code).toBe("link_exists");
    expect(e.message).toContain('"a:b"');
    const sameId = await h.request("POST", "/namespaces/default/links", { a: "b", b: "c", id: "a:b" });
    expect(sameId.status).toBe(409);
  });
});

describe("PATCH and DELETE links", () => {
  test("PATCH changes shaping, symmetric fields both ways, ab/ba one, and pushes a state frame", async () => {
    const { h, agent } = await ready();
    const before = agent.of("state").length;
    const res = await h.request("PATCH", "/namespaces/default/links/a:b", { delay: "20ms", ab: { bandwidth: "1Gbit" } });
    expect(res.status).toBe(200);
    const link = (await res.json()) as LinkSpec;
    expect(link.ab).toEqual({ ...DEFAULT_SHAPING, delay: 0.02, bandwidth: 1e9 });
    expect(link.ba).toEqual({ ...DEFAULT_SHAPING, delay: 0.02 });
    expect(agent.of("state").length).toBe(before + 1);
    expect(agent.lastState()?.namespaces[0].links[0]).toEqual(link);
  });

  test("PATCH with a bad value changes nothing; unknown ids are 404", async () => {
    const { h } = await ready();
    const bad = await h.request("PATCH", "/namespaces/default/links/a:b", { loss: 2 });
    expect(bad.status).toBe(422);
    expect(h.namespaces.get("default").links[0].ab).toEqual(DEFAULT_SHAPING);
    const missing = await h.request("PATCH", "/namespaces/default/links/nope", { delay: "1ms" });
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toEqual({ code: "link_not_found", message: 'no link with id "nope" in namespace "default"' });
    expect((await h.request("DELETE", "/namespaces/default/links/nope")).status).toBe(404);
  });

  test("DELETE removes the link and returns it", async () => {
    const { h, agent } = await ready();
    const res = await h.request("DELETE", "/namespaces/default/links/a:b");
    expect(res.status).toBe(200);
    expect(((await res.json()) as LinkSpec).id).toBe("a:b");
    expect(agent.lastState()?.namespaces[0].links).toEqual([]);
  });
});

describe("GET links", () => {
  test("json, and a table with units, ab/ba where the directions differ", async () => {
    const { h } = await ready();
    await h.request("POST", "/namespaces/default/links", { a: "b", b: "c", bandwidth: "100Mbit", delay: "250us", ab: { loss: "0.5%" } });
    const rows = (await (await h.request("GET", "/namespaces/default/links")).json()) as LinkSpec[];
    expect(rows.map((l) => l.id)).toEqual(["a:b", "b:c"]);
    const table = await (await h.request("GET", "/namespaces/default/links?format=table")).text();
    expect(table).toBe(
      [
        "ID    A   B   BANDWIDTH   DELAY   JITTER   LOSS      QUEUE   REORDER",
        "a:b   a   b   unlimited   0ms     0ms      0%        1000    false",
        "b:c   b   c   100Mbit     250us   0ms      0.5%/0%   1000    false",
        "",
      ].join("\n"),
    );
    const cols = await (await h.request("GET", "/namespaces/default/links?columns=id,loss")).json();
    expect(cols).toEqual([
      { id: "a:b", loss: 0 },
      { id: "b:c", loss: { ab: 0.005, ba: 0 } },
    ]);
  });
});
