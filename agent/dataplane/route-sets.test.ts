/**
 * Route sets in the forwarder, on a fake clock: each new conversation takes
 * one path of its pair's set by smooth weighted round robin (exact in counts),
 * keeps it, and pins, DAG routes, ecmp and link state change which; routing
 * replaced in place moves only conversations whose path went away and drops
 * nothing queued.
 */
import { describe, expect, test } from "bun:test";
import { Forwarder, type Egress } from "./forwarder.ts";
import { DROP_REASONS } from "./drops.ts";
import { PacketPool } from "./pool.ts";
import { compileTables } from "./tables.ts";
import { DEFAULT_SHAPING, type NamespaceState, type RouteSpec, type Shaping } from "../../protocol/state.ts";
import type { Pin } from "../../protocol/pins.ts";
import { namespaceOf } from "./namespace.fixture.ts";

const MS = 1e6;
const SWITCHES = ["s1", "s2", "s3", "s4"];

/** h1 and h2 joined through s1..s4 (four equal two-hop paths); h1 is 10.0.0.1, h2 10.0.0.2 */
function fourPaths(opts: { routes?: RouteSpec[]; pins?: Pin[]; paths?: "shortest" | "ecmp"; shaping?: Partial<Shaping>; down?: string[] } = {}): NamespaceState {
  const s = { ...DEFAULT_SHAPING, ...opts.shaping };
  const names = ["h1", "h2", ...SWITCHES];
  const links = SWITCHES.flatMap((sw) => [
    { id: `h1:${sw}`, a: "h1", b: sw, ab: s, ba: s },
    { id: `${sw}:h2`, a: sw, b: "h2", ab: s, ba: s },
  ]).map((l) => (opts.down?.includes(l.id) ? { ...l, state: "down" as const } : l));
  const up = (id: string) => !opts.down?.includes(id);
  // next hops through the first switch whose links are up
  const via = SWITCHES.find((sw) => up(`h1:${sw}`) && up(`${sw}:h2`)) ?? "";
  const row = (from: string) => names.map((to) => (to === from ? "" : from === "h1" || from === "h2" ? (SWITCHES.includes(to) ? to : via) : to === "h1" || to === "h2" ? to : "h1"));
  return namespaceOf(names, {
    paths: opts.paths ?? "shortest",
    pins: opts.pins ?? [],
    links,
    routes: opts.routes ?? [],
    nextHops: Object.fromEntries(names.map((n) => [n, row(n)])),
  });
}

const viaRoute = (sw: string, weight = 1, id = `via-${sw}`): RouteSpec => ({ id, path: ["h1", sw, "h2"], weight });

class Sink implements Egress {
  delivered = 0;
  constructor(private pool: PacketPool) {}
  emit(_node: number, slot: number): void {
    this.delivered++;
    this.pool.free(slot);
  }
  toPeer(_t: number, _p: number, slot: number): void {
    this.pool.free(slot);
  }
}

function setup(state: NamespaceState) {
  const pool = new PacketPool(1 << 22);
  const tables = compileTables([state], new Map(), undefined, [], false);
  const sink = new Sink(pool);
  const fwd = new Forwarder(tables, pool, sink, 1);
  const node = (name: string) => tables.nodeKeys.indexOf(`default/${name}`);
  const seqs = new Map<string, number>();
  /** a TCP packet (flags: FIN 1, SYN 2, RST 4) of a connection from `from` to the other end */
  const tcp = (now: number, from: "h1" | "h2", srcPort: number, dstPort: number, flags = 0x10, payload = 100) => {
    const slot = pool.alloc(false);
    const b = pool.view(slot);
    const len = 40 + payload;
    b.fill(0, 0, len);
    b[0] = 0x45;
    b[2] = len >> 8;
    b[3] = len & 255;
    b[9] = 6;
    b.set(from === "h1" ? [10, 0, 0, 1] : [10, 0, 0, 2], 12);
    b.set(from === "h1" ? [10, 0, 0, 2] : [10, 0, 0, 1], 16);
    b[20] = srcPort >> 8;
    b[21] = srcPort & 255;
    b[22] = dstPort >> 8;
    b[23] = dstPort & 255;
    // sequence numbers run on per direction, so every packet's payload is new
    const k = `${from}:${srcPort}:${dstPort}`;
    const seq = seqs.get(k) ?? 1000;
    seqs.set(k, seq + payload);
    new DataView(b.buffer, b.byteOffset).setUint32(24, seq);
    b[32] = 0x50;
    b[33] = flags;
    pool.len[slot] = len;
    fwd.ingress(now, node(from), slot);
  };
  /** packets each h1 -> sN direction has taken (sent, or still held in its queue and delay line) */
  const carried = () =>
    SWITCHES.map((sw) => {
      const s = fwd.shapers[tables.dirKeys.indexOf(`default/h1:${sw}/ab`)];
      return s.sentPackets + s.pending;
    });
  const back = () => SWITCHES.map((sw) => fwd.shapers[tables.dirKeys.indexOf(`default/${sw}:h2/ba`)].sentPackets);
  const drops = () => Object.fromEntries(DROP_REASONS.map((r, i) => [r, fwd.drops[i]]).filter(([, n]) => n !== 0));
  return { pool, tables, fwd, sink, tcp, carried, back, drops, node };
}

