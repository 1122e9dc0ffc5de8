/** GET /namespaces/{ns}/stats and GET /metrics from agent counters. */
import { expect, test } from "bun:test";
import { harness } from "../testing.ts";

async function ready() {
  const h = harness();
  const agent = h.agent("h1");
  await h.request("PUT", "/namespaces/default/topology", { nodes: ["a", "b"], links: [{ a: "a", b: "b" }] });
  agent.reportAllRunning();
  agent.send({
    type: "counters",
    links: [
      { namespace: "default", id: "a:b", dir: "ab", packets: 100, bytes: 150000, drops: { loss: 2, queue: 1 } },
      { namespace: "default", id: "a:b", dir: "ba", packets: 50, bytes: 3000, drops: {} },
    ],
  });
  return h;
}

// one report: totals, but no rate yet
const idle = { state: "up", bandwidth: 0, bps: 0, pps: 0, utilization: 0, queued: 0, queuedMax: 0, dropsInterval: {} };

test("stats: link rows in json and table", async () => {
  const h = await ready();
  expect(await (await h.request("GET", "/namespaces/default/stats")).json()).toEqual({
    links: [
      { ...idle, link: "a:b", dir: "ab", from: "a", to: "b", packets: 100, bytes: 150000, dropped: 3, drops: { loss: 2, queue: 1 } },
      { ...idle, link: "a:b", dir: "ba", from: "b", to: "a", packets: 50, bytes: 3000, dropped: 0, drops: {} },
    ],
    flows: [],
  });
  expect(await (await h.request("GET", "/namespaces/default/stats?format=table&columns=link,from,to,packets,bytes,dropped,drops")).text()).toBe(
    "LINK   FROM   TO   PACKETS   BYTES    DROPPED   DROPS\na:b    a      b    100       150000   3         loss=2,queue=1\na:b    b      a    50        3000     0         -\n",
  );
});

test("metrics: Prometheus text with hosts, nodes by state and link counters", async () => {
  const h = await ready();
  const res = await h.request("GET", "/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const text = await res.text();
  expect(text).toContain("# TYPE nextmini_hosts_up gauge\nnextmini_hosts_up 1\n");
  expect(text).toContain('nextmini_host_up{host="h1"} 1\n');
  expect(text).toContain('nextmini_nodes{namespace="default",state="running"} 2\n');
  expect(text).toContain('nextmini_nodes{namespace="default",state="lost"} 0\n');
  expect(text).toContain('nextmini_link_packets_total{namespace="default",link="a:b",dir="ab"} 100\n');
  expect(text).toContain('nextmini_link_drops_total{namespace="default",link="a:b",dir="ab",reason="loss"} 2\n');
  expect((await h.app.request("/api/v1/metrics")).status).toBe(401);
});
