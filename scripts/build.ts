/**
 * Builds dist/nextmini: one executable holding the CLI, the controller, the
 * agent and the two worker threads (the dataplane and the QUIC transport),
 * each a further entrypoint so the compiled binary can start it from its
 * embedded file system at file:///$bunfs/root/<path from the repo root>.
 *
 * wasm/stack.ts (the WASM TCP stack) is an entrypoint too, for the module it
 * imports: `import path from "./lwip.wasm" with { type: "file" }` makes the
 * compiler embed wasm/lwip.wasm as /$bunfs/root/lwip-<hash>.wasm and hand
 * that path to the code. Once the dataplane imports the stack, the
 * entrypoint is redundant but harmless.
 *
 * The Bun.build API rather than the CLI, for one plugin: @matrixai/quic finds
 * its native addon (quiche) at run time through createRequire and computed
 * paths, which cannot resolve inside /$bunfs. The plugin replaces that loader
 * module with a static require of the linux-x64 addon, which the compiler then
 * embeds and extracts to a temporary file when it is first loaded.
 */
import type { BunPlugin } from "bun";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repo root: the bundle root, so entry paths inside the binary match the source tree. */
export const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");

export const ENTRYPOINTS = ["main.ts", "agent/dataplane/worker.ts", "agent/quic/worker.ts", "agent/probe/worker.ts", "wasm/stack.ts"];

export const embedQuiche: BunPlugin = {
  name: "embed-matrixai-quiche",
  setup(build) {
    build.onLoad({ filter: /[\\/]@matrixai[\\/]quic[\\/]dist[\\/]native[\\/]quiche\.js$/ }, () => ({
      loader: "js",
      contents:
        `if (process.platform !== "linux" || process.arch !== "x64") throw new Error("nextmini: the quic transport is built for linux-x64 only");\n` +
        `export default require("@matrixai/quic-linux-x64/node.napi.node");\n`,
    }));
  },
};

/** Compiles `entrypoints` (paths from the repo root; the first is the program) into the executable `outfile`. */
export async function compile(entrypoints: string[], outfile: string): Promise<void> {
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await Bun.build({
    entrypoints: entrypoints.map((e) => join(ROOT, e)),
    root: ROOT,
    compile: { outfile },
    minify: { syntax: true },
    plugins: [embedQuiche],
  });
  if (!result.success) {
    throw new Error(`build failed:\n${result.logs.map((l) => String(l)).join("\n")}`);
  }
}

if (import.meta.main) {
  try {
    await compile(ENTRYPOINTS, join(ROOT, "dist/nextmini"));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  console.log("built dist/nextmini");
}
