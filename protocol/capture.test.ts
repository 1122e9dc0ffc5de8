/** Capture shapes: API bodies, records, and the wire: older peers' frames still parse, newer fields round-trip. */
import { describe, expect, test } from "bun:test";
import { CaptureCreate, CaptureRecord } from "./capture.ts";
import { NamespaceState } from "./state.ts";
import { decodeAgentFrame, decodeControllerFrame, encodeFrame } from "./wire.ts";

describe("capture schemas", () => {
  test("a file must be an absolute path naming a file", () => {
    expect(CaptureCreate.parse({ link: "a:b", file: "/tmp/x.pcap" })).toEqual({ link: "a:b", file: "/tmp/x.pcap" });
    for (const file of ["x.pcap", "./x.pcap", "/tmp/", "/tmp/a\0b"]) expect(CaptureCreate.safeParse({ node: "a", file }).success).toBe(false);
  });

  test("a record is of a node or of a link", () => {
    const base = { id: "c1", host: "h1", file: "/tmp/c1.pcap", state: "running" as const, created: 1 };
    expect(CaptureRecord.parse({ ...base, node: "a" })).toEqual({ ...base, node: "a" });
    expect(CaptureRecord.parse({ ...base, link: "a:b" })).toEqual({ ...base, link: "a:b" });
    expect(CaptureRecord.safeParse(base).success).toBe(false);
    expect(CaptureRecord.safeParse({ ...base, id: "x1", node: "a" }).success).toBe(false);
  });
});

describe("captures on the wire", () => {
  const ns = { name: "default", subnet: "10.0.0.0/16", transport: "tcp", nodes: [], links: [], routes: [], nextHops: {} };

  test("a state from a controller without captures reads as none", () => {
    expect(NamespaceState.parse(ns).captures).toEqual([]);
    const d = decodeControllerFrame(encodeFrame({ type: "state", namespaces: [NamespaceState.parse(ns)], peers: [] }));
    expect(d.ok && d.frame.type === "state" && d.frame.namespaces[0].captures).toEqual([]);
  });

  test("a state's captures, counters with captures and facts with a capture dir round-trip", () => {
    const captures = [{ id: "c1", link: "a:b", file: "/tmp/c1.pcap", created: 5 }];
    const state = decodeControllerFrame(encodeFrame({ type: "state", namespaces: [NamespaceState.parse({ ...ns, captures })], peers: [] }));
    expect(state.ok && state.frame.type === "state" && state.frame.namespaces[0].captures).toEqual(captures);
    const counters = { type: "counters" as const, links: [], captures: [{ namespace: "default", id: "c1", packets: 2, bytes: 168, closed: true }] };
    expect(decodeAgentFrame(encodeFrame(counters))).toEqual({ ok: true, frame: counters });
    const facts = { cpus: 2, memTotalMB: 1, memUsedMB: 1, load: 0, addresses: [], privileged: true, captureDir: "/var/lib/nm/captures" };
    expect(decodeAgentFrame(encodeFrame({ type: "heartbeat", facts }))).toEqual({ ok: true, frame: { type: "heartbeat", facts } });
    // older agents' counters carry no captures
    expect(decodeAgentFrame(encodeFrame({ type: "counters", links: [] })).ok).toBe(true);
  });
});
