/**
 * @module
 * Renders listings in the three formats every listing accepts: `json` (the
 * rows as they are, or only the asked columns), `table` (aligned columns under
 * an uppercase header, as kubectl prints them; what the CLI shows) and `csv`
 * (a header of column names, then RFC 4180 rows). `?columns=a,b` picks and
 * orders columns; an unknown one is refused with the list of valid ones.
 */
import { ApiError } from "../protocol/errors.ts";

export const FORMATS = ["json", "table", "csv"] as const;
export type Format = (typeof FORMATS)[number];

export type Column<T> = {
  name: string;
  /** the value for json and csv */
  value(row: T): unknown;
  /** the human text for tables, when it differs from the value (units, say) */
  text?(row: T): string;
};

export type Listing<T> = {
  columns: readonly Column<T>[];
  /** columns a table shows when none are asked for (default: all) */
  table?: readonly string[];
};

export type Rendered = { contentType: string; body: string };

/**
 * @param query the raw `format` and `columns` query parameters
 * @throws ApiError 422 naming an unknown format or column
 */
export function renderList<T>(rows: readonly T[], listing: Listing<T>, query: { format?: string; columns?: string }): Rendered {
  const format = parseFormat(query.format);
  const asked = query.columns === undefined || query.columns.trim() === "" ? undefined : pickColumns(listing, query.columns);
  if (format === "json") {
    const body = asked ? rows.map((r) => Object.fromEntries(asked.map((c) => [c.name, c.value(r) ?? null]))) : rows;
    return { contentType: "application/json; charset=utf-8", body: JSON.stringify(body) };
  }
  if (format === "csv") {
    const cols = asked ?? listing.columns;
    const lines = [cols.map((c) => csvField(c.name)), ...rows.map((r) => cols.map((c) => csvField(plain(c.value(r), ""))))];
    return { contentType: "text/csv; charset=utf-8", body: lines.map((l) => `${l.join(",")}\n`).join("") };
  }
  const cols = asked ?? (listing.table ? pickColumns(listing, listing.table.join(",")) : listing.columns);
  const cells = [cols.map((c) => header(c.name)), ...rows.map((r) => cols.map((c) => (c.text ? c.text(r) : plain(c.value(r)))))];
  return { contentType: "text/plain; charset=utf-8", body: alignTable(cells) };
}

export function parseFormat(format: string | undefined): Format {
  if (format === undefined || format === "") return "json";
  const f = FORMATS.find((x) => x === format);
  if (!f) {
    throw new ApiError(422, "invalid_request", `unknown format "${format}"; valid formats: ${FORMATS.join(", ")}`, {
      issues: [`format: unknown format "${format}"; valid formats: ${FORMATS.join(", ")}`],
    });
  }
  return f;
}

function pickColumns<T>(listing: Listing<T>, spec: string): Column<T>[] {
  const names = spec.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const valid = listing.columns.map((c) => c.name);
  const unknown = names.filter((n) => !valid.includes(n));
  if (unknown.length > 0) {
    const what = unknown.map((n) => `"${n}"`).join(", ");
    const message = `unknown column${unknown.length > 1 ? "s" : ""} ${what}; valid columns: ${valid.join(", ")}`;
    throw new ApiError(422, "invalid_request", message, { issues: [`columns: ${message}`], valid });
  }
  return names.map((n) => listing.columns.find((c) => c.name === n) as Column<T>);
}

/** Pads every column but the last to its widest cell, three spaces apart. */
export function alignTable(cells: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return cells
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] + 3))).join("").trimEnd())
    .map((line) => `${line}\n`)
    .join("");
}

/** "memTotalMB" -> "MEM TOTAL MB": camelCase words, as kubectl's headers read. */
function header(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toUpperCase();
}

/** A value as one cell: lists joined by commas, nothing as `none` ("-" in tables, empty in csv). */
function plain(v: unknown, none = "-"): string {
  if (v === undefined || v === null || v === "") return none;
  if (Array.isArray(v)) return v.length === 0 ? none : v.map((x) => plain(x, none)).join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
