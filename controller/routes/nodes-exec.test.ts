/** POST .../exec: buffered JSON, NDJSON streaming, stdin as text or as a raw body, cancel when the client goes. */
import { describe, expect, test } from "bun:test";
import { API_TOKEN, type ErrorBody, type FakeAgent, harness } from "../testing.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Nodes a and b on agent h1, still building until a test reports them running. */
async function ready() {
  const h = harness();
  const agent = h.agent("h1");
  expect((await h.request("PUT", "/namespaces/default/topology", { nodes: ["a", "b"] })).status).toBe(200);
  return { h, agent };
}

/** Waits until the handler reached the hub and returns the exec frame it sent. */
async function execFrame(agent: FakeAgent, n = 1) {
  for (let i = 0; i < 100 && agent.of("exec").length < n; i++) await Bun.sleep(1);
  const frame = agent.of("exec")[n - 1];
  if (!frame) throw new Error("no exec frame reached the agent");
  return frame;
}

async function* lines(res: Response): AsyncGenerator<unknown> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    buffered += r.value;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  }
}

describe("buffered (the JSON answer)", () => {
  test("collects the agent's chunks into {exitCode, stdout, stderr}, decoding UTF-8 at the end", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const pending = h.request("POST", "/namespaces/default/nodes/b/exec", { command: ["ip", "addr"], timeoutMs: 2000 });
    const frame = await execFrame(agent);
    expect(frame).toEqual({ type: "exec", id: frame.id, namespace: "default", node: "b", command: ["ip", "addr"], timeoutMs: 2000, stdin: false });
    const euro = bytes("€"); // three bytes, split across two chunks
    agent.send({ type: "execOutput", id: frame.id, stream: "stdout", data: bytes("out ") });
    agent.send({ type: "execOutput", id: frame.id, stream: "stdout", data: euro.subarray(0, 1) });
    agent.send({ type: "execOutput", id: frame.id, stream: "stderr", data: bytes("err") });
    agent.send({ type: "execOutput", id: frame.id, stream: "stdout", data: euro.subarray(1) });
    agent.send({ type: "execResult", id: frame.id, exitCode: 3 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ exitCode: 3, stdout: "out €", stderr: "err" });
  });

  test("unknown node 404 naming it; not running 409; bad body 422", async () => {
    const { h } = await ready();
    const missing = await h.request("POST", "/namespaces/default/nodes/zz/exec", { command: ["true"] });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error).toEqual({
      code: "node_not_found",
      message: 'no node named "zz" in namespace "default"',
    });
    const building = await h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["true"] });
    expect(building.status).toBe(409);
    expect(((await building.json()) as ErrorBody).error.message).toBe("node a is building on host h1; exec needs a running node");
    const empty = await h.request("POST", "/namespaces/default/nodes/a/exec", { command: [] });
    expect(empty.status).toBe(422);
    expect(((await empty.json()) as ErrorBody).error.details?.issues?.[0]).toStartWith("command: ");
    const stream = await h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["true"], stream: "yes" });
    expect(((await stream.json()) as ErrorBody).error.details?.issues?.[0]).toStartWith("stream: ");
  });

  test("an agent that disconnects fails the exec with 502 agent_disconnected", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const pending = h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["sleep", "9"] });
    await execFrame(agent);
    agent.session.onClose();
    const res = await pending;
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorBody).error.code).toBe("agent_disconnected");
  });

  test("a client that goes away cancels the command on the agent", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const abort = new AbortController();
    const pending = h.app.request("/api/v1/namespaces/default/nodes/a/exec", {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ command: ["sleep", "9"] }),
      signal: abort.signal,
    });
    const frame = await execFrame(agent);
    abort.abort();
    await Promise.resolve(pending).catch(() => undefined);
    expect(agent.of("execCancel")).toEqual([{ type: "execCancel", id: frame.id }]);
  });
});

