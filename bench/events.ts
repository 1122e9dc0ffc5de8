/**
 * bench/events: the controller's cost of live monitoring. A controller (in
 * this process) holds a namespace of 1,001 nodes in a line (1,000 links); a
 * fake agent over the real agent socket reports counters for all 2,000 link
 * directions twice a second, as agents do; 100 clients (in a child
 * process) read /events as SSE at the default 1 s interval. Prints the
 * controller process's CPU (user + system, as a share of one core) and the
 * latency from an event's time to its arrival at a client. No root needed.
 * Usage: bun bench/events.ts [--seconds 10] [--clients 100] [--links 1000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startController } from "../controller/server.ts";
import { encodeFrame, PROTOCOL_VERSION, type LinkCounters } from "../protocol/wire.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    clients: { type: "string", default: "100" },
    links: { type: "string", default: "1000" },
    role: { type: "string" },
    url: { type: "string" },
    token: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const links = Number(values.links);

if (values.role === "clients") {
  // the child: `clients` SSE readers; prints {events, latency percentiles} as JSON
  const latencies: number[] = [];
  let events = 0;
  const stop = Date.now() + seconds * 1000;
  // reads the stream as bytes: an event's time is in its first bytes, and a links event of 1,000 links is
  // half a megabyte that this process need not decode (the latency measured should be the controller's)
  const read = async () => {
    const res = await fetch(`${values.url}/api/v1/events?namespace=bench&kinds=links`, { headers: { authorization: `Bearer ${values.token}` } });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let atStart = true;
    let head = "";
    let prevNl = false;
    while (Date.now() < stop) {
      const r = await reader.read();
      if (r.done) break;
      const bytes = r.value;
      let i = 0;
      while (i < bytes.length) {
        if (atStart && head.length < 64) {
          head += decoder.decode(bytes.subarray(i, Math.min(bytes.length, i + 64 - head.length)));
          if (head.length >= 64) atStart = false;
        }
        // the end of an event: a blank line (the scan is native: events are large)
        const nl: number = bytes.indexOf(10, i);
        if (nl < 0) {
          prevNl = false;
          break;
        }
        const blank = prevNl && nl === i ? nl + 1 : bytes[nl + 1] === 10 ? nl + 2 : -1;
        if (blank >= 0) {
          const t = Number(/"t":(\d+)/.exec(head)?.[1]);
          if (Number.isFinite(t)) {
            latencies.push(Date.now() - t);
            events++;
          }
          atStart = true;
          head = "";
          prevNl = false;
          i = blank;
          continue;
        }
        prevNl = nl === bytes.length - 1;
        i = nl + 1;
      }
    }
    await reader.cancel();
  };
  await Promise.all(Array.from({ length: clients }, read));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  console.log(JSON.stringify({ events, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] }));
  process.exit(0);
}

const stateDir = mkdtempSync(path.join(tmpdir(), "nextmini-bench-events-"));
const ctl = await startController({ listen: "127.0.0.1:0", stateDir, store: "memory" });
try {
  // a fake agent: joins, then reports counters four times a second
  const ws = new WebSocket(`${ctl.url.replace("http", "ws")}/api/v1/agent`);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("agent socket failed"));
  });
  const facts = { cpus: 2, memTotalMB: 24000, memUsedMB: 1000, load: 0, addresses: ["127.0.0.1"], privileged: false };
  ws.send(encodeFrame({ type: "hello", version: PROTOCOL_VERSION, name: "bench", joinToken: ctl.joinToken, facts }));
  await Bun.sleep(300);
  const names = Array.from({ length: links + 1 }, (_, i) => `n${i}`);
  const doc = { nodes: names.map((name) => ({ name, kind: "userspace" })), links: names.slice(1).map((b, i) => ({ a: names[i], b, bandwidth: "1Gbit" })) };
  const put = await fetch(`${ctl.url}/api/v1/namespaces/bench/topology`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ctl.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify(doc),
  });
  if (!put.ok) throw new Error(`topology: ${put.status} ${await put.text()}`);
  let sent = 0;
  const reporter = setInterval(() => {
    sent++;
    const counters: LinkCounters[] = names.slice(1).flatMap((b, i) =>
      (["ab", "ba"] as const).map((dir) => ({ namespace: "bench", id: `${names[i]}:${b}`, dir, packets: sent * 2000, bytes: sent * 3e6, drops: { loss: 0, queue: 0 }, queued: 5, queuedMax: 9 })),
    );
    ws.send(encodeFrame({ type: "counters", at: Date.now(), links: counters }));
    ws.send(encodeFrame({ type: "heartbeat", facts }));
  }, 500);
  await Bun.sleep(1000);

  const child = Bun.spawn([process.execPath, import.meta.path, "--role", "clients", "--url", ctl.url, "--token", ctl.apiToken, "--seconds", String(seconds), "--clients", String(clients)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  await Bun.sleep(1500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await new Response(child.stdout).text();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(reporter);
  ws.close();
  const r = JSON.parse(out) as { events: number; p50: number; p99: number; max: number };
  console.log(`${clients} SSE clients, ${links} links (${2 * links} directions) reported twice a second, links events at 1 s`);
  console.log(`controller CPU           ${((100 * (cpu.user + cpu.system)) / 1e6 / wall).toFixed(1)}% of one core (${wall.toFixed(1)} s measured)`);
  console.log(`events delivered         ${r.events} (${(r.events / clients / seconds).toFixed(2)} per client per second)`);
  console.log(`event latency            p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`);
} finally {
  await ctl.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
