/** The agent hub driven through fake connections with real frame encoding. */
import { describe, expect, test } from "bun:test";
import { ApiError } from "../protocol/errors.ts";
import { encodeFrame, PROTOCOL_VERSION } from "../protocol/wire.ts";
import { AgentHub, CLOSE_REJECTED, CLOSE_REPLACED } from "./hub.ts";
import { MemoryStore } from "./store-memory.ts";
import { FACTS, FakeAgent, harness, JOIN_TOKEN } from "./testing.ts";

const topology = { nodes: ["a", "b", "c"], links: [{ a: "a", b: "b" }, { a: "b", b: "c" }] };

describe("handshake", () => {
  test("a good hello gets welcome and its state, and the host is recorded", () => {
    const h = harness();
    const agent = h.agent("h1");
    expect(agent.frames).toEqual([
      { type: "welcome", version: PROTOCOL_VERSION, host: "h1" },
      { type: "state", namespaces: [], peers: [] },
    ]);
    expect(agent.session.host).toBe("h1");
    expect(h.hub.upHosts()).toEqual(["h1"]);
    expect(h.store.getHost("h1")).toEqual({ name: "h1", address: "192.0.2.10", facts: FACTS, lastSeen: h.clock.ms });
  });

  test("a wrong join token is refused with a fatal error and close 4001", () => {
    const h = harness();
    const agent = new FakeAgent(h.hub).hello("h1", "wrong");
    expect(agent.frames).toHaveLength(1);
    const err = agent.of("error")[0];
    expect(err.fatal).toBe(true);
    expect(err.message).toStartWith("join token rejected: ");
    expect(err.message).toContain("join-token");
    expect(agent.closed?.code).toBe(CLOSE_REJECTED);
    expect(h.hub.upHosts()).toEqual([]);
    expect(h.store.listHosts()).toEqual([]);
  });

  test("a different protocol version is refused", () => {
    const h = harness();
    const agent = new FakeAgent(h.hub);
    agent.send({ type: "hello", version: PROTOCOL_VERSION + 1, name: "h1", joinToken: JOIN_TOKEN, facts: FACTS });
    expect(agent.of("error")[0].message).toContain(`this controller speaks version ${PROTOCOL_VERSION}`);
    expect(agent.closed?.code).toBe(CLOSE_REJECTED);
  });

  test("anything but a hello first is refused", () => {
    const h = harness();
    const a1 = new FakeAgent(h.hub);
    a1.send({ type: "heartbeat", facts: FACTS });
    expect(a1.of("error")[0]).toMatchObject({ fatal: true, message: 'expected a hello frame first, got "heartbeat"' });
    expect(a1.closed?.code).toBe(CLOSE_REJECTED);
    const a2 = new FakeAgent(h.hub);
    a2.session.onMessage(new Uint8Array([0xc1, 0xff, 0x00]));
    expect(a2.of("error")[0].fatal).toBe(true);
    expect(a2.closed?.code).toBe(CLOSE_REJECTED);
    expect(h.logs.some((l) => l.startsWith("agent (unjoined, 192.0.2.10): rejected frame: "))).toBe(true);
  });

  test("a second connection under the same name replaces the first", () => {
    const h = harness();
    const first = h.agent("h1");
    const second = h.agent("h1");
    expect(first.closed?.code).toBe(CLOSE_REPLACED);
    first.session.onClose(); // the old socket's close must not unregister the new one
    expect(h.hub.upHosts()).toEqual(["h1"]);
    expect(second.of("welcome")).toHaveLength(1);
  });
});