describe("route sets", () => {
  test("weights 1:2:3:4: after every new flow, each route has carried N x w / 10 within one", () => {
    const f = setup(fourPaths({ routes: SWITCHES.map((sw, i) => viaRoute(sw, i + 1)) }));
    for (let n = 1; n <= 200; n++) {
      f.tcp(0, "h1", 10000 + n, 5201, 0x02);
      const counts = f.carried();
      counts.forEach((c, i) => expect(Math.abs(c - (n * (i + 1)) / 10)).toBeLessThan(1));
    }
    expect(f.carried()).toEqual([20, 40, 60, 80]);
  });

  test("a flow keeps its route for its whole life; the reverse direction chooses from its own set", () => {
    const routes = [...SWITCHES.map((sw) => viaRoute(sw)), { id: "back-s4", path: ["h2", "s4", "h1"], weight: 1 }];
    const f = setup(fourPaths({ routes }));
    for (let port = 1; port <= 4; port++) f.tcp(0, "h1", port, 5201, 0x02);
    expect(f.carried()).toEqual([1, 1, 1, 1]);
    // more packets of flow 3, then its replies
    for (let k = 0; k < 5; k++) f.tcp(0, "h1", 3, 5201);
    expect(f.carried()).toEqual([1, 1, 6, 1]);
    for (let port = 1; port <= 4; port++) f.tcp(0, "h2", 5201, port, 0x12);
    expect(f.back()).toEqual([0, 0, 0, 4]);
    expect(f.fwd.conversations.live).toBe(4);
  });

  test("ecmp: every equal-cost path of the pair, weight 1 each; explicit routes replace the computed set", () => {
    const f = setup(fourPaths({ paths: "ecmp" }));
    for (let port = 1; port <= 32; port++) f.tcp(0, "h1", port, 5201, 0x02);
    expect(f.carried()).toEqual([8, 8, 8, 8]);
    const g = setup(fourPaths({ paths: "ecmp", routes: [viaRoute("s2")] }));
    for (let port = 1; port <= 8; port++) g.tcp(0, "h1", port, 5201, 0x02);
    expect(g.carried()).toEqual([0, 8, 0, 0]);
  });

  test("a DAG route: each flow takes one of its paths, by the same rule", () => {
    const dag: RouteSpec = {
      id: "dag",
      path: ["h1", "s1", "h2"],
      weight: 1,
      edges: [
        ["h1", "s1"],
        ["h1", "s3"],
        ["s1", "h2"],
        ["s3", "h2"],
      ],
    };
    const f = setup(fourPaths({ routes: [dag] }));
    for (let port = 1; port <= 10; port++) f.tcp(0, "h1", port, 5201, 0x02);
    expect(f.carried()).toEqual([5, 0, 5, 0]);
  });

  test("pins send matching flows on their route, first match first; other flows share the set", () => {
    const pins: Pin[] = [
      { proto: "tcp", dstPort: 5202, route: "via-s4" },
      { src: "h1", dstPort: 5202, route: "via-s1" },
      { srcPort: 777, route: "via-s3" },
    ];
    const f = setup(fourPaths({ routes: SWITCHES.map((sw) => viaRoute(sw)), pins }));
    for (let port = 1; port <= 3; port++) f.tcp(0, "h1", port, 5202, 0x02);
    expect(f.carried()).toEqual([0, 0, 0, 3]);
    f.tcp(0, "h1", 777, 5201, 0x02);
    expect(f.carried()).toEqual([0, 0, 1, 3]);
    for (let port = 1; port <= 4; port++) f.tcp(0, "h1", port, 5201, 0x02);
    expect(f.carried()).toEqual([1, 1, 2, 4]);
  });

  test("a route over a down link takes no flows and its flows move; the link drops what is still offered to it", () => {
    const routes = SWITCHES.map((sw) => viaRoute(sw));
    const f = setup(fourPaths({ routes, shaping: { delay: 0.001 } }));
    for (let port = 1; port <= 8; port++) f.tcp(0, "h1", port, 5201, 0x02);
    expect(f.carried()).toEqual([2, 2, 2, 2]);
    // s1's second hop goes down while two packets are in h1:s1's delay line
    const down = compileTables([fourPaths({ routes, shaping: { delay: 0.001 }, down: ["s1:h2"] })], new Map(), undefined, [], false);
    f.fwd.setRouting(down.routing);
    for (let port = 1; port <= 8; port++) f.tcp(0, "h1", port, 5201);
    expect(f.carried()).toEqual([2, 5, 5, 4]);
    f.fwd.releaseDue(1 * MS);
    f.fwd.releaseDue(2 * MS);
    expect(f.drops()).toEqual({ link_down: 2 });
    expect(f.sink.delivered).toBe(14);
    // back up: new flows use s1 again, moved ones stay where they went
    const upAgain = compileTables([fourPaths({ routes, shaping: { delay: 0.001 } })], new Map(), undefined, [], false);
    f.fwd.setRouting(upAgain.routing);
    for (let port = 1; port <= 8; port++) f.tcp(3 * MS, "h1", port, 5201);
    expect(f.carried()).toEqual([2, 8, 8, 6]);
    for (let port = 9; port <= 12; port++) f.tcp(3 * MS, "h1", port, 5201, 0x02);
    expect(f.carried()[0]).toBeGreaterThan(2);
  });

  test("new routing in place: flows on routes that remain keep them, the others move; nothing queued is dropped", () => {
    const f = setup(fourPaths({ routes: [viaRoute("s1"), viaRoute("s2")], shaping: { delay: 0.01 } }));
    for (let port = 1; port <= 4; port++) f.tcp(0, "h1", port, 5201, 0x02);
    expect(f.carried()).toEqual([2, 2, 0, 0]);
    const moved = compileTables([fourPaths({ routes: [viaRoute("s2"), viaRoute("s3")], shaping: { delay: 0.01 } })], new Map(), undefined, [], false);
    f.fwd.setRouting(moved.routing);
    for (let port = 1; port <= 4; port++) f.tcp(1 * MS, "h1", port, 5201);
    // the two flows on s2 stay; the two from s1 spread over the new set
    expect(f.carried()).toEqual([2, 5, 1, 0]);
    for (let t = 10; t <= 40; t += 5) f.fwd.releaseDue(t * MS);
    expect(f.drops()).toEqual({});
    expect(f.sink.delivered).toBe(8);
  });

  test("conversations count each direction, note SYN and end with fin once quiet", () => {
    const f = setup(fourPaths({ paths: "ecmp" }));
    f.tcp(0, "h1", 40000, 5201, 0x02, 0);
    f.tcp(0, "h2", 5201, 40000, 0x12, 0);
    for (let k = 0; k < 10; k++) f.tcp(1 * MS, "h1", 40000, 5201, 0x10, 1000);
    f.tcp(2 * MS, "h1", 40000, 5201, 0x11, 0);
    f.tcp(2 * MS, "h2", 5201, 40000, 0x11, 0);
    const [c] = f.fwd.conversations.collect(3 * MS);
    expect(c).toMatchObject({ srcPort: 40000, dstPort: 5201, proto: 6, packets: 12, payload: 10000, packetsBack: 2, payloadBack: 0, syn: true });
    expect(c.endReason).toBeUndefined();
    const [ended] = f.fwd.conversations.collect(2 * MS + 1e9);
    expect(ended.endReason).toBe("fin");
    expect(f.fwd.conversations.live).toBe(0);
  });
});
