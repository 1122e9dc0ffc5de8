/**
 * Builds dist/nextmini: one executable holding the CLI, the controller, the agent
 * and the dataplane worker (a second entrypoint, so the compiled binary can start
 * it from its embedded file system).
 */
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const proc = Bun.spawnSync(
  [process.execPath, "build", "--compile", "--minify-syntax", "main.ts", "agent/dataplane/worker.ts", "--outfile", "dist/nextmini"],
  { stdio: ["ignore", "inherit", "inherit"] },
);
if (proc.exitCode !== 0) {
  console.error("build failed");
  process.exit(proc.exitCode ?? 1);
}
console.log("built dist/nextmini");
