/** The probe request's bounds and defaults, and how the two sides' figures join into the answer. */
import { describe, expect, test } from "bun:test";
import { HostProbeRequest, probeAnswer } from "./probe.ts";

describe("host probes", () => {
  test("transport defaults to tcp; bytes take units and are bounded; the refusal names the field", () => {
    expect(HostProbeRequest.parse({ from: "h1", to: "h2" })).toEqual({ from: "h1", to: "h2", transport: "tcp" });
    expect(HostProbeRequest.parse({ from: "h1", to: "h2", bytes: "4MB", transport: "udp" }).bytes).toBe(4e6);
    for (const [body, path] of [
      [{ from: "h1", to: "h2", bytes: "1KB" }, "bytes"],
      [{ from: "h1", to: "h2", bytes: "5GiB" }, "bytes"],
      [{ from: "h1", to: "h2", transport: "quic" }, "transport"],
      [{ from: "h1" }, "to"],
      [{ from: "h1", to: "h2", extra: 1 }, ""],
    ] as const) {
      const r = HostProbeRequest.safeParse(body);
      expect(r.success).toBe(false);
      if (!r.success && path) expect(r.error.issues[0].path).toEqual([path]);
    }
  });

  test("loss from the echoes, bandwidth from what the receiver saw, datagram loss for udp only", () => {
    const sent = { pings: 20, replies: 19, rtt: { min: 1, avg: 2, max: 3 }, bytes: 1000, datagrams: 10, cut: false };
    const received = { bytes: 800, datagrams: 8, seconds: 0.5 };
    const udp = probeAnswer({ from: "a", to: "b", transport: "udp" }, "192.0.2.2", sent, received);
    expect([udp.loss, udp.bandwidth, udp.datagramLoss]).toEqual([0.050000000000000044, 12800, 0.19999999999999996]);
    const tcp = probeAnswer({ from: "a", to: "b", transport: "tcp" }, "192.0.2.2", sent, received);
    expect(tcp.datagramLoss).toBeUndefined();
    expect(probeAnswer({ from: "a", to: "b", transport: "tcp" }, "x", { ...sent, pings: 0, replies: 0, rtt: null }, { ...received, seconds: 0 })).toMatchObject({ loss: 1, bandwidth: 0, rtt: null });
  });
});
