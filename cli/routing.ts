/**
 * `nextmini routes`, `nextmini pins` and `nextmini link`: route sets and
 * their weights, policy pins, and link state, changed while traffic runs.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { createClient } from "./client.ts";
import { printList } from "./list.ts";
import { CLIENT, COMMON, OUTPUT, type CommandSpec, numberFrom, str, UsageError, type Values } from "./options.ts";

/** A JSON or YAML file's content (the API validates it). */
function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (e) {
    throw new UsageError(`${file} is not YAML or JSON: ${(e as Error).message}`);
  }
}

export const routes = {
  spec: {
    name: "routes",
    usage: "routes [ls | set FILE | weight ID W] [options]",
    summary: "List the explicit routes (route sets by source and destination), replace them, or change a route's weight live.",
    description: [
      "ls                 the route table (routes with the same ends form the pair's route set)",
      "set FILE           replace the table with FILE's list ([{id, path | edges, weight}], YAML or JSON)",
      "weight ID W        give route ID the weight W; its pair's new flows share the set by the new weights",
    ].join("\n"),
    options: { ...OUTPUT, ...CLIENT, ...COMMON },
    examples: ["nextmini routes", "nextmini routes set routes.yaml", "nextmini routes weight via-s2 3"],
  } satisfies CommandSpec,
  async main(values: Values, positionals: string[]): Promise<number> {
    const ns = str(values, "namespace");
    const [action = "ls", id, w] = positionals;
    if (action === "ls") {
      await printList(values, `/namespaces/${ns}/routes`);
    } else if (action === "set") {
      if (!id) throw new UsageError("routes set needs a file: nextmini routes set FILE");
      await createClient(values).json("PUT", `/namespaces/${ns}/routes`, readDocument(id));
      await printList(values, `/namespaces/${ns}/routes`);
    } else if (action === "weight") {
      const weight = numberFrom({ weight: w }, "weight");
      if (!id || weight === undefined) throw new UsageError("routes weight needs a route id and a weight: nextmini routes weight ID W");
      await createClient(values).json("PATCH", `/namespaces/${ns}/routes/${encodeURIComponent(id)}`, { weight });
      await printList(values, `/namespaces/${ns}/routes`);
    } else {
      throw new UsageError(`unknown action "${action}": ls, set or weight`);
    }
    return 0;
  },
};

export const pins = {
  spec: {
    name: "pins",
    usage: "pins [ls | set FILE | clear] [options]",
    summary: "List or replace the policy pins that send matching flows on a named route (first match wins).",
    description: [
      "ls                 the pins in order",
      "set FILE           replace them with FILE's list ([{src?, dst?, proto?, srcPort?, dstPort?, route}], YAML or JSON)",
      "clear              remove every pin",
    ].join("\n"),
    options: { ...OUTPUT, ...CLIENT, ...COMMON },
    examples: ["nextmini pins", "nextmini pins set pins.yaml", "nextmini pins clear"],
  } satisfies CommandSpec,
  async main(values: Values, positionals: string[]): Promise<number> {
    const ns = str(values, "namespace");
    const [action = "ls", file] = positionals;
    if (action === "set" || action === "clear") {
      if (action === "set" && !file) throw new UsageError("pins set needs a file: nextmini pins set FILE");
      await createClient(values).json("PUT", `/namespaces/${ns}/pins`, action === "clear" ? [] : readDocument(file));
    } else if (action !== "ls") {
      throw new UsageError(`unknown action "${action}": ls, set or clear`);
    }
    await printList(values, `/namespaces/${ns}/pins`);
    return 0;
  },
};

export const link = {
  spec: {
    name: "link",
    usage: "link down|up ID [options]",
    summary: "Take a link down (it drops everything and routing avoids it) or bring it back up, while traffic runs.",
    options: { ...CLIENT, ...COMMON },
    examples: ["nextmini link down s1:h2", "nextmini link up s1:h2"],
  } satisfies CommandSpec,
  async main(values: Values, positionals: string[]): Promise<number> {
    const [state, id] = positionals;
    if ((state !== "down" && state !== "up") || !id) throw new UsageError("usage: nextmini link down|up ID");
    await createClient(values).json("PATCH", `/namespaces/${str(values, "namespace")}/links/${encodeURIComponent(id)}`, { state });
    console.log(`link ${id} is ${state}`);
    return 0;
  },
};