describe("frames after the hello", () => {
  test("a malformed frame is logged and answered, and the session goes on", () => {
    const h = harness();
    const agent = h.agent("h1");
    agent.session.onMessage(encodeFrame({ type: "heartbeat", facts: { ...FACTS, cpus: -1 } }));
    agent.session.onMessage(new Uint8Array([0x92, 0x01]));
    agent.session.onMessage("hello?");
    const errors = agent.of("error");
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => !e.fatal && e.message.startsWith("rejected frame: "))).toBe(true);
    expect(errors[0].message).toContain("cpus");
    expect(h.logs.filter((l) => l.startsWith("agent h1: rejected frame: "))).toHaveLength(3);
    expect(agent.closed).toBeUndefined();
    h.clock.advance(1000);
    agent.send({ type: "heartbeat", facts: { ...FACTS, load: 3 } });
    expect(h.store.getHost("h1")?.facts.load).toBe(3);
    expect(h.store.getHost("h1")?.lastSeen).toBe(h.clock.ms);
  });

  test("a host that misses heartbeats is down and its nodes lost, until it beats again", () => {
    const h = harness({ heartbeatTimeoutMs: 5000 });
    const agent = h.agent("h1");
    h.namespaces.applyDocument("default", topology);
    agent.reportAllRunning();
    expect(h.hub.observeNode("h1", "default", "a")).toEqual({ state: "running", netns: "nm-a" });

    h.clock.advance(4000);
    agent.send({ type: "heartbeat", facts: FACTS });
    h.clock.advance(5000);
    expect(h.hub.sweep()).toEqual([]);
    expect(h.hub.isUp("h1")).toBe(true);

    h.clock.advance(1);
    expect(h.hub.isUp("h1")).toBe(false);
    expect(h.hub.hosts()[0]).toMatchObject({ name: "h1", state: "down", connected: true });
    expect(h.hub.observeNode("h1", "default", "a").state).toBe("lost");
    expect(h.hub.sweep()).toEqual(["h1"]);
    expect(h.hub.sweep()).toEqual([]); // logged once
    expect(h.logs).toContain("host h1: no heartbeat for 5000 ms; it is down and its nodes are lost");

    agent.send({ type: "heartbeat", facts: FACTS });
    expect(h.hub.isUp("h1")).toBe(true);
    expect(h.hub.observeNode("h1", "default", "a").state).toBe("running");
  });

  test("a disconnected host is down and its nodes lost", () => {
    const h = harness();
    const agent = h.agent("h1");
    h.namespaces.applyDocument("default", topology);
    agent.reportAllRunning();
    agent.session.onClose();
    expect(h.hub.hosts()[0]).toMatchObject({ state: "down", connected: false });
    expect(h.hub.observeNode("h1", "default", "b").state).toBe("lost");
    expect(h.hub.pushState("h1")).toBe(false);
  });

  test("status records each node's state, netns and error", () => {
    const h = harness();
    const agent = h.agent("h1");
    expect(h.hub.observeNode("h1", "default", "a")).toEqual({ state: "building" });
    agent.send({
      type: "status",
      nodes: [
        { namespace: "default", name: "a", state: "running", netns: "nm-default-a" },
        { namespace: "default", name: "b", state: "error", error: "no CAP_NET_ADMIN" },
      ],
    });
    expect(h.hub.observeNode("h1", "default", "a")).toEqual({ state: "running", netns: "nm-default-a" });
    expect(h.hub.observeNode("h1", "default", "b")).toEqual({ state: "error", error: "no CAP_NET_ADMIN" });
    expect(h.logs).toContain("agent h1: node default/b failed: no CAP_NET_ADMIN");
  });

  test("counters are kept per link direction and summed over hosts", () => {
    const h = harness();
    const a1 = h.agent("h1");
    const a2 = h.agent("h2");
    a1.send({ type: "counters", links: [{ namespace: "default", id: "a:b", dir: "ab", packets: 10, bytes: 1000, drops: { loss: 1 } }] });
    a1.send({ type: "counters", links: [{ namespace: "default", id: "a:b", dir: "ab", packets: 20, bytes: 2000, drops: { loss: 2 } }] });
    a2.send({ type: "counters", links: [{ namespace: "default", id: "a:b", dir: "ab", packets: 1, bytes: 100, drops: { queue: 1 } }] });
    a2.send({ type: "counters", links: [{ namespace: "other", id: "a:b", dir: "ab", packets: 5, bytes: 5, drops: {} }] });
    const totals = [...h.hub.links.of("default").values()].map(({ namespace, id, dir, packets, bytes, drops }) => ({ namespace, id, dir, packets, bytes, drops }));
    expect(totals).toEqual([{ namespace: "default", id: "a:b", dir: "ab", packets: 21, bytes: 2100, drops: { loss: 2, queue: 1 } }]);
  });
});

