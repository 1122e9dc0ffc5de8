/**
 * @module
 * The scheduler's view of each host: what the nodes on it commit (cpus,
 * memory, link ends, node count), the tightest coschedule limit among them,
 * the order hosts are tried in, and whether more nodes fit. Commits only grow
 * while a plan is built, so each host's load is recomputed only when it takes
 * nodes.
 */
import type { NamespaceSettings } from "./store.ts";

export type LoadKind = NamespaceSettings["load"];

/** A host of the namespace, from its agent's facts. */
export type SchedulerHost = {
  readonly name: string;
  readonly cpus: number;
  readonly memTotalMB: number;
  /** only connected hosts take nodes */
  readonly connected: boolean;
};

/**
 * What nodes ask of the host they go to: one node, or a node together with
 * every node colocated on it (they always land on the same host).
 */
export type Demand = {
  nodes: number;
  vcpus: number;
  memoryMB: number;
  links: number;
  /** the tightest coschedule among the nodes (Infinity for none) and the node that set it */
  coschedule: number;
  limitOf: string | undefined;
};

export function addDemand(into: Demand, d: Demand): void {
  into.nodes += d.nodes;
  into.vcpus += d.vcpus;
  into.memoryMB += d.memoryMB;
  into.links += d.links;
  if (d.coschedule < into.coschedule) {
    into.coschedule = d.coschedule;
    into.limitOf = d.limitOf;
  }
}

/**
 * A coschedule limit that placing a demand on a host would break: `limitOf`
 * (undefined for an unnamed node already there) allows `coschedule` other
 * nodes and would have `others`.
 */
export type Breach = { limitOf: string | undefined; coschedule: number; others: number; alreadyOnHost: boolean };

/** A commit over a capacity, where a host reporting no capacity is empty until something commits to it. */
function ratio(commit: number, capacity: number): number {
  if (capacity > 0) return commit / capacity;
  return commit > 0 ? Infinity : 0;
}

export class HostLoads {
  readonly names: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #kind: LoadKind;
  readonly #cpus: number[] = [];
  readonly #memTotal: number[] = [];
  readonly #connected: boolean[] = [];
  /** position in name order: the final tie-break, so plans do not depend on input order */
  readonly #rank: number[] = [];
  readonly #count: number[] = [];
  readonly #vcpus: number[] = [];
  readonly #memoryMB: number[] = [];
  readonly #links: number[] = [];
  readonly #coschedule: number[] = [];
  readonly #limitOf: (string | undefined)[] = [];
  readonly #load: number[] = [];

  /** Hosts named twice count once (the first). */
  constructor(kind: LoadKind, hosts: readonly SchedulerHost[]) {
    this.#kind = kind;
    for (const h of hosts) {
      if (this.#index.has(h.name)) continue;
      this.#index.set(h.name, this.names.length);
      this.names.push(h.name);
      this.#cpus.push(h.cpus);
      this.#memTotal.push(h.memTotalMB);
      this.#connected.push(h.connected);
      this.#count.push(0);
      this.#vcpus.push(0);
      this.#memoryMB.push(0);
      this.#links.push(0);
      this.#coschedule.push(Infinity);
      this.#limitOf.push(undefined);
      this.#load.push(0);
    }
    const byName = this.names.map((_, i) => i).sort((a, b) => (this.names[a] < this.names[b] ? -1 : 1));
    byName.forEach((host, rank) => (this.#rank[host] = rank));
  }

  get size(): number {
    return this.names.length;
  }

  indexOf(name: string): number | undefined {
    return this.#index.get(name);
  }

  isConnected(host: number): boolean {
    return this.#connected[host];
  }

  count(host: number): number {
    return this.#count[host];
  }

  load(host: number): number {
    return this.#load[host];
  }

  /** Full: a node on it allows no more company, so nothing else can go there. */
  isFull(host: number): boolean {
    return this.#count[host] > this.#coschedule[host];
  }

  add(host: number, d: Demand): void {
    this.#count[host] += d.nodes;
    this.#vcpus[host] += d.vcpus;
    this.#memoryMB[host] += d.memoryMB;
    this.#links[host] += d.links;
    if (d.coschedule < this.#coschedule[host]) {
      this.#coschedule[host] = d.coschedule;
      this.#limitOf[host] = d.limitOf;
    }
    this.#load[host] =
      this.#kind === "cpucommit"
        ? ratio(this.#vcpus[host], this.#cpus[host])
        : this.#kind === "memcommit"
          ? ratio(this.#memoryMB[host], this.#memTotal[host])
          : this.#links[host];
  }

  /** The limit `d` would break on `host`, the tighter one when both would break; undefined when it fits. */
  breach(host: number, d: Demand): Breach | undefined {
    const others = this.#count[host] + d.nodes - 1;
    const own = others > d.coschedule;
    const theirs = others > this.#coschedule[host];
    if (own && (!theirs || d.coschedule <= this.#coschedule[host])) {
      return { limitOf: d.limitOf, coschedule: d.coschedule, others, alreadyOnHost: false };
    }
    if (theirs) return { limitOf: this.#limitOf[host], coschedule: this.#coschedule[host], others, alreadyOnHost: true };
    return undefined;
  }

  /**
   * The order hosts are tried in: hosts that are not full, then the lower
   * load, then fewer nodes, then the name. The node count matters where the
   * load cannot tell hosts apart, above all netcommit before any link exists:
   * without it every node would pile onto the first host by name.
   */
  less(a: number, b: number): boolean {
    const fullA = this.isFull(a);
    if (fullA !== this.isFull(b)) return !fullA;
    if (this.#load[a] !== this.#load[b]) return this.#load[a] < this.#load[b];
    if (this.#count[a] !== this.#count[b]) return this.#count[a] < this.#count[b];
    return this.#rank[a] < this.#rank[b];
  }
}
