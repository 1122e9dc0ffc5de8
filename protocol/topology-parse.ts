/**
 * Parse: the text of a topology file in, a checked TopologyDocument out, or a
 * TopologyError whose issues read "path: reason" (`links[3].delay: expected a
 * duration like "10ms", got "ten"`). JSON when the text starts with "{", YAML
 * otherwise. zod's issues are reworded here because its defaults ("Invalid
 * input") do not say what to write instead; a misspelt key names itself and
 * the key that was probably meant.
 */
import { z } from "zod";
import { LineCounter, parseDocument } from "yaml";
import { formatPath } from "./errors.ts";
import { Duration, Fraction, Rate } from "./units.ts";
import { TopologyDocument, TopologyError } from "./topology.ts";

/** Parses and checks a topology file's text; `fileName` starts every message. */
export function parseTopologyText(text: string, fileName: string): TopologyDocument {
  const raw = /^\s*\{/.test(text) ? parseJson(text, fileName) : parseYaml(text, fileName);
  return parseTopologyValue(raw, fileName);
}

/** Checks an already decoded document (an API body, say) with the same messages as a file. */
export function parseTopologyValue(raw: unknown, fileName?: string): TopologyDocument {
  if (raw === null || raw === undefined) {
    throw new TopologyError(["the document is empty; expected a mapping with generate, nodes, links or routes"], fileName);
  }
  const result = TopologyDocument.safeParse(raw);
  if (!result.success) throw new TopologyError(describeTopologyIssues(result.error.issues, raw), fileName);
  return result.data;
}

/** Reads and parses a topology file. */
export async function loadTopologyFile(path: string): Promise<TopologyDocument> {
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    throw new TopologyError([`cannot read the file: ${why}`], path);
  }
  return parseTopologyText(text, path);
}

function parseJson(text: string, fileName: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TopologyError([`invalid JSON: ${(e as Error).message.replace(/^JSON Parse error: /, "")}`], fileName);
  }
}

function parseYaml(text: string, fileName: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    // Later errors on the same line are nearly always echoes of the first one.
    const seen = new Set<number>();
    const issues: string[] = [];
    for (const err of doc.errors) {
      const { line, col } = lines.linePos(err.pos[0]);
      if (seen.has(line)) continue;
      seen.add(line);
      issues.push(`line ${line}, column ${col}: ${err.message}`);
    }
    throw new TopologyError(issues, fileName);
  }
  try {
    return doc.toJS();
  } catch (e) {
    // An alias to an undefined anchor, or too many aliases, only shows up here.
    throw new TopologyError([`invalid YAML: ${(e as Error).message}`], fileName);
  }
}

type Issue = z.core.$ZodIssue;

/** zod issues against `input` as "path: reason" sentences. */
export function describeTopologyIssues(issues: readonly Issue[], input: unknown): string[] {
  const out: string[] = [];
  for (const issue of issues) out.push(...sentences(issue, [], input));
  return out;
}

