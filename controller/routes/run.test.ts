/** POST /namespaces/{ns}/run: a command on every host of the namespace, each host's result in host order. */
import { expect, test } from "bun:test";
import { type FakeAgent, harness } from "../testing.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

async function execFrame(agent: FakeAgent) {
  for (let i = 0; i < 100 && agent.of("exec").length === 0; i++) await Bun.sleep(1);
  const frame = agent.of("exec")[0];
  if (!frame) throw new Error("no exec frame reached the agent");
  return frame;
}

test("runs on each host of the namespace (not in a node) and lists every host, a disconnected one with why", async () => {
  const h = harness();
  const agents = { h1: h.agent("h1"), h2: h.agent("h2"), h3: h.agent("h3") };
  expect((await h.request("POST", "/namespaces", { name: "exp", hosts: "h[2-3],h1" })).status).toBe(201);
  agents.h3.session.onClose();
  const pending = h.request("POST", "/namespaces/exp/run", { command: ["uname", "-n"], timeoutMs: 5000 });
  for (const [name, code] of [["h1", 0], ["h2", 7]] as const) {
    const frame = await execFrame(agents[name]);
    expect(frame).toEqual({ type: "exec", id: frame.id, namespace: "exp", command: ["uname", "-n"], timeoutMs: 5000, stdin: false });
    agents[name].send({ type: "execOutput", id: frame.id, stream: "stdout", data: bytes(`${name}\n`) });
    agents[name].send({ type: "execResult", id: frame.id, exitCode: code });
  }
  const res = await pending;
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual([
    { host: "h1", exitCode: 0, stdout: "h1\n", stderr: "" },
    { host: "h2", exitCode: 7, stdout: "h2\n", stderr: "" },
    { host: "h3", exitCode: -1, stdout: "", stderr: "", error: "host h3 is not connected" },
  ]);
});

test("a namespace that does not exist is a 404; an empty command a 422", async () => {
  const h = harness();
  h.agent("h1");
  expect((await h.request("POST", "/namespaces/nope/run", { command: ["true"] })).status).toBe(404);
  expect((await h.request("POST", "/namespaces/default/run", { command: [] })).status).toBe(422);
});
