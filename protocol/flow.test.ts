/**
 * Flow requests: units parse to base numbers, defaults fill in, and every
 * refusal names what was wrong.
 */
import { describe, expect, test } from "bun:test";
import { FlowRequest } from "./flow.ts";

function problems(input: unknown): string[] {
  const r = FlowRequest.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("FlowRequest", () => {
  test("unit strings become bytes, seconds and bit/s; transport and weight default", () => {
    expect(FlowRequest.parse({ src: "h1", dst: "h2", bytes: "100MB", rate: "10Mbit" })).toEqual({
      src: "h1",
      dst: "h2",
      transport: "tcp",
      bytes: 100e6,
      rate: 10e6,
      weight: 1,
    });
    expect(FlowRequest.parse({ src: "h1", dst: "h2", seconds: "500ms", weight: 2, route: "r1", port: 5201 })).toMatchObject({
      seconds: 0.5,
      weight: 2,
      route: "r1",
      port: 5201,
    });
  });

  test("exactly one of bytes and seconds", () => {
    expect(problems({ src: "h1", dst: "h2" })).toEqual(["bytes: a flow needs exactly one of bytes (how much to send) or seconds (how long to send)"]);
    expect(problems({ src: "h1", dst: "h2", bytes: 1, seconds: 1 })).toHaveLength(1);
  });

  test("refusals name the field: zero sizes, a zero rate, a flow to itself, bad units, unknown keys", () => {
    expect(problems({ src: "h1", dst: "h2", bytes: 0 })).toEqual(["bytes: a flow sends at least one byte"]);
    expect(problems({ src: "h1", dst: "h2", bytes: 10, rate: 0 })[0]).toStartWith("rate: leave it out");
    expect(problems({ src: "h1", dst: "h1", bytes: 10 })).toEqual(["dst: a flow goes between two nodes; src and dst are both h1"]);
    expect(problems({ src: "h1", dst: "h2", bytes: "ten" })[0]).toContain('expected a size like "64KB", got "ten"');
    expect(problems({ src: "h1", dst: "h2", bytes: 10, weight: 0 })[0]).toStartWith("weight:");
    expect(problems({ src: "h1", dst: "h2", bytes: 10, transport: "udp" })[0]).toStartWith("transport:");
    expect(problems({ src: "h1", dst: "h2", bytes: 10, speed: 1 })[0]).toContain("speed");
  });
});
