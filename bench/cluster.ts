/**
 * bench/cluster: iperf3 TCP (one stream) across an unshaped link between nodes
 * on two hosts of a one-machine cluster (tests/helpers/cluster.ts: each host a
 * network namespace on a bridge running `nextmini agent`), once per transport.
 * In the same run, two references: the same unshaped link with both nodes on
 * one host (what bench/throughput measures), and the kernel path between the
 * two host namespaces (iperf3 between the hosts' own addresses, veth - bridge -
 * veth), which every cross-host packet of nextmini also takes. Prints figures
 * as ratios to both; not a test. Needs root. Usage:
 *   bun bench/cluster.ts [--seconds 5] [--launcher compiled|source] [--transports tcp,udp,quic]
 */
import { parseArgs } from "node:util";
import { startCluster, waitRunning, type Cluster } from "../tests/helpers/cluster.ts";
import { iperf3Tcp, type Runner } from "../tests/helpers/iperf.ts";
import type { Launcher } from "../tests/helpers/up.ts";

const TRANSPORTS = ["tcp", "udp", "quic"] as const;
type Transport = (typeof TRANSPORTS)[number];

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    launcher: { type: "string", default: "compiled" },
    transports: { type: "string", default: TRANSPORTS.join(",") },
  },
});
const seconds = Number(values.seconds);
if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60)) throw new Error(`--seconds must be a whole number from 1 to 60, got "${values.seconds}"`);
const launcher = values.launcher as Launcher;
if (launcher !== "compiled" && launcher !== "source") throw new Error(`--launcher must be compiled or source, got "${values.launcher}"`);
const transports = (values.transports ?? "").split(",").filter(Boolean);
for (const t of transports) if (!TRANSPORTS.includes(t as Transport)) throw new Error(`--transports: unknown transport "${t}" (tcp, udp, quic)`);

/** Agent names b1, b2: apart from the tests' prefixes, so a bench beside a test run does not collide. */
const [H1, H2] = ["b1", "b2"];
/** The namespace whose two nodes share host H1: the single-host reference. */
const LOCAL = "local";

interface Row {
  what: string;
  bps: number | undefined;
  error?: string;
}

let cluster: Cluster | undefined;
let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => (stopping ??= cluster?.stop() ?? Promise.resolve());

// Ctrl-C also reaches the agents and the controller (same process group); stop() removes what they leave
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the cluster`);
    void stop()
      .catch((e: Error) => console.error(e.message))
      .finally(() => process.exit(130));
  });
}

/** Two nodes, 10.0.0.1 and 10.0.0.2, joined by an unshaped link; `transport` matters only across hosts. */
function topology(transport: Transport, hostOfB: string): unknown {
  return {
    transport,
    nodes: [
      { name: "a", host: H1 },
      { name: "b", host: hostOfB },
    ],
    links: [{ a: "a", b: "b" }],
  };
}

const inNode =
  (c: Cluster, namespace: string, node: string): Runner =>
  async (argv, timeoutMs) =>
    c.cli(["exec", "-n", namespace, node, "--", ...argv], timeoutMs);

const inHost =
  (c: Cluster, host: string): Runner =>
  (argv, timeoutMs) =>
    c.host(host).run(argv, {}, timeoutMs);

async function measure(what: string, f: () => Promise<number>): Promise<Row> {
  try {
    const bps = await f();
    console.error(`${what}: ${(bps / 1e9).toFixed(2)} Gbit/s`);
    return { what, bps };
  } catch (e) {
    const error = (e as Error).message.split("\n")[0];
    console.error(`${what}: failed: ${(e as Error).message}`);
    return { what, bps: undefined, error };
  }
}

/** Every row, in the order printed: the two references first. */
async function run(c: Cluster): Promise<Row[]> {
  const apply = async (ns: string, transport: Transport, hostOfB: string) => {
    const put = await c.api("PUT", `/namespaces/${ns}/topology`, topology(transport, hostOfB));
    if (!put.ok) throw new Error(`PUT /namespaces/${ns}/topology: HTTP ${put.status}: ${await put.text()}`);
  };
  for (const t of transports) await apply(t, t as Transport, H2);
  for (const t of transports) await waitRunning(c, t);
  await apply(LOCAL, "tcp", H1);
  await waitRunning(c, LOCAL);
  const between = (namespace: string) => async () =>
    (await iperf3Tcp({ server: inNode(c, namespace, "b"), client: inNode(c, namespace, "a"), address: "10.0.0.2", seconds })).bps;
  const rows = [
    await measure("kernel, host to host", async () => (await iperf3Tcp({ server: inHost(c, H2), client: inHost(c, H1), address: c.host(H2).address, seconds })).bps),
    await measure("nextmini, one host", between(LOCAL)),
  ];
  for (const t of transports) rows.push(await measure(`nextmini, two hosts, ${t}`, between(t)));
  return rows;
}

let rows: Row[];
try {
  cluster = await startCluster({ hosts: 2, hostPrefix: "b", launcher });
  rows = await run(cluster);
} finally {
  await stop();
}

const [kernel, single] = rows;
const ratio = (x: number | undefined, ref: number | undefined) => (x === undefined || ref === undefined ? "-" : (x / ref).toFixed(2));
const table = rows.map((r) => [r.what, r.bps === undefined ? `failed: ${r.error}` : (r.bps / 1e9).toFixed(2), ratio(r.bps, single.bps), ratio(r.bps, kernel.bps)]);
const head = ["path", "Gbit/s", "/ one host", "/ kernel"];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("   ");
console.log(`iperf3 TCP, one stream, ${seconds} s each, unshaped link, ${launcher} binary, 2 hosts`);
console.log(line(head));
for (const r of table) console.log(line(r));
if (rows.some((r) => r.bps === undefined)) process.exitCode = 1;
