/**
 * @module
 * The namespace logic: desired state changes, each validated in full before
 * anything is written, then committed to the store, then pushed to every
 * agent whose hosts the change touches. `default` always exists. Next-hop
 * tables are derived (controller/routing.ts) and cached per namespace until
 * the next change. Handlers in routes/ parse requests and call in here.
 */
import type { LinkCreate, LinkPatch, NamespaceCreate, NamespaceHostsChange, NamespacePatch, RouteInput, ShapingInput } from "../protocol/api.ts";
import type { Pin } from "../protocol/pins.ts";
import { namesOf } from "./name-lists.ts";
import type { FlowRequest } from "../protocol/flow.ts";
import { ApiError } from "../protocol/errors.ts";
import {
  DEFAULT_SHAPING,
  layerShaping,
  type LinkSpec,
  type NamespaceState,
  type NextHops,
  type NodeSpec,
  type RouteSpec,
  type Shaping,
} from "../protocol/state.ts";
import { DEFAULT_SUBNET, TopologyError, type TopologyDocument } from "../protocol/topology.ts";
import { type ResolvedTopology, resolveTopology } from "../protocol/topology-resolve.ts";
import { computeNextHops, validateRoutes } from "./routing.ts";
import { dagRoute, ecmpPaths, linkUp, MAX_ECMP_HOPS, routeEnds, routeHops } from "../protocol/paths.ts";
import { schedulerHosts } from "./scheduling-facts.ts";
import { DEFAULT_SETTINGS, type NamespaceRecord, type Store } from "./store.ts";
import { placeDocumentNodes } from "./topology-placement.ts";
import { captureSpecs, stopOrphanedCaptures } from "./captures.ts";
import { flowSpecs } from "./flow-specs.ts";

export const DEFAULT_NAMESPACE = "default";

/** What namespace logic needs from the agent hub. */
export interface AgentPort {
  /** hosts that can take new nodes */
  upHosts(): string[];
  /** send the host its whole desired state; false when it is not connected */
  pushState(host: string): boolean;
}

export type NamespacesOptions = {
  store: Store;
  agents: AgentPort;
  log?: (line: string) => void;
  /** why the namespace cannot be deleted now (its scheduler runs), or undefined */
  busy?: (namespace: string) => string | undefined;
  /** a namespace changed (which parts: nodes, links, routes, pins, settings, flows, captures), or was deleted */
  onChange?: (namespace: string, changed: string[], deleted: boolean) => void;
};

const WATCHED_PARTS = ["nodes", "links", "routes", "pins", "settings", "flows", "captures"] as const;

export type ApplyResult = { record: NamespaceRecord; added: string[]; removed: string[]; kept: string[]; flows: FlowRequest[] };

export class Namespaces {
  readonly #store: Store;
  readonly #agents: AgentPort;
  readonly #log: (line: string) => void;
  readonly #hops = new Map<string, NextHops>();
  readonly #busy: (namespace: string) => string | undefined;
  readonly #onChange: NonNullable<NamespacesOptions["onChange"]>;

