/**
 * Linux network namespaces for `netns` nodes, through iproute2. Every namespace
 * the agent makes is named `nm:<agent>:<namespace>:<node>` (':' cannot appear
 * in a name, so the parts are unambiguous) and every TUN it creates before moving
 * it into a node starts with `nmt`: cleanup finds leftovers by these prefixes.
 */
import { readdirSync, existsSync, statfsSync } from "node:fs";
import { alive, mustRun, run } from "./run.ts";

export const NETNS_PREFIX = "nm:";
export const TUN_PREFIX = "nmt";
const NETNS_DIR = "/run/netns";

export function netnsName(agent: string, namespace: string, node: string): string {
  return `${NETNS_PREFIX}${agent}:${namespace}:${node}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(`${NETNS_DIR}/${name}`);
}

const NSFS_MAGIC = 0x6e736673;

/**
 * Whether this process can enter the namespace: its file must be an nsfs mount
 * here. An agent running in another mount namespace (under `ip netns exec`)
 * makes files whose mounts never reach this one.
 */
export function netnsUsable(name: string): boolean {
  try {
    return statfsSync(`${NETNS_DIR}/${name}`).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/** Names of the Linux namespaces made by `agent` (every agent's when agent is undefined). */
export function listOwnedNetns(agent?: string): string[] {
  if (!existsSync(NETNS_DIR)) return [];
  const prefix = agent === undefined ? NETNS_PREFIX : `${NETNS_PREFIX}${agent}:`;
  return readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix));
}

/** Kills what still runs inside (a daemonised iperf3 would keep the namespace alive) and deletes it. */
export async function deleteNetns(name: string): Promise<void> {
  for (const pid of await netnsPids(name)) signal(pid, "SIGKILL");
  await run(["ip", "netns", "del", name], { timeoutMs: 5000 });
}

/**
 * Stops what runs in the namespace the way a shutdown would: SIGTERM to every
 * process, up to `graceMs` for them to exit, then deleteNetns (SIGKILL to the
 * rest, and the namespace removed).
 */
export async function stopNetns(name: string, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  let pids = await netnsPids(name);
  for (const pid of pids) signal(pid, "SIGTERM");
  while (pids.length > 0 && Date.now() < deadline) {
    await Bun.sleep(50);
    pids = pids.filter(alive);
  }
  await deleteNetns(name);
}

async function netnsPids(name: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", name], { timeoutMs: 5000 });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export async function createNetns(name: string): Promise<void> {
  if (netnsExists(name)) await deleteNetns(name);
  await mustRun(["ip", "netns", "add", name]);
}

export interface NodeInterface {
  /** the TUN's name in the agent's namespace, before it moves */
  tun: string;
  ip: string;
  mtu: number;
}

/** Moves the TUN into the node's namespace as eth0, with its address, MTU and the default route. */
export async function attachInterface(netns: string, ifc: NodeInterface): Promise<void> {
  await mustRun(["ip", "link", "set", ifc.tun, "netns", netns]);
  const batch = [
    `link set ${ifc.tun} name eth0`,
    `link set eth0 mtu ${ifc.mtu}`,
    `addr add ${ifc.ip} dev eth0`,
    `link set eth0 up`,
    `link set lo up`,
    `route add default dev eth0`,
    "",
  ].join("\n");
  await mustRun(["ip", "-n", netns, "-batch", "-"], { stdin: batch });
}

/** TUN devices the agent created and never moved (an agent killed between the two steps). */
export async function listStrayTuns(): Promise<string[]> {
  const r = await run(["ip", "-o", "link", "show"]);
  const out: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^\d+:\s+([^:@]+)/.exec(line);
    if (m && m[1].startsWith(TUN_PREFIX)) out.push(m[1]);
  }
  return out;
}

export async function deleteLink(name: string): Promise<void> {
  await run(["ip", "link", "del", name], { timeoutMs: 5000 });
}
