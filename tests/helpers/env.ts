/**
 * What the machine allows: integration tests that need root, network namespaces
 * and /dev/net/tun skip with a loud message where these are truly missing.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

function probe(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (netns and TUN need CAP_NET_ADMIN)";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing";
  const name = `nmprobe${process.pid}`;
  const add = spawnSync("ip", ["netns", "add", name]);
  if (add.status !== 0) return `ip netns add fails: ${add.stderr?.toString().trim()}`;
  spawnSync("ip", ["netns", "del", name]);
  for (const tool of ["iperf3", "ping"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

export const netnsUnavailable = probe();

if (netnsUnavailable) {
  console.warn(`\n!!! SKIPPING network-namespace integration tests: ${netnsUnavailable} !!!\n`);
}