  constructor(opts: NamespacesOptions) {
    this.#onChange = opts.onChange ?? (() => {});
    this.#store = opts.store;
    this.#busy = opts.busy ?? (() => undefined);
    this.#agents = opts.agents;
    this.#log = opts.log ?? (() => {});
    if (!this.#store.getNamespace(DEFAULT_NAMESPACE)) this.#store.putNamespace(emptyNamespace(DEFAULT_NAMESPACE));
  }

  list(): NamespaceRecord[] {
    return this.#store.listNamespaces();
  }

  find(name: string): NamespaceRecord | undefined {
    return this.#store.getNamespace(name);
  }

  /** The namespace, or a 404 naming it. */
  get(name: string): NamespaceRecord {
    const ns = this.#store.getNamespace(name);
    if (!ns) {
      const known = this.#store.listNamespaces().map((n) => n.name);
      throw new ApiError(404, "namespace_not_found", `no namespace named "${name}"`, { namespaces: known });
    }
    return ns;
  }

  /** The hosts the namespace's nodes may be placed on now: its pool, or every connected host. */
  hostsOf(ns: NamespaceRecord): string[] {
    return ns.hosts ?? [...this.#agents.upHosts()].sort();
  }

  /** A new, empty namespace holding the given hosts (every connected one by default). */
  create(input: NamespaceCreate): NamespaceRecord {
    if (this.find(input.name)) {
      throw new ApiError(409, "namespace_exists", `namespace "${input.name}" already exists`, { name: input.name });
    }
    const hosts = (input.hosts === undefined ? this.#connected("all", "hosts") : this.#connected(input.hosts, "hosts")).sort();
    const record: NamespaceRecord = {
      ...emptyNamespace(input.name),
      ...(input.subnet === undefined ? {} : { subnet: input.subnet }),
      hosts,
    };
    record.settings = {
      ...record.settings,
      ...(input.queueing === undefined ? {} : { queueing: input.queueing }),
      ...(input.load === undefined ? {} : { load: input.load }),
      ...(input.transport === undefined ? {} : { transport: input.transport }),
      ...(input.paths === undefined ? {} : { paths: input.paths }),
    };
    this.#store.putNamespace(record);
    return record;
  }

  /** Changes settings: queueing and load no agent sees; paths re-routes at once. */
  update(name: string, patch: NamespacePatch): NamespaceRecord {
    const ns = this.get(name);
    const record: NamespaceRecord = { ...ns, settings: { ...ns.settings, ...patch } };
    if (patch.paths !== undefined && patch.paths !== ns.settings.paths) this.#commit(ns, record);
    else this.#store.putNamespace(record);
    return record;
  }

  /**
   * Removes the namespace and, through its hosts' agents, everything it has on
   * them; other namespaces are untouched. `default` comes back empty.
   */
  delete(name: string): NamespaceRecord {
    const ns = this.get(name);
    const busy = this.#busy(name);
    if (busy !== undefined) throw new ApiError(409, "namespace_busy", `namespace "${name}" cannot be deleted now: ${busy}`);
    this.#store.deleteNamespace(name);
    this.#hops.delete(name);
    this.#onChange(name, [], true);
    for (const host of [...new Set(ns.nodes.map((n) => n.host))].sort()) {
      if (host !== "" && !this.#agents.pushState(host)) this.#log(`host ${host} is not connected; it drops namespace ${name} when it joins`);
    }
    if (name === DEFAULT_NAMESPACE) this.#store.putNamespace(emptyNamespace(DEFAULT_NAMESPACE));
    return ns;
  }

  /** Adds connected hosts to the pool and removes hosts that hold none of its nodes. */
  changeHosts(name: string, change: NamespaceHostsChange): NamespaceRecord {
    const ns = this.get(name);
    const pool = new Set(this.hostsOf(ns));
    if (change.add !== undefined) for (const h of this.#connected(change.add, "add")) pool.add(h);
    if (change.remove !== undefined) {
      const remove = change.remove === "all" ? [...pool] : namesOf(change.remove, "remove");
      const issues = remove.filter((h) => !pool.has(h)).map((h) => `remove: host "${h}" is not in namespace "${name}"`);
      if (issues.length > 0) throw invalid("invalid_request", "the host change is invalid", issues);
      for (const h of remove) {
        const held = ns.nodes.filter((n) => n.host === h).map((n) => n.name);
        if (held.length > 0) {
          throw new ApiError(409, "host_in_use", `host ${h} holds nodes ${summarize(held)} of namespace "${name}"; remove them before the host`, {
            host: h,
            nodes: held,
          });
        }
        pool.delete(h);
      }
    }
    const record: NamespaceRecord = { ...ns, hosts: [...pool].sort() };
    this.#store.putNamespace(record);
    return record;
  }

  /** Names in `expr` (`all` = every connected host), each of which must be connected. */
  #connected(expr: string, field: string): string[] {
    const up = [...this.#agents.upHosts()].sort();
    if (expr === "all") return up;
    const names = namesOf(expr, field);
    const issues = names.filter((h) => !up.includes(h)).map((h) => `${field}: host "${h}" is not connected (connected: ${up.join(", ") || "none"})`);
    if (issues.length > 0) throw invalid("invalid_request", "the hosts are invalid", issues);
    return names;
  }

  /** A node of a namespace, or a 404 naming it. */
  node(namespace: string, name: string): NodeSpec {
    const node = this.get(namespace).nodes.find((n) => n.name === name);
    if (!node) throw new ApiError(404, "node_not_found", `no node named "${name}" in namespace "${namespace}"`);
    return node;
  }

  nextHops(namespace: string): NextHops {
    let hops = this.#hops.get(namespace);
    if (!hops) {
      const ns = this.get(namespace);
      // a link that is down is absent to routing
      hops = computeNextHops(ns.nodes, ns.links.filter(linkUp));
      this.#hops.set(namespace, hops);
    }
    return hops;
  }

  /** What an agent realizes: every namespace with a node on `host`, whole. */
  stateFor(host: string): NamespaceState[] {
    return this.#store
      .listNamespaces()
      .filter((ns) => ns.nodes.some((n) => n.host === host))
      .map((ns) => ({
        name: ns.name,
        subnet: ns.subnet,
        transport: ns.settings.transport,
        hostTransports: ns.settings.hostTransports,
        nodes: ns.nodes,
        links: ns.links,
        routes: ns.routes,
        nextHops: this.nextHops(ns.name),
        captures: captureSpecs(ns, host),
        flows: flowSpecs(ns, this.nextHops(ns.name)),
        paths: ns.settings.paths,
        pins: ns.pins,
      }));
  }

  /** Resolves a topology document against the namespace as it is, then applies it. */
  applyDocument(name: string, doc: TopologyDocument): ApplyResult {
    const current = this.find(name);
    let resolved: ResolvedTopology;
    try {
      resolved = resolveTopology(doc, { subnet: current?.subnet, existing: current?.nodes });
    } catch (e) {
      if (e instanceof TopologyError) throw invalid("invalid_topology", "the topology is invalid", e.issues);
      throw e;
    }
    return this.applyTopology(name, resolved);
  }

  /**
   * Replaces the namespace's nodes, links and routes (creating the namespace if
   * needed). Nodes that keep their name keep index, address and host; new ones
   * (and ones the document moves) are placed on up hosts.
   */
  applyTopology(name: string, topo: ResolvedTopology): ApplyResult {
    const before = this.find(name);
    const old = new Map((before?.nodes ?? []).map((n) => [n.name, n]));
    const issues = [
      ...checkLinks(topo.nodes, topo.links),
      ...routeIssues(topo.routes, topo).map((i) => `routes${i}`),
      ...(topo.pins === undefined ? [] : pinIssues(topo.pins, topo, name).map((i) => `pins${i}`)),
    ];
    if (issues.length > 0) throw invalid("invalid_topology", "the topology is invalid", issues);

    const placed = placeDocumentNodes({
      namespace: name,
      topo,
      before,
      others: this.list().filter((ns) => ns.name !== name),
      hosts: schedulerHosts(before?.hosts, this.#store.listHosts(), this.#agents.upHosts()),
      load: (before?.settings ?? DEFAULT_SETTINGS).load,
    });
    const nodes: NodeSpec[] = topo.nodes.map((n) => ({ ...n, host: placed.get(n.name) ?? "" }));
    const record: NamespaceRecord = {
      ...(before ?? emptyNamespace(name)),
      subnet: topo.subnet,
      settings: {
        ...(before?.settings ?? DEFAULT_SETTINGS),
        ...(topo.transport ? { transport: topo.transport } : {}),
        ...(topo.hostTransports ? { hostTransports: topo.hostTransports } : {}),
        ...(topo.paths ? { paths: topo.paths } : {}),
      },
      nodes,
      links: topo.links,
      routes: topo.routes,
      pins: topo.pins ?? before?.pins ?? [],
    };
    this.#commit(before, record);
    const names = new Set(nodes.map((n) => n.name));
    return {
      record,
      added: nodes.filter((n) => !old.has(n.name)).map((n) => n.name),
      removed: [...old.keys()].filter((n) => !names.has(n)),
      kept: nodes.filter((n) => old.has(n.name)).map((n) => n.name),
      flows: topo.flows,
    };
  }

  /** Adds one link; symmetric fields apply both ways, `ab`/`ba` on top. */
  addLink(namespace: string, input: LinkCreate): LinkSpec {
    const ns = this.get(namespace);
    const issues: string[] = [];
    for (const end of ["a", "b"] as const) {
      if (!ns.nodes.some((n) => n.name === input[end])) {
        issues.push(`${end}: no node named "${input[end]}" in namespace "${namespace}"`);
      }
    }
    if (input.a === input.b) issues.push("b: a link cannot connect a node to itself");
    if (issues.length > 0) throw invalid("invalid_request", "the link is invalid", issues);
    const same = ns.links.find((l) => (l.a === input.a && l.b === input.b) || (l.a === input.b && l.b === input.a));
    if (same) {
      throw new ApiError(409, "link_exists", `${input.a} and ${input.b} are already linked by "${same.id}"; PATCH it instead`, {
        id: same.id,
      });
    }
    const id = input.id ?? `${input.a}:${input.b}`;
    if (ns.links.some((l) => l.id === id)) {
      throw new ApiError(409, "link_exists", `a link with id "${id}" already exists; give another id`, { id });
    }
    const both = layerShaping(DEFAULT_SHAPING, input);
    const link: LinkSpec = { id, a: input.a, b: input.b, ab: layerShaping(both, input.ab), ba: layerShaping(both, input.ba) };
    this.#commit(ns, { ...ns, links: [...ns.links, link] });
    return link;
  }

  /**
   * Changes shaping of a link: symmetric fields change both directions, `ab`/`ba` one;
   * `state` takes it down (routing treats it as absent) or up.
   */
  patchLink(namespace: string, id: string, patch: LinkPatch): LinkSpec {
    const ns = this.get(namespace);
    const link = findLink(ns, id);
    const { state, ...shaping } = patch;
    const updated: LinkSpec = {
      ...link,
      ab: layerShaping(layerShaping(link.ab, shaping), shaping.ab),
      ba: layerShaping(layerShaping(link.ba, shaping), shaping.ba),
    };
    // absent means up, so a link that never went down keeps its stored shape
    if (state === "down") updated.state = "down";
    else if (state === "up") delete updated.state;
    this.#commit(ns, { ...ns, links: ns.links.map((l) => (l.id === id ? updated : l)) });
    return updated;
  }

  /** Removes a link no route uses. */
  deleteLink(namespace: string, id: string): LinkSpec {
    const ns = this.get(namespace);
    const link = findLink(ns, id);
    const users = ns.routes.filter((r) => routeHops(r).some(([x, y]) => joins(link, x, y)));
    if (users.length > 0) {
      const ids = users.map((r) => r.id);
      throw new ApiError(
        409,
        "link_in_use",
        `link "${id}" carries routes ${ids.join(", ")}; replace the routes (PUT /routes) before removing it`,
        { routes: ids },
      );
    }
    this.#commit(ns, { ...ns, links: ns.links.filter((l) => l.id !== id) });
    return link;
  }

  /**
   * Replaces the route table; every hop of every path must follow a link.
   * Routes with the same ends form the pair's route set; `edges` give a DAG.
   */
  replaceRoutes(namespace: string, input: readonly RouteInput[]): RouteSpec[] {
    const ns = this.get(namespace);
    const issues: string[] = [];
    const routes: RouteSpec[] = input.map((r, i) => {
      // ids by position, as in topology documents, so a table that names no route is reproducible
      const id = r.id ?? `r${i + 1}`;
      const weight = r.weight ?? 1;
      if (r.path !== undefined) return { id, path: r.path, weight };
      return dagRoute(id, weight, r.edges ?? [], `[${i}].edges`, issues);
    });
    if (issues.length === 0) issues.push(...routeIssues(routes, ns));
    if (issues.length > 0) throw invalid("invalid_request", "the routes are invalid", issues);
    this.#commit(ns, { ...ns, routes });
    return routes;
  }

  /** A route's new weight: its pair's flows share the set by the new weights from their next choice on. */
  patchRoute(namespace: string, id: string, weight: number): RouteSpec {
    const ns = this.get(namespace);
    const route = ns.routes.find((r) => r.id === id);
    if (!route) {
      throw new ApiError(404, "route_not_found", `no route with id "${id}" in namespace "${namespace}"`, { routes: ns.routes.map((r) => r.id) });
    }
    const updated = { ...route, weight };
    this.#commit(ns, { ...ns, routes: ns.routes.map((r) => (r.id === id ? updated : r)) });
    return updated;
  }

  /** Replaces the pins: each names a route of the namespace, between its src and dst when given. */
  replacePins(namespace: string, pins: readonly Pin[]): Pin[] {
    const ns = this.get(namespace);
    const issues = pinIssues(pins, ns, namespace);
    if (issues.length > 0) throw invalid("invalid_request", "the pins are invalid", issues);
    const stored = pins.map((p) => ({ ...p }));
    this.#commit(ns, { ...ns, pins: stored });
    return stored;
  }

  /**
   * Stores a whole new version of an existing namespace and pushes it to the
   * hosts it touches; for logic kept in other files (scheduling, lifecycle)
   * that validated the change itself.
   */
  replace(after: NamespaceRecord): void {
    this.#commit(this.get(after.name), after);
  }

  #commit(before: NamespaceRecord | undefined, changed: NamespaceRecord): void {
    if (changed.settings.paths === "ecmp") {
      // every agent compiles the equal-cost paths of every pair: bounded here, where it can be refused
      const { exceeded } = ecmpPaths(changed.nodes.map((n) => n.name), changed.links, MAX_ECMP_HOPS);
      if (exceeded) {
        throw new ApiError(422, "too_many_paths", `paths: ecmp would give namespace "${changed.name}" more than ${MAX_ECMP_HOPS} hops of equal-cost paths; use shortest or explicit routes`, {
          field: "paths",
          bound: MAX_ECMP_HOPS,
        });
      }
    }
    const after = stopOrphanedCaptures(changed, Date.now());
    this.#store.putNamespace(after);
    this.#hops.delete(after.name);
    const parts = WATCHED_PARTS.filter((k) => before === undefined || JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (parts.length > 0) this.#onChange(after.name, parts, false);
    // hosts that lost their last node of this namespace need the state without it
    const hosts = new Set([...(before?.nodes ?? []), ...after.nodes].map((n) => n.host));
    for (const host of [...hosts].sort()) {
      if (host !== "" && !this.#agents.pushState(host)) this.#log(`host ${host} is not connected; it gets namespace ${after.name} when it joins`);
    }
  }
}

export function emptyNamespace(name: string): NamespaceRecord {
  return {
    name,
    subnet: DEFAULT_SUBNET,
    settings: { ...DEFAULT_SETTINGS },
    nodes: [],
    links: [],
    routes: [],
    pins: [],
    queue: [],
    nextNode: 1,
    runs: [],
    captures: [],
    nextCapture: 1,
    flows: [],
    nextFlow: 1,
  };
}

function invalid(code: string, what: string, issues: string[]): ApiError {
  return new ApiError(422, code, `${what}: ${issues.join("; ")}`, { issues });
}

function findLink(ns: NamespaceRecord, id: string): LinkSpec {
  const link = ns.links.find((l) => l.id === id);
  if (!link) throw new ApiError(404, "link_not_found", `no link with id "${id}" in namespace "${ns.name}"`);
  return link;
}

function joins(link: LinkSpec, x: string, y: string): boolean {
  return (link.a === x && link.b === y) || (link.a === y && link.b === x);
}

/** Links of a resolved topology must join two distinct known nodes, at most once per pair and id. */
function checkLinks(nodes: readonly { name: string }[], links: readonly LinkSpec[]): string[] {
  const issues: string[] = [];
  const known = new Set(nodes.map((n) => n.name));
  const ids = new Set<string>();
  const pairs = new Set<string>();
  links.forEach((l, i) => {
    for (const end of ["a", "b"] as const) if (!known.has(l[end])) issues.push(`links[${i}].${end}: unknown node "${l[end]}"`);
    if (ids.has(l.id)) issues.push(`links[${i}].id: duplicate link id "${l.id}"`);
    const pair = l.a < l.b ? `${l.a}\n${l.b}` : `${l.b}\n${l.a}`;
    if (pairs.has(pair)) issues.push(`links[${i}]: duplicate link between ${l.a} and ${l.b}`);
    ids.add(l.id);
    pairs.add(pair);
  });
  return issues;
}

/** Problems of pins against the namespace's nodes and routes: each names a route, between its src and dst when given. */
function pinIssues(pins: readonly Pin[], ns: { nodes: readonly { name: string }[]; routes: readonly RouteSpec[] }, namespace: string): string[] {
  const issues: string[] = [];
  const nodes = new Set(ns.nodes.map((n) => n.name));
  pins.forEach((p, i) => {
    for (const end of ["src", "dst"] as const) {
      const name = p[end];
      if (name !== undefined && !nodes.has(name)) issues.push(`[${i}].${end}: no node named "${name}" in namespace "${namespace}"`);
    }
    const route = ns.routes.find((r) => r.id === p.route);
    if (!route) {
      issues.push(`[${i}].route: no route with id "${p.route}" (routes: ${ns.routes.map((r) => r.id).join(", ") || "none"})`);
      return;
    }
    const [src, dst] = routeEnds(route);
    if ((p.src !== undefined && p.src !== src) || (p.dst !== undefined && p.dst !== dst)) {
      issues.push(`[${i}].route: route "${p.route}" goes from ${src} to ${dst}, not from ${p.src ?? src} to ${p.dst ?? dst}`);
    }
  });
  return issues;
}

/** Problems of a route table against the namespace: every path along links between known nodes, ids unique. */
function routeIssues(routes: readonly RouteSpec[], ns: { nodes: readonly { name: string }[]; links: readonly LinkSpec[] }): string[] {
  return validateRoutes(routes, ns.links, ns.nodes.map((n) => n.name));
}

function summarize(names: readonly string[]): string {
  return names.length <= 5 ? names.join(", ") : `${names.slice(0, 5).join(", ")} and ${names.length - 5} more`;
}
