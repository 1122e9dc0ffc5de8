/**
 * Resolve: a parsed topology document in, the specs the controller stores out.
 * Expands generators and ranges, layers shaping defaults, numbers nodes and
 * gives them addresses, and checks every reference. All problems are collected
 * and thrown together as one TopologyError, so a user fixes a file in one pass.
 *
 * Shaping of a link direction, lowest layer first: DEFAULT_SHAPING, then
 * `defaults.link`, then the generator's `link` (a dumbbell's `bottleneck` on top
 * of that), then the link's own symmetric fields, then its `ab` or `ba`.
 */
import type { FlowRequest } from "./flow.ts";
import { checkDocumentFlows } from "./topology-flows.ts";
import { DEFAULT_SHAPING, layerShaping, type HostTransport, type NodePlacement, type PathMode, type Transport, type LinkSpec, type NodeKind, type NodeSpec, type RouteSpec, type Shaping } from "./state.ts";
import type { Pin } from "./pins.ts";
import { dagRoute } from "./paths.ts";
import { expandRange, NAME_PATTERN } from "./names.ts";
import {
  DEFAULT_MTU,
  DEFAULT_SUBNET,
  MAX_GENERATED_NODES,
  TopologyError,
  type ShapingOverrides,
  type TopologyDocument,
} from "./topology.ts";
import { generate, generatedNodeCount, type GeneratedLink } from "./topology-generate.ts";
import {
  broadcastOf,
  contains,
  formatCidr,
  formatIpv4,
  hostCapacity,
  isHostAddress,
  parseAddress,
  parseCidr,
  type Cidr,
} from "./ipv4.ts";

/** A node as resolved from a document: `host` is unset when the scheduler should place it. */
export type ResolvedNode = Omit<NodeSpec, "host"> & { host?: string };

export type ResolvedTopology = {
  name?: string;
  subnet: string;
  /** only when the document names one; the namespace keeps its own otherwise */
  transport?: Transport;
  /** likewise: only when the document has `transports:` */
  hostTransports?: HostTransport[];
  nodes: ResolvedNode[];
  links: LinkSpec[];
  routes: RouteSpec[];
  /** the document's flows, checked against its nodes and routes; started when it is applied */
  flows: FlowRequest[];
  /** only when the document names them; the namespace keeps its own otherwise */
  paths?: PathMode;
  pins?: Pin[];
};

export type ResolveOptions = {
  /** The namespace's subnet, used when the document sets none (else 10.0.0.0/16). */
  subnet?: string;
  /** Host for nodes that neither the document nor `existing` places. */
  defaultHost?: string;
  /**
   * The namespace's current nodes. A node of the same name keeps its index, its
   * address (unless the document sets `ip`) and its host (unless the document
   * sets `host`); the indices and addresses of the others are not handed out again.
   */
  existing?: readonly NodeSpec[];
  /** Put in front of every message, as parseTopologyText does. */
  fileName?: string;
};

type NodeDraft = {
  name: string;
  kind: NodeKind;
  mtu: number;
  host?: string;
  placement?: NodePlacement;
  command?: string[];
  /** where the node came from, for messages: "generate[0]", "nodes[2]" */
  origin: string;
  /** explicit `ip` and the path of the field, when the document sets one */
  ip?: { text: string; path: string };
};

type LinkDraft = { id: string; a: string; b: string; ab: Shaping; ba: Shaping; state?: "up" | "down" | undefined; origin: string };

