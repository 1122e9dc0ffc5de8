/** Exec frames through encode/decode: binary data survives as msgpack bin, bad shapes are refused with a reason. */
import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import {
  type AgentFrame,
  type ControllerFrame,
  decodeAgentFrame,
  decodeControllerFrame,
  EXEC_CHUNK_BYTES,
  encodeFrame,
  execChunks,
} from "./wire.ts";

const raw = new Packr({ useRecords: false });
const binary = new Uint8Array([0, 1, 2, 255, 0xc3, 0x28]); // not valid UTF-8 on purpose

function agentRoundTrip(frame: AgentFrame): AgentFrame {
  const d = decodeAgentFrame(encodeFrame(frame));
  if (!d.ok) throw new Error(d.reason);
  return d.frame;
}

function controllerRoundTrip(frame: ControllerFrame): ControllerFrame {
  const d = decodeControllerFrame(encodeFrame(frame));
  if (!d.ok) throw new Error(d.reason);
  return d.frame;
}

describe("exec frames round-trip", () => {
  test("agent frames: output with binary data, result, ack", () => {
    const out = agentRoundTrip({ type: "execOutput", id: 7, stream: "stderr", data: binary });
    expect(out.type).toBe("execOutput");
    if (out.type !== "execOutput") return;
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect([...out.data]).toEqual([...binary]);
    expect(agentRoundTrip({ type: "execResult", id: 7, exitCode: 124 })).toEqual({ type: "execResult", id: 7, exitCode: 124 });
    expect(agentRoundTrip({ type: "execAck", id: 7, bytes: 4096 })).toEqual({ type: "execAck", id: 7, bytes: 4096 });
  });

  test("controller frames: exec with stdin, input (a full chunk, an empty eof), ack, cancel", () => {
    const exec: ControllerFrame = { type: "exec", id: 1, namespace: "default", node: "a", command: ["cat"], timeoutMs: 1000, stdin: true };
    expect(controllerRoundTrip(exec)).toEqual(exec);
    const full = new Uint8Array(EXEC_CHUNK_BYTES).fill(9);
    const input = controllerRoundTrip({ type: "execInput", id: 1, data: full });
    expect(input.type === "execInput" && input.data.byteLength).toBe(EXEC_CHUNK_BYTES);
    const eof = controllerRoundTrip({ type: "execInput", id: 1, data: new Uint8Array(0), eof: true });
    expect(eof.type === "execInput" && [eof.data.byteLength, eof.eof]).toEqual([0, true]);
    expect(controllerRoundTrip({ type: "execAck", id: 1, bytes: 1 })).toEqual({ type: "execAck", id: 1, bytes: 1 });
    expect(controllerRoundTrip({ type: "execCancel", id: 1 })).toEqual({ type: "execCancel", id: 1 });
  });

  test("data is carried as msgpack bin, not as an array of numbers", () => {
    const bytes = encodeFrame({ type: "execOutput", id: 1, stream: "stdout", data: new Uint8Array(1000) });
    expect(bytes.byteLength).toBeLessThan(1100);
  });
});

describe("bad exec frames are refused with a reason", () => {
  const refusedByAgent = (value: unknown) => decodeAgentFrame(raw.pack(value));
  const refusedByController = (value: unknown) => decodeControllerFrame(raw.pack(value));

  test("data that is text, numbers or too large", () => {
    for (const data of ["hello", [1, 2, 3], new Uint8Array(EXEC_CHUNK_BYTES + 1)]) {
      const d = refusedByAgent({ type: "execOutput", id: 1, stream: "stdout", data });
      expect(d.ok).toBe(false);
    }
    const big = refusedByAgent({ type: "execOutput", id: 1, stream: "stdout", data: new Uint8Array(EXEC_CHUNK_BYTES + 1) });
    expect(!big.ok && big.reason).toContain(`at most ${EXEC_CHUNK_BYTES} bytes`);
  });

  test("an unknown stream, a negative id, a result still carrying buffered output", () => {
    expect(refusedByAgent({ type: "execOutput", id: 1, stream: "stdlog", data: binary }).ok).toBe(false);
    expect(refusedByAgent({ type: "execResult", id: -1, exitCode: 0 }).ok).toBe(false);
    const old = refusedByAgent({ type: "execResult", id: 1, exitCode: 0, stdout: "", stderr: "" });
    expect(!old.ok && old.reason).toContain("stdout");
  });

  test("an exec without stdin, an ack of zero bytes, a cancel without id", () => {
    expect(refusedByController({ type: "exec", id: 1, namespace: "default", node: "a", command: ["true"], timeoutMs: 1 }).ok).toBe(false);
    expect(refusedByController({ type: "execAck", id: 1, bytes: 0 }).ok).toBe(false);
    expect(refusedByController({ type: "execCancel" }).ok).toBe(false);
  });
});

test("execChunks cuts at the chunk size without copying", () => {
  const data = new Uint8Array(EXEC_CHUNK_BYTES * 2 + 5);
  const pieces = execChunks(data);
  expect(pieces.map((p) => p.byteLength)).toEqual([EXEC_CHUNK_BYTES, EXEC_CHUNK_BYTES, 5]);
  expect(pieces[1].buffer).toBe(data.buffer);
  expect(execChunks(new Uint8Array(0))).toEqual([]);
});
