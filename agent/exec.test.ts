/** ExecRunner against real processes: streaming, stdin, timeout, cancel, flow control, several at once. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { EXEC_CHUNK_BYTES, EXEC_WINDOW_BYTES, type AgentFrame, type ControllerFrame } from "../protocol/wire.ts";
import { EXIT_CANNOT_RUN, EXIT_TIMED_OUT, ExecRunner } from "./exec.ts";

type ExecFrame = Extract<ControllerFrame, { type: "exec" }>;

/** A runner whose frames are kept; `result(id)` waits for that exec's execResult. */
function runner(opts: { killGraceMs?: number; drainMs?: number; autoAck?: boolean } = {}) {
  const frames: AgentFrame[] = [];
  const waiters = new Map<number, () => void>();
  let r: ExecRunner;
  const send = (f: AgentFrame) => {
    frames.push(f);
    if (f.type === "execOutput" && opts.autoAck !== false) queueMicrotask(() => r.ack(f.id, f.data.byteLength));
    if (f.type === "execResult") waiters.get(f.id)?.();
  };
  r = new ExecRunner({ send, killGraceMs: opts.killGraceMs, drainMs: opts.drainMs });
  const start = (id: number, command: string[], extra: Partial<ExecFrame> = {}) =>
    r.start({ type: "exec", id, namespace: "default", node: "a", command, timeoutMs: 10_000, stdin: false, ...extra }, command);
  const result = (id: number) =>
    new Promise<Extract<AgentFrame, { type: "execResult" }>>((resolve) => {
      const done = () => resolve(frames.find((f): f is Extract<AgentFrame, { type: "execResult" }> => f.type === "execResult" && f.id === id)!);
      if (frames.some((f) => f.type === "execResult" && f.id === id)) done();
      else waiters.set(id, done);
    });
  const output = (id: number, stream: "stdout" | "stderr") =>
    Buffer.concat(frames.flatMap((f) => (f.type === "execOutput" && f.id === id && f.stream === stream ? [f.data] : []))).toString("utf8");
  return { r, frames, start, result, output };
}