export function resolveTopology(doc: TopologyDocument, opts: ResolveOptions = {}): ResolvedTopology {
  const issues: string[] = [];
  const subnetText = doc.subnet ?? opts.subnet ?? DEFAULT_SUBNET;
  const subnet = parseCidr(subnetText);
  if (subnet === undefined) issues.push(`subnet: expected a subnet like "10.0.0.0/16", got "${subnetText}"`);

  const defaults = doc.defaults ?? {};
  const defaultKind: NodeKind = defaults.kind ?? "netns";
  const defaultMtu = defaults.mtu ?? DEFAULT_MTU;
  const base = layerShaping(DEFAULT_SHAPING, defaults.link);

  // Nodes: generators first, then `nodes`, in document order.
  const nodes: NodeDraft[] = [];
  const firstSeen = new Map<string, string>();
  /** Adds the nodes of one entry; a range or generator clashing wholesale is one issue, not thousands. */
  const addNodes = (drafts: NodeDraft[], where: string): boolean => {
    const clashes: { name: string; seen: string }[] = [];
    for (const draft of drafts) {
      const seen = firstSeen.get(draft.name);
      if (seen !== undefined) {
        clashes.push({ name: draft.name, seen });
        continue;
      }
      firstSeen.set(draft.name, draft.origin);
      nodes.push(draft);
    }
    if (clashes.length === 0) return true;
    const more = clashes.length > 1 ? ` and ${clashes.length - 1} more` : "";
    issues.push(`${where}: duplicate name "${clashes[0].name}" (already made by ${clashes[0].seen})${more}`);
    return false;
  };

  const generatedLinks: { origin: string; link: GeneratedLink }[] = [];
  (doc.generate ?? []).forEach((gen, g) => {
    const origin = `generate[${g}]`;
    const size = generatedNodeCount(gen);
    if (size > MAX_GENERATED_NODES) {
      issues.push(`${origin}: ${gen.shape} of ${size} nodes is too large (at most ${MAX_GENERATED_NODES})`);
      return;
    }
    const out = generate(gen);
    const bad = out.nodes.find((n) => !NAME_PATTERN.test(n));
    if (bad !== undefined) {
      issues.push(`${origin}: made the name "${bad}", which is not a valid name (is the prefix too long?)`);
      return;
    }
    const drafts = out.nodes.map((name) => ({ name, kind: gen.kind ?? defaultKind, mtu: defaultMtu, origin }));
    // Its links would only repeat the clash as duplicate links.
    if (!addNodes(drafts, origin)) return;
    for (const link of out.links) generatedLinks.push({ origin, link });
  });

  (doc.nodes ?? []).forEach((entry, i) => {
    const origin = `nodes[${i}]`;
    const obj = typeof entry === "string" ? { name: entry } : entry;
    const where = typeof entry === "string" ? origin : `${origin}.name`;
    let names: string[];
    try {
      names = expandRange(obj.name);
    } catch (e) {
      issues.push(`${where}: ${(e as Error).message}`);
      return;
    }
    if (obj.ip !== undefined && names.length > 1) {
      issues.push(`${origin}.ip: one address cannot be given to a range of ${names.length} nodes`);
      return;
    }
    const drafts = names.map((name) => ({
      name,
      kind: obj.kind ?? defaultKind,
      mtu: obj.mtu ?? defaultMtu,
      host: obj.host,
      placement: placementOf(obj),
      ...(obj.command === undefined ? {} : { command: obj.command }),
      origin,
      ip: obj.ip === undefined ? undefined : { text: obj.ip, path: `${origin}.ip` },
    }));
    addNodes(drafts, where);
  });

  // Links: generated ones first, then `links`.
  const links: LinkDraft[] = [];
  const linkIds = new Map<string, string>();
  const pairs = new Map<string, string>();
  const addLink = (draft: LinkDraft, idPath: string, where: string) => {
    const pair = pairKey(draft.a, draft.b);
    const samePair = pairs.get(pair);
    if (samePair !== undefined) {
      issues.push(`${where}: duplicate link between ${draft.a} and ${draft.b} (first at ${samePair})`);
      return;
    }
    const sameId = linkIds.get(draft.id);
    if (sameId !== undefined) {
      issues.push(`${idPath}: duplicate link id "${draft.id}" (first at ${sameId})`);
      return;
    }
    pairs.set(pair, draft.origin);
    linkIds.set(draft.id, draft.origin);
    links.push(draft);
  };

  for (const { origin, link } of generatedLinks) {
    const s = layerShaping(base, link.shaping);
    addLink({ id: `${link.a}:${link.b}`, a: link.a, b: link.b, ab: s, ba: s, origin }, origin, origin);
  }

  (doc.links ?? []).forEach((link, i) => {
    const origin = `links[${i}]`;
    let ok = true;
    for (const end of ["a", "b"] as const) {
      if (!firstSeen.has(link[end])) {
        issues.push(`${origin}.${end}: unknown node "${link[end]}"`);
        ok = false;
      }
    }
    if (link.a === link.b) {
      issues.push(`${origin}: a link cannot connect a node to itself`);
      ok = false;
    }
    if (!ok) return;
    const both = layerShaping(base, link);
    addLink(
      { id: link.id ?? `${link.a}:${link.b}`, a: link.a, b: link.b, ab: layerShaping(both, link.ab), ba: layerShaping(both, link.ba), state: link.state, origin },
      link.id === undefined ? origin : `${origin}.id`,
      origin,
    );
  });

  const routes = resolveRoutes(doc, firstSeen, pairs, issues);
  checkHostTransports(doc.transports ?? [], issues);
  checkDocumentFlows(doc.flows ?? [], new Map(nodes.map((n) => [n.name, n.kind])), routes, issues);

  let placed: ResolvedNode[] = [];
  if (subnet !== undefined) {
    const room = hostCapacity(subnet);
    if (nodes.length > room) {
      issues.push(`subnet: ${formatCidr(subnet)} has room for ${room} nodes, the topology has ${nodes.length}`);
    } else {
      placed = placeNodes(nodes, subnet, opts, issues);
    }
  }
  if (issues.length > 0 || subnet === undefined) throw new TopologyError(issues, opts.fileName);

  return {
    ...(doc.name === undefined ? {} : { name: doc.name }),
    subnet: formatCidr(subnet),
    ...(doc.transport === undefined ? {} : { transport: doc.transport }),
    ...(doc.transports === undefined ? {} : { hostTransports: doc.transports }),
    nodes: placed,
    links: links.map(({ id, a, b, ab, ba, state }) => ({ id, a, b, ab, ba, ...(state === "down" ? { state } : {}) })),
    routes,
    flows: doc.flows ?? [],
    ...(doc.paths === undefined ? {} : { paths: doc.paths }),
    ...(doc.pins === undefined ? {} : { pins: doc.pins }),
  };
}

