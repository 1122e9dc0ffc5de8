/**
 * bench/flows: aggregate goodput of user-space flows (the dataplane's WASM TCP
 * stacks, agent/flows/) between two userspace nodes on an unshaped link, one
 * flow and 16 at once, next to kernel TCP over loopback (iperf3, one stream)
 * measured in the same run, printed as ratios. No root needed. Usage:
 *   bun bench/flows.ts [--mb 1000]   (MB in all, per case)
 */
import { parseArgs } from "node:util";
import type { FlowSpec } from "../protocol/flow.ts";
import { flowSpecs } from "../controller/flow-specs.ts";
import { emptyNamespace } from "../controller/namespaces.ts";
import { runFlows, stopFlowsDataplane } from "../agent/flows/flows.fixture.ts";
import { runCmd } from "../tests/helpers/up.ts";
import { iperfTcp } from "../tests/helpers/measure.ts";

const { values } = parseArgs({ options: { mb: { type: "string", default: "1000" } } });
const total = Number(values.mb) * 1e6;

async function kernel(): Promise<number | undefined> {
  if ((await runCmd(["sh", "-c", "command -v iperf3"], {})).exitCode !== 0) return undefined;
  const port = "5299";
  const server = Bun.spawn(["iperf3", "-s", "-1", "-p", port], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(300);
  const r = await runCmd(["iperf3", "-c", "127.0.0.1", "-p", port, "-n", String(total), "-J"], {}, 120_000);
  await server.exited;
  return iperfTcp(r.stdout).end.sum_received.bits_per_second;
}

/** `n` flows of total/n bytes each, all at once; goodput from the first start to the last finish. */
async function flows(n: number): Promise<number> {
  const records = Array.from({ length: n }, (_, i) => ({ id: `f${i + 1}`, src: "u1", dst: "u2", transport: "tcp" as const, port: 20001 + i, weight: 1, bytes: Math.round(total / n), created: 0 }));
  // the windows the controller would give them
  const specs: FlowSpec[] = flowSpecs({ ...emptyNamespace("default"), flows: records }, {});
  const ends = await runFlows({}, specs, 600_000);
  await stopFlowsDataplane();
  const senders = [...ends.values()].filter((u) => u.role === "sender");
  const failed = senders.filter((u) => u.state !== "finished");
  if (failed.length > 0) throw new Error(`${failed.length} flows did not finish: ${failed[0].error}`);
  const first = Math.min(...senders.map((u) => u.startedAt!));
  const last = Math.max(...senders.map((u) => u.finishedAt!));
  return (senders.reduce((a, u) => a + u.bytes, 0) * 8) / ((last - first) / 1000);
}

const ref = await kernel();
const one = await flows(1);
const sixteen = await flows(16);
const g = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const ratio = (bps: number) => (ref ? `  (${(bps / ref).toFixed(3)} of kernel loopback)` : "");
console.log(`kernel TCP over loopback (iperf3): ${ref ? g(ref) : "iperf3 not installed"}`);
console.log(`user-space flows, 1 flow:          ${g(one)}${ratio(one)}`);
console.log(`user-space flows, 16 flows:        ${g(sixteen)}${ratio(sixteen)}`);
