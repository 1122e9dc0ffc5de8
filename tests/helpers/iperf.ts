/**
 * One bounded iperf3 TCP test between two places (nodes, hosts, namespaces),
 * for tests and benchmarks. Both ends run under coreutils `timeout`, because
 * killing a `nextmini exec` or `nsenter` wrapper does not kill the iperf3 it
 * started: a server whose client never came would otherwise outlive the run.
 */
import { iperfTcp } from "./measure.ts";
import type { Result } from "./up.ts";

/** Runs argv somewhere (inside a node, a host namespace, ...), killing it after timeoutMs. */
export type Runner = (argv: string[], timeoutMs: number) => Promise<Result>;

export interface IperfOptions {
  server: Runner;
  client: Runner;
  /** the server's address as the client sees it */
  address: string;
  seconds: number;
  /** how long the server gets to listen before the client connects */
  settleMs?: number;
}

export interface IperfOutcome {
  /** receiver-side average over the whole test */
  bps: number;
  /** the client's (sender's) rate in each one-second interval, in order: a stall shows as a near-zero one */
  intervals: number[];
  /** the client's raw JSON, for a failure message */
  json: string;
}

/** Grace beyond the test's own length: connection set-up, the final exchange, a slow machine. */
const SLACK_S = 15;

export async function iperf3Tcp(opts: IperfOptions): Promise<IperfOutcome> {
  const limit = opts.seconds + SLACK_S;
  const bounded = (argv: string[]) => ["timeout", "-k", "2", String(limit), ...argv];
  const server = opts.server(bounded(["iperf3", "-s", "-1"]), (limit + 5) * 1000);
  await Bun.sleep(opts.settleMs ?? 500);
  const client = await opts.client(bounded(["iperf3", "-c", opts.address, "-t", String(opts.seconds), "-J"]), (limit + 5) * 1000);
  const served = await server;
  // iperf3 -J reports its own failures as {"error": "..."}, often with exit code 1 and no "end" section
  let error: unknown;
  try {
    error = (JSON.parse(client.stdout) as { error?: unknown }).error;
  } catch {
    error = `no JSON from the client (exit ${client.exitCode}): ${client.stdout.slice(0, 500)} ${client.stderr.slice(0, 500)}`;
  }
  if (error !== undefined || client.exitCode !== 0) {
    throw new Error(
      `iperf3 to ${opts.address} failed: ${String(error ?? `exit ${client.exitCode}`)}\n` +
        `client stderr: ${client.stderr.slice(0, 500)}\nserver (exit ${served.exitCode}): ${served.stdout.slice(-500)} ${served.stderr.slice(-500)}`,
    );
  }
  const parsed = iperfTcp(client.stdout);
  return {
    bps: parsed.end.sum_received.bits_per_second,
    intervals: parsed.intervals.map((i) => i.sum.bits_per_second),
    json: client.stdout,
  };
}
