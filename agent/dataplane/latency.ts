/**
 * How long a frame takes from this dataplane to a peer's, per peer and
 * transport, and the link delays that follow from it.
 *
 * A link whose two ends are on different hosts is shaped by the sending agent,
 * and then the frame still has to cross to the other host: through the
 * transport's threads and sockets, and over whatever network joins the hosts
 * (a LAN, or another datacenter). That crossing would be added to the delay the
 * user configured, so a link would be slower across hosts than on one. The
 * dataplane therefore probes each peer over each transport it uses with it
 * (frames in the reserved namespace 0, echoed by the peer's dataplane over the
 * same transport), keeps the fastest of the recent round trips, and shortens
 * the delay of every link direction that crosses to that peer by half of it.
 * The fastest, not a typical one: a link is never made shorter than configured,
 * only less late. A configured delay shorter than the crossing cannot be met;
 * the direction gets no delay of its own and a warning says so.
 */
import type { Shaping } from "../../protocol/state.ts";
import { namespaceId } from "./frame.ts";
import type { DataplaneTables } from "./tables.ts";

/** frames in this namespace id are probes; namespaceId() never returns it */
export const PROBE_NS = 0;
/** bytes of a probe's payload: zeros where a virtio header would be, the send time, the sender's name hash */
export const PROBE_LEN = 32;
const AT_TIME = 16;
const AT_FROM = 24;
const REQUEST = 0;
const REPLY = 1;
/** how often each peer and transport is probed */
export const PROBE_INTERVAL_NS = 50_000_000;
/** round trips remembered per peer and transport: the estimate follows a path that got slower within ~4 s */
export const PROBE_WINDOW = 64;
/** round trips needed before an estimate is used: the first ones, taken while agents start, are slow */
export const PROBES_TO_SETTLE = 8;
/** estimates closer than this to the one in use leave the shapers alone */
const RESHAPE_STEP_NS = 5_000;
const TRANSPORT_NAMES = ["tcp", "udp", "quic"];

/** What the tracker needs of the dataplane: a probe sent, a shaper's delay changed, a line for the log. */
export interface LatencyHooks {
  /** sends PROBE_LEN bytes (written by `fill`) to `peer` over `transport` as a frame of namespace PROBE_NS */
  send(transport: number, peer: number, dir: number, fill: (payload: DataView) => void): void;
  reshape(dir: number, shaping: Shaping): void;
  log(line: string): void;
}

/** What is known of the crossing to one peer over one transport; kept across tables. */
interface Path {
  /** "peer over transport", for the log */
  name: string;
  /** the recent round trips (ns), a ring of PROBE_WINDOW */
  rtts: Float64Array;
  count: number;
  /** the one-way time the shapers use now (ns), 0 before enough probes came back */
  oneWay: number;
  reported: boolean;
}

/** A path as the current tables use it: the peer's index, the transport's code, the directions crossing there. */
interface Route {
  path: Path;
  peer: number;
  transport: number;
  dirs: number[];
}

/** Shortens a direction's delay by the crossing it also takes (one-way, ns); never below zero. */
export function compensate(shaping: Shaping, oneWayNs: number): Shaping {
  if (oneWayNs <= 0 || shaping.delay <= 0) return shaping;
  return { ...shaping, delay: Math.max(0, shaping.delay - oneWayNs / 1e9) };
}

export class TransportLatency {
  /** by "peer name/transport": estimates outlive tables, since peers and transports usually stay */
  #paths = new Map<string, Path>();
  #tables: DataplaneTables | undefined;
  #myHash = 0;
  /** the paths the current tables cross to; a reply finds its route by peer and transport */
  #routes: Route[] = [];
  #routeOf = new Map<number, Route>();
  #peerByHash = new Map<number, number>();
  /** direction -> the route it crosses to (undefined: it stays on this host) */
  #dirRoute: (Route | undefined)[] = [];
  /** the shaping each direction was configured with, before compensation */
  #configured: Shaping[] = [];
  #warned = new Set<string>();
  #nextProbe = 0;

  constructor(private readonly hooks: LatencyHooks) {}

