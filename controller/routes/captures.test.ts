/**
 * Captures through the API with fake agents: start on a node or a link (the
 * capturing host alone gets it in its state), list with what agents report,
 * stop, remove, download through the host's agent, and every error.
 */
import { describe, expect, test } from "bun:test";
import type { CaptureDeleted, CaptureRow } from "../../protocol/capture.ts";
import { FakeAgent, FACTS, type ErrorBody, harness, JOIN_TOKEN } from "../testing.ts";
import { FILE_TIMEOUT_MS, READ_SCRIPT } from "./files.ts";

const DIR1 = "/var/lib/nextmini/captures";

/** Nodes a on h1 and b on h2, linked; h1 says where its captures go, h2 does not. */
async function ready() {
  const h = harness();
  const h1 = new FakeAgent(h.hub).hello("h1", JOIN_TOKEN, { ...FACTS, captureDir: DIR1 });
  const h2 = h.agent("h2");
  const topo = { nodes: [{ name: "a", host: "h1" }, { name: "b", host: "h2" }], links: [{ a: "a", b: "b", id: "ab" }] };
  expect((await h.request("PUT", "/namespaces/default/topology", topo)).status).toBe(200);
  return { h, h1, h2 };
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

const captures = (agent: FakeAgent) => agent.lastState()?.namespaces.find((n) => n.name === "default")?.captures;

async function execFrame(agent: FakeAgent) {
  for (let i = 0; i < 200 && agent.of("exec").length === 0; i++) await Bun.sleep(2);
  const frame = agent.of("exec")[0];
  if (!frame) throw new Error("no exec frame reached the agent");
  return frame;
}

describe("POST captures", () => {
  test("a link is captured on the host of its a end, into the agent's capture dir by default", async () => {
    const { h, h1, h2 } = await ready();
    const res = await h.request("POST", "/namespaces/default/captures", { link: "ab" });
    expect(res.status).toBe(201);
    const row = (await res.json()) as CaptureRow;
    expect(row).toMatchObject({ id: "c1", link: "ab", hosts: ["h1"], file: `${DIR1}/default-c1.pcap`, state: "running", packets: 0, bytes: 0 });
    expect(row.node).toBeUndefined();
    expect(Date.parse(row.created)).toBeGreaterThan(0);
    expect(captures(h1)).toEqual([{ id: "c1", link: "ab", file: `${DIR1}/default-c1.pcap`, created: Date.parse(row.created) }]);
    expect(captures(h2)).toEqual([]);
  });

  test("a node is captured on its host, into the given file; ids count up", async () => {
    const { h, h1, h2 } = await ready();
    await h.request("POST", "/namespaces/default/captures", { link: "ab" });
    const res = await h.request("POST", "/namespaces/default/captures", { node: "b", file: "/tmp/b.pcap" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id: "c2", node: "b", hosts: ["h2"], file: "/tmp/b.pcap" });
    expect(captures(h2)).toEqual([{ id: "c2", node: "b", file: "/tmp/b.pcap", created: expect.any(Number) }]);
    expect(captures(h1)?.map((c) => c.id)).toEqual(["c1"]);
  });

  test("errors name what is wrong and change nothing", async () => {
    const { h, h1 } = await ready();
    const post = (body: unknown, ns = "default") => h.request("POST", `/namespaces/${ns}/captures`, body);
    const cases: [unknown, number, string, RegExp][] = [
      [{ node: "a", link: "ab" }, 422, "invalid_request", /give node or link, not both/],
      [{}, 422, "invalid_request", /give node \(a node's name\) or link \(a link's id\)/],
      [{ node: "zz" }, 404, "node_not_found", /no node named "zz" in namespace "default"/],
      [{ link: "nope" }, 404, "link_not_found", /no link with id "nope"/],
      [{ node: "a", file: "out.pcap" }, 422, "invalid_request", /file: must be an absolute path on the host/],
      [{ node: "a", file: "/tmp/" }, 422, "invalid_request", /file: names a directory/],
      [{ node: "a", extra: 1 }, 422, "invalid_request", /extra/],
      // h2 joined without saying where its captures go
      [{ node: "b" }, 409, "no_capture_dir", /host h2 has not said where its agent keeps capture files.*give file/],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await post(body);
      const e = await errorOf(res);
      expect([res.status, e.code]).toEqual([status, code]);
      expect(e.message).toMatch(message);
    }
    expect((await post({ node: "a" }, "nope")).status).toBe(404);
    expect(captures(h1)).toEqual([]);
    expect(h.namespaces.get("default").nextCapture).toBe(1);
  });

  test("a target already captured, or a file another capture writes on that host, is a 409", async () => {
    const { h } = await ready();
    await h.request("POST", "/namespaces/default/captures", { node: "a", file: "/tmp/x.pcap" });
    const twin = await h.request("POST", "/namespaces/default/captures", { node: "a" });
    expect(twin.status).toBe(409);
    expect((await errorOf(twin)).message).toBe("node a is already captured by c1 (into /tmp/x.pcap); stop it first");
    const clash = await h.request("POST", "/namespaces/default/captures", { link: "ab", file: "/tmp/x.pcap" });
    expect(clash.status).toBe(409);
    expect(await errorOf(clash)).toMatchObject({ code: "capture_file_in_use", details: { namespace: "default", id: "c1" } });
    // the same path on another host is another file
    expect((await h.request("POST", "/namespaces/default/captures", { node: "b", file: "/tmp/x.pcap" })).status).toBe(201);
  });
});

describe("GET captures", () => {
  test("rows carry what the capturing agent reports; table and columns as every listing", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/captures", { link: "ab" });
    await h.request("POST", "/namespaces/default/captures", { node: "a", file: "/root/a.pcap" });
    h1.send({
      type: "counters",
      links: [],
      captures: [
        { namespace: "default", id: "c1", packets: 10, bytes: 840 },
        { namespace: "default", id: "c2", packets: 0, bytes: 0, error: "cannot open /root/a.pcap: EACCES" },
      ],
    });
    const rows = (await (await h.request("GET", "/namespaces/default/captures")).json()) as CaptureRow[];
    expect(rows.map((r) => [r.id, r.packets, r.bytes, r.error])).toEqual([
      ["c1", 10, 840, undefined],
      ["c2", 0, 0, "cannot open /root/a.pcap: EACCES"],
    ]);
    const table = await (await h.request("GET", "/namespaces/default/captures?format=table")).text();
    expect(table.split("\n")[0]).toMatch(/^ID\s+NODE\s+LINK\s+HOSTS\s+STATE\s+PACKETS\s+BYTES\s+FILE\s+ERROR$/);
    expect(table).toMatch(/c1\s+-\s+ab\s+h1\s+running\s+10\s+840\s+\/var\/lib\/nextmini\/captures\/default-c1.pcap\s+-/);
    const csv = await (await h.request("GET", "/namespaces/default/captures?format=csv&columns=id,state")).text();
    expect(csv).toBe("id,state\nc1,running\nc2,running\n");
  });
});

