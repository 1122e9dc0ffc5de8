/**
 * Bun's file loader: `import path from "./x.wasm" with { type: "file" }`
 * gives the file's path, on disk when run from source and inside the
 * binary's embedded file system (/$bunfs/...) when compiled.
 */
declare module "*.wasm" {
  const path: string;
  export default path;
}
