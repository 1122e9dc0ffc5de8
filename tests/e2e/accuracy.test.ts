/**
 * The core issue's acceptance checks, against a real `nextmini up` process,
 * once from source and once through the compiled dist/nextmini: bandwidth,
 * delay, loss (one and both directions), jitter without reordering, the queue
 * limit, a live PATCH, unshaped throughput, and rejection of bad documents
 * without changing the running network. Teardown asserts nothing is left.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { netnsUnavailable } from "../helpers/env.ts";
import { up, type Launcher, type Up } from "../helpers/up.ts";
import { iperfTcp, iperfUdp, ping } from "../helpers/measure.ts";

const TOPOLOGY = `
nodes: [a1, b1, a2, b2, a3, b3, d1, d2, d3, l1, l2, l3, l4, j1, j2, q1, q2, p1, p2, u1, u2]
links:
  - { a: a1, b: b1, bandwidth: 100Mbit }
  - { a: a2, b: b2, bandwidth: 10Mbit }
  - { a: a3, b: b3, bandwidth: 1Gbit }
  - { a: d1, b: d2, delay: 10ms }
  - { a: d2, b: d3, delay: 10ms }
  - { a: l1, b: l2, ab: { loss: 10% } }
  - { a: l3, b: l4, loss: 10% }
  - { a: j1, b: j2, delay: 20ms, jitter: 5ms }
  - { a: q1, b: q2, bandwidth: 10Mbit, queue: 50, delay: 5ms }
  - { a: p1, b: p2, bandwidth: 100Mbit }
  - { a: u1, b: u2 }
`;

// addresses follow node order: a1 = 10.0.0.1, b1 = 10.0.0.2, ...
const NODES = ["a1", "b1", "a2", "b2", "a3", "b3", "d1", "d2", "d3", "l1", "l2", "l3", "l4", "j1", "j2", "q1", "q2", "p1", "p2", "u1", "u2"];
const ip = (node: string) => `10.0.0.${NODES.indexOf(node) + 1}`;

async function tcpRate(net: Up, client: string, server: string, seconds: number): Promise<number> {
  const srv = net.exec(server, ["iperf3", "-s", "-1"], 60_000);
  await Bun.sleep(400);
  const r = await net.exec(client, ["iperf3", "-c", ip(server), "-t", String(seconds), "-J"], 60_000);
  await srv;
  expect(r.exitCode).toBe(0);
  return iperfTcp(r.stdout).end.sum_received.bits_per_second;
}

for (const launcher of ["compiled", "source"] as Launcher[]) {
  describe.skipIf(netnsUnavailable !== undefined)(`accuracy through ${launcher === "compiled" ? "dist/nextmini" : "bun main.ts"}`, () => {
    let net: Up;
    beforeAll(async () => {
      net = await up(TOPOLOGY, launcher);
    }, 120_000);
    afterAll(async () => {
      await net?.down();
    }, 60_000);

    test("bandwidth: 100Mbit, 10Mbit and 1Gbit links measure within 90-100% of the rate", async () => {
      for (const [a, b, rate] of [["a1", "b1", 100e6], ["a2", "b2", 10e6], ["a3", "b3", 1e9]] as const) {
        const bps = await tcpRate(net, a, b, 5);
        console.log(`${launcher}: ${rate / 1e6} Mbit/s link measured ${(bps / 1e6).toFixed(1)} Mbit/s`);
        expect(bps).toBeGreaterThanOrEqual(0.9 * rate);
        expect(bps).toBeLessThanOrEqual(rate);
      }
    }, 90_000);

    test("delay: 3-node line with 10ms per link has a 40 ms RTT, never less", async () => {
      const r = await net.exec("d1", ["ping", "-c", "20", "-i", "0.05", ip("d3")]);
      const p = ping(r.stdout);
      expect(p.received).toBe(20);
      expect(p.min).toBeGreaterThanOrEqual(40);
      expect(Math.abs(p.avg - 40)).toBeLessThanOrEqual(2);
    }, 30_000);

    test("loss: 10% one way loses 7-13% of 1000 pings; both ways 15-23%", async () => {
      const [one, both] = await Promise.all([
        net.exec("l1", ["ping", "-q", "-c", "1000", "-i", "0.01", "-W", "1", ip("l2")], 60_000),
        net.exec("l3", ["ping", "-q", "-c", "1000", "-i", "0.01", "-W", "1", ip("l4")], 60_000),
      ]);
      const p1 = ping(one.stdout);
      const p2 = ping(both.stdout);
      console.log(`${launcher}: loss one way ${(p1.loss * 100).toFixed(1)}%, both ways ${(p2.loss * 100).toFixed(1)}%`);
      expect(p1.transmitted).toBe(1000);
      expect(p1.loss).toBeGreaterThanOrEqual(0.07);
      expect(p1.loss).toBeLessThanOrEqual(0.13);
      expect(p2.loss).toBeGreaterThanOrEqual(0.15);
      expect(p2.loss).toBeLessThanOrEqual(0.23);
    }, 60_000);

    test("jitter: 20ms +- 5ms each way gives a 40 +- 2 ms mean RTT with 2-10 ms deviation, and no reordering", async () => {
      const p = ping((await net.exec("j1", ["ping", "-q", "-c", "300", "-i", "0.02", ip("j2")], 60_000)).stdout);
      console.log(`${launcher}: jitter RTT avg ${p.avg} ms, mdev ${p.mdev} ms`);
      expect(p.received).toBe(300);
      expect(Math.abs(p.avg - 40)).toBeLessThanOrEqual(2);
      expect(p.mdev).toBeGreaterThanOrEqual(2);
      expect(p.mdev).toBeLessThanOrEqual(10);
      const srv = net.exec("j2", ["iperf3", "-s", "-1"], 60_000);
      await Bun.sleep(400);
      const r = await net.exec("j1", ["iperf3", "-c", ip("j2"), "-u", "-b", "20M", "-t", "3", "-J"], 60_000);
      await srv;
      const u = iperfUdp(r.stdout);
      expect(u.packets).toBeGreaterThan(1000);
      expect(u.outOfOrder).toBe(0);
    }, 60_000);

    test("queue limit: a 50-packet queue on 10Mbit drops a 100Mbit blast and bounds ping RTT by drain time plus delay", async () => {
      const srv = net.exec("q2", ["iperf3", "-s", "-1"], 60_000);
      await Bun.sleep(400);
      const blast = net.exec("q1", ["iperf3", "-c", ip("q2"), "-u", "-b", "100M", "-t", "5", "-J"], 60_000);
      await Bun.sleep(1000);
      const pr = await net.exec("q1", ["ping", "-q", "-c", "100", "-i", "0.03", "-W", "1", ip("q2")], 60_000);
      const u = iperfUdp((await blast).stdout);
      await srv;
      const p = ping(pr.stdout);
      // 50 packets of 1500 bytes drain in 60 ms at 10 Mbit/s; 5 ms delay each way
      const bound = 60 + 10 + 5;
      console.log(`${launcher}: blast lost ${u.lost_percent.toFixed(1)}%, ping ${p.received}/100 max ${p.max} ms (bound ${bound})`);
      expect(u.lost_percent).toBeGreaterThan(50);
      expect(p.received).toBeGreaterThan(0);
      expect(p.max).toBeLessThan(bound);
      expect(p.min).toBeGreaterThanOrEqual(10);
    }, 60_000);

    test("PATCH of a running link's bandwidth changes the measured rate within 1 s", async () => {
      const srv = net.exec("p2", ["iperf3", "-s", "-1"], 60_000);
      await Bun.sleep(400);
      // -R: the client receives, so its per-interval figures are what arrived
      const run = net.exec("p1", ["iperf3", "-c", ip("p2"), "-R", "-t", "6", "-i", "0.5", "-J"], 60_000);
      await Bun.sleep(2500);
      const res = await net.api("PATCH", "/namespaces/default/links/p1:p2", { bandwidth: "10Mbit" });
      expect(res.status).toBe(200);
      const r = await run;
      await srv;
      const iv = iperfTcp(r.stdout).intervals.map((i) => i.sum);
      const before = iv.filter((i) => i.start >= 0.5 && i.end <= 2.0);
      const after = iv.filter((i) => i.start >= 3.5);
      console.log(`${launcher}: patch intervals ${iv.map((i) => (i.bits_per_second / 1e6).toFixed(0)).join(" ")} Mbit/s`);
      expect(before.length).toBeGreaterThan(0);
      expect(after.length).toBeGreaterThan(0);
      for (const i of before) expect(i.bits_per_second).toBeGreaterThan(80e6);
      for (const i of after) expect(i.bits_per_second).toBeLessThan(15e6);
    }, 60_000);

    test("an unshaped link carries TCP at multi-Gbit/s", async () => {
      const bps = await tcpRate(net, "u1", "u2", 3);
      console.log(`${launcher}: unshaped ${(bps / 1e9).toFixed(2)} Gbit/s`);
      expect(bps).toBeGreaterThan(2e9);
    }, 60_000);

    test("bad documents are rejected naming the field, and the running network is unchanged", async () => {
      const nodesBefore = await (await net.api("GET", "/namespaces/default/nodes")).json();
      const linksBefore = await (await net.api("GET", "/namespaces/default/links")).json();
      const bad: [unknown, string][] = [
        [{ nodes: ["x1", "x2"], links: [{ a: "x1", b: "x9" }] }, "links[0].b"],
        [{ nodes: ["x1", "x2"], links: [{ a: "x1", b: "x2", delay: "-5ms" }] }, "links[0].delay"],
        [{ nodes: ["x1", "x2"], links: [{ a: "x1", b: "x2", loss: "150%" }] }, "links[0].loss"],
        [{ nodes: ["x1", "x1"] }, "nodes[1]"],
        [{ nodes: ["x1", "x2"], links: [{ a: "x1", b: "x2", bandwdith: "1Mbit" }] }, "bandwdith"],
      ];
      for (const [doc, field] of bad) {
        const res = await net.api("PUT", "/namespaces/default/topology", doc);
        const body = JSON.stringify(await res.json());
        expect(res.status).toBe(422);
        expect(body).toContain(field);
      }
      expect(await (await net.api("GET", "/namespaces/default/nodes")).json()).toEqual(nodesBefore);
      expect(await (await net.api("GET", "/namespaces/default/links")).json()).toEqual(linksBefore);
      const p = ping((await net.exec("d1", ["ping", "-c", "2", "-i", "0.2", ip("d3")])).stdout);
      expect(p.received).toBe(2);
    }, 30_000);
  });
}
