/**
 * Compiles desired state (namespaces of nodes, links, routes, next hops) into the
 * flat tables the dataplane worker forwards with: integer node ids, link-direction
 * ids, a next-direction table per namespace and explicit routes as runs of
 * directions. Everything per packet is then an array index; no strings, no maps
 * keyed by names. Direction words: "ab" is a->b of a link as written.
 */
import { transportBetween, type NamespaceState, type Shaping } from "../../protocol/state.ts";
import type { Peer } from "../../protocol/wire.ts";
import { ipv4Address } from "../../protocol/ipv4.ts";
import { namespaceId } from "./frame.ts";
import { RoutingBuilder, type RoutingTables } from "./route-sets.ts";
import { linkUp } from "../../protocol/paths.ts";

/** transport codes in the tables */
export const TRANSPORT_CODES = { tcp: 0, udp: 1, quic: 2 } as const;

export interface DataplaneTables {
  /** node id -> "namespace/node" */
  nodeKeys: string[];
  nodeNs: Int32Array;
  nodeIp: Uint32Array;
  /** node id -> TUN fd on this host, or -1 (not local, or no kernel interface) */
  nodeFd: Int32Array;
  /** packets carry a virtio header (TUNs opened with offload); one setting per agent */
  vnet: boolean;
  /** node id -> -1 when it is on this host, else its host's index in `peers` (-2: host unreachable) */
  nodeHost: Int32Array;
  nsNames: string[];
  /** namespace -> id in frames between agents (a hash of the name) */
  nsId: Uint32Array;
  /** namespace k, peer p -> transport code at [k * peers.length + p] (the namespace's, or its override for the pair) */
  peerTransport: Uint8Array;
  nsBase: Int32Array;
  nsSize: Int32Array;
  /** namespace -> its first direction id */
  nsDirBase: Int32Array;
  me: string;
  peers: Peer[];
  /** direction id -> "namespace/linkId/ab|ba" */
  dirKeys: string[];
  dirFrom: Int32Array;
  dirTo: Int32Array;
  dirShaping: Shaping[];
  /** routing: next hops, route sets, pins, link state; replaced in place (Forwarder.setRouting) */
  routing: RoutingTables;
  /**
   * Weighted sharing (weighted.ts), in namespaces with flows of unequal
   * weights: per direction its class weights (class 0 = other traffic, then
   * one per flow), undefined where it is plain FIFO; per namespace, the class
   * of a packet by its flowKey.
   */
  dirClassWeights: (Float64Array | undefined)[];
  flowClass: Map<number, number>[];
}

/** What changes in place as flows come and end (Forwarder.setClasses). */
export type FlowClasses = Pick<DataplaneTables, "dirClassWeights" | "flowClass">;

/** A flow's key in flowClass: its destination node id and TCP destination port. */
export function flowKey(node: number, port: number): number {
  return node * 65536 + port;
}

export interface LocalInterface {
  fd: number;
  vnet: boolean;
}

/**
 * `local` maps "namespace/node" to the node's TUN on this host; `me` is this
 * host's name and `peers` the other agents (defaults describe a single host).
 */
