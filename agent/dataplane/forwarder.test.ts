/**
 * Forwarder logic on a fake clock with a fake egress: hop-by-hop forwarding,
 * explicit routes before next hops, delay accumulated per hop, and named drops.
 * Packets are plain IPv4 (no virtio header), as from a TUN without offload.
 */
import { describe, expect, test } from "bun:test";
import { Forwarder, type Egress } from "./forwarder.ts";
import { DROP_REASONS } from "./drops.ts";
import { namespaceOf } from "./namespace.fixture.ts";
import { PacketPool } from "./pool.ts";
import { compileTables, TRANSPORT_CODES } from "./tables.ts";
import { DEFAULT_SHAPING, type NamespaceState, type Shaping } from "../../protocol/state.ts";

const MS = 1e6;

// a diamond: h1 - {s1, s2} - h2, plus h3 hanging off h2
function diamond(shaping: Partial<Shaping> = {}, routes: NamespaceState["routes"] = []): NamespaceState {
  const s = { ...DEFAULT_SHAPING, ...shaping };
  const names = ["h1", "s1", "s2", "h2", "h3"];
  return namespaceOf(names, {
    links: [
      { id: "h1:s1", a: "h1", b: "s1", ab: s, ba: s },
      { id: "h1:s2", a: "h1", b: "s2", ab: s, ba: s },
      { id: "s1:h2", a: "s1", b: "h2", ab: s, ba: s },
      { id: "s2:h2", a: "s2", b: "h2", ab: s, ba: s },
      { id: "h2:h3", a: "h2", b: "h3", ab: s, ba: s },
    ],
    routes,
    // shortest paths; ties go through s1
    nextHops: {
      h1: ["", "s1", "s2", "s1", "s1"],
      s1: ["h1", "", "h1", "h2", "h2"],
      s2: ["h1", "h1", "", "h2", "h2"],
      h2: ["s1", "s1", "s2", "", "h3"],
      h3: ["h2", "h2", "h2", "h2", ""],
    },
  });
}

class Recorder implements Egress {
  out: { node: number; dst: string; at: number }[] = [];
  peerOut: { transport: number; peer: number; ns: number; dir: number; dst: number; route: number; len: number }[] = [];
  toPeer(transport: number, peer: number, slot: number, ns: number, dir: number, dst: number, route: number): void {
    this.peerOut.push({ transport, peer, ns, dir, dst, route, len: this.pool.len[slot] });
    this.pool.free(slot);
  }
  now = 0;
  constructor(private pool: PacketPool) {}
  emit(node: number, slot: number): void {
    const b = this.pool.view(slot);
    this.out.push({ node, dst: `${b[16]}.${b[17]}.${b[18]}.${b[19]}`, at: this.now });
    this.pool.free(slot);
  }
}

function setup(state: NamespaceState, vnet = false) {
  const pool = new PacketPool(1 << 22);
  const local = new Map(vnet ? state.nodes.map((n) => [`default/${n.name}`, { fd: 99, vnet: true }] as const) : []);
  const tables = compileTables([state], local, undefined, [], vnet);
  const egress = new Recorder(pool);
  const fwd = new Forwarder(tables, pool, egress, 1);
  const node = (name: string) => tables.nodeKeys.indexOf(`default/${name}`);
  const send = (now: number, from: string, dstIp: string, version = 4) => {
    const slot = pool.alloc(false);
    const b = pool.view(slot);
    b.fill(0, 0, 84);
    b[0] = (version << 4) | 5;
    dstIp.split(".").forEach((o, i) => (b[16 + i] = Number(o)));
    pool.len[slot] = 84;
    egress.now = now;
    fwd.ingress(now, node(from), slot);
  };
  const advance = (now: number) => {
    egress.now = now;
    fwd.releaseDue(now);
  };
  /** a TSO super-packet with a virtio header: `nseg` TCP segments of `mss` bytes from h1 to `dstIp` */
  const sendTso = (now: number, dstIp: string, nseg: number, mss: number) => {
    const slot = pool.alloc(true);
    const b = pool.view(slot);
    const len = 10 + 40 + nseg * mss;
    b.fill(0, 0, len);
    b[1] = 1; // gso_type TCPV4
    b[2] = 40; // hdr_len
    b[4] = mss & 255;
    b[5] = mss >> 8;
    b[10] = 0x45;
    b[12] = (len - 10) >> 8;
    b[13] = (len - 10) & 255;
    b[19] = 6; // TCP
    dstIp.split(".").forEach((o, i) => (b[26 + i] = Number(o)));
    b[42] = 0x50; // data offset 5
    b[43] = 0x10; // ACK
    pool.len[slot] = len;
    egress.now = now;
    fwd.ingress(now, node("h1"), slot);
  };
  const drops = () => Object.fromEntries(DROP_REASONS.map((r, i) => [r, fwd.drops[i]]));
  return { pool, tables, egress, fwd, node, send, sendTso, advance, drops };
}