describe("DELETE captures", () => {
  test("stops a running capture (it stays listed, its host stops writing), then removes it", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/captures", { link: "ab" });
    const stop = await h.request("DELETE", "/namespaces/default/captures/c1");
    expect(stop.status).toBe(200);
    const stopped = (await stop.json()) as CaptureDeleted;
    expect(stopped).toMatchObject({ id: "c1", state: "stopped", removed: false });
    expect(Date.parse(stopped.stopped ?? "")).toBeGreaterThan(0);
    expect(captures(h1)).toEqual([]);
    const listed = (await (await h.request("GET", "/namespaces/default/captures")).json()) as CaptureRow[];
    expect(listed.map((r) => [r.id, r.state])).toEqual([["c1", "stopped"]]);
    // a stopped capture no longer holds its target
    expect((await h.request("POST", "/namespaces/default/captures", { link: "ab" })).status).toBe(201);
    const removed = (await (await h.request("DELETE", "/namespaces/default/captures/c1")).json()) as CaptureDeleted;
    expect(removed).toMatchObject({ id: "c1", state: "stopped", removed: true });
    expect(((await (await h.request("GET", "/namespaces/default/captures")).json()) as CaptureRow[]).map((r) => r.id)).toEqual(["c2"]);
    const gone = await h.request("DELETE", "/namespaces/default/captures/c1");
    expect(gone.status).toBe(404);
    expect((await errorOf(gone)).message).toBe('no capture "c1" in namespace "default" (there are c2)');
  });
});