export function compileTables(
  namespaces: NamespaceState[],
  local: Map<string, LocalInterface>,
  me?: string,
  peers: Peer[] = [],
  vnet = true,
): DataplaneTables {
  const nodeKeys: string[] = [];
  const nodeNs: number[] = [];
  const nodeIp: number[] = [];
  const nsBase: number[] = [];
  const nsSize: number[] = [];
  const nsDirBase: number[] = [];
  const nodeHost: number[] = [];
  const peerIndex = new Map(peers.map((p, i) => [p.name, i]));
  const dirKeys: string[] = [];
  const dirFrom: number[] = [];
  const dirTo: number[] = [];
  const dirShaping: Shaping[] = [];
  const dirDown: number[] = [];
  const routing = new RoutingBuilder();
  const dirClassWeights: (Float64Array | undefined)[] = [];
  const flowClass: Map<number, number>[] = [];

  namespaces.forEach((ns, k) => {
    const base = nodeKeys.length;
    nsBase.push(base);
    nsSize.push(ns.nodes.length);
    nsDirBase.push(dirKeys.length);
    const index = new Map<string, number>();
    ns.nodes.forEach((node, i) => {
      index.set(node.name, i);
      nodeKeys.push(`${ns.name}/${node.name}`);
      nodeNs.push(k);
      nodeIp.push(ipv4Address(node.ip));
      nodeHost.push(me === undefined || node.host === me ? -1 : (peerIndex.get(node.host) ?? -2));
    });
    // dirOf.get("a>b") is the direction id from a to b
    const dirOf = new Map<string, number>();
    for (const link of ns.links) {
      for (const [from, to, dir, shaping] of [
        [link.a, link.b, "ab", link.ab],
        [link.b, link.a, "ba", link.ba],
      ] as const) {
        const fi = index.get(from);
        const ti = index.get(to);
        if (fi === undefined || ti === undefined) continue;
        dirOf.set(`${from}>${to}`, dirKeys.length);
        dirKeys.push(`${ns.name}/${link.id}/${dir}`);
        dirFrom.push(base + fi);
        dirTo.push(base + ti);
        dirShaping.push(shaping);
        dirDown.push(linkUp(link) ? 0 : 1);
      }
    }
    routing.add(ns, { index, base, dirOf, dirDown });
    const classes = new Map<number, number>();
    let weights: Float64Array | undefined;
    if (ns.flows.some((f) => f.weight !== 1)) {
      weights = Float64Array.from([1, ...ns.flows.map((f) => f.weight)]);
      ns.flows.forEach((f, c) => {
        const dst = index.get(f.dst);
        if (dst !== undefined) classes.set(flowKey(base + dst, f.port), c + 1);
      });
    }
    flowClass.push(classes);
    while (dirClassWeights.length < dirKeys.length) dirClassWeights.push(weights);
  });

  const nodeFd = new Int32Array(nodeKeys.length).fill(-1);
  nodeKeys.forEach((key, g) => {
    const ifc = local.get(key);
    if (ifc) {
      if (ifc.vnet !== vnet) throw new Error(`${key}: its TUN ${ifc.vnet ? "has" : "lacks"} virtio headers, unlike the agent's setting`);
      nodeFd[g] = ifc.fd;
    }
  });

  return {
    nodeKeys,
    nodeNs: Int32Array.from(nodeNs),
    nodeIp: Uint32Array.from(nodeIp),
    nodeFd,
    vnet,
    nodeHost: Int32Array.from(nodeHost),
    nsNames: namespaces.map((n) => n.name),
    nsId: Uint32Array.from(namespaces.map((n) => namespaceId(n.name))),
    peerTransport: Uint8Array.from(
      namespaces.flatMap((n) => peers.map((p) => TRANSPORT_CODES[transportBetween(me ?? "", p.name, n.transport, n.hostTransports)])),
    ),
    nsDirBase: Int32Array.from(nsDirBase),
    me: me ?? "",
    peers,
    nsBase: Int32Array.from(nsBase),
    nsSize: Int32Array.from(nsSize),
    dirKeys,
    dirFrom: Int32Array.from(dirFrom),
    dirTo: Int32Array.from(dirTo),
    dirShaping,
    routing: routing.finish(dirDown),
    dirClassWeights,
    flowClass,
  };
}

/** Two table sets that differ only in shaping, routing and flow classes can be updated in place, keeping queued packets. */
export function sameStructure(a: DataplaneTables, b: DataplaneTables): boolean {
  return (
    sameList(a.nodeKeys, b.nodeKeys) &&
    sameList(a.dirKeys, b.dirKeys) &&
    sameList(a.nodeFd, b.nodeFd) &&
    sameList(a.nodeIp, b.nodeIp) &&
    sameList(a.nodeHost, b.nodeHost) &&
    a.vnet === b.vnet &&
    sameList(a.peerTransport, b.peerTransport) &&
    sameList(a.nsId, b.nsId) &&
    JSON.stringify(a.peers) === JSON.stringify(b.peers)
  );
}

/**
 * Whether the flow classes of weighted sharing are the same; they change as
 * flows come and end, and are updated in place (the queues keep their packets).
 */
export function sameClasses(a: DataplaneTables, b: DataplaneTables): boolean {
  return (
    a.dirClassWeights.length === b.dirClassWeights.length &&
    a.dirClassWeights.every((w, i) => (w === undefined ? b.dirClassWeights[i] === undefined : sameList(w, b.dirClassWeights[i]))) &&
    a.flowClass.every((m, i) => JSON.stringify([...m]) === JSON.stringify([...(b.flowClass[i] ?? [])]))
  );
}

/** Whether two routings are the same (then the forwarder is left as it is). */
export function sameRouting(a: RoutingTables, b: RoutingTables): boolean {
  return (
    a.nextDir.length === b.nextDir.length &&
    a.nextDir.every((t, i) => sameList(t, b.nextDir[i])) &&
    a.pairSet.every((t, i) => sameList(t, b.pairSet[i])) &&
    sameList(a.memberWeight, b.memberWeight) &&
    sameList(a.pathKey, b.pathKey) &&
    sameList(a.pathLive, b.pathLive) &&
    sameList(a.dirDown, b.dirDown) &&
    a.pins.length === b.pins.length &&
    a.pins.every((p, i) => sameList(p, b.pins[i]))
  );
}

function sameList<T>(a: ArrayLike<T>, b: ArrayLike<T> | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
