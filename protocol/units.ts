/**
 * Units for rates, durations, fractions and sizes: the strings people write
 * ("100Mbit", "10ms", "1%", "64KB") and the plain numbers in base units (bit/s,
 * seconds, fraction, bytes) that the API also accepts. Parsers return a number or
 * a human sentence saying what was expected, so zod schemas can name the field.
 */
import { z } from "zod";

export type Parsed = { ok: true; value: number } | { ok: false; reason: string };

const NUMBER = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-zA-Zµ%/]*)\s*$/;

function parseWith(input: string | number, units: Record<string, number>, what: string, example: string): Parsed {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) return { ok: false, reason: `expected ${what} like "${example}", got ${input}` };
    return { ok: true, value: input };
  }
  const m = NUMBER.exec(input);
  const scale = m ? units[m[2]] ?? units[m[2].toLowerCase()] : undefined;
  if (!m || scale === undefined) {
    const neg = /^\s*-/.test(input) ? " (negative values are not allowed)" : "";
    return { ok: false, reason: `expected ${what} like "${example}", got "${input}"${neg}` };
  }
  return { ok: true, value: Number(m[1]) * scale };
}

const RATE_UNITS: Record<string, number> = {
  "": 1, bit: 1, bps: 1, "bit/s": 1,
  kbit: 1e3, kbps: 1e3, "kbit/s": 1e3,
  mbit: 1e6, mbps: 1e6, "mbit/s": 1e6,
  gbit: 1e9, gbps: 1e9, "gbit/s": 1e9,
  tbit: 1e12, tbps: 1e12,
};
const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, ms: 1e-3, us: 1e-6, "µs": 1e-6, ns: 1e-9, m: 60, min: 60 };
const SIZE_UNITS: Record<string, number> = {
  "": 1, b: 1, B: 1,
  kb: 1e3, KB: 1e3, k: 1e3, kib: 1024, KiB: 1024,
  mb: 1e6, MB: 1e6, mib: 1048576, MiB: 1048576,
  gb: 1e9, GB: 1e9, gib: 1073741824, GiB: 1073741824,
};

/** A rate in bit/s: "100Mbit", "1Gbit", "64kbit", or a number of bit/s. */
export function parseRate(input: string | number): Parsed {
  return parseWith(input, RATE_UNITS, "a rate", "100Mbit");
}

/** A duration in seconds: "10ms", "250us", "1.5s", or a number of seconds. */
export function parseDuration(input: string | number): Parsed {
  return parseWith(input, DURATION_UNITS, "a duration", "10ms");
}

/** A size in bytes: "64KB", "1MiB", or a number of bytes. */
export function parseSize(input: string | number): Parsed {
  return parseWith(input, SIZE_UNITS, "a size", "64KB");
}

/** A fraction in [0, 1]: "1%", "0.5%", or a number from 0 to 1. */
export function parseFraction(input: string | number): Parsed {
  if (typeof input === "number") {
    if (!(input >= 0 && input <= 1)) return { ok: false, reason: `expected a fraction from 0 to 1 or a percentage like "1%", got ${input}` };
    return { ok: true, value: input };
  }
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$/.exec(input);
  if (!m) return { ok: false, reason: `expected a percentage like "1%", got "${input}"` };
  const v = m[2] === "%" ? Number(m[1]) / 100 : Number(m[1]);
  if (v > 1) return { ok: false, reason: `expected a percentage from 0% to 100%, got "${input}"` };
  return { ok: true, value: v };
}

/** A zod field that accepts a unit string or a number and yields the base-unit number. */
function unitField(parse: (s: string | number) => Parsed) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const r = parse(v);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.reason });
      return z.NEVER;
    }
    return r.value;
  });
}

export const Rate = unitField(parseRate);
export const Duration = unitField(parseDuration);
export const Fraction = unitField(parseFraction);
export const Size = unitField(parseSize);

/** Render base units back into the strings people write, for tables and saved documents. */
export function formatRate(bps: number): string {
  if (bps === 0) return "unlimited";
  for (const [unit, scale] of [["Tbit", 1e12], ["Gbit", 1e9], ["Mbit", 1e6], ["kbit", 1e3]] as const) {
    if (bps >= scale) return `${trim(bps / scale)}${unit}`;
  }
  return `${trim(bps)}bit`;
}

export function formatDuration(s: number): string {
  if (s === 0) return "0ms";
  if (s >= 1) return `${trim(s)}s`;
  if (s >= 1e-3) return `${trim(s * 1e3)}ms`;
  return `${trim(s * 1e6)}us`;
}

export function formatSize(bytes: number): string {
  for (const [unit, scale] of [["GB", 1e9], ["MB", 1e6], ["KB", 1e3]] as const) {
    if (bytes >= scale) return `${trim(bytes / scale)}${unit}`;
  }
  return `${trim(bytes)}B`;
}

/** A measured rate or amount for live tables: three significant digits ("94.2Mbit/s", "1.21GB"); 0 is "0". */
export function formatMeasured(n: number, unit: "bit/s" | "B"): string {
  const scales = unit === "B" ? ([["G", 1e9], ["M", 1e6], ["K", 1e3]] as const) : ([["G", 1e9], ["M", 1e6], ["k", 1e3]] as const);
  for (const [prefix, scale] of scales) {
    if (n >= scale) return `${Number((n / scale).toPrecision(3))}${prefix}${unit}`;
  }
  return `${Number(n.toPrecision(3))}${unit}`;
}

export function formatFraction(f: number): string {
  return `${trim(f * 100)}%`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(6)));
}
