/**
 * Namespaces as experiments: create with a pool of hosts, change settings and
 * hosts, delete (everything on every host, others untouched), `default`
 * always there, and placement kept to the pool.
 */
import { describe, expect, test } from "bun:test";
import type { NamespaceSummary } from "../../protocol/api.ts";
import { type ErrorBody, harness } from "../testing.ts";

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

describe("namespace lifecycle", () => {
  test("a new namespace holds every connected host unless hosts are given; a range names them", async () => {
    const h = harness();
    for (const name of ["h1", "h2", "h3"]) h.agent(name);
    const all = await h.request("POST", "/namespaces", { name: "exp1" });
    expect(all.status).toBe(201);
    expect((await body<NamespaceSummary>(all)).hosts).toEqual(["h1", "h2", "h3"]);
    const some = await body<NamespaceSummary>(await h.request("POST", "/namespaces", { name: "exp2", hosts: "h[1-2]", queueing: true, load: "memcommit" }));
    expect(some).toMatchObject({ name: "exp2", hosts: ["h1", "h2"], queueing: true, load: "memcommit", nodes: 0, subnet: "10.0.0.0/16" });
    const listed = await body<{ name: string; hosts: string[] }[]>(await h.request("GET", "/namespaces"));
    expect(listed.map((n) => [n.name, n.hosts.join(",")])).toEqual([
      ["default", "h1,h2,h3"],
      ["exp1", "h1,h2,h3"],
      ["exp2", "h1,h2"],
    ]);
  });

  test("refusals name what is wrong: an existing name, a disconnected host, a bad subnet, a bad range", async () => {
    const h = harness();
    h.agent("h1");
    await h.request("POST", "/namespaces", { name: "exp1" });
    const again = await h.request("POST", "/namespaces", { name: "exp1" });
    expect(again.status).toBe(409);
    expect((await body<ErrorBody>(again)).error).toMatchObject({ code: "namespace_exists", message: 'namespace "exp1" already exists' });
    const gone = await h.request("POST", "/namespaces", { name: "exp2", hosts: "h1,h9" });
    expect(gone.status).toBe(422);
    expect((await body<ErrorBody>(gone)).error.details?.issues).toEqual(['hosts: host "h9" is not connected (connected: h1)']);
    const subnet = await h.request("POST", "/namespaces", { name: "exp3", subnet: "10.0.0.1/16" });
    expect((await body<ErrorBody>(subnet)).error.message).toContain("10.0.0.1/16 has host bits set; did you mean 10.0.0.0/16?");
    const range = await h.request("POST", "/namespaces", { name: "exp4", hosts: "h[3-1]" });
    expect((await body<ErrorBody>(range)).error.details?.issues).toEqual(['hosts: malformed range "h[3-1]": 3-1 counts down']);
    expect((await h.request("POST", "/namespaces", { name: "Exp" })).status).toBe(422);
    expect((await body<{ name: string }[]>(await h.request("GET", "/namespaces"))).map((n) => n.name)).toEqual(["default", "exp1"]);
  });

  test("PATCH changes queueing and load; nothing else", async () => {
    const h = harness();
    await h.request("POST", "/namespaces", { name: "exp1" });
    const patched = await h.request("PATCH", "/namespaces/exp1", { queueing: true, load: "netcommit" });
    expect(await body<NamespaceSummary>(patched)).toMatchObject({ queueing: true, load: "netcommit" });
    expect((await h.request("PATCH", "/namespaces/exp1", { subnet: "10.1.0.0/16" })).status).toBe(422);
    expect((await h.request("PATCH", "/namespaces/nope", { queueing: true })).status).toBe(404);
  });

  test("hosts are added (connected only, or all) and removed (all too), never while they hold the namespace's nodes", async () => {
    const h = harness();
    for (const name of ["h1", "h2", "h3"]) h.agent(name);
    await h.request("POST", "/namespaces", { name: "exp1", hosts: "h1" });
    const added = await h.request("POST", "/namespaces/exp1/hosts", { add: "h3" });
    expect((await body<NamespaceSummary>(added)).hosts).toEqual(["h1", "h3"]);
    const bad = await h.request("POST", "/namespaces/exp1/hosts", { add: "h7" });
    expect((await body<ErrorBody>(bad)).error.details?.issues).toEqual(['add: host "h7" is not connected (connected: h1, h2, h3)']);
    expect((await body<NamespaceSummary>(await h.request("POST", "/namespaces/exp1/hosts", { add: "all" }))).hosts).toEqual(["h1", "h2", "h3"]);
    expect((await body<NamespaceSummary>(await h.request("POST", "/namespaces/exp1/hosts", { remove: "h2" }))).hosts).toEqual(["h1", "h3"]);
    const notIn = await h.request("POST", "/namespaces/exp1/hosts", { remove: "h2" });
    expect((await body<ErrorBody>(notIn)).error.details?.issues).toEqual(['remove: host "h2" is not in namespace "exp1"']);
    expect((await h.request("POST", "/namespaces/exp1/hosts", {})).status).toBe(422);

    expect((await h.request("PUT", "/namespaces/exp1/topology", { nodes: [{ name: "a", host: "h3" }] })).status).toBe(200);
    const held = await h.request("POST", "/namespaces/exp1/hosts", { remove: "all" });
    expect(held.status).toBe(409);
    expect((await body<ErrorBody>(held)).error.message).toBe('host h3 holds nodes a of namespace "exp1"; remove them before the host');
  });

  test("nodes are placed only on the namespace's hosts", async () => {
    const h = harness();
    for (const name of ["h1", "h2", "h3"]) h.agent(name);
    await h.request("POST", "/namespaces", { name: "exp1", hosts: "h2" });
    expect((await h.request("PUT", "/namespaces/exp1/topology", { nodes: ["a", "b", "c"] })).status).toBe(200);
    expect(h.namespaces.get("exp1").nodes.map((n) => n.host)).toEqual(["h2", "h2", "h2"]);
    await h.request("POST", "/namespaces", { name: "empty", hosts: "h1" });
    await h.request("POST", "/namespaces/empty/hosts", { remove: "h1" });
    const none = await h.request("PUT", "/namespaces/empty/topology", { nodes: ["a"] });
    expect(none.status).toBe(503);
    expect((await body<ErrorBody>(none)).error.message).toStartWith('no connected host in this namespace to place node "a" on');
  });

  test("deleting a namespace removes its nodes from every host and leaves the others; default comes back empty", async () => {
    const h = harness();
    const a1 = h.agent("h1");
    const a2 = h.agent("h2");
    const nodes = [
      { name: "foo", host: "h1" },
      { name: "bar", host: "h2" },
    ];
    for (const ns of ["exp1", "exp2"]) expect((await h.request("PUT", `/namespaces/${ns}/topology`, { nodes })).status).toBe(200);
    const del = await h.request("DELETE", "/namespaces/exp1");
    expect(await body<unknown>(del)).toEqual({ name: "exp1", nodes: ["foo", "bar"], links: 0 });
    for (const agent of [a1, a2]) expect(agent.lastState()?.namespaces.map((n) => n.name)).toEqual(["exp2"]);
    expect((await h.request("GET", "/namespaces/exp1")).status).toBe(404);
    expect((await h.request("DELETE", "/namespaces/exp1")).status).toBe(404);

    expect((await h.request("PUT", "/namespaces/default/topology", { nodes })).status).toBe(200);
    expect((await h.request("DELETE", "/namespaces/default")).status).toBe(200);
    expect(await body<NamespaceSummary>(await h.request("GET", "/namespaces/default"))).toMatchObject({ name: "default", nodes: 0 });
    expect(a1.lastState()?.namespaces.map((n) => n.name)).toEqual(["exp2"]);
  });
});
