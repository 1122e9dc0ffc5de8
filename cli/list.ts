/** `nextmini nodes|links`: listings from the API, printed like `kubectl get` (and printList, which `hosts` and others use). */
import { CLIENT, COMMON, OUTPUT, type CommandSpec, type Values, str } from "./options.ts";
import { createClient } from "./client.ts";

/** Prints an API listing in -o's format with --columns, as the server renders it. */
export async function printList(values: Values, path: string): Promise<void> {
  const params = new URLSearchParams({ format: str(values, "output") });
  if (typeof values.columns === "string") params.set("columns", values.columns);
  const text = await createClient(values).text(`${path}${path.includes("?") ? "&" : "?"}${params}`);
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

function listing(name: string, summary: string, pathOf: (ns: string) => string): { spec: CommandSpec; main: (v: Values) => Promise<number> } {
  return {
    spec: { name, usage: `${name} [options]`, summary, options: { ...OUTPUT, ...CLIENT, ...COMMON } },
    async main(values: Values): Promise<number> {
      await printList(values, pathOf(str(values, "namespace")));
      return 0;
    },
  };
}

export const nodes = listing("nodes", "List the nodes of a namespace with their host, kind, state and address.", (ns) => `/namespaces/${ns}/nodes`);
export const links = listing("links", "List the links of a namespace with their shaping in each direction.", (ns) => `/namespaces/${ns}/links`);
