/** Process lifecycle helpers shared by the long-running commands: signals, pid files, token banners. */
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { alive } from "../agent/sys/run.ts";

export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(sig);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

export function tokenBanner(apiToken: string, joinToken: string, stateDir: string): string {
  return (
    [
      "",
      "Tokens created (shown once; also stored, mode 0600, in the state dir):",
      `  API token:   ${apiToken}     (${path.join(stateDir, "token")})`,
      `  join token:  ${joinToken}     (${path.join(stateDir, "join-token")})`,
      "",
    ].join("\n")
  );
}

export function printTokens(apiToken: string, joinToken: string, stateDir: string): void {
  console.error(tokenBanner(apiToken, joinToken, stateDir));
}

export function pidFile(stateDir: string): string {
  return path.join(stateDir, "up.pid");
}

export function readPid(stateDir: string): number | undefined {
  const file = pidFile(stateDir);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return alive(pid) ? pid : undefined;
}

export function writePid(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(pidFile(stateDir), `${process.pid}\n`);
}

export function removePid(stateDir: string): void {
  rmSync(pidFile(stateDir), { force: true });
}

export { alive };

/** The argv that starts this same program again (the compiled binary, or bun with the entry script). */
export function selfArgv(): string[] {
  return Bun.main.includes("$bunfs") ? [process.execPath] : [process.execPath, Bun.main];
}