/**
 * Indices and addresses for nodes joining a namespace that already holds
 * `existing` (a launch): the same rules a topology document's new nodes
 * follow, so the two ways of adding nodes never hand out different
 * addresses. Throws a TopologyError when the subnet has no room left.
 */
export function addressNewNodes(
  names: readonly string[],
  subnetText: string,
  existing: readonly NodeSpec[],
): { name: string; index: number; ip: string }[] {
  const subnet = parseCidr(subnetText);
  if (subnet === undefined) throw new TopologyError([`subnet: expected a subnet like "10.0.0.0/16", got "${subnetText}"`]);
  const issues: string[] = [];
  const drafts = names.map((name) => ({ name, kind: "netns" as const, mtu: DEFAULT_MTU, origin: "launch" }));
  const placed = placeNodes(drafts, subnet, { existing }, issues);
  if (issues.length > 0) throw new TopologyError(issues);
  return placed.map((n) => ({ name: n.name, index: n.index, ip: n.ip }));
}

/** Each override names two different hosts, and no pair twice (which would leave the transport ambiguous). */
function checkHostTransports(overrides: readonly HostTransport[], issues: string[]): void {
  const seen = new Map<string, number>();
  overrides.forEach((o, i) => {
    const [a, b] = o.between;
    if (a === b) {
      issues.push(`transports[${i}].between: names host "${a}" twice; an override is for two different hosts`);
      return;
    }
    const pair = pairKey(a, b);
    const first = seen.get(pair);
    if (first !== undefined) issues.push(`transports[${i}]: hosts ${a} and ${b} already have a transport at transports[${first}]`);
    else seen.set(pair, i);
  });
}