describe("stream: true (NDJSON)", () => {
  test("lines come as output arrives, UTF-8 kept whole across chunks, the exit code last", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const res = await h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["sh"], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const { id } = await execFrame(agent);
    const it = lines(res);
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("a\n") });
    expect((await it.next()).value).toEqual({ stream: "stdout", data: "a\n" });
    const euro = bytes("€");
    agent.send({ type: "execOutput", id, stream: "stderr", data: euro.subarray(0, 2) });
    agent.send({ type: "execOutput", id, stream: "stderr", data: euro.subarray(2) });
    expect((await it.next()).value).toEqual({ stream: "stderr", data: "€" });
    agent.send({ type: "execOutput", id, stream: "stdout", data: new Uint8Array([0xe2]) }); // cut short by the exit
    agent.send({ type: "execResult", id, exitCode: 3 });
    expect((await it.next()).value).toEqual({ stream: "stdout", data: "\uFFFD" });
    expect((await it.next()).value).toEqual({ exitCode: 3 });
    expect((await it.next()).done).toBe(true);
  });

  test("a failure after the answer began is the last line, as an error body", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const res = await h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["sh"], stream: true });
    const { id } = await execFrame(agent);
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("partial") });
    agent.session.onClose();
    const all: unknown[] = [];
    for await (const l of lines(res)) all.push(l);
    expect(all).toEqual([
      { stream: "stdout", data: "partial" },
      { error: { code: "agent_disconnected", message: "exec on host h1 failed: the agent disconnected" } },
    ]);
  });

  test("a client that stops reading cancels the command", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const res = await h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["yes"], stream: true });
    const { id } = await execFrame(agent);
    await res.body!.cancel();
    expect(agent.of("execCancel")).toEqual([{ type: "execCancel", id }]);
  });
});

describe("stdin", () => {
  test("JSON stdin text is sent to the command, then end of file", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const pending = h.request("POST", "/namespaces/default/nodes/a/exec", { command: ["wc", "-c"], stdin: "hello" });
    const frame = await execFrame(agent);
    expect(frame.stdin).toBe(true);
    await Bun.sleep(1);
    const input = agent.of("execInput");
    expect(input.map((f) => [Buffer.from(f.data).toString(), f.eof ?? false])).toEqual([
      ["hello", false],
      ["", true],
    ]);
    agent.send({ type: "execResult", id: frame.id, exitCode: 0 });
    expect((await pending).status).toBe(200);
  });

  test("an application/octet-stream body streams into stdin; the fields come from the query", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const res = await h.app.request("/api/v1/namespaces/default/nodes/a/exec?command=cat&command=-n&timeoutMs=5000&stream=true", {
      method: "POST",
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/octet-stream" },
      body: new Uint8Array([0, 1, 2, 3]),
    });
    expect(res.status).toBe(200);
    const frame = await execFrame(agent);
    expect(frame).toMatchObject({ command: ["cat", "-n"], timeoutMs: 5000, stdin: true });
    for (let i = 0; i < 100 && !agent.of("execInput").some((f) => f.eof); i++) await Bun.sleep(1);
    expect(agent.of("execInput").map((f) => [[...f.data], f.eof ?? false])).toEqual([
      [[0, 1, 2, 3], false],
      [[], true],
    ]);
    agent.send({ type: "execResult", id: frame.id, exitCode: 0 });
    const all: unknown[] = [];
    for await (const l of lines(res)) all.push(l);
    expect(all).toEqual([{ exitCode: 0 }]);
  });

  test("a raw-body exec with a bad query is a 422 naming the field", async () => {
    const { h, agent } = await ready();
    agent.reportAllRunning();
    const post = (query: string) =>
      h.app.request(`/api/v1/namespaces/default/nodes/a/exec?${query}`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/octet-stream" },
        body: new Uint8Array(0),
      });
    const none = await post("stream=true");
    expect(none.status).toBe(422);
    expect(((await none.json()) as ErrorBody).error.details?.issues?.[0]).toStartWith("command: ");
    const unknown = await post("command=true&colour=red");
    expect(((await unknown.json()) as ErrorBody).error.message).toContain("colour");
    const badTimeout = await post("command=true&timeoutMs=soon");
    expect(((await badTimeout.json()) as ErrorBody).error.details?.issues?.[0]).toStartWith("timeoutMs: ");
    expect(agent.of("exec")).toEqual([]);
  });
});
