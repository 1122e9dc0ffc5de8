/**
 * Multipath and monitoring against `nextmini up` through the compiled
 * dist/nextmini, as root: h1 and h2 joined by four equal two-hop paths of
 * 100 Mbit/s (through s1..s4), `paths: ecmp`. iperf3 connections spread over
 * the paths exactly by weight, each on one route for its life; routes, pins
 * and link state change under running traffic; conversations match what
 * iperf3 itself counted; /events carries link rates; drops are counted by
 * reason and reach /metrics. Every traffic loop is bounded in count and time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { netnsUnavailable } from "../helpers/env.ts";
import { readFileSync } from "node:fs";
import { runCmd, up, type Up } from "../helpers/up.ts";
import { ping } from "../helpers/measure.ts";
import type { Conversation } from "../../protocol/conversation.ts";
import type { LinkRate, LiveEvent } from "../../protocol/events.ts";

const SWITCHES = ["s1", "s2", "s3", "s4"];
const TOPOLOGY = `
paths: ecmp
nodes: [h1, h2, s1, s2, s3, s4]
defaults: { link: { bandwidth: 100Mbit, delay: 1ms, queue: 100 } }
links:
${SWITCHES.map((s) => `  - { a: h1, b: ${s} }\n  - { a: ${s}, b: h2 }`).join("\n")}
`;
const H2 = "10.0.0.2";

/** iperf3 -J as far as these tests read it: each stream's local port and bytes, each second's rate */
const IperfRun = z.object({
  start: z.object({ connected: z.array(z.object({ socket: z.number(), local_port: z.number() })) }),
  intervals: z.array(z.object({ sum: z.object({ bits_per_second: z.number() }) })),
  end: z.object({
    // TCP streams have sender and receiver; UDP ones neither
    streams: z.array(z.object({ sender: z.object({ socket: z.number(), bytes: z.number() }), receiver: z.object({ bytes: z.number() }) }).partial()),
    sum_received: z.object({ bits_per_second: z.number() }),
  }),
});
type IperfRun = z.infer<typeof IperfRun>;