describe("exec", () => {
  const run = (node: string, command: string[], timeoutMs = 1000) => ({ namespace: "default", node, command, timeoutMs, stdin: false });
  const caught = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    return undefined;
  };

  test("sends an exec frame with a fresh id; each agent frame reaches its exec", async () => {
    const h = harness();
    const agent = h.agent("h1");
    const x1 = h.hub.exec("h1", run("a", ["echo", "hi"]));
    const x2 = h.hub.exec("h1", run("b", ["true"]));
    const [e1, e2] = agent.of("exec");
    expect(e1).toEqual({ type: "exec", id: e1.id, namespace: "default", node: "a", command: ["echo", "hi"], timeoutMs: 1000, stdin: false });
    expect(e2.id).not.toBe(e1.id);
    agent.send({ type: "execResult", id: e2.id, exitCode: 0 });
    agent.send({ type: "execOutput", id: e1.id, stream: "stdout", data: new TextEncoder().encode("hi\n") });
    agent.send({ type: "execResult", id: e1.id, exitCode: 0 });
    expect(await x1.collect()).toEqual({ exitCode: 0, stdout: "hi\n", stderr: "" });
    expect(await x2.collect()).toEqual({ exitCode: 0, stdout: "", stderr: "" });
    agent.send({ type: "execResult", id: e1.id, exitCode: 0 });
    expect(h.logs).toContain(`agent h1: result for unknown exec ${e1.id} (it may have timed out or ended); dropped`);
  });

  test("times out with a 504 and tells the agent to kill the command", async () => {
    const h = harness();
    const agent = h.agent("h1");
    const err = await h.hub.exec("h1", run("a", ["sleep", "9"], 5)).collect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 504, code: "exec_timeout" });
    expect(agent.of("execCancel")).toHaveLength(1);
  });

  test("fails with a 502 when the agent disconnects and a 503 when it is not there", async () => {
    const h = harness();
    const agent = h.agent("h1");
    const x = h.hub.exec("h1", run("a", ["sleep", "9"], 60_000));
    agent.session.onClose();
    expect(await x.collect().catch((e: unknown) => e)).toMatchObject({ status: 502, code: "agent_disconnected" });
    expect(caught(() => h.hub.exec("h1", run("a", ["true"])))).toMatchObject({ status: 503, code: "host_down" });
  });
});

test("stop closes every agent and fails pending execs", async () => {
  const h = harness();
  const agent = h.agent("h1");
  const x = h.hub.exec("h1", { namespace: "default", node: "a", command: ["sleep", "9"], timeoutMs: 60_000, stdin: false });
  h.hub.start();
  h.hub.stop();
  expect(agent.closed?.code).toBe(1001);
  expect(await x.collect().catch((e: unknown) => e)).toMatchObject({ status: 502 });
});

describe("TLS bundle at join", () => {
  const BUNDLE = { ca: "-----BEGIN CERTIFICATE-----\nca", cert: "-----BEGIN CERTIFICATE-----\nh1", key: "-----BEGIN PRIVATE KEY-----\nk" };

  function tlsHub(issue: (host: string) => Promise<typeof BUNDLE>) {
    const store = new MemoryStore();
    const logs: string[] = [];
    const hub = new AgentHub({ joinToken: JOIN_TOKEN, store, stateFor: () => [], log: (l) => logs.push(l), issueTls: issue });
    return { hub, store, logs };
  }

  test("the welcome carries the issued bundle; frames sent while it is issued are handled after it", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const issued: string[] = [];
    const { hub, store } = tlsHub(async (host) => {
      issued.push(host);
      await gate;
      return BUNDLE;
    });
    const agent = new FakeAgent(hub).hello("h1");
    agent.send({ type: "heartbeat", facts: { ...FACTS, load: 3 } });
    expect(agent.frames).toEqual([]);
    expect(issued).toEqual(["h1"]);
    release();
    await gate;
    await Bun.sleep(0);
    expect(agent.frames[0]).toEqual({ type: "welcome", version: PROTOCOL_VERSION, host: "h1", tls: BUNDLE });
    expect(agent.of("error")).toEqual([]);
    expect(store.getHost("h1")?.facts.load).toBe(3);
  });

  test("a connection that closes while its bundle is issued never joins; a failed issue is a fatal error", async () => {
    const { hub, logs } = tlsHub(async () => {
      await Bun.sleep(5);
      return BUNDLE;
    });
    const gone = new FakeAgent(hub).hello("h1");
    gone.session.onClose();
    await Bun.sleep(20);
    expect(gone.frames).toEqual([]);
    expect(hub.upHosts()).toEqual([]);

    const failing = tlsHub(() => Promise.reject(new Error("disk full")));
    const agent = new FakeAgent(failing.hub).hello("h2");
    await Bun.sleep(0);
    expect(agent.of("error")[0]).toMatchObject({ fatal: true, message: "cannot issue a TLS certificate for h2: disk full" });
    expect(agent.closed?.code).toBe(CLOSE_REJECTED);
    expect(logs).toEqual([]);
  });
});
