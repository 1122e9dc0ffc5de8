/** Token files: created once with tight modes, reused afterwards. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constantTimeEqual, loadOrCreateTokens } from "./tokens.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("creates both tokens once, 0600 files in a 0700 dir", () => {
  const parent = mkdtempSync(join(tmpdir(), "nextmini-tokens-"));
  dirs.push(parent);
  const dir = join(parent, "state");
  const first = loadOrCreateTokens(dir);
  expect(first.created).toBe(true);
  expect(first.apiToken).toMatch(/^[0-9a-f]{64}$/);
  expect(first.joinToken).toMatch(/^[0-9a-f]{64}$/);
  expect(first.apiToken).not.toBe(first.joinToken);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(statSync(join(dir, "token")).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "join-token")).mode & 0o777).toBe(0o600);

  const second = loadOrCreateTokens(dir);
  expect(second).toEqual({ ...first, created: false });
});

test("keeps a token the user wrote and rejects an empty file", () => {
  const dir = mkdtempSync(join(tmpdir(), "nextmini-tokens-"));
  dirs.push(dir);
  writeFileSync(join(dir, "token"), "my-own-token\n");
  const t = loadOrCreateTokens(dir);
  expect(t.apiToken).toBe("my-own-token");
  expect(t.created).toBe(true); // the join token was missing
  writeFileSync(join(dir, "join-token"), "  \n");
  expect(() => loadOrCreateTokens(dir)).toThrow(/join-token is empty/);
});

test("constantTimeEqual", () => {
  expect(constantTimeEqual("abc", "abc")).toBe(true);
  expect(constantTimeEqual("abc", "abd")).toBe(false);
  expect(constantTimeEqual("", "abc")).toBe(false);
});