function sentences(issue: Issue, prefix: readonly PropertyKey[], input: unknown): string[] {
  const path = [...prefix, ...issue.path];
  const value = valueAt(input, path);
  const at = (reason: string, p: readonly PropertyKey[] = path) => `${formatPath(p)}: ${reason}`;
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return [at("required")];
      return [at(`expected ${article(issue.expected)}, got ${show(value)}`)];
    case "invalid_value":
      if (issue.values.length === 1) return [at(`expected ${show(issue.values[0])}, got ${show(value)}`)];
      return [at(`expected one of ${issue.values.map(String).join(", ")}, got ${show(value)}`)];
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const word = issue.code === "too_small" ? (issue.inclusive ? "at least" : "more than") : issue.inclusive ? "at most" : "less than";
      if (issue.origin === "array" && Array.isArray(value)) {
        return [at(`expected ${word} ${String(bound)} ${bound === 1 ? "item" : "items"}, got ${value.length}`)];
      }
      if (issue.origin === "string" && typeof value === "string") {
        return [at(`expected ${word} ${String(bound)} characters, got ${value.length}`)];
      }
      return [at(`expected ${word} ${String(bound)}, got ${show(value)}`)];
    }
    case "unrecognized_keys": {
      const known = objectKeysAt(TopologyDocument, input, path);
      return issue.keys.map((key) => at(`unknown key${suggest(key, known)}`, [...path, key]));
    }
    case "invalid_union": {
      if (issue.discriminator !== undefined && issue.errors.length === 0) {
        const options = ("options" in issue ? (issue.options ?? []) : []).map(String).join(", ");
        return [at(value === undefined ? `required, one of ${options}` : `expected one of ${options}, got ${show(value)}`)];
      }
      // Report the branch that got past the type check: that is the one the author meant.
      const meant = issue.errors.find((branch) => !branch.every((i) => i.code === "invalid_type" && i.path.length === 0));
      if (meant !== undefined) return meant.flatMap((i) => sentences(i, path, input));
      const unit = unitAt(input, path);
      if (unit !== undefined) return [at(`expected ${unit}, got ${show(value)}`)];
      const expected = issue.errors.flatMap((branch) => branch.map((i) => (i.code === "invalid_type" ? article(i.expected) : "")));
      return [at(`expected ${expected.filter((e) => e !== "").join(" or ")}, got ${show(value)}`)];
    }
    case "invalid_format":
      return [at(typeof value === "string" ? `${issue.message}, got ${show(value)}` : issue.message)];
    default:
      return [at(issue.message)];
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * The schemas standing at `path` of `input`, outermost first: every optional,
 * union and pipe on the way is kept, so callers can recognise a unit field by
 * identity as well as find the object under the wrappers. Unions are resolved
 * by the value: an object picks an object branch, matching literal fields
 * (a generator's `shape`) choose among several.
 */
function schemasAt(root: z.ZodType, input: unknown, path: readonly PropertyKey[]): z.core.$ZodType[] {
  let chain = unwrap(root, input);
  let value = input;
  for (const key of path) {
    value = valueAt(value, [key]);
    const inner = chain[chain.length - 1];
    let next: z.core.$ZodType | undefined;
    if (inner instanceof z.ZodObject && typeof key === "string") next = inner.shape[key];
    else if (inner instanceof z.ZodArray) next = inner.element;
    else if (inner instanceof z.ZodTuple && typeof key === "number") next = inner.def.items[key];
    if (next === undefined) return [];
    chain = unwrap(next, value);
  }
  return chain;
}

function unwrap(schema: z.core.$ZodType, value: unknown): z.core.$ZodType[] {
  const chain = [schema];
  for (;;) {
    const s = chain[chain.length - 1];
    let next: z.core.$ZodType | undefined;
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault) next = s.unwrap();
    else if (s instanceof z.ZodPipe) next = s.in;
    else if (s instanceof z.ZodUnion) next = branchFor(s.options, value);
    if (next === undefined) return chain;
    chain.push(next);
  }
}

function branchFor(options: readonly z.core.$ZodType[], value: unknown): z.core.$ZodType | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const objects = options.filter((o): o is z.ZodObject => o instanceof z.ZodObject);
  const record = value as Record<string, unknown>;
  const matches = (o: z.ZodObject) =>
    Object.entries(o.shape).every(([k, s]) => !(s instanceof z.ZodLiteral) || s.values.has(record[k] as z.core.util.Literal));
  return objects.length === 1 ? objects[0] : objects.find(matches);
}

function objectKeysAt(root: z.ZodType, input: unknown, path: readonly PropertyKey[]): string[] {
  const obj = schemasAt(root, input, path).find((s) => s instanceof z.ZodObject);
  return obj instanceof z.ZodObject ? Object.keys(obj.shape) : [];
}

const UNITS = new Map<z.core.$ZodType, string>([
  [Rate, 'a rate like "100Mbit"'],
  [Duration, 'a duration like "10ms"'],
  [Fraction, 'a percentage like "1%"'],
]);

function unitAt(input: unknown, path: readonly PropertyKey[]): string | undefined {
  for (const s of schemasAt(TopologyDocument, input, path)) {
    const unit = UNITS.get(s);
    if (unit !== undefined) return unit;
  }
  return undefined;
}

/** " (did you mean "x"?)" for a near miss, else the keys that are allowed. */
function suggest(key: string, known: readonly string[]): string {
  const allowed = known.filter((k) => k !== "$schema");
  if (allowed.length === 0) return "";
  let best = "";
  let bestDistance = Infinity;
  for (const k of allowed) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  if (bestDistance <= Math.max(1, Math.floor(best.length / 3))) return ` (did you mean "${best}"?)`;
  return `; expected one of ${allowed.join(", ")}`;
}

/** Edits between two strings, a swap of neighbours counting as one ("nodse" is 1 from "nodes"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function article(type: string): string {
  if (type === "int") return "an integer";
  if (type === "array") return "a list";
  if (type === "object") return "an object";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") return "an object";
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}