describe("captures of removed targets", () => {
  test("removing the captured link, or a document without the captured node, stops their captures", async () => {
    const { h, h1 } = await ready();
    expect((await h.request("POST", "/namespaces/default/captures", { link: "ab" })).status).toBe(201);
    expect((await h.request("POST", "/namespaces/default/captures", { node: "a" })).status).toBe(201);
    expect((await h.request("DELETE", "/namespaces/default/links/ab")).status).toBe(200);
    const rows = async () => ((await (await h.request("GET", "/namespaces/default/captures")).json()) as CaptureRow[]).map((r) => [r.id, r.state]);
    expect(await rows()).toEqual([
      ["c1", "stopped"],
      ["c2", "running"],
    ]);
    expect(captures(h1)?.map((c) => c.id)).toEqual(["c2"]);
    expect((await h.request("PUT", "/namespaces/default/topology", { nodes: [{ name: "b", host: "h2" }] })).status).toBe(200);
    expect(await rows()).toEqual([
      ["c1", "stopped"],
      ["c2", "stopped"],
    ]);
  });
});

describe("GET captures/{id}/file", () => {
  test("streams the file from the capturing host (not from a node) as a pcap download", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/captures", { link: "ab" });
    const pending = h.request("GET", "/namespaces/default/captures/c1/file");
    const frame = await execFrame(h1);
    expect(frame).toEqual({ type: "exec", id: frame.id, namespace: "default", command: ["sh", "-c", READ_SCRIPT, "sh", `${DIR1}/default-c1.pcap`], timeoutMs: FILE_TIMEOUT_MS, stdin: false });
    h1.send({ type: "execOutput", id: frame.id, stream: "stdout", data: new Uint8Array([0x4d, 0x3c, 0xb2, 0xa1]) });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.tcpdump.pcap");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="default-c1.pcap"');
    h1.send({ type: "execResult", id: frame.id, exitCode: 0 });
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0x4d, 0x3c, 0xb2, 0xa1]);
  });

  test("a missing file is a 404 naming the host; an unknown capture a 404", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/captures", { link: "ab", file: "/tmp/none.pcap" });
    const pending = h.request("GET", "/namespaces/default/captures/c1/file");
    h1.send({ type: "execResult", id: (await execFrame(h1)).id, exitCode: 66 });
    const res = await pending;
    expect(res.status).toBe(404);
    expect((await errorOf(res)).message).toBe("no file /tmp/none.pcap on host h1");
    expect((await h.request("GET", "/namespaces/default/captures/c9/file")).status).toBe(404);
  });

  test("right after a stop, the download waits until the agent says the file is complete", async () => {
    const { h, h1 } = await ready();
    await h.request("POST", "/namespaces/default/captures", { link: "ab" });
    h1.send({ type: "counters", links: [], captures: [{ namespace: "default", id: "c1", packets: 3, bytes: 252 }] });
    await h.request("DELETE", "/namespaces/default/captures/c1");
    const pending = h.request("GET", "/namespaces/default/captures/c1/file");
    await Bun.sleep(100);
    expect(h1.of("exec")).toHaveLength(0);
    h1.send({ type: "counters", links: [], captures: [{ namespace: "default", id: "c1", packets: 5, bytes: 420, closed: true }] });
    const frame = await execFrame(h1);
    h1.send({ type: "execResult", id: frame.id, exitCode: 0 });
    expect((await pending).status).toBe(200);
    const [row] = (await (await h.request("GET", "/namespaces/default/captures")).json()) as CaptureRow[];
    expect([row.packets, row.bytes]).toEqual([5, 420]);
  });
});
