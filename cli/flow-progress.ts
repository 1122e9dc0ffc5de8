/**
 * Watching flows run: one progress line per flow (redrawn in place on a
 * terminal, printed when it changes otherwise), until every flow has finished
 * or failed, then the table of completion times. Used by `nextmini up` for a
 * document with `flows:` and by `nextmini flow watch`.
 */
import { FlowRow } from "../protocol/flow.ts";
import { formatRate, formatSize } from "../protocol/units.ts";
import type { createClient } from "./client.ts";

const POLL_MS = 250;
const BAR = 20;

/** One flow's line: id, ends, a bar (or elapsed time for timed flows), delivered, mean rate, state. */
export function progressLine(f: FlowRow, nowMs: number): string {
  const started = f.started !== undefined ? Date.parse(f.started) : undefined;
  let done = 0;
  if (f.bytes !== undefined) done = f.delivered / f.bytes;
  else if (f.seconds !== undefined && started !== undefined) done = (nowMs - started) / 1000 / f.seconds;
  if (f.state === "finished") done = 1;
  done = Math.max(0, Math.min(1, done));
  const filled = Math.round(done * BAR);
  const bar = `[${"#".repeat(filled)}${".".repeat(BAR - filled)}] ${String(Math.floor(done * 100)).padStart(3)}%`;
  const rate = f.throughput > 0 ? formatRate(Number(f.throughput.toPrecision(3))) : "-";
  const state = f.state === "failed" ? `failed: ${f.error ?? "no reason given"}` : f.state === "finished" ? `finished in ${f.completionMs?.toFixed(1) ?? "?"} ms` : f.state;
  return `${f.id.padEnd(4)} ${`${f.src} -> ${f.dst}`.padEnd(16)} ${bar} ${formatSize(Number(f.delivered.toPrecision(3))).padStart(8)} ${rate.padStart(11)}  ${state}`;
}

/**
 * Polls the namespace's flows (only `ids`, when given) until all have ended,
 * writing progress to `out`; returns the last rows.
 */
export async function watchFlows(
  client: ReturnType<typeof createClient>,
  namespace: string,
  opts: { ids?: string[]; out?: NodeJS.WriteStream; timeoutMs?: number } = {},
): Promise<FlowRow[]> {
  const out = opts.out ?? process.stderr;
  const live = out.isTTY === true;
  const limit = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let drawn = 0;
  let last: string[] = [];
  for (;;) {
    const all = FlowRow.array().parse(await client.json("GET", `/namespaces/${namespace}/flows`));
    const rows = opts.ids ? all.filter((f) => opts.ids!.includes(f.id)) : all;
    const lines = rows.map((f) => progressLine(f, Date.now()));
    if (live) {
      // back to the first line drawn, then each line cleared and rewritten
      if (drawn > 0) out.write(`\x1b[${drawn}A`);
      for (const l of lines) out.write(`\x1b[2K${l}\n`);
      drawn = lines.length;
    } else {
      // without a terminal, a line is printed when its flow's state or tenth of progress changes
      lines.forEach((l, i) => {
        if (coarse(l) !== coarse(last[i] ?? "")) out.write(`${l}\n`);
      });
    }
    last = lines;
    const over = rows.every((f) => f.state === "finished" || f.state === "failed");
    if (over || Date.now() > limit) return rows;
    await Bun.sleep(POLL_MS);
  }
}

/** What a non-terminal watcher compares: the id, the tens of percent, the state (not the rate's noise). */
function coarse(line: string): string {
  const m = /^(\S+).*?(\d+)%.*?\s{2}(\S+)/.exec(line);
  return m ? `${m[1]} ${Math.floor(Number(m[2]) / 10)} ${m[3]}` : line;
}

/** Columns of the table shown once flows have ended. */
const SUMMARY_COLUMNS = "id,src,dst,bytes,seconds,rate,weight,state,delivered,throughput,completionMs,retransmits,error";

/** The namespace's listing of flows `ids` in `format` (a table of completion times by default). */
export async function flowTable(client: ReturnType<typeof createClient>, namespace: string, ids: string[], format = "table"): Promise<string> {
  const text = await client.text(`/namespaces/${namespace}/flows?format=${format}${format === "table" ? `&columns=${SUMMARY_COLUMNS}` : ""}`);
  if (format !== "table") return text.trimEnd();
  const wanted = new Set(ids);
  const [header, ...lines] = text.trimEnd().split("\n");
  return [header, ...lines.filter((l) => wanted.has(l.split(/\s+/)[0]))].join("\n");
}
