/**
 * Names and range expressions. A name is `[a-z0-9][a-z0-9_.-]{0,62}`; where a
 * field takes a list of names it also takes a range: `a[0-3]` = a0..a3,
 * `h[1,3,5-6]`, `vm[01-03]` keeps the zero padding.
 */
import { z } from "zod";

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const Name = z.string().regex(NAME_PATTERN, {
  message: "expected a name of lowercase letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)",
});

/** Expands one range expression; throws an Error with a sentence on a malformed one. */
export function expandRange(expr: string): string[] {
  const m = /^([^[\]]*)\[([^\]]+)\]([^[\]]*)$/.exec(expr);
  if (!m) {
    if (/[[\]]/.test(expr)) throw new Error(`malformed range "${expr}": expected like "a[0-3]" or "h[1,3,5-6]"`);
    return [expr];
  }
  const [, prefix, body, suffix] = m;
  const out: string[] = [];
  for (const part of body.split(",")) {
    const r = /^\s*([0-9]+)\s*(?:-\s*([0-9]+))?\s*$/.exec(part);
    if (!r) throw new Error(`malformed range "${expr}": "${part}" is not a number or a range like 1-4`);
    const from = Number(r[1]);
    const to = r[2] === undefined ? from : Number(r[2]);
    if (to < from) throw new Error(`malformed range "${expr}": ${r[1]}-${r[2]} counts down`);
    if (to - from > 100000) throw new Error(`range "${expr}" is too large (more than 100000 names)`);
    const width = r[1].length > 1 && r[1].startsWith("0") ? r[1].length : 0;
    for (let i = from; i <= to; i++) out.push(`${prefix}${String(i).padStart(width, "0")}${suffix}`);
  }
  return out;
}

/**
 * Expands a list of names and ranges separated by commas outside brackets
 * (`h1,h[3-4]` = h1,h3,h4), in order, without duplicates; throws like expandRange.
 */
export function expandList(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === "[") depth++;
    else if (expr[i] === "]") depth--;
    else if (expr[i] === "," && depth === 0) {
      parts.push(expr.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(expr.slice(start));
  const out = new Set<string>();
  for (const part of parts) {
    const trimmed = part.trim();
    if (trimmed === "") throw new Error(`malformed list "${expr}": an empty name between commas`);
    for (const name of expandRange(trimmed)) out.add(name);
  }
  return [...out];
}