function resolveRoutes(
  doc: TopologyDocument,
  known: ReadonlyMap<string, string>,
  pairs: ReadonlyMap<string, string>,
  issues: string[],
): RouteSpec[] {
  const routes: RouteSpec[] = [];
  const ids = new Map<string, string>();
  (doc.routes ?? []).forEach((route, i) => {
    const origin = `routes[${i}]`;
    // Positional ids keep a document that names no route reproducible.
    const id = route.id ?? `r${i + 1}`;
    const sameId = ids.get(id);
    if (sameId !== undefined) {
      const why = route.id === undefined ? `; ${origin} has no id and is named by its position` : "";
      issues.push(`${origin}.id: duplicate route id "${id}" (first at ${sameId}${why})`);
    } else {
      ids.set(id, origin);
    }
    if (route.edges !== undefined) {
      const dag = dagRoute(id, route.weight ?? 1, route.edges, `${origin}.edges`, issues);
      route.edges.forEach(([a, b], j) => {
        for (const name of [a, b]) if (!known.has(name)) issues.push(`${origin}.edges[${j}]: unknown node "${name}"`);
        if (known.has(a) && known.has(b) && !pairs.has(pairKey(a, b))) issues.push(`${origin}.edges[${j}]: no link between ${a} and ${b}`);
      });
      if (dag.path.length >= 2) routes.push(dag);
      return;
    }
    const path = route.path ?? [];
    let ok = true;
    path.forEach((name, j) => {
      if (!known.has(name)) {
        issues.push(`${origin}.path[${j}]: unknown node "${name}"`);
        ok = false;
      }
    });
    if (new Set(path).size !== path.length) {
      const twice = path.find((n, j) => path.indexOf(n) !== j);
      issues.push(`${origin}.path: a route must not visit a node twice ("${twice}" appears more than once)`);
      ok = false;
    }
    if (ok) {
      for (let j = 1; j < path.length; j++) {
        if (!pairs.has(pairKey(path[j - 1], path[j]))) {
          issues.push(`${origin}.path[${j}]: no link between ${path[j - 1]} and ${path[j]}`);
        }
      }
    }
    routes.push({ id, path: [...path], weight: route.weight ?? 1 });
  });
  return routes;
}

/**
 * Indices and addresses. Indices: a node known to `existing` keeps its own;
 * the others take the lowest indices nobody holds, in document order.
 * Addresses: explicit ones first, then kept ones, then every other node takes
 * subnet base + index when that is free and a host address, and the lowest free
 * address otherwise.
 */
