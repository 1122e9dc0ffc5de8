/**
 * `nextmini conversations`, `nextmini stats [--watch]` and `nextmini top`:
 * what the dataplane observes, from the API. `top` is a full-screen table
 * redrawn each second (links by utilization, conversations by rate), plain
 * ANSI so it works over ssh; q or Ctrl-C quits.
 */
import type { Conversation } from "../protocol/conversation.ts";
import type { LinkRate } from "../protocol/events.ts";
import { formatMeasured } from "../protocol/units.ts";
import { createClient, type Client } from "./client.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, OUTPUT, type CommandSpec, numberFrom, str, UsageError, type Values } from "./options.ts";

const FILTERS = ["src", "dst", "route", "state"] as const;

export const conversations = {
  spec: {
    name: "conversations",
    usage: "conversations [ID] [options]",
    summary: "List the flows the dataplane observed (TCP/UDP 5-tuples, ICMP by identifier) with their routes and counters.",
    options: {
      src: { type: "string", help: "only from this node", value: "NODE" },
      dst: { type: "string", help: "only to this node", value: "NODE" },
      route: { type: "string", help: "only on this route (a route id, ecmp or shortest)", value: "ROUTE" },
      state: { type: "string", help: "active or ended", value: "STATE" },
      ...OUTPUT,
      ...CLIENT,
      ...COMMON,
    },
    examples: ["nextmini conversations --state active", "nextmini conversations --route ecmp -o csv", "nextmini conversations vm.mx95unn9.7 -o json"],
  } satisfies CommandSpec,
  async main(values: Values, positionals: string[]): Promise<number> {
    const ns = str(values, "namespace");
    if (positionals[0] !== undefined) {
      const one = await createClient(values).json<Conversation>("GET", `/namespaces/${ns}/conversations/${encodeURIComponent(positionals[0])}`);
      console.log(JSON.stringify(one, null, 2));
      return 0;
    }
    const query = new URLSearchParams();
    for (const f of FILTERS) if (typeof values[f] === "string") query.set(f, values[f] as string);
    const q = query.toString();
    await printList(values, `/namespaces/${ns}/conversations${q ? `?${q}` : ""}`);
    return 0;
  },
};

export const stats = {
  spec: {
    name: "stats",
    usage: "stats [options]",
    summary: "Per link direction: rate, utilization, queue depth and drops by reason.",
    options: {
      watch: { type: "boolean", short: "w", help: "redraw every second until Ctrl-C" },
      ...OUTPUT,
      ...CLIENT,
      ...COMMON,
    },
    examples: ["nextmini stats", "nextmini stats --watch", "nextmini stats -o json"],
  } satisfies CommandSpec,
  async main(values: Values): Promise<number> {
    const path = `/namespaces/${str(values, "namespace")}/stats`;
    if (!values.watch) {
      await printList(values, path);
      return 0;
    }
    const client = createClient(values);
    const params = new URLSearchParams({ format: str(values, "output") });
    if (typeof values.columns === "string") params.set("columns", values.columns);
    for (;;) {
      const text = await client.text(`${path}?${params}`);
      process.stdout.write(`${CLEAR}${new Date().toISOString()}  ${path}\n\n${text}`);
      await Bun.sleep(1000);
    }
  },
};

const CLEAR = "\x1b[H\x1b[2J";

export const top = {
  spec: {
    name: "top",
    usage: "top [options]",
    summary: "A live full-screen view: links by utilization with rates and drops, conversations by rate with their routes.",
    options: {
      interval: { type: "string", help: "seconds between redraws (default 1)", value: "S" },
      ...CLIENT,
      ...COMMON,
    },
    examples: ["nextmini top", "nextmini top -n lab"],
  } satisfies CommandSpec,
  async main(values: Values): Promise<number> {
    const interval = numberFrom(values, "interval") ?? 1;
    if (!(interval >= 0.1 && interval <= 60)) throw new UsageError(`--interval takes 0.1 to 60 seconds, got ${interval}`);
    const client = createClient(values);
    const ns = str(values, "namespace");
    let quit = false;
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on("data", (d: Buffer) => {
        // q, Q or Ctrl-C
        if (d.includes(0x71) || d.includes(0x51) || d.includes(0x03)) quit = true;
      });
    }
    try {
      while (!quit) {
        const rows = process.stdout.rows || 40;
        const cols = process.stdout.columns || 120;
        process.stdout.write(CLEAR + (await topScreen(client, ns, rows, cols)));
        const until = Date.now() + interval * 1000;
        while (!quit && Date.now() < until) await Bun.sleep(50);
      }
    } finally {
      if (stdin.isTTY) {
        stdin.setRawMode(false);
        stdin.pause();
      }
    }
    return 0;
  },
};

/** One screen of `top`: a header, the busiest links, the fastest conversations, cut to the terminal's size. */
export async function topScreen(client: Client, ns: string, rows: number, cols: number): Promise<string> {
  const [{ links }, convs] = await Promise.all([
    client.json<{ links: LinkRate[] }>("GET", `/namespaces/${ns}/stats`),
    client.json<Conversation[]>("GET", `/namespaces/${ns}/conversations?state=active`),
  ]);
  const busy = [...links].sort((a, b) => b.utilization - a.utilization || b.bps - a.bps);
  const fast = [...convs].sort((a, b) => b.bps + b.bpsBack - (a.bps + a.bpsBack));
  const linkRows = busy.map((l) => [
    `${l.link}`,
    `${l.from}>${l.to}`,
    l.state,
    formatMeasured(l.bps, "bit/s"),
    l.bandwidth > 0 ? `${(l.utilization * 100).toFixed(1)}%` : "-",
    String(l.queued),
    String(l.queuedMax),
    Object.entries(l.dropsInterval).map(([k, v]) => `${k}=${v}`).join(",") || "-",
  ]);
  const convRows = fast.map((c) => [
    `${c.src}:${c.srcPort}>${c.dst}:${c.dstPort}`,
    c.proto,
    c.route,
    c.path.join(">"),
    formatMeasured(c.bps, "bit/s"),
    formatMeasured(c.bpsBack, "bit/s"),
    formatMeasured(c.payload, "B"),
    Object.entries(c.drops).map(([k, v]) => `${k}=${v}`).join(",") || "-",
  ]);
  // the rest of the screen split between the two tables, links first
  const room = Math.max(4, rows - 7);
  const linkRoom = Math.min(linkRows.length, Math.max(2, Math.floor(room / 2)));
  const convRoom = Math.max(1, room - linkRoom);
  const out = [
    `nextmini top  namespace ${ns}  ${new Date().toLocaleTimeString()}  ${links.length / 2} links, ${convs.length} active conversations   (q quits)`,
    "",
    ...table(["LINK", "DIR", "STATE", "RATE", "UTIL", "QUEUE", "QMAX", "DROPS/s"], linkRows.slice(0, linkRoom)),
    "",
    ...table(["CONVERSATION", "PROTO", "ROUTE", "PATH", "RATE", "BACK", "PAYLOAD", "DROPS"], convRows.slice(0, convRoom)),
  ];
  return `${out.map((l) => (l.length > cols ? l.slice(0, cols) : l)).join("\n")}\n`;
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}
