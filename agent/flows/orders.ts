/**
 * What this host's dataplane runs in user space, derived from its desired
 * state: a TCP stack for every running userspace node placed here, and the
 * end of every flow whose node is one of them (the sender on `src`'s host,
 * the receiver on a userspace `dst`'s host; a kernel node's end is whatever
 * program listens or connects there).
 */
import type { NamespaceState, NodeSpec } from "../../protocol/state.ts";
import { formatIpv4, maskOf, parseAddress } from "../../protocol/ipv4.ts";
import type { FlowOrder, StackOrder } from "./engine.ts";

export function userspaceOrders(namespaces: NamespaceState[], host: string): { stacks: StackOrder[]; flows: FlowOrder[] } {
  const stacks: StackOrder[] = [];
  const flows: FlowOrder[] = [];
  for (const ns of namespaces) {
    const byName = new Map(ns.nodes.map((n) => [n.name, n]));
    const here = (n: NodeSpec | undefined): n is NodeSpec =>
      n !== undefined && n.kind === "userspace" && n.host === host && (n.desired ?? "running") === "running";
    for (const n of ns.nodes) {
      if (!here(n)) continue;
      const a = parseAddress(n.ip);
      if (a === undefined) continue;
      stacks.push({ node: `${ns.name}/${n.name}`, ip: formatIpv4(a.addr), netmask: formatIpv4(maskOf(a.prefix ?? 32)) });
    }
    for (const f of ns.flows) {
      const src = byName.get(f.src);
      const dst = byName.get(f.dst);
      const key = `${ns.name}/${f.id}`;
      if (here(src) && dst !== undefined) {
        const to = parseAddress(dst.ip);
        if (to === undefined) continue;
        flows.push({
          key,
          role: "sender",
          node: `${ns.name}/${src.name}`,
          port: f.port,
          dst: formatIpv4(to.addr),
          spec: {
            ...(f.bytes !== undefined ? { bytes: f.bytes } : {}),
            ...(f.seconds !== undefined ? { seconds: f.seconds } : {}),
            ...(f.rate !== undefined ? { rate: f.rate } : {}),
            ...(f.window !== undefined ? { window: f.window } : {}),
          },
        });
      }
      if (here(dst)) flows.push({ key, role: "receiver", node: `${ns.name}/${dst.name}`, port: f.port });
    }
  }
  return { stacks, flows };
}
