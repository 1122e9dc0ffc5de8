/**
 * User-space flows through the compiled binary: `nextmini up examples/flows.yaml`
 * run by an unprivileged user (no root, no TUN, no network namespace) runs
 * every flow to the end and prints their table; and flows meet kernel TCP in
 * a netns node both ways: the WASM stack feeds an ordinary TCP server there,
 * and accepts a connection from an ordinary client there.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { netnsUnavailable } from "../helpers/env.ts";
import { runCmd, up, type Up } from "../helpers/up.ts";
import type { FlowRow } from "../../protocol/flow.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const BUN = process.execPath;
const isRoot = process.getuid?.() === 0;

describe("user-space flows without privileges", () => {
  test("an unprivileged user runs examples/flows.yaml with the compiled binary: every flow finishes, then the table", async () => {
    // nobody cannot read a checkout under /root: the binary and the example go to a directory it can
    const dir = mkdtempSync(path.join(tmpdir(), "nextmini-flows-"));
    let down: { exitCode: number } | undefined;
    try {
      chmodSync(dir, 0o777);
      const bin = path.join(dir, "nextmini");
      copyFileSync(path.join(ROOT, "dist/nextmini"), bin);
      chmodSync(bin, 0o755);
      const file = path.join(dir, "flows.yaml");
      copyFileSync(path.join(ROOT, "examples/flows.yaml"), file);
      chmodSync(file, 0o644);
      const port = 17000 + (process.pid % 1000);
      const env = ["env", `HOME=${dir}`, `NEXTMINI_STATE_DIR=${dir}/state`, `NEXTMINI_CONTROLLER=http://127.0.0.1:${port}`];
      // as root, become nobody; otherwise this user is unprivileged already
      const as = isRoot ? ["runuser", "-u", "nobody", "--", ...env] : env;
      const r = await runCmd([...as, bin, "up", file, "--listen", `127.0.0.1:${port}`, "--name", "unpriv"], {}, 120_000);
      let uid: string | undefined;
      try {
        const pid = Number(readFileSync(path.join(dir, "state", "up.pid"), "utf8"));
        uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      } finally {
        down = await runCmd([...as, bin, "down"], {}, 60_000);
      }
      expect(r.stderr).toContain("running 3 flows");
      expect(r.stdout).toContain("all 3 flows finished");
      const rows = r.stdout.split("\n").filter((l) => /^f\d /.test(l));
      expect(rows).toHaveLength(3);
      for (const row of rows) expect(row).toContain("finished");
      expect(r.exitCode).toBe(0);
      if (isRoot) expect(uid).toBe("65534");
      else expect(uid).toBe(String(process.getuid?.()));
      expect(down?.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

/** A TCP sink in Bun: accepts one connection on PORT, prints its byte count and sha256 when it closes. */
const SINK = `
const h = new Bun.CryptoHasher("sha256"); let n = 0;
Bun.listen({ hostname: "0.0.0.0", port: Number(process.argv[1]), socket: {
  data(_s, d) { n += d.length; h.update(d); },
  close() { console.log(n, h.digest("hex")); process.exit(0); },
} });
console.error("listening");`;

/** A TCP source in Bun: sends N random bytes to HOST:PORT, prints their sha256, closes. */
const SOURCE = `
const [host, port, total] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const h = new Bun.CryptoHasher("sha256"); let sent = 0;
const chunk = crypto.getRandomValues(new Uint8Array(65536));
const pump = (s) => { while (sent < total) { const part = chunk.subarray(0, Math.min(chunk.length, total - sent)); const w = s.write(part); if (w > 0) { h.update(part.subarray(0, w)); sent += w; } if (w < part.length) return; } s.end(); };
await Bun.connect({ hostname: host, port, socket: { open: pump, drain: pump, close() { console.log(h.digest("hex")); process.exit(0); }, data() {} } });`;

async function waitEnded(net: Up, id: string, limitMs = 60_000): Promise<FlowRow> {
  const until = Date.now() + limitMs;
  for (;;) {
    const row = (await (await net.api("GET", `/namespaces/default/flows/${id}`)).json()) as FlowRow;
    if (row.state === "finished" || row.state === "failed" || Date.now() > until) return row;
    await Bun.sleep(100);
  }
}

describe.skipIf(netnsUnavailable !== undefined)("user-space flows and kernel TCP", () => {
  let net: Up | undefined;
  afterAll(async () => {
    await net?.down();
  });

  test("a flow feeds an ordinary TCP server in a netns node, and a kernel client's connection is accepted by a userspace node", async () => {
    net = await up(
      `nodes: [{name: u1, kind: userspace}, h2]
links: [{a: u1, b: h2, bandwidth: 1Gbit, delay: 1ms}]
`,
      "compiled",
    );
    const n = net;
    // the stack sends to a kernel socket
    const sink = n.exec("h2", [BUN, "-e", SINK, "5201"], 60_000);
    await Bun.sleep(500);
    const add = await n.api("POST", "/namespaces/default/flows", { src: "u1", dst: "h2", port: 5201, bytes: "10MB" });
    expect(add.status).toBe(201);
    const out = await waitEnded(n, ((await add.json()) as FlowRow).id);
    expect(out.state).toBe("finished");
    const [count, sha] = (await sink).stdout.trim().split(" ");
    expect(Number(count)).toBe(10e6);
    expect(sha).toBe(out.sha256!);

    // a kernel client connects to the stack
    const accept = await n.api("POST", "/namespaces/default/flows", { src: "h2", dst: "u1", bytes: "10MB" });
    expect(accept.status).toBe(201);
    const row = (await accept.json()) as FlowRow;
    await Bun.sleep(500);
    const client = await n.exec("h2", [BUN, "-e", SOURCE, "10.0.0.1", String(row.port), String(10e6)], 60_000);
    expect(client.exitCode).toBe(0);
    const got = await waitEnded(n, row.id);
    expect(got.state).toBe("finished");
    expect(got.delivered).toBe(10e6);
    expect(got.receivedSha256).toBe(client.stdout.trim());
  }, 120_000);
});