function placeNodes(nodes: NodeDraft[], subnet: Cidr, opts: ResolveOptions, issues: string[]): ResolvedNode[] {
  const existing = new Map((opts.existing ?? []).map((n) => [n.name, n]));
  const inDocument = new Set(nodes.map((n) => n.name));

  const addrOf = new Map<string, number>(); // node name -> address
  const holder = new Map<number, string>(); // address -> node name or a description
  const before = issues.length;

  for (const node of nodes) {
    if (node.ip === undefined) continue;
    const a = parseAddress(node.ip.text);
    if (a === undefined) {
      issues.push(`${node.ip.path}: expected an IPv4 address like "10.0.0.2", got "${node.ip.text}"`);
      continue;
    }
    const shown = formatIpv4(a.addr);
    if (a.prefix !== undefined && a.prefix !== subnet.prefix) {
      issues.push(`${node.ip.path}: prefix length /${a.prefix} differs from the subnet ${formatCidr(subnet)}`);
    } else if (!contains(subnet, a.addr)) {
      issues.push(`${node.ip.path}: ${shown} is outside the subnet ${formatCidr(subnet)}`);
    } else if (!isHostAddress(subnet, a.addr)) {
      // The caller checked the subnet has room, so this is its network or broadcast address.
      const what = a.addr === subnet.base ? "network" : "broadcast";
      issues.push(`${node.ip.path}: ${shown} is the ${what} address of the subnet ${formatCidr(subnet)}`);
    } else if (holder.has(a.addr)) {
      issues.push(`${node.ip.path}: ${shown} is already the address of ${holder.get(a.addr)}`);
    } else {
      addrOf.set(node.name, a.addr);
      holder.set(a.addr, node.name);
    }
  }
  if (issues.length > before) return [];

  // Existing addresses: kept by their node, and not reused while they may still be in use.
  for (const old of opts.existing ?? []) {
    const a = parseAddress(old.ip);
    if (a === undefined || a.prefix !== subnet.prefix || !isHostAddress(subnet, a.addr) || holder.has(a.addr)) continue;
    if (inDocument.has(old.name)) {
      if (addrOf.has(old.name)) continue; // the document moves it; its old address is free again
      addrOf.set(old.name, a.addr);
      holder.set(a.addr, old.name);
    } else {
      holder.set(a.addr, `${old.name} (an existing node)`);
    }
  }

  const indexOf = new Map<string, number>();
  const indexTaken = new Set<number>();
  for (const old of opts.existing ?? []) {
    if (indexTaken.has(old.index)) continue;
    indexTaken.add(old.index);
    if (inDocument.has(old.name)) indexOf.set(old.name, old.index);
  }
  let nextIndex = 1;
  for (const node of nodes) {
    if (indexOf.has(node.name)) continue;
    while (indexTaken.has(nextIndex)) nextIndex++;
    indexOf.set(node.name, nextIndex);
    indexTaken.add(nextIndex);
  }

  const waiting: NodeDraft[] = [];
  for (const node of nodes) {
    if (addrOf.has(node.name)) continue;
    const preferred = subnet.base + indexOf.get(node.name)!;
    if (preferred <= 0xffffffff && isHostAddress(subnet, preferred) && !holder.has(preferred)) {
      addrOf.set(node.name, preferred);
      holder.set(preferred, node.name);
    } else {
      waiting.push(node);
    }
  }
  let cursor = subnet.base + 1;
  const last = broadcastOf(subnet) - 1;
  for (const node of waiting) {
    while (cursor <= last && holder.has(cursor)) cursor++;
    if (cursor > last) {
      issues.push(`subnet: no free address left in ${formatCidr(subnet)} for ${node.name}`);
      return [];
    }
    addrOf.set(node.name, cursor);
    holder.set(cursor, node.name);
  }

  return nodes.map((node) => {
    const host = node.host ?? existing.get(node.name)?.host ?? opts.defaultHost;
    return {
      name: node.name,
      kind: node.kind,
      index: indexOf.get(node.name)!,
      ip: `${formatIpv4(addrOf.get(node.name)!)}/${subnet.prefix}`,
      ...(host === undefined || host === "" ? {} : { host }),
      mtu: node.mtu,
      ...node.placement,
      ...(node.command === undefined ? {} : { command: node.command }),
    };
  });
}

/** The placement fields a node entry sets (only those, so resolved nodes carry no undefined keys). */
function placementOf(obj: NodePlacement): NodePlacement | undefined {
  const out: NodePlacement = {};
  if (obj.vcpus !== undefined) out.vcpus = obj.vcpus;
  if (obj.memoryMB !== undefined) out.memoryMB = obj.memoryMB;
  if (obj.coschedule !== undefined) out.coschedule = obj.coschedule;
  if (obj.colocate !== undefined) out.colocate = obj.colocate;
  return Object.keys(out).length > 0 ? out : undefined;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