describe.skipIf(netnsUnavailable !== undefined)("multipath and monitoring through dist/nextmini", () => {
  let net: Up;
  const servers: Promise<unknown>[] = [];

  /** An iperf3 client in h1 against the server on `port` in h2, bounded by `timeout`. */
  async function iperf(port: number, args: string[], seconds: number): Promise<IperfRun> {
    const r = await net.exec("h1", ["timeout", "-k", "2", String(seconds + 20), "iperf3", "-c", H2, "-p", String(port), "-t", String(seconds), "-J", ...args], (seconds + 30) * 1000);
    if (r.exitCode !== 0) throw new Error(`iperf3 failed (${r.exitCode}): ${r.stdout.slice(0, 800)} ${r.stderr}`);
    return IperfRun.parse(JSON.parse(r.stdout));
  }

  async function json<T>(path: string): Promise<T> {
    const res = await net.api("GET", path);
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  }

  /** The conversations toward h2's `port`, once the agent has reported their ends (at most `ms`). */
  async function ended(port: number, count: number, ms = 8000): Promise<Conversation[]> {
    const until = Date.now() + ms;
    for (;;) {
      const all = await json<Conversation[]>(`/namespaces/default/conversations?src=h1&dst=h2`);
      const mine = all.filter((c) => c.dstPort === port && c.proto === "tcp");
      if ((mine.length >= count && mine.every((c) => c.state === "ended")) || Date.now() > until) return mine;
      await Bun.sleep(250);
    }
  }

  const bySwitch = (cs: Conversation[]) => SWITCHES.map((s) => cs.filter((c) => c.path[1] === s).length);

  async function patch(path: string, body: unknown): Promise<void> {
    const res = await net.api(path.endsWith("routes") || path.endsWith("pins") ? "PUT" : "PATCH", path, body);
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    net = await up(TOPOLOGY, "compiled");
    // one server per test, each bounded; -1 is not used: -P runs need the server for a whole test
    const ports = [5201, 5202, 5203, 5204, 5205, 5206, 5207];
    for (const port of ports) {
      servers.push(net.exec("h2", ["timeout", "-k", "2", "240", "iperf3", "-s", "-p", String(port)], 250_000));
    }
    // every server listening before the first client dials (at most 10 s)
    for (let k = 0; k < 100; k++) {
      const ss = await net.exec("h2", ["ss", "-Htln"]);
      if (ports.every((p) => ss.stdout.includes(`:${p} `))) break;
      await Bun.sleep(100);
    }
  }, 180_000);

  afterAll(async () => {
    await net?.down();
    await Promise.allSettled(servers);
  }, 60_000);

  // iperf3 (3.12) closes its control connection with FIN but resets its data connections (the server sends RST):
  // each conversation's end reason says which it saw
  test("ecmp: iperf3 -P 32 gives every path 8 +- 1 connections, each on one route; bytes match iperf3 within 2%; ends as TCP closed them", async () => {
    // iperf3 counts what its server read; what still sat in a receive buffer when the streams were reset
    // reached the node but not iperf3: -w 64K bounds that to 128 KB (the kernel doubles it), about 1% of a stream
    const run = await iperf(5201, ["-P", "32", "-w", "64K"], 4);
    // 32 data connections and iperf3's control connection
    const cs = await ended(5201, 33);
    expect(cs).toHaveLength(33);
    for (const n of bySwitch(cs)) expect(Math.abs(n - 8)).toBeLessThanOrEqual(1);
    // one conversation per connection: a connection on two routes would be listed twice
    expect(new Set(cs.map((c) => c.srcPort)).size).toBe(33);
    const port = new Map(run.start.connected.map((c) => [c.socket, c.local_port]));
    const data = new Set(port.values());
    const control = cs.filter((c) => !data.has(c.srcPort));
    expect(control.map((c) => c.endReason)).toEqual(["fin"]);
    // bytes written but still unsent when a stream was reset never left h1: the payload is at most what was sent
    const off: number[] = [];
    for (const s of run.end.streams) {
      const c = cs.find((x) => x.srcPort === port.get(s.sender!.socket))!;
      expect(c.route).toBe("ecmp");
      expect(["fin", "rst"]).toContain(c.endReason!);
      expect(Date.parse(c.end!)).toBeGreaterThanOrEqual(Date.parse(c.start));
      // iperf3 opens each data stream with a 37-byte cookie that its byte counts leave out
      expect(c.payload).toBeLessThanOrEqual(s.sender!.bytes + 37);
      off.push((c.payload - s.receiver!.bytes) / s.receiver!.bytes);
    }
    console.log(`conversation payload against iperf3's bytes received: ${(Math.min(...off) * 100).toFixed(2)}% to ${(Math.max(...off) * 100).toFixed(2)}%`);
    for (const o of off) expect(Math.abs(o)).toBeLessThanOrEqual(0.02);
  }, 60_000);

  test("explicit routes weighted 1:2:3:4 and iperf3 -P 40 give 4/8/12/16 +- 1 connections", async () => {
    await patch("/namespaces/default/routes", SWITCHES.map((s, i) => ({ id: `via-${s}`, path: ["h1", s, "h2"], weight: i + 1 })));
    await iperf(5202, ["-P", "40"], 1);
    const cs = await ended(5202, 41);
    expect(cs).toHaveLength(41);
    // the control connection is one more flow of the pair: N = 41
    bySwitch(cs).forEach((n, i) => expect(Math.abs(n - (41 * (i + 1)) / 10)).toBeLessThanOrEqual(1));
    expect(new Set(cs.map((c) => c.route))).toEqual(new Set(SWITCHES.map((s) => `via-${s}`)));
    await patch("/namespaces/default/routes", []);
  }, 60_000);

  test("two disjoint 100 Mbit/s paths in ecmp: iperf3 -P 8 moves at least 180 Mbit/s (one path alone: about 96)", async () => {
    await patch("/namespaces/default/links/h1:s3", { state: "down" });
    await patch("/namespaces/default/links/h1:s4", { state: "down" });
    try {
      const both = await iperf(5203, ["-P", "8"], 3);
      console.log(`ecmp over two 100 Mbit/s paths: ${(both.end.sum_received.bits_per_second / 1e6).toFixed(1)} Mbit/s`);
      expect(both.end.sum_received.bits_per_second).toBeGreaterThanOrEqual(180e6);
    } finally {
      await patch("/namespaces/default/links/h1:s3", { state: "up" });
      await patch("/namespaces/default/links/h1:s4", { state: "up" });
    }
  }, 60_000);

  test("PUT routes during a 10 s iperf3 moves the pair to the other path within a second; no second drops below half the link", async () => {
    await patch("/namespaces/default/routes", [{ id: "top", path: ["h1", "s1", "h2"] }]);
    try {
      const run = iperf(5204, [], 10);
      await Bun.sleep(4000);
      const put = Date.now();
      await patch("/namespaces/default/routes", [{ id: "bottom", path: ["h1", "s2", "h2"] }]);
      // the rate the controller reports (agents' counters twice a second; a routing change starts a new interval)
      let risen = -1;
      while (risen < 0 && Date.now() - put < 3000) {
        const rates = await json<{ links: LinkRate[] }>("/namespaces/default/stats");
        if (rates.links.find((l) => l.link === "h1:s2" && l.dir === "ab")!.bps > 50e6) risen = Date.now() - put;
        else await Bun.sleep(50);
      }
      console.log(`after PUT routes, h1:s2 passed 50 Mbit/s in ${risen} ms`);
      expect(risen).toBeGreaterThanOrEqual(0);
      expect(risen).toBeLessThanOrEqual(1000);
      const r = await run;
      const seconds = r.intervals.map((i) => i.sum.bits_per_second);
      console.log(`iperf3 per second: ${seconds.map((b) => (b / 1e6).toFixed(0)).join(" ")} Mbit/s`);
      for (const b of seconds.slice(1)) expect(b).toBeGreaterThan(50e6);
      const [c] = (await ended(5204, 2)).filter((x) => x.payload > 1e6);
      expect([c.route, c.path]).toEqual(["bottom", ["h1", "s2", "h2"]]);
    } finally {
      await patch("/namespaces/default/routes", []);
    }
  }, 60_000);

  test("link down on a path in use: its flows move within a second, iperf3 completes; up again, new flows use it", async () => {
    const run = iperf(5205, ["-P", "4"], 5);
    await Bun.sleep(2000);
    // the second hop: packets already in h1:s1's delay line arrive at a link that is down
    await patch("/namespaces/default/links/s1:h2", { state: "down" });
    try {
      await Bun.sleep(1500);
      const during = await json<Conversation[]>("/namespaces/default/conversations?src=h1&dst=h2&state=active");
      const moving = during.filter((c) => c.dstPort === 5205 && c.bps > 1e6);
      console.log(`during link down: ${moving.map((c) => `${c.path.join(">")} ${(c.bps / 1e6).toFixed(1)}`).join(", ")} Mbit/s`);
      expect(moving.length).toBeGreaterThanOrEqual(4);
      for (const c of moving) expect(c.path[1]).not.toBe("s1");
      const r = await run;
      expect(r.end.sum_received.bits_per_second).toBeGreaterThan(100e6);
    } finally {
      await patch("/namespaces/default/links/s1:h2", { state: "up" });
    }
    await iperf(5206, ["-P", "8"], 1);
    expect(bySwitch(await ended(5206, 9))[0]).toBeGreaterThanOrEqual(2);
  }, 60_000);

  test("/events shows a 50 Mbit/s iperf3's link rate within 5% every second", async () => {
    await patch("/namespaces/default/routes", [{ id: "top", path: ["h1", "s1", "h2"] }]);
    const controller = new AbortController();
    try {
      const res = await fetch(`${net.url}/api/v1/events?namespace=default&kinds=links`, {
        headers: { authorization: `Bearer ${net.token}` },
        signal: controller.signal,
      });
      const samples: number[] = [];
      const reading = (async () => {
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = "";
        for (let k = 0; k < 200; k++) {
          const r = await reader.read();
          if (r.done) return;
          text += decoder.decode(r.value, { stream: true });
          let cut: number;
          while ((cut = text.indexOf("\n\n")) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            if (!block.startsWith("data: ")) continue;
            const e = JSON.parse(block.slice(6)) as LiveEvent;
            if (e.kind === "links") samples.push(e.links.find((l) => l.link === "h1:s1" && l.dir === "ab")?.bps ?? 0);
          }
        }
      })().catch(() => {});
      await iperf(5207, ["-b", "50M"], 6);
      controller.abort();
      await reading;
      // the seconds the whole test covered: skip the start and the end
      const steady = samples.filter((b) => b > 10e6).slice(1, -1);
      console.log(`events: h1:s1 ${samples.map((b) => (b / 1e6).toFixed(1)).join(" ")} Mbit/s`);
      expect(steady.length).toBeGreaterThanOrEqual(3);
      // iperf3 counts payload; the link carries IP packets (1500 bytes for 1448 of payload)
      const wire = 50e6 * (1500 / 1448);
      for (const b of steady) expect(Math.abs(b - wire) / wire).toBeLessThanOrEqual(0.05);
    } finally {
      await patch("/namespaces/default/routes", []);
    }
  }, 60_000);

  test("drop reasons provoked here reach /metrics: no_route, loss, queue, link_down", async () => {
    // link_down: an explicit route's second hop goes down under 80 Mbit/s of UDP; what is in its first hop's delay line then meets it
    await patch("/namespaces/default/routes", [{ id: "top", path: ["h1", "s1", "h2"] }]);
    const blast = iperf(5202, ["-u", "-b", "80M"], 2);
    await Bun.sleep(1000);
    await patch("/namespaces/default/links/s1:h2", { state: "down" });
    await blast;
    await patch("/namespaces/default/links/s1:h2", { state: "up" });
    await patch("/namespaces/default/routes", []);
    // no_route: s4 cut off from everything
    await patch("/namespaces/default/links/h1:s4", { state: "down" });
    await patch("/namespaces/default/links/s4:h2", { state: "down" });
    const cut = ping((await net.exec("h1", ["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.6"])).stdout);
    expect(cut.received).toBe(0);
    await patch("/namespaces/default/links/h1:s4", { state: "up" });
    await patch("/namespaces/default/links/s4:h2", { state: "up" });
    // loss: 20% on one link, pinged through it
    await patch("/namespaces/default/links/h1:s3", { loss: "20%" });
    await net.exec("h1", ["ping", "-q", "-c", "50", "-i", "0.01", "-W", "1", "10.0.0.5"], 30_000);
    await patch("/namespaces/default/links/h1:s3", { loss: 0 });
    // queue: a 300 Mbit/s UDP blast into one 100 Mbit/s path
    await patch("/namespaces/default/routes", [{ id: "top", path: ["h1", "s1", "h2"] }]);
    await iperf(5201, ["-u", "-b", "300M"], 1).catch(() => undefined);
    await patch("/namespaces/default/routes", []);
    await Bun.sleep(1500);
    const metrics = await (await net.api("GET", "/metrics")).text();
    for (const reason of ["no_route", "loss", "queue", "link_down"]) {
      const n = Number(new RegExp(`nextmini_drops_total\\{host="[^"]+",reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      console.log(`${reason}: ${n}`);
      expect(n).toBeGreaterThan(0);
    }
    expect(metrics).toMatch(/nextmini_link_drops_total\{namespace="default",link="h1:s1",dir="ab",reason="queue"\} [1-9]/);
  }, 60_000);

  test("unknown_peer: datagrams to the agent's data port from an address that is no agent are dropped and counted", async () => {
    // the agent's UDP sockets (the udp transport's, and quic's on the next port), found by the process that holds them
    const pid = readFileSync(`${net.stateDir}/up.pid`, "utf8").trim();
    const ss = await runCmd(["ss", "-Hulnp"], {});
    const ports = ss.stdout
      .split("\n")
      .filter((l) => l.includes(`pid=${pid},`))
      .map((l) => Number(/:(\d+)\s/.exec(l)?.[1]))
      .filter((p) => p > 0);
    expect(ports.length).toBeGreaterThan(0);
    const sock = await Bun.udpSocket({});
    for (let k = 0; k < 5; k++) for (const port of ports) sock.send(new Uint8Array(64), port, "127.0.0.1");
    sock.close();
    await Bun.sleep(1500);
    const metrics = await (await net.api("GET", "/metrics")).text();
    const n = Number(/nextmini_drops_total\{host="[^"]+",reason="unknown_peer"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    console.log(`unknown_peer: ${n}`);
    expect(n).toBeGreaterThan(0);
  }, 30_000);
});

describe.skipIf(netnsUnavailable !== undefined)("a dataplane out of packet memory", () => {
  test("pool: with --pool 1MB, a 10 ms link under iperf3 runs out of buffers; the drops are counted, and ping still gets through", async () => {
    const net = await up(`nodes: [a, b]\nlinks: [{ a: a, b: b, delay: 10ms }]\n`, "compiled", { args: ["--pool", "1MB"] });
    try {
      const server = net.exec("b", ["timeout", "-k", "2", "20", "iperf3", "-s", "-1"], 30_000);
      await Bun.sleep(500);
      await net.exec("a", ["timeout", "-k", "2", "15", "iperf3", "-c", "10.0.0.2", "-t", "2"], 30_000);
      await server;
      const p = ping((await net.exec("a", ["ping", "-c", "3", "-i", "0.2", "10.0.0.2"])).stdout);
      expect(p.received).toBeGreaterThan(0);
      await Bun.sleep(1500);
      const metrics = await (await net.api("GET", "/metrics")).text();
      const n = Number(/nextmini_drops_total\{host="[^"]+",reason="pool"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      console.log(`pool: ${n}`);
      expect(n).toBeGreaterThan(0);
    } finally {
      await net.down();
    }
  }, 90_000);
});
