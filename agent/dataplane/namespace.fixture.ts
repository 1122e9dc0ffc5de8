/**
 * Fixture for tests and benches of the dataplane: the desired state of a
 * namespace whose nodes form a line (names[0] - names[1] - ...), as the
 * controller would send it, without a controller. Node i gets 10.0.0.(i+1)/16.
 */
import { DEFAULT_SHAPING, type NamespaceState, type NodeKind, type Shaping, type Transport } from "../../protocol/state.ts";
import type { FlowSpec } from "../../protocol/flow.ts";

export interface LineOptions {
  /** the host of every node, or of each node in order (default "x") */
  hosts?: string | string[];
  /** every link, both ways (default: unshaped) */
  shaping?: Partial<Shaping>;
  transport?: Transport;
  /** every node's kind (default netns) */
  kind?: NodeKind;
  flows?: FlowSpec[];
}

/**
 * A namespace named "default" of netns nodes on host "x", node i at
 * 10.0.0.(i+1)/16, with nothing else set: the rest (links, routes, next hops)
 * is the caller's.
 */
export function namespaceOf(names: string[], rest: Pick<NamespaceState, "links" | "nextHops"> & Partial<NamespaceState>): NamespaceState {
  return {
    name: "default",
    subnet: "10.0.0.0/16",
    transport: "tcp",
    hostTransports: [],
    captures: [],
    flows: [],
    paths: "shortest",
    pins: [],
    routes: [],
    nodes: names.map((name, i) => ({ name, kind: "netns" as const, index: i + 1, ip: `10.0.0.${i + 1}/16`, host: "x", mtu: 1500 })),
    ...rest,
  };
}

export function lineNamespace(names: string[], opts: LineOptions = {}): NamespaceState {
  const s = { ...DEFAULT_SHAPING, ...opts.shaping };
  const hostOf = (i: number) => (typeof opts.hosts === "string" ? opts.hosts : (opts.hosts?.[i] ?? "x"));
  return {
    name: "default",
    subnet: "10.0.0.0/16",
    transport: opts.transport ?? "tcp",
    hostTransports: [],
    captures: [],
    flows: opts.flows ?? [],
    nodes: names.map((name, i) => ({ name, kind: opts.kind ?? ("netns" as const), index: i + 1, ip: `10.0.0.${i + 1}/16`, host: hostOf(i), mtu: 1500 })),
    links: names.slice(1).map((b, i) => ({ id: `${names[i]}:${b}`, a: names[i], b, ab: s, ba: s })),
    routes: [],
    paths: "shortest",
    pins: [],
    // along the line: toward a later node the next one, toward an earlier node the previous one
    nextHops: Object.fromEntries(names.map((n, i) => [n, names.map((_, j) => (j === i ? "" : names[j > i ? i + 1 : i - 1]))])),
  };
}
