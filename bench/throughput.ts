/**
 * bench/throughput: iperf3 TCP (one stream) across an unshaped two-node link of
 * nextmini, next to a kernel veth pair between two namespaces measured in the
 * same run, printed as a ratio. Needs root. Usage:
 *   bun bench/throughput.ts [--seconds 5] [--launcher compiled|source]
 */
import { parseArgs } from "node:util";
import { up, runCmd, type Launcher } from "../tests/helpers/up.ts";
import { iperfTcp } from "../tests/helpers/measure.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" }, launcher: { type: "string", default: "compiled" } } });
const seconds = values.seconds!;

async function sh(cmd: string): Promise<string> {
  const r = await runCmd(["sh", "-c", cmd], {});
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}

async function iperf(clientPrefix: string[], serverPrefix: string[], address: string): Promise<number> {
  const server = Bun.spawn([...serverPrefix, "iperf3", "-s", "-1"], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(300);
  const r = await runCmd([...clientPrefix, "iperf3", "-c", address, "-t", seconds, "-J"], {}, 60_000);
  await server.exited;
  return iperfTcp(r.stdout).end.sum_received.bits_per_second;
}

async function veth(): Promise<number> {
  const a = "nmbench-a";
  const b = "nmbench-b";
  await runCmd(["sh", "-c", `ip netns del ${a}; ip netns del ${b}`], {});
  try {
    await sh(
      [
        `ip netns add ${a}`,
        `ip netns add ${b}`,
        `ip link add nmbench0 netns ${a} type veth peer name nmbench1 netns ${b}`,
        `ip -n ${a} addr add 10.99.0.1/24 dev nmbench0`,
        `ip -n ${b} addr add 10.99.0.2/24 dev nmbench1`,
        `ip -n ${a} link set nmbench0 up`,
        `ip -n ${b} link set nmbench1 up`,
        `ip -n ${a} link set lo up`,
        `ip -n ${b} link set lo up`,
      ].join(" && "),
    );
    return await iperf(["ip", "netns", "exec", a], ["ip", "netns", "exec", b], "10.99.0.2");
  } finally {
    await runCmd(["sh", "-c", `ip netns del ${a}; ip netns del ${b}`], {});
  }
}

async function nextmini(launcher: Launcher): Promise<number> {
  const net = await up("nodes: [h1, h2]\nlinks:\n  - { a: h1, b: h2 }\n", launcher);
  try {
    const server = net.exec("h2", ["iperf3", "-s", "-1"], 120_000);
    await Bun.sleep(500);
    const r = await net.exec("h1", ["iperf3", "-c", "10.0.0.2", "-t", seconds, "-J"], 120_000);
    await server;
    return iperfTcp(r.stdout).end.sum_received.bits_per_second;
  } finally {
    await net.down();
  }
}

const g = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const kernel = await veth();
const ours = await nextmini(values.launcher as Launcher);
console.log(`kernel veth pair          ${g(kernel)}`);
console.log(`nextmini unshaped link    ${g(ours)}  (${values.launcher})`);
console.log(`ratio nextmini / veth     ${(ours / kernel).toFixed(2)}`);
