/**
 * Per host pair transports: the lookup both agents of a pair use, and the
 * `transports:` section of a topology document with its validation messages.
 */
import { describe, expect, test } from "bun:test";
import { transportBetween, type HostTransport } from "./state.ts";
import { TopologyError } from "./topology.ts";
import { parseTopologyText } from "./topology-parse.ts";
import { resolveTopology } from "./topology-resolve.ts";

describe("transportBetween", () => {
  const overrides: HostTransport[] = [
    { between: ["dc1-a", "dc2-a"], transport: "quic" },
    { between: ["dc1-b", "dc1-a"], transport: "udp" },
  ];

  test("a pair matches in either order, so both agents pick the same transport", () => {
    expect(transportBetween("dc1-a", "dc2-a", "tcp", overrides)).toBe("quic");
    expect(transportBetween("dc2-a", "dc1-a", "tcp", overrides)).toBe("quic");
    expect(transportBetween("dc1-a", "dc1-b", "tcp", overrides)).toBe("udp");
  });

  test("pairs without an override use the namespace's transport", () => {
    expect(transportBetween("dc1-b", "dc2-a", "tcp", overrides)).toBe("tcp");
    expect(transportBetween("dc1-b", "dc2-a", "udp", [])).toBe("udp");
  });
});

describe("transports: in a topology document", () => {
  const resolve = (yaml: string) => resolveTopology(parseTopologyText(yaml, "t.yaml"));
  const issuesOf = (yaml: string): string[] => {
    try {
      resolve(yaml);
    } catch (e) {
      if (e instanceof TopologyError) return e.issues;
      throw e;
    }
    throw new Error("expected the document to be refused");
  };

  test("overrides pass through resolution as written; a document without them leaves the namespace's alone", () => {
    const r = resolve("nodes: [a, b]\ntransport: udp\ntransports:\n  - {between: [h1, h3], transport: quic}");
    expect(r.transport).toBe("udp");
    expect(r.hostTransports).toEqual([{ between: ["h1", "h3"], transport: "quic" }]);
    expect(resolve("nodes: [a]").hostTransports).toBeUndefined();
    expect(resolve("nodes: [a]\ntransports: []").hostTransports).toEqual([]);
  });

  test("a host named twice, and a pair given twice in any order, are refused", () => {
    expect(
      issuesOf(
        "nodes: [a]\ntransports:\n  - {between: [h1, h1], transport: udp}\n  - {between: [h1, h2], transport: udp}\n  - {between: [h2, h1], transport: quic}",
      ),
    ).toEqual([
      'transports[0].between: names host "h1" twice; an override is for two different hosts',
      "transports[2]: hosts h2 and h1 already have a transport at transports[1]",
    ]);
  });

  test("the schema names a bad transport and a pair that is not two hosts", () => {
    expect(() => parseTopologyText("transports: [{between: [h1, h2], transport: sctp}]", "t.yaml")).toThrow(/transports\[0\]\.transport/);
    expect(() => parseTopologyText("transports: [{between: [h1], transport: udp}]", "t.yaml")).toThrow(/transports\[0\]\.between/);
  });
});
