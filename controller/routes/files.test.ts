/** GET/PUT .../files through a fake agent, and the two shell scripts run for real on this machine. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { API_TOKEN, type ErrorBody, type FakeAgent, harness } from "../testing.ts";
import { FILE_TIMEOUT_MS, READ_SCRIPT, WRITE_SCRIPT } from "./files.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

async function ready() {
  const h = harness();
  const agent = h.agent("h1");
  expect((await h.request("PUT", "/namespaces/default/topology", { nodes: ["a"] })).status).toBe(200);
  agent.reportAllRunning();
  return { h, agent };
}

async function execFrame(agent: FakeAgent) {
  for (let i = 0; i < 100 && agent.of("exec").length === 0; i++) await Bun.sleep(1);
  const frame = agent.of("exec")[0];
  if (!frame) throw new Error("no exec frame reached the agent");
  return frame;
}

function put(h: Awaited<ReturnType<typeof ready>>["h"], query: string, body: Uint8Array) {
  return h.app.request(`/api/v1/namespaces/default/nodes/a/files?${query}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/octet-stream" },
    body,
  });
}

describe("GET files", () => {
  test("runs the read script in the node and answers the bytes as they come", async () => {
    const { h, agent } = await ready();
    const pending = h.request("GET", "/namespaces/default/nodes/a/files?path=/etc/hosts");
    const frame = await execFrame(agent);
    expect(frame).toEqual({ type: "exec", id: frame.id, namespace: "default", node: "a", command: ["sh", "-c", READ_SCRIPT, "sh", "/etc/hosts"], timeoutMs: FILE_TIMEOUT_MS, stdin: false });
    agent.send({ type: "execOutput", id: frame.id, stream: "stdout", data: new Uint8Array([0, 255]) });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    agent.send({ type: "execOutput", id: frame.id, stream: "stdout", data: bytes("rest") });
    agent.send({ type: "execResult", id: frame.id, exitCode: 0 });
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0, 255, ...bytes("rest")]);
  });

  test("an empty file is an empty 200", async () => {
    const { h, agent } = await ready();
    const pending = h.request("GET", "/namespaces/default/nodes/a/files?path=/empty");
    agent.send({ type: "execResult", id: (await execFrame(agent)).id, exitCode: 0 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  test("a missing file is a 404 naming node, host and path; a directory 409; other failures 500 with stderr", async () => {
    const cases: [number, string, number, string, string][] = [
      [66, "", 404, "file_not_found", "no file /nope on node a (host h1)"],
      [67, "", 409, "is_a_directory", "/nope on node a (host h1) is a directory; files are copied one at a time"],
      [68, "", 403, "permission_denied", "/nope on node a (host h1) is not readable"],
      [1, "cat: /nope: Input/output error\n", 500, "file_error", "reading /nope on node a (host h1) failed: cat: /nope: Input/output error"],
    ];
    for (const [exitCode, stderr, status, code, message] of cases) {
      const { h, agent } = await ready();
      const pending = h.request("GET", "/namespaces/default/nodes/a/files?path=/nope");
      const { id } = await execFrame(agent);
      if (stderr) agent.send({ type: "execOutput", id, stream: "stderr", data: bytes(stderr) });
      agent.send({ type: "execResult", id, exitCode });
      const res = await pending;
      expect(res.status).toBe(status);
      const body = (await res.json()) as ErrorBody;
      expect(body.error).toMatchObject({ code, message, details: { node: "a", host: "h1", path: "/nope" } });
    }
  });

  test("a failure after the first bytes aborts the body instead of ending it", async () => {
    const { h, agent } = await ready();
    const pending = h.request("GET", "/namespaces/default/nodes/a/files?path=/big");
    const { id } = await execFrame(agent);
    agent.send({ type: "execOutput", id, stream: "stdout", data: bytes("first") });
    const res = await pending;
    agent.session.onClose();
    expect(await res.arrayBuffer().catch((e: unknown) => e)).toBeInstanceOf(Error);
    expect(h.logs.some((l) => l.startsWith("reading /big on node a (host h1) broke off: exec on host h1 failed"))).toBe(true);
  });

  test("paths must be absolute: 422; unknown node 404; not running 409", async () => {
    const { h } = await ready();
    const relative = await h.request("GET", "/namespaces/default/nodes/a/files?path=etc/hosts");
    expect(relative.status).toBe(422);
    expect(((await relative.json()) as ErrorBody).error.details?.issues).toEqual(["path: must be an absolute path (starting with /)"]);
    expect((await h.request("GET", "/namespaces/default/nodes/a/files")).status).toBe(422);
    expect((await h.request("GET", "/namespaces/default/nodes/zz/files?path=/x")).status).toBe(404);
    await h.request("PUT", "/namespaces/default/topology", { nodes: ["a", "b"] });
    const building = await h.request("GET", "/namespaces/default/nodes/b/files?path=/x");
    expect(building.status).toBe(409);
    expect(((await building.json()) as ErrorBody).error.message).toBe("node b is building on host h1; reading a file needs a running node");
  });
});

describe("PUT files", () => {
  test("streams the body into the write script and answers {path, bytes}", async () => {
    const { h, agent } = await ready();
    const pending = put(h, "path=/tmp/x.bin&mode=0755", new Uint8Array(300 * 1024).fill(7));
    const frame = await execFrame(agent);
    expect(frame.command).toEqual(["sh", "-c", WRITE_SCRIPT, "sh", "/tmp/x.bin", "0755"]);
    expect(frame.stdin).toBe(true);
    for (let i = 0; i < 100 && !agent.of("execInput").some((f) => f.eof); i++) await Bun.sleep(1);
    const input = agent.of("execInput");
    expect(input.reduce((n, f) => n + f.data.byteLength, 0)).toBe(300 * 1024);
    agent.send({ type: "execResult", id: frame.id, exitCode: 0 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: "/tmp/x.bin", bytes: 300 * 1024 });
  });

  test("a missing directory is a 404; a bad mode or a relative path a 422", async () => {
    const { h, agent } = await ready();
    const pending = put(h, "path=/no/such/dir/x", bytes("data"));
    agent.send({ type: "execResult", id: (await execFrame(agent)).id, exitCode: 66 });
    const res = await pending;
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: "directory_not_found",
      message: "cannot write /no/such/dir/x on node a (host h1): its directory does not exist",
    });
    const mode = await put(h, "path=/tmp/x&mode=rwx", bytes(""));
    expect(((await mode.json()) as ErrorBody).error.details?.issues).toEqual(["mode: expected octal permission bits like 0644"]);
    expect((await put(h, "path=x", bytes(""))).status).toBe(422);
  });
});

describe("the scripts, run with sh on this machine", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "nextmini-files-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function sh(script: string, args: string[], stdin?: Uint8Array) {
    const proc = Bun.spawn(["sh", "-c", script, "sh", ...args], { stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout: new Uint8Array(stdout), stderr };
  }

  test("write then read gives back the same bytes, with the mode asked for and no temporary file left", async () => {
    const data = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    const file = path.join(dir, "data.bin");
    expect((await sh(WRITE_SCRIPT, [file, "0600"], data)).code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["data.bin"]);
    const read = await sh(READ_SCRIPT, [file]);
    expect(read.code).toBe(0);
    expect(Buffer.compare(read.stdout, data)).toBe(0);
  });

  test("exit codes: missing file or directory 66, a directory 67", async () => {
    expect((await sh(READ_SCRIPT, [path.join(dir, "missing")])).code).toBe(66);
    expect((await sh(READ_SCRIPT, [dir])).code).toBe(67);
    expect((await sh(WRITE_SCRIPT, [path.join(dir, "no", "x")], bytes("x"))).code).toBe(66);
    expect((await sh(WRITE_SCRIPT, [dir, ""], bytes("x"))).code).toBe(67);
  });

  test("a write cancelled mid-way (SIGTERM, then stdin closed) keeps the old file and leaves no temporary one", async () => {
    const file = path.join(dir, "keep.txt");
    writeFileSync(file, "old");
    const proc = Bun.spawn(["sh", "-c", WRITE_SCRIPT, "sh", file, ""], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
    proc.stdin.write(bytes("partial new content"));
    await proc.stdin.flush();
    await Bun.sleep(100);
    // the agent's order on cancel: the signal first, then end of file
    proc.kill("SIGTERM");
    await Bun.sleep(50);
    await proc.stdin.end();
    expect(await proc.exited).not.toBe(0);
    expect(readFileSync(file, "utf8")).toBe("old");
    expect(readdirSync(dir).filter((n) => n.includes("keep"))).toEqual(["keep.txt"]);
    expect(existsSync(file)).toBe(true);
  });
});
