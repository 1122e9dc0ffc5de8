/**
 * Shared command-line plumbing: every option has a flag and a NEXTMINI_*
 * environment variable, flags win. Options are declared once per command with
 * their help text, so `--help` and parsing cannot drift apart.
 */
import { parseArgs } from "node:util";
import os from "node:os";
import path from "node:path";

import { parseSize } from "../protocol/units.ts";
import { DEFAULT_CONVERSATION_CAP } from "../protocol/conversation.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  env?: string;
  default?: string | boolean;
  help: string;
  /** shown in help as the value's placeholder */
  value?: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  description?: string;
  options: Record<string, OptionSpec>;
  examples?: string[];
}

export type Values = Record<string, string | boolean | undefined>;

export class UsageError extends Error {}

export const COMMON: Record<string, OptionSpec> = {
  "state-dir": { type: "string", env: "NEXTMINI_STATE_DIR", help: "where tokens, state and logs live", value: "DIR", default: path.join(os.homedir(), ".nextmini") },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export const CLIENT: Record<string, OptionSpec> = {
  controller: { type: "string", env: "NEXTMINI_CONTROLLER", help: "the controller's URL", value: "URL", default: "http://127.0.0.1:7400" },
  token: { type: "string", env: "NEXTMINI_TOKEN", help: "API token (default: the token file in the state dir)", value: "TOKEN" },
  namespace: { type: "string", short: "n", env: "NEXTMINI_NAMESPACE", help: "the namespace (experiment)", value: "NS", default: "default" },
};

export const OUTPUT: Record<string, OptionSpec> = {
  output: { type: "string", short: "o", env: "NEXTMINI_OUTPUT", help: "table, json or csv", value: "FORMAT", default: "table" },
  columns: { type: "string", help: "comma-separated columns to show", value: "A,B" },
};

export function parse(spec: CommandSpec, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nrun 'nextmini ${spec.name} --help' for usage`);
  }
  const values: Values = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const v = parsed.values[name];
    if (Array.isArray(v)) throw new UsageError(`--${name} given more than once`);
    if (v !== undefined) values[name] = v;
    else if (o.env && process.env[o.env] !== undefined) values[name] = o.type === "boolean" ? /^(1|true|yes)$/i.test(process.env[o.env]!) : process.env[o.env];
    else values[name] = o.default;
  }
  return { values, positionals: parsed.positionals };
}

export function help(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    const extra = [o.env ? `env ${o.env}` : "", o.default !== undefined && o.default !== false ? `default ${o.default}` : ""].filter(Boolean).join("; ");
    return [flag, `${o.help}${extra ? ` (${extra})` : ""}`];
  });
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = [`Usage: nextmini ${spec.usage}`, "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  lines.push("", "Options:", ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`));
  if (spec.examples?.length) lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

export function str(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== "string") throw new UsageError(`--${name} is required`);
  return v;
}

/** --seed as a 32-bit unsigned integer, or undefined for a random one. */
export function seedFrom(values: Values): number | undefined {
  const v = values.seed;
  if (v === undefined || v === false) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295, got "${v}"`);
  return n;
}

/** An optional numeric option (`whole`: an integer); undefined when absent, a usage error naming it when not a number. */
export function numberFrom(values: Values, name: string, whole = false): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !(whole ? Number.isInteger(n) : Number.isFinite(n))) {
    throw new UsageError(`--${name} takes a ${whole ? "whole " : ""}number, got "${String(v)}"`);
  }
  return n;
}

/** The dataplane's memory bounds, shared by `agent` and `up`. */
export const DATAPLANE: Record<string, OptionSpec> = {
  pool: { type: "string", env: "NEXTMINI_POOL", help: "memory for packets held in queues and delay lines (packets beyond it drop as 'pool')", value: "SIZE", default: "1GB" },
  conversations: {
    type: "string",
    env: "NEXTMINI_CONVERSATIONS",
    help: "live conversations tracked at most; the least recently active is evicted",
    value: "N",
    default: String(DEFAULT_CONVERSATION_CAP),
  },
};

/** --pool and --conversations as the agent takes them. */
export function dataplaneFrom(values: Values): { poolBytes: number; conversationCap: number } {
  const pool = parseSize(str(values, "pool"));
  if (!pool.ok || pool.value < MIN_POOL_BYTES || pool.value > MAX_POOL_BYTES) {
    throw new UsageError(`--pool takes a size from 1MB to 64GB, like "256MB", got "${str(values, "pool")}"`);
  }
  const cap = numberFrom(values, "conversations", true) ?? DEFAULT_CONVERSATION_CAP;
  if (cap < 1 || cap > MAX_CONVERSATION_CAP) throw new UsageError(`--conversations takes 1 to ${MAX_CONVERSATION_CAP}, got ${cap}`);
  return { poolBytes: Math.floor(pool.value), conversationCap: cap };
}

const MIN_POOL_BYTES = 1e6;
const MAX_POOL_BYTES = 64e9;
const MAX_CONVERSATION_CAP = 10_000_000;

export function portFrom(values: Values, name: string): number {
  const v = str(values, name);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} must be a port from 0 to 65535, got "${v}"`);
  return n;
}