  /** New tables: which directions cross to which peer and transport, with their configured shaping. */
  setTables(tables: DataplaneTables): void {
    this.#tables = tables;
    this.#myHash = namespaceId(tables.me);
    this.#peerByHash = new Map(tables.peers.map((p, i) => [namespaceId(p.name), i]));
    this.#configured = tables.dirShaping.slice();
    const byKey = new Map<string, Route>();
    this.#dirRoute = new Array<Route | undefined>(tables.dirKeys.length);
    for (let d = 0; d < tables.dirKeys.length; d++) {
      const node = tables.dirTo[d];
      const peer = tables.nodeHost[node];
      if (peer < 0) continue;
      const transport = tables.peerTransport[tables.nodeNs[node] * tables.peers.length + peer];
      const key = `${tables.peers[peer].name}/${TRANSPORT_NAMES[transport]}`;
      let route = byKey.get(key);
      if (!route) {
        let path = this.#paths.get(key);
        if (!path) {
          path = { name: key.replace("/", " over "), rtts: new Float64Array(PROBE_WINDOW), count: 0, oneWay: 0, reported: false };
          this.#paths.set(key, path);
        }
        route = { path, peer, transport, dirs: [] };
        byKey.set(key, route);
      }
      route.dirs.push(d);
      this.#dirRoute[d] = route;
    }
    for (const key of [...this.#paths.keys()]) if (!byKey.has(key)) this.#paths.delete(key);
    this.#routes = [...byKey.values()];
    this.#routeOf = new Map(this.#routes.map((r) => [routeKey(r.peer, r.transport), r]));
    // what was learnt before applies to the new shapers at once
    for (const route of this.#routes) for (const d of route.dirs) this.#apply(d, route.path);
    this.#nextProbe = 0;
  }

  /** A direction's configured shaping changed (the shaper gets it compensated). */
  configure(dir: number, shaping: Shaping): Shaping {
    this.#configured[dir] = shaping;
    const route = this.#dirRoute[dir];
    return route ? compensate(shaping, route.path.oneWay) : shaping;
  }

  /** When the next probes are due (ns), Infinity without peers to probe. */
  get nextProbe(): number {
    return this.#routes.length === 0 ? Infinity : this.#nextProbe;
  }

  /**
   * Sends a probe on every path when due; `ready(transport, peer)` says whether
   * the transport can carry one now. `now` should be read just before: it is
   * the send time the round trip is measured from.
   */
  probe(now: number, ready: (transport: number, peer: number) => boolean): void {
    if (now < this.#nextProbe) return;
    this.#nextProbe = now + PROBE_INTERVAL_NS;
    for (const { peer, transport } of this.#routes) {
      if (!ready(transport, peer)) continue;
      this.hooks.send(transport, peer, REQUEST | (transport << 8), (v) => {
        v.setFloat64(AT_TIME, now, true);
        v.setUint32(AT_FROM, this.#myHash, true);
      });
    }
  }

  /** A probe frame came in (`dir` as sent, `payload` its PROBE_LEN bytes): answer a request, learn from a reply. */
  onProbe(now: number, dir: number, payload: DataView): void {
    if (payload.byteLength < PROBE_LEN) return;
    const transport = dir >> 8;
    const peer = this.#peerByHash.get(payload.getUint32(AT_FROM, true));
    if (peer === undefined || transport >= TRANSPORT_NAMES.length) return;
    if ((dir & 0xff) === REQUEST) {
      const sent = payload.getFloat64(AT_TIME, true);
      this.hooks.send(transport, peer, REPLY | (transport << 8), (v) => {
        v.setFloat64(AT_TIME, sent, true);
        v.setUint32(AT_FROM, this.#myHash, true);
      });
      return;
    }
    const rtt = now - payload.getFloat64(AT_TIME, true);
    const route = this.#routeOf.get(routeKey(peer, transport));
    if (!route || !(rtt > 0) || rtt > 10e9) return;
    const path = route.path;
    path.rtts[path.count++ % PROBE_WINDOW] = rtt;
    if (path.count < PROBES_TO_SETTLE) return;
    let min = Infinity;
    for (let i = 0; i < Math.min(path.count, PROBE_WINDOW); i++) if (path.rtts[i] < min) min = path.rtts[i];
    const oneWay = min / 2;
    if (Math.abs(oneWay - path.oneWay) < RESHAPE_STEP_NS) return;
    path.oneWay = oneWay;
    if (!path.reported) {
      path.reported = true;
      this.hooks.log(
        `frames to ${path.name} take ${(oneWay / 1e6).toFixed(3)} ms one way (the fastest of ${path.count} probes); ` +
          "links crossing there are shaped that much shorter, so their delay stays as configured",
      );
    }
    for (const d of route.dirs) this.#apply(d, path);
  }

  /** The crossing (ns one way) this tracker uses for `peer` over `transport`, 0 when not probed yet. */
  oneWay(peer: string, transport: string): number {
    return this.#paths.get(`${peer}/${transport}`)?.oneWay ?? 0;
  }

  #apply(dir: number, path: Path): void {
    if (path.oneWay === 0) return;
    const configured = this.#configured[dir];
    if (configured.delay > 0 && configured.delay * 1e9 < path.oneWay) {
      const link = this.#tables!.dirKeys[dir];
      if (!this.#warned.has(link)) {
        this.#warned.add(link);
        this.hooks.log(`link ${link}: ${(configured.delay * 1e3).toFixed(3)} ms configured, but crossing to ${path.name} alone takes ${(path.oneWay / 1e6).toFixed(3)} ms`);
      }
    }
    this.hooks.reshape(dir, compensate(configured, path.oneWay));
  }
}

function routeKey(peer: number, transport: number): number {
  return peer * TRANSPORT_NAMES.length + transport;
}