/** Running, as opposed to gone or a zombie that nobody reaped yet (pid 1 of a container may not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("ExecRunner", () => {
  test("streams stdout and stderr, then the exit code, last", async () => {
    const t = runner();
    t.start(1, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect((await t.result(1)).exitCode).toBe(3);
    expect(t.output(1, "stdout")).toBe("out\n");
    expect(t.output(1, "stderr")).toBe("err\n");
    expect(t.frames.at(-1)?.type).toBe("execResult");
  });

  test("output arrives while the command still runs", async () => {
    const t = runner();
    t.start(1, ["sh", "-c", "echo first; sleep 0.5; echo second"]);
    const started = Date.now();
    while (!t.frames.some((f) => f.type === "execOutput")) await Bun.sleep(10);
    const firstAt = Date.now() - started;
    await t.result(1);
    expect(firstAt).toBeLessThan(400);
    expect(t.output(1, "stdout")).toBe("first\nsecond\n");
  });

  test("stdin chunks reach the process, eof ends it, and written bytes are acknowledged", async () => {
    const t = runner();
    t.start(1, ["cat"], { stdin: true });
    const big = new Uint8Array(600 * 1024).fill(97);
    t.r.input({ type: "execInput", id: 1, data: new TextEncoder().encode("hello ") });
    t.r.input({ type: "execInput", id: 1, data: big.subarray(0, EXEC_CHUNK_BYTES) });
    t.r.input({ type: "execInput", id: 1, data: big.subarray(EXEC_CHUNK_BYTES), eof: true });
    expect((await t.result(1)).exitCode).toBe(0);
    expect(t.output(1, "stdout")).toBe(`hello ${"a".repeat(big.byteLength)}`);
    const acked = t.frames.reduce((n, f) => n + (f.type === "execAck" ? f.bytes : 0), 0);
    // acknowledged in batches: all but a remainder smaller than one batch
    expect(acked).toBeGreaterThan(big.byteLength + 6 - 256 * 1024);
    expect(t.frames.every((f) => f.type !== "execOutput" || f.data.byteLength <= EXEC_CHUNK_BYTES)).toBe(true);
  });

  test("without stdin the process reads end of file at once", async () => {
    const t = runner();
    t.start(1, ["cat"]);
    expect((await t.result(1)).exitCode).toBe(0);
    expect(t.output(1, "stdout")).toBe("");
  });

  test("a timeout kills the process: exit 124 and a line on stderr saying so", async () => {
    const t = runner();
    const started = Date.now();
    t.start(1, ["sleep", "10"], { timeoutMs: 200 });
    expect((await t.result(1)).exitCode).toBe(EXIT_TIMED_OUT);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(t.output(1, "stderr")).toBe("sleep: killed after 200 ms (timeout)\n");
  });

  test("cancel reaches what the command started (its process group)", async () => {
    const t = runner();
    t.start(1, ["sh", "-c", "sleep 30 & echo $!; wait"]);
    while (!t.output(1, "stdout").includes("\n")) await Bun.sleep(10);
    const child = Number(t.output(1, "stdout").trim());
    t.r.cancel(1);
    await t.result(1);
    await Bun.sleep(50);
    expect(alive(child)).toBe(false);
  });

  test("a process ignoring SIGTERM is killed with SIGKILL after the grace", async () => {
    const t = runner({ killGraceMs: 100 });
    t.start(1, ["sh", "-c", "trap '' TERM; sleep 10"], { timeoutMs: 100 });
    expect((await t.result(1)).exitCode).toBe(EXIT_TIMED_OUT);
  });

  test("cancel kills the process and still ends with an execResult", async () => {
    const t = runner();
    t.start(1, ["sleep", "10"]);
    await Bun.sleep(50);
    const started = Date.now();
    t.r.cancel(1);
    const r = await t.result(1);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.exitCode).not.toBe(0);
    await t.r.idle();
    expect(t.r.size).toBe(0);
  });

  test("output stops at the window until acknowledged", async () => {
    const t = runner({ autoAck: false });
    t.start(1, ["head", "-c", String(EXEC_WINDOW_BYTES * 2), "/dev/zero"]);
    await Bun.sleep(300);
    const sent = () => t.frames.reduce((n, f) => n + (f.type === "execOutput" ? f.data.byteLength : 0), 0);
    // the last chunk may overshoot by at most one chunk
    expect(sent()).toBeLessThan(EXEC_WINDOW_BYTES + EXEC_CHUNK_BYTES);
    expect(t.frames.some((f) => f.type === "execResult")).toBe(false);
    t.r.ack(1, EXEC_WINDOW_BYTES * 4);
    await t.result(1);
    expect(sent()).toBe(EXEC_WINDOW_BYTES * 2);
  });

  test("several execs at once keep their output apart", async () => {
    const t = runner();
    for (let id = 1; id <= 5; id++) t.start(id, ["sh", "-c", `sleep 0.${id}; echo ${id}`]);
    const results = await Promise.all([1, 2, 3, 4, 5].map((id) => t.result(id)));
    expect(results.map((r) => r.exitCode)).toEqual([0, 0, 0, 0, 0]);
    for (let id = 1; id <= 5; id++) expect(t.output(id, "stdout")).toBe(`${id}\n`);
  });

  test("a background child holding stdout does not hold the exec past the drain limit", async () => {
    const t = runner({ drainMs: 200 });
    const started = Date.now();
    t.start(1, ["sh", "-c", "sleep 5 & echo parent"]);
    expect((await t.result(1)).exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(t.output(1, "stdout")).toBe("parent\n");
  });

  test("a node that cannot run commands and a missing program answer 126 and 127 with a reason", async () => {
    const t = runner();
    t.r.start({ type: "exec", id: 1, namespace: "default", node: "a", command: ["true"], timeoutMs: 1000, stdin: false }, "node a is not on this host");
    expect((await t.result(1)).exitCode).toBe(EXIT_CANNOT_RUN);
    expect(t.output(1, "stderr")).toBe("node a is not on this host\n");
    t.start(2, ["/nonexistent/program"]);
    expect((await t.result(2)).exitCode).toBe(127);
    expect(t.output(2, "stderr")).toStartWith("/nonexistent/program: ");
  });

  test("cancelAll kills every exec", async () => {
    const t = runner();
    t.start(1, ["sleep", "10"]);
    t.start(2, ["sleep", "10"]);
    await Bun.sleep(50);
    t.r.cancelAll();
    await Promise.all([t.result(1), t.result(2)]);
    await t.r.idle();
  });
});