describe("Forwarder", () => {
  test("a user-space flow with a route is pinned to it by its TCP port; the pair's next flow takes the set's first route by weight", () => {
    const routes = [
      { id: "via-s1", path: ["h1", "s1", "h2"], weight: 1 },
      { id: "via-s2", path: ["h1", "s2", "h2"], weight: 1 },
    ];
    const flows = [{ id: "f1", src: "h1", dst: "h2", port: 20001, weight: 1, bytes: 1000, route: "via-s2" }];
    const f = setup({ ...diamond({}, routes), flows });
    const sendTcp = (port: number) => {
      const slot = f.pool.alloc(false);
      const b = f.pool.view(slot);
      b.fill(0, 0, 60);
      b[0] = 0x45;
      b[9] = 6;
      [10, 0, 0, 4].forEach((o, i) => (b[16 + i] = o));
      b[22] = port >> 8;
      b[23] = port & 255;
      f.pool.len[slot] = 60;
      f.fwd.ingress(0, f.node("h1"), slot);
    };
    const crossed = (link: string) => f.fwd.shapers[f.tables.dirKeys.indexOf(`default/${link}/ab`)].sentPackets;
    sendTcp(20001);
    expect([crossed("h1:s1"), crossed("h1:s2")]).toEqual([0, 1]);
    sendTcp(5201);
    expect([crossed("h1:s1"), crossed("h1:s2")]).toEqual([1, 1]);
    expect(f.egress.out.map((o) => o.dst)).toEqual(["10.0.0.4", "10.0.0.4"]);
  });


  test("forwards hop by hop along next hops, at once when links are unshaped", () => {
    const f = setup(diamond());
    f.send(0, "h1", "10.0.0.5");
    expect(f.egress.out).toEqual([{ node: f.node("h3"), dst: "10.0.0.5", at: 0 }]);
    // h1 -> s1 -> h2 -> h3
    expect(f.fwd.shapers.map((s) => s.sentPackets)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 0]);
  });

  test("each hop's delay adds up and nothing leaves early", () => {
    const f = setup(diamond({ delay: 0.01 }));
    f.send(0, "h1", "10.0.0.5");
    expect(f.fwd.nextDeadline()).toBe(10 * MS);
    f.advance(10 * MS - 1);
    expect(f.egress.out).toHaveLength(0);
    for (const t of [10, 20, 30]) f.advance(t * MS);
    expect(f.egress.out).toEqual([{ node: f.node("h3"), dst: "10.0.0.5", at: 30 * MS }]);
    expect(f.fwd.nextDeadline()).toBe(Infinity);
  });

  test("an explicit route wins over the next-hop table for its pair only", () => {
    const f = setup(diamond({}, [{ id: "r1", path: ["h1", "s2", "h2"], weight: 1 }]));
    f.send(0, "h1", "10.0.0.4");
    f.send(0, "h1", "10.0.0.5");
    const sent = Object.fromEntries(f.tables.dirKeys.map((k, d) => [k, f.fwd.shapers[d].sentPackets]));
    expect(sent["default/h1:s2/ab"]).toBe(1);
    expect(sent["default/s2:h2/ab"]).toBe(1);
    // h1 -> h3 has no explicit route and keeps the shortest path through s1
    expect(sent["default/h1:s1/ab"]).toBe(1);
    expect(f.egress.out.map((o) => o.dst)).toEqual(["10.0.0.4", "10.0.0.5"]);
  });

  test("unknown destinations and non-IPv4 packets are dropped with their reason", () => {
    const f = setup(diamond());
    f.send(0, "h1", "10.0.9.9");
    f.send(0, "h1", "10.0.0.1");
    f.send(0, "h1", "10.0.0.4", 6);
    expect(f.drops()).toMatchObject({ no_node: 2, not_ipv4: 1 });
    expect(f.egress.out).toHaveLength(0);
    expect(f.pool.inUseLarge + f.pool.inUseSmall).toBe(0);
  });

  test("a full queue drops at the tail and counts it on the link", () => {
    const f = setup(diamond({ bandwidth: 8e6, queue: 3 }));
    for (let i = 0; i < 10; i++) f.send(0, "h1", "10.0.0.2");
    expect(f.drops().queue).toBe(7);
    // 84 bytes at 8 Mbit/s leave every 84 us
    f.advance(1e9);
    expect(f.egress.out).toHaveLength(3);
    expect(f.pool.inUseLarge + f.pool.inUseSmall).toBe(0);
  });

  test("on a slow link a super-packet's segments leave one by one at the link's rate", () => {
    // 8 Mbit/s: a byte per microsecond; each segment is 1040 bytes on the wire
    const f = setup(diamond({ bandwidth: 8e6 }), true);
    f.sendTso(0, "10.0.0.2", 10, 1000);
    expect(f.fwd.shapers[0].sentSegments + f.fwd.shapers[0].queued).toBe(10);
    f.advance(1040_000);
    expect(f.egress.out.map((o) => o.at)).toEqual([1040_000]);
    f.advance(10_400_000);
    expect(f.egress.out).toHaveLength(10);
  });

  test("on a fast link a super-packet stays whole", () => {
    const f = setup(diamond({ bandwidth: 10e9 }), true);
    f.sendTso(0, "10.0.0.2", 10, 1000);
    f.advance(1e6);
    expect(f.egress.out).toHaveLength(1);
    expect(f.fwd.shapers[0].sentSegments).toBe(10);
  });

  test("flush frees every held packet", () => {
    const f = setup(diamond({ delay: 1 }));
    for (let i = 0; i < 5; i++) f.send(0, "h1", "10.0.0.5");
    expect(f.pool.inUseSmall).toBe(5);
    f.fwd.flush();
    expect(f.pool.inUseLarge + f.pool.inUseSmall).toBe(0);
    expect(f.fwd.nextDeadline()).toBe(Infinity);
  });

  test("between two agents, the frame's namespace-local indices continue the route on the other host", () => {
    const state = diamond({ delay: 0.001 }, [{ id: "r1", path: ["h1", "s2", "h2", "h3"], weight: 1 }]);
    // h1 and s2 live on host a; h2, s1 and h3 on host b
    for (const n of state.nodes) n.host = n.name === "h1" || n.name === "s2" ? "a" : "b";
    const peerOf = (name: string) => [{ name, address: "192.0.2.1", port: 7401 }];
    const poolA = new PacketPool(1 << 22);
    const poolB = new PacketPool(1 << 22);
    const arrived: string[] = [];
    const tablesB = compileTables([state], new Map(), "b", peerOf("a"), false);
    let b: Forwarder | undefined;
    let now = 0;
    const egressA: Egress = {
      emit: () => {
        throw new Error("nothing is delivered on host a");
      },
      toPeer(_t, peer, slot, ns, dir, dst, route) {
        expect(peer).toBe(0);
        const copy = poolB.alloc(false);
        poolB.view(copy).set(poolA.view(slot).subarray(0, poolA.len[slot]));
        poolB.len[copy] = poolA.len[slot];
        poolA.free(slot);
        b!.fromPeer(now, copy, ns, dir, dst, route);
      },
    };
    const egressB: Egress = {
      emit(node, slot) {
        arrived.push(`${tablesB.nodeKeys[node]}@${now / MS}`);
        poolB.free(slot);
      },
      toPeer: () => {
        throw new Error("host b sends nothing back");
      },
    };
    const tablesA = compileTables([state], new Map(), "a", peerOf("b"), false);
    const a = new Forwarder(tablesA, poolA, egressA, 1);
    b = new Forwarder(tablesB, poolB, egressB, 1);
    const slot = poolA.alloc(false);
    const buf = poolA.view(slot);
    buf.fill(0, 0, 84);
    buf[0] = 0x45;
    [10, 0, 0, 5].forEach((o, i) => (buf[16 + i] = o));
    poolA.len[slot] = 84;
    a.ingress(0, tablesA.nodeKeys.indexOf("default/h1"), slot);
    for (now = MS; now <= 4 * MS; now += MS) {
      a.releaseDue(now);
      b.releaseDue(now);
    }
    // h1 -1ms-> s2 -1ms-> (to host b) h2 -1ms-> h3: the explicit route, shaped once per hop
    expect(arrived).toEqual(["default/h3@3"]);
    const sentA = Object.fromEntries(tablesA.dirKeys.map((k, d) => [k, a.shapers[d].sentPackets]));
    const sentB = Object.fromEntries(tablesB.dirKeys.map((k, d) => [k, b!.shapers[d].sentPackets]));
    expect(sentA["default/h1:s2/ab"]).toBe(1);
    expect(sentA["default/s2:h2/ab"]).toBe(1);
    expect(sentB["default/s2:h2/ab"]).toBe(0);
    expect(sentB["default/h2:h3/ab"]).toBe(1);
  });

  test("each peer gets the namespace's transport unless the host pair overrides it", () => {
    const state = { ...diamond(), transport: "tcp" as const, hostTransports: [{ between: ["c", "a"] as [string, string], transport: "udp" as const }] };
    // h1 on host a; its neighbours s1 on b and s2 on c
    for (const n of state.nodes) n.host = n.name === "h1" ? "a" : n.name === "s2" ? "c" : "b";
    const peers = ["b", "c"].map((name) => ({ name, address: "192.0.2.1", port: 7401 }));
    const pool = new PacketPool(1 << 22);
    const tables = compileTables([state], new Map(), "a", peers, false);
    expect([...tables.peerTransport]).toEqual([TRANSPORT_CODES.tcp, TRANSPORT_CODES.udp]);
    const egress = new Recorder(pool);
    const fwd = new Forwarder(tables, pool, egress, 1);
    for (const dst of [2, 3]) {
      const slot = pool.alloc(false);
      const b = pool.view(slot);
      b.fill(0, 0, 84);
      b[0] = 0x45;
      [10, 0, 0, dst].forEach((o, i) => (b[16 + i] = o));
      pool.len[slot] = 84;
      fwd.ingress(0, tables.nodeKeys.indexOf("default/h1"), slot);
    }
    fwd.releaseDue(0);
    expect(egress.peerOut.map((o) => [peers[o.peer].name, o.transport])).toEqual([
      ["b", TRANSPORT_CODES.tcp],
      ["c", TRANSPORT_CODES.udp],
    ]);
  });

  test("a frame for a namespace or direction this host does not have is dropped", () => {
    const state = diamond();
    const f = setup(state);
    const slot = f.pool.alloc(false);
    f.pool.len[slot] = 84;
    f.fwd.fromPeer(0, slot, 12345, 0, 0, -1);
    expect(f.drops().bad_frame).toBe(1);
    expect(f.pool.inUseSmall + f.pool.inUseLarge).toBe(0);
  });
});
