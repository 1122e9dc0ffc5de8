/** Exec bookkeeping through the hub and a fake agent: event order, stdin, acks, cancel, failures, unknown ids. */
import { describe, expect, test } from "bun:test";
import { EXEC_ACK_BYTES, EXEC_CHUNK_BYTES, EXEC_WINDOW_BYTES } from "../protocol/wire.ts";
import type { ExecEvent, ExecStart } from "./execs.ts";
import { harness } from "./testing.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (e: ExecEvent | undefined) => (e?.type === "output" ? `${e.stream}:${Buffer.from(e.data).toString()}` : e?.type === "exit" ? `exit:${e.exitCode}` : "none");

function setup(request: Partial<ExecStart> = {}) {
  const h = harness();
  const agent = h.agent("h1");
  const exec = h.hub.exec("h1", { namespace: "default", node: "a", command: ["sh"], timeoutMs: 60_000, stdin: false, ...request });
  const id = agent.of("exec")[0].id;
  return { h, agent, exec, id };
}

describe("events", () => {
  test("output comes in the order the agent sent it, across streams, then the exit, then nothing", async () => {
    const { agent, exec, id } = setup();
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("a") });
    agent.send({ type: "execOutput", id, stream: "stderr", data: bytes("b") });
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("c") });
    agent.send({ type: "execResult", id, exitCode: 3 });
    const seen: string[] = [];
    for await (const e of exec) seen.push(text(e));
    expect(seen).toEqual(["stdout:a", "stderr:b", "stdout:c", "exit:3"]);
    expect(await exec.next()).toBeUndefined();
    expect(exec.done).toBe(true);
  });

  test("a reader waiting for output is woken by it", async () => {
    const { agent, exec, id } = setup();
    const next = exec.next();
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("late") });
    expect(text(await next)).toBe("stdout:late");
  });

  test("collect cuts a stream beyond its limit and says so", async () => {
    const { agent, exec, id } = setup();
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("0123456789") });
    agent.send({ type: "execOutput", id, stream: "stderr", data: bytes("é") });
    agent.send({ type: "execResult", id, exitCode: 0 });
    expect(await exec.collect(4)).toEqual({ exitCode: 0, stdout: "0123\n[output cut at 4 bytes]\n", stderr: "é" });
  });

  test("reading output returns credit to the agent in batches", async () => {
    const { agent, exec, id } = setup();
    const chunk = new Uint8Array(EXEC_CHUNK_BYTES);
    for (let i = 0; i < 3; i++) agent.send({ type: "execOutput", id, stream: "stdout", data: chunk });
    expect(agent.of("execAck")).toHaveLength(0); // nothing consumed yet
    await exec.next();
    await exec.next();
    await exec.next();
    const acked = agent.of("execAck").reduce((n, f) => n + f.bytes, 0);
    expect(acked).toBe(3 * EXEC_CHUNK_BYTES);
    expect(agent.of("execAck").every((f) => f.id === id && f.bytes >= EXEC_ACK_BYTES)).toBe(true);
  });
});

