/**
 * `nextmini hosts`: the hosts (agents) of the cluster, and `hosts probe A B`,
 * which has agent A measure the real network to agent B: round trips and loss
 * of ICMP echo as ping sees them, and the bandwidth of a bulk transfer.
 */
import type { HostProbe } from "../protocol/probe.ts";
import { formatRate, formatSize } from "../protocol/units.ts";
import { createClient } from "./client.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, OUTPUT, type CommandSpec, str, UsageError, type Values } from "./options.ts";

const { namespace: _namespace, ...cluster } = CLIENT;

/** The answer as a few lines: what was measured, and how. */
export function describeProbe(p: HostProbe): string {
  const rtt = p.rtt ? `rtt min/avg/max ${p.rtt.min.toFixed(3)}/${p.rtt.avg.toFixed(3)}/${p.rtt.max.toFixed(3)} ms` : "rtt -: no echo reply came";
  const lines = [
    `${p.from} -> ${p.to} (${p.address}), ${p.transport}`,
    `  ${rtt}, ${(p.loss * 100).toFixed(1)}% of ${p.pings} echo requests lost`,
    `  bandwidth ${formatRate(Number(p.bandwidth.toPrecision(3)))}: ${formatSize(p.bytes)} in ${p.seconds.toFixed(3)} s${p.cut ? " (cut at 10 s)" : ""}` +
      (p.datagramLoss !== undefined ? `, ${(p.datagramLoss * 100).toFixed(2)}% of datagrams lost` : ""),
  ];
  return lines.join("\n");
}

export const hosts = {
  spec: {
    name: "hosts",
    usage: "hosts [ls | probe FROM TO] [options]",
    summary: "List the hosts (agents) of the cluster, or measure the real network between two of them.",
    description: [
      "ls                 every host with its size, load and state",
      "probe FROM TO      FROM pings TO's address 20 times (as ping) and sends it --bytes over --transport;",
      "                   prints the round trips, loss and bandwidth (at most about 30 s)",
    ].join("\n"),
    options: {
      ...OUTPUT,
      transport: { type: "string", help: "probe: tcp or udp (as fast as the sender can)", value: "PROTO", default: "tcp" },
      bytes: { type: "string", help: 'probe: how much to send, like "64MB" (default 64 MiB, at most 10 s of it)', value: "SIZE" },
      ...cluster,
      ...COMMON,
    },
    examples: ["nextmini hosts", "nextmini hosts probe h1 h2", "nextmini hosts probe h1 h2 --transport udp --bytes 256MB -o json"],
  } satisfies CommandSpec,
  async main(values: Values, positionals: string[]): Promise<number> {
    const [action = "ls", from, to, extra] = positionals;
    if (action === "ls") {
      await printList(values, "/hosts");
      return 0;
    }
    if (action !== "probe") throw new UsageError(`unknown action "${action}": ls or probe`);
    if (!from || !to || extra !== undefined) throw new UsageError("hosts probe needs two hosts: nextmini hosts probe FROM TO");
    const body = { from, to, transport: str(values, "transport"), ...(typeof values.bytes === "string" ? { bytes: values.bytes } : {}) };
    console.error(`probing ${from} -> ${to} over ${body.transport}: 20 echo requests, then the transfer...`);
    const p = await createClient(values).json<HostProbe>("POST", "/hosts/probe", body);
    console.log(str(values, "output") === "json" ? JSON.stringify(p, null, 2) : describeProbe(p));
    return 0;
  },
};
