/**
 * The real server on port 0: an agent over a real WebSocket (Bun's global
 * client) with msgpack frames, a malformed frame that must not kill anything,
 * and a restart on the same state dir that keeps namespaces and nodes.
 */
import { afterEach, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeRow } from "../protocol/api.ts";
import { type AgentFrame, type ControllerFrame, decodeControllerFrame, encodeFrame, PROTOCOL_VERSION } from "../protocol/wire.ts";
import { CA_CERT_FILE } from "./ca.ts";
import { type RunningController, startController } from "./server.ts";
import { FACTS } from "./testing.ts";

const dirs: string[] = [];
const running: RunningController[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.close();
  for (const c of running.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(stateDir?: string): Promise<RunningController & { stateDir: string }> {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), "nextmini-server-"));
  if (!stateDir) dirs.push(dir);
  const c = await startController({ listen: "127.0.0.1:0", stateDir: dir, store: "sqlite" });
  running.push(c);
  return { ...c, stateDir: dir };
}

/** A minimal agent: a WebSocket with a queue of decoded frames. */
async function connect(url: string) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/v1/agent`);
  sockets.push(ws);
  ws.binaryType = "arraybuffer";
  const frames: ControllerFrame[] = [];
  let wake: (() => void) | undefined;
  ws.onmessage = (ev: MessageEvent) => {
    const d = decodeControllerFrame(new Uint8Array(ev.data as ArrayBuffer));
    if (!d.ok) throw new Error(d.reason);
    frames.push(d.frame);
    wake?.();
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket failed"));
  });
  const next = async (): Promise<ControllerFrame> => {
    const deadline = Date.now() + 5000;
    while (frames.length === 0) {
      if (Date.now() > deadline) throw new Error("no frame within 5 s");
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return frames.shift() as ControllerFrame;
  };
  const send = (f: AgentFrame) => ws.send(encodeFrame(f));
  return { ws, next, send };
}

function api(c: RunningController, method: string, path: string, body?: unknown) {
  return fetch(`${c.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${c.apiToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

test("an agent joins over a real WebSocket; a malformed frame gets an error frame and nothing dies", async () => {
  const c = await start();
  expect(c.port).toBeGreaterThan(0);
  expect(c.url).toBe(`http://127.0.0.1:${c.port}`);
  expect(c.createdTokens).toBe(true);

  const agent = await connect(c.url);
  agent.send({ type: "hello", version: PROTOCOL_VERSION, name: "h1", joinToken: c.joinToken, facts: FACTS });
  const welcome = await agent.next();
  expect(welcome).toMatchObject({ type: "welcome", version: PROTOCOL_VERSION, host: "h1" });
  // the agent's certificate comes from the CA the controller keeps in its state dir
  const tls = welcome.type === "welcome" ? welcome.tls : undefined;
  expect(tls?.ca).toBe(readFileSync(join(c.stateDir, CA_CERT_FILE), "utf8").trim());
  expect(new X509Certificate(tls?.cert ?? "").subject).toBe("CN=h1");
  expect(await agent.next()).toEqual({ type: "state", namespaces: [], peers: [] });

  agent.ws.send(new Uint8Array([0xc1, 0x00, 0x01]));
  const err = await agent.next();
  expect(err).toMatchObject({ type: "error", fatal: false });

  // a large frame after a small one: the bytes must arrive whole, not as a slice of a shared buffer
  const nodes = Array.from({ length: 400 }, (_, i) => ({ namespace: "default", name: `n${i}`, state: "running" as const }));
  agent.send({ type: "status", nodes });
  const put = await api(c, "PUT", "/namespaces/default/topology", { nodes: ["n0", "n1"], links: [{ a: "n0", b: "n1", delay: "5ms" }] });
  expect(put.status).toBe(200);
  const state = await agent.next();
  expect(state.type === "state" && state.namespaces[0].nodes.map((n) => n.name)).toEqual(["n0", "n1"]);
  const rows = (await (await api(c, "GET", "/namespaces/default/nodes?columns=name,state")).json()) as Pick<NodeRow, "name" | "state">[];
  expect(rows).toEqual([
    { name: "n0", state: "running" },
    { name: "n1", state: "running" },
  ]);
  const health = await fetch(`${c.url}/api/v1/health`);
  expect(await health.json()).toMatchObject({ ok: true });
});

test("a wrong join token closes the socket with 4001 after a fatal error frame", async () => {
  const c = await start();
  const agent = await connect(c.url);
  const closed = new Promise<number>((resolve) => (agent.ws.onclose = (ev) => resolve(ev.code)));
  agent.send({ type: "hello", version: PROTOCOL_VERSION, name: "h1", joinToken: "nope", facts: FACTS });
  expect(await agent.next()).toMatchObject({ type: "error", fatal: true });
  expect(await closed).toBe(4001);
});

test("restart on the same state dir keeps tokens, namespaces, nodes and hosts", async () => {
  const first = await start();
  const agent = await connect(first.url);
  agent.send({ type: "hello", version: PROTOCOL_VERSION, name: "h1", joinToken: first.joinToken, facts: FACTS });
  await agent.next();
  await agent.next();
  const topo = { nodes: ["a", "b", "c"], links: [{ a: "a", b: "b", bandwidth: "10Mbit" }, { a: "b", b: "c" }], routes: [{ path: ["a", "b", "c"] }] };
  expect((await api(first, "PUT", "/namespaces/lab/topology", topo)).status).toBe(200);
  const before = await (await api(first, "GET", "/namespaces/lab/nodes?columns=name,host,ip,index")).json();
  await first.stop();
  running.splice(running.indexOf(first), 1);

  const second = await start(first.stateDir);
  expect(second.createdTokens).toBe(false);
  expect(second.apiToken).toBe(first.apiToken);
  expect(second.joinToken).toBe(first.joinToken);
  const names = ((await (await api(second, "GET", "/namespaces")).json()) as { name: string }[]).map((n) => n.name);
  expect(names).toEqual(["default", "lab"]);
  expect(await (await api(second, "GET", "/namespaces/lab/nodes?columns=name,host,ip,index")).json()).toEqual(before);
  const nodes = (await (await api(second, "GET", "/namespaces/lab/nodes")).json()) as NodeRow[];
  expect(nodes.map((n) => n.state)).toEqual(["lost", "lost", "lost"]);
  expect(await (await api(second, "GET", "/namespaces/lab/routes")).json()).toEqual([{ id: "r1", path: ["a", "b", "c"], weight: 1 }]);
  const hosts = (await (await api(second, "GET", "/hosts?columns=name,state")).json()) as { name: string; state: string }[];
  expect(hosts).toEqual([{ name: "h1", state: "down" }]);

  // the agent reconnects and gets its namespace back
  const again = await connect(second.url);
  again.send({ type: "hello", version: PROTOCOL_VERSION, name: "h1", joinToken: second.joinToken, facts: FACTS });
  await again.next();
  const state = await again.next();
  expect(state.type === "state" && state.namespaces.map((n) => n.name)).toEqual(["lab"]);
});
