/**
 * What an agent reports about its host: size (for the scheduler's commit
 * ratios), load, addresses others could dial, and whether it may make
 * namespaces and TUN devices.
 */
import os from "node:os";
import type { HostFacts } from "../protocol/wire.ts";

export function hostFacts(): HostFacts {
  const addresses: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === "IPv4") addresses.push(a.address);
  }
  const total = os.totalmem() / 2 ** 20;
  return {
    cpus: Math.max(1, os.cpus().length),
    memTotalMB: Math.round(total),
    memUsedMB: Math.round(total - os.freemem() / 2 ** 20),
    load: os.loadavg()[0],
    addresses,
    privileged: process.getuid?.() === 0,
  };
}
