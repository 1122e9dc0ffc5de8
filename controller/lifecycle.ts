/**
 * @module
 * Node lifecycle: start, stop and kill set what the controller wants of each
 * node (agents then build it, or stop its programs and tear it down, keeping
 * its address and links for a later start); removal takes stopped or failed
 * nodes out of the namespace with their links and the routes through them.
 * Targets are a name, a range (`a[0-3]`) or `all`.
 */
import { routeNodes } from "../protocol/paths.ts";
import { z } from "zod";
import { ApiError } from "../protocol/errors.ts";
import { namesOf } from "./name-lists.ts";
import type { DesiredState, NodeState } from "../protocol/state.ts";
import type { Namespaces } from "./namespaces.ts";
import type { NamespaceRecord } from "./store.ts";

export const LifecycleAction = z.enum(["start", "stop", "kill"]);
export type LifecycleAction = z.infer<typeof LifecycleAction>;

const DESIRED: Record<LifecycleAction, DesiredState> = { start: "running", stop: "stopped", kill: "killed" };

/** States a node may be removed in: nothing of it runs, or it never came up. */
const REMOVABLE: readonly NodeState[] = ["stopped", "error", "lost"];

/** The namespace's nodes `target` names, in namespace order; names it does not have are a 404 naming them. */
export function targetNodes(ns: NamespaceRecord, target: string): string[] {
  if (target === "all") return ns.nodes.map((n) => n.name);
  const names = namesOf(target, "target");
  const have = new Set(ns.nodes.map((n) => n.name));
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0) {
    throw new ApiError(404, "node_not_found", `no node named ${missing.map((n) => `"${n}"`).join(", ")} in namespace "${ns.name}"`, { nodes: missing });
  }
  const wanted = new Set(names);
  return ns.nodes.filter((n) => wanted.has(n.name)).map((n) => n.name);
}

/** Sets the desired state of the target nodes; only this namespace's nodes change. */
export function applyLifecycle(namespaces: Namespaces, namespace: string, target: string, action: LifecycleAction): string[] {
  const ns = namespaces.get(namespace);
  const names = new Set(targetNodes(ns, target));
  const desired = DESIRED[action];
  namespaces.replace({
    ...ns,
    nodes: ns.nodes.map((n) => {
      if (!names.has(n.name)) return n;
      // absent means running, so records stay as they were for nodes never stopped
      const { desired: _, ...rest } = n;
      return desired === "running" ? rest : { ...rest, desired };
    }),
  });
  return [...names];
}

export type Removed = { nodes: string[]; links: string[]; routes: string[] };

/**
 * Removes stopped or failed nodes, the links that end at them and the routes
 * through them. `observe` says what a node's agent reports.
 */
export function removeNodes(namespaces: Namespaces, namespace: string, target: string, observe: (host: string, node: string) => NodeState): Removed {
  const ns = namespaces.get(namespace);
  const names = new Set(targetNodes(ns, target));
  const busy = ns.nodes
    .filter((n) => names.has(n.name))
    .map((n) => ({ name: n.name, state: observe(n.host, n.name) }))
    .filter((n) => !REMOVABLE.includes(n.state));
  if (busy.length > 0) {
    const list = busy.map((n) => `${n.name} is ${n.state}`).join(", ");
    throw new ApiError(409, "node_not_stopped", `only stopped or failed nodes can be removed: ${list}; stop or kill them first`, {
      nodes: busy.map((n) => n.name),
    });
  }
  const links = ns.links.filter((l) => names.has(l.a) || names.has(l.b));
  const routes = ns.routes.filter((r) => routeNodes(r).some((n) => names.has(n)));
  namespaces.replace({
    ...ns,
    nodes: ns.nodes.filter((n) => !names.has(n.name)),
    links: ns.links.filter((l) => !links.includes(l)),
    routes: ns.routes.filter((r) => !routes.includes(r)),
  });
  return { nodes: [...names], links: links.map((l) => l.id), routes: routes.map((r) => r.id) };
}
