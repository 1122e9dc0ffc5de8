/**
 * @module
 * The controller's two secrets, kept as files in its state dir: `token` (the
 * API bearer token for the CLI and curl) and `join-token` (what agents present
 * in their hello). Each is 32 random bytes in hex, created once with mode 0600
 * in a 0700 dir; a user may also write their own value into either file.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const API_TOKEN_FILE = "token";
export const JOIN_TOKEN_FILE = "join-token";

export type Tokens = {
  apiToken: string;
  joinToken: string;
  /** true when either file was written just now, so the caller prints the tokens once */
  created: boolean;
};

/** Reads both tokens from `stateDir`, creating the dir and any missing token. */
export function loadOrCreateTokens(stateDir: string): Tokens {
  if (!existsSync(stateDir)) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; the dir holds secrets, so force it
    chmodSync(stateDir, 0o700);
  }
  const api = loadOrCreate(join(stateDir, API_TOKEN_FILE));
  const agents = loadOrCreate(join(stateDir, JOIN_TOKEN_FILE));
  return { apiToken: api.token, joinToken: agents.token, created: api.created || agents.created };
}

function loadOrCreate(path: string): { token: string; created: boolean } {
  if (existsSync(path)) {
    const token = readFileSync(path, "utf8").trim();
    if (token === "") throw new Error(`${path} is empty; delete it to have a new token generated`);
    return { token, created: false };
  }
  const token = randomBytes(32).toString("hex");
  // "wx" fails instead of overwriting if another process created it meanwhile
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return { token, created: true };
}

/**
 * Compares a presented secret with the expected one in time independent of
 * where they differ. Hashing first gives equal-length inputs, which
 * timingSafeEqual needs, without leaking the expected length.
 */
export function constantTimeEqual(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
