/** The app shell: token checks, the error shape, unknown routes, surprises. */
import { describe, expect, test } from "bun:test";
import { createApp } from "./app.ts";
import { AgentHub } from "./hub.ts";
import { Namespaces } from "./namespaces.ts";
import { MemoryStore } from "./store-memory.ts";
import { API_TOKEN, type ErrorBody, harness } from "./testing.ts";

describe("auth", () => {
  test("health needs no token", async () => {
    const h = harness();
    const res = await h.app.request("/api/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, version: "test" });
  });

  test("a missing token is a 401 saying where the token is", async () => {
    const h = harness();
    const res = await h.app.request("/api/v1/namespaces");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("unauthorized");
    expect(body.error.message).toBe(
      "missing API token: pass Authorization: Bearer <token>; the token is in ~/.nextmini/token on the controller's host",
    );
  });

  test("a wrong token is a 401", async () => {
    const h = harness();
    for (const authorization of [`Bearer ${API_TOKEN}x`, "Bearer ", `Basic ${API_TOKEN}`, API_TOKEN]) {
      const res = await h.app.request("/api/v1/hosts", { headers: { authorization } });
      expect(res.status).toBe(401);
    }
    const res = await h.app.request("/api/v1/hosts", { headers: { authorization: `bearer ${API_TOKEN}` } });
    expect(res.status).toBe(200);
  });

  test("the agent socket takes the join token instead, and POST /health is not open", async () => {
    const h = harness();
    const res = await h.app.request("/api/v1/agent");
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe("not_websocket");
    expect((await h.app.request("/api/v1/health", { method: "POST" })).status).toBe(401);
  });
});

describe("errors", () => {
  test("unknown endpoints are 404 not_found", async () => {
    const h = harness();
    const res = await h.request("GET", "/nothing/here");
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error).toEqual({ code: "not_found", message: "no such endpoint: GET /api/v1/nothing/here" });
  });

  test("a body that is not JSON is a 400", async () => {
    const h = harness();
    const res = await h.app.request("/api/v1/namespaces/default/links", {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_json");
  });

  test("an unexpected failure is a 500 internal, logged", async () => {
    const store = new MemoryStore();
    const logs: string[] = [];
    const hub: AgentHub = new AgentHub({ joinToken: "j", store, stateFor: (host) => namespaces.stateFor(host) });
    const namespaces = new Namespaces({ store, agents: hub });
    store.listNamespaces = () => {
      throw new Error("disk on fire");
    };
    const app = createApp({ store, hub, namespaces, apiToken: API_TOKEN, version: "t", log: (l) => logs.push(l) });
    const res = await app.request("/api/v1/namespaces", { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(500);
    expect(((await res.json()) as ErrorBody).error).toEqual({ code: "internal", message: "internal error: disk on fire" });
    expect(logs[0]).toStartWith("internal error on GET /api/v1/namespaces: ");
  });
});