describe("stdin", () => {
  test("writes go out as bounded chunks, wait at a full window, and go on when the agent acknowledges", async () => {
    const { agent, exec, id } = setup({ stdin: true });
    const data = new Uint8Array(EXEC_WINDOW_BYTES + EXEC_CHUNK_BYTES);
    let written = false;
    const w = exec.write(data).then((ok) => (written = ok));
    await Bun.sleep(10);
    const sent = () => agent.of("execInput").reduce((n, f) => n + f.data.byteLength, 0);
    expect(sent()).toBe(EXEC_WINDOW_BYTES);
    expect(written).toBe(false);
    agent.send({ type: "execAck", id, bytes: EXEC_CHUNK_BYTES });
    await w;
    expect(written).toBe(true);
    expect(sent()).toBe(data.byteLength);
    expect(agent.of("execInput").every((f) => f.data.byteLength <= EXEC_CHUNK_BYTES && f.eof === undefined)).toBe(true);
    exec.end();
    exec.end();
    expect(agent.of("execInput").filter((f) => f.eof)).toEqual([{ type: "execInput", id, data: new Uint8Array(0), eof: true }]);
  });

  test("pipeFrom forwards a body, ends stdin and counts the bytes", async () => {
    const { agent, exec } = setup({ stdin: true });
    const body = new Blob([bytes("hello "), bytes("world")]).stream();
    expect(await exec.pipeFrom(body)).toBe(11);
    const frames = agent.of("execInput");
    expect(Buffer.concat(frames.map((f) => f.data)).toString()).toBe("hello world");
    expect(frames.at(-1)?.eof).toBe(true);
  });

  test("pipeFrom stops reading when the exec ends, and a failing body cancels the exec", async () => {
    const { agent, exec, id } = setup({ stdin: true });
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        pulls++;
        await Bun.sleep(5);
        ctrl.enqueue(bytes("x"));
      },
    });
    const piped = exec.pipeFrom(endless);
    await Bun.sleep(30);
    agent.send({ type: "execResult", id, exitCode: 0 });
    await piped;
    const after = pulls;
    await Bun.sleep(30);
    expect(pulls).toBe(after);

    const second = setup({ stdin: true });
    const broken = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        ctrl.error(new Error("client went away"));
      },
    });
    await second.exec.pipeFrom(broken);
    expect(second.agent.of("execCancel")).toEqual([{ type: "execCancel", id: second.id }]);
    expect(second.agent.of("execInput").some((f) => f.eof)).toBe(false);
  });
});

describe("cancel", () => {
  test("sends execCancel once; the reader sees no more events; late chunks and the result are dropped quietly", async () => {
    const { h, agent, exec, id } = setup();
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("before") });
    exec.cancel();
    exec.cancel();
    expect(agent.of("execCancel")).toEqual([{ type: "execCancel", id }]);
    expect(await exec.next()).toBeUndefined();
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("after") });
    agent.send({ type: "execResult", id, exitCode: 143 });
    expect(h.logs.filter((l) => l.includes("unknown exec"))).toEqual([]);
    // once the agent confirmed with its result, the id is forgotten
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("stray") });
    expect(h.logs.filter((l) => l.includes("unknown exec"))).toHaveLength(1);
    expect(await exec.write(bytes("x"))).toBe(false);
  });
});

describe("failures", () => {
  test("agent disconnect: queued output is still read, then 502 agent_disconnected", async () => {
    const { agent, exec, id } = setup();
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("partial") });
    agent.session.onClose();
    expect(text(await exec.next())).toBe("stdout:partial");
    const err = await exec.next().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, code: "agent_disconnected" });
    expect((err as Error).message).toBe("exec on host h1 failed: the agent disconnected");
  });

  test("a replaced connection fails the execs of the old one", async () => {
    const { h, exec } = setup();
    h.agent("h1");
    expect(await exec.collect().catch((e: unknown) => e)).toMatchObject({ status: 502, code: "agent_disconnected" });
  });

  test("output for an unknown id is logged once with the agent's name; unknown acks are ignored", () => {
    const h = harness();
    const agent = h.agent("h7");
    for (let i = 0; i < 3; i++) agent.send({ type: "execOutput", id: 999, stream: "stdout", data: bytes("x") });
    agent.send({ type: "execAck", id: 999, bytes: 10 });
    expect(h.logs.filter((l) => l.includes("unknown exec"))).toEqual(["agent h7: output for unknown exec 999 (it may have timed out or ended); dropped"]);
    expect(agent.of("error")).toEqual([]);
  });

  test("a chunk for another host's exec is not delivered", async () => {
    const { h, exec, id } = setup();
    const other = h.agent("h2");
    other.send({ type: "execOutput", id, stream: "stdout", data: bytes("intruder") });
    other.send({ type: "execResult", id, exitCode: 0 });
    expect(h.logs.some((l) => l.startsWith("agent h2: output for unknown exec"))).toBe(true);
    expect(exec.done).toBe(false);
  });

  test("a chunk larger than the limit is a rejected frame, not an event", () => {
    const { h, agent, id } = setup();
    agent.send({ type: "execOutput", id, stream: "stdout", data: new Uint8Array(EXEC_CHUNK_BYTES + 1) });
    expect(h.logs.some((l) => l.includes("rejected frame") && l.includes(`at most ${EXEC_CHUNK_BYTES} bytes`))).toBe(true);
  });
});
