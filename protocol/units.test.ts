/** Tests for unit strings: parsing to base units, the error sentences, zod fields and formatting back. */
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import {
  Duration,
  Fraction,
  formatDuration,
  formatFraction,
  formatRate,
  parseDuration,
  parseFraction,
  parseRate,
  parseSize,
  Rate,
  Size,
} from "./units.ts";

function value(r: { ok: true; value: number } | { ok: false; reason: string }): number {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}
function reason(r: { ok: true; value: number } | { ok: false; reason: string }): string {
  if (r.ok) throw new Error(`expected a failure, got ${r.value}`);
  return r.reason;
}

describe("parseRate", () => {
  test("units and plain numbers in bit/s", () => {
    expect(value(parseRate("100Mbit"))).toBe(100e6);
    expect(value(parseRate("1Gbit"))).toBe(1e9);
    expect(value(parseRate("64kbit"))).toBe(64e3);
    expect(value(parseRate("10mbps"))).toBe(10e6);
    expect(value(parseRate("2.5 Gbit/s"))).toBe(2.5e9);
    expect(value(parseRate("1Tbit"))).toBe(1e12);
    expect(value(parseRate("500"))).toBe(500);
    expect(value(parseRate(1e6))).toBe(1e6);
    expect(value(parseRate(0))).toBe(0);
  });

  test("bad rates say what was expected", () => {
    expect(reason(parseRate("fast"))).toBe('expected a rate like "100Mbit", got "fast"');
    expect(reason(parseRate("100MB"))).toBe('expected a rate like "100Mbit", got "100MB"');
    expect(reason(parseRate("-1Mbit"))).toBe('expected a rate like "100Mbit", got "-1Mbit" (negative values are not allowed)');
    expect(reason(parseRate(-5))).toBe('expected a rate like "100Mbit", got -5');
    expect(reason(parseRate(Number.POSITIVE_INFINITY))).toStartWith("expected a rate");
  });
});

describe("parseDuration", () => {
  test("units in seconds", () => {
    expect(value(parseDuration("10ms"))).toBeCloseTo(0.01, 12);
    expect(value(parseDuration("250us"))).toBeCloseTo(250e-6, 12);
    expect(value(parseDuration("1.5s"))).toBe(1.5);
    expect(value(parseDuration("100ns"))).toBeCloseTo(1e-7, 15);
    expect(value(parseDuration("2min"))).toBe(120);
    expect(value(parseDuration("10MS"))).toBeCloseTo(0.01, 12);
    expect(value(parseDuration(0.002))).toBe(0.002);
  });

  // DURATION_UNITS lists "µs" but NUMBER's unit group is [a-zA-Z%/], so the micro sign never
  // reaches the table. Reported rather than fixed here: units.ts belongs to the skeleton.
  test("the micro sign (250µs) is accepted", () => {
    expect(value(parseDuration("250µs"))).toBeCloseTo(250e-6, 12);
  });

  test("bad durations", () => {
    expect(reason(parseDuration("ten"))).toBe('expected a duration like "10ms", got "ten"');
    expect(reason(parseDuration("-1ms"))).toBe('expected a duration like "10ms", got "-1ms" (negative values are not allowed)');
    expect(reason(parseDuration("10 parsecs"))).toStartWith("expected a duration");
    expect(reason(parseDuration(-0.1))).toBe('expected a duration like "10ms", got -0.1');
  });
});

describe("parseFraction", () => {
  test("percentages and plain fractions", () => {
    expect(value(parseFraction("1%"))).toBe(0.01);
    expect(value(parseFraction("0.5%"))).toBe(0.005);
    expect(value(parseFraction("100%"))).toBe(1);
    expect(value(parseFraction("0.25"))).toBe(0.25);
    expect(value(parseFraction(0))).toBe(0);
    expect(value(parseFraction(1))).toBe(1);
  });

  test("over 100%, negative and malformed", () => {
    expect(reason(parseFraction("150%"))).toBe('expected a percentage from 0% to 100%, got "150%"');
    expect(reason(parseFraction("2"))).toBe('expected a percentage from 0% to 100%, got "2"');
    expect(reason(parseFraction(1.5))).toBe('expected a fraction from 0 to 1 or a percentage like "1%", got 1.5');
    expect(reason(parseFraction(-0.1))).toStartWith("expected a fraction from 0 to 1");
    expect(reason(parseFraction("-1%"))).toBe('expected a percentage like "1%", got "-1%"');
    expect(reason(parseFraction("lots"))).toBe('expected a percentage like "1%", got "lots"');
  });
});

describe("parseSize", () => {
  test("decimal and binary units", () => {
    expect(value(parseSize("64KB"))).toBe(64e3);
    expect(value(parseSize("1MiB"))).toBe(1048576);
    expect(value(parseSize("2GB"))).toBe(2e9);
    expect(value(parseSize("1500"))).toBe(1500);
    expect(value(parseSize("1500B"))).toBe(1500);
    expect(reason(parseSize("big"))).toBe('expected a size like "64KB", got "big"');
  });
});

describe("zod fields", () => {
  const Link = z.object({ bandwidth: Rate, delay: Duration, loss: Fraction, buffer: Size });

  test("yield base-unit numbers", () => {
    const out = Link.parse({ bandwidth: "10Mbit", delay: 0.5, loss: "10%", buffer: "1KiB" });
    expect(out).toEqual({ bandwidth: 10e6, delay: 0.5, loss: 0.1, buffer: 1024 });
  });

  test("report the reason at the field's path", () => {
    const r = Link.safeParse({ bandwidth: "x", delay: "ten", loss: "1%", buffer: 1 });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => [i.path.join("."), i.message]);
    expect(issues).toEqual([
      ["bandwidth", 'expected a rate like "100Mbit", got "x"'],
      ["delay", 'expected a duration like "10ms", got "ten"'],
    ]);
  });
});

describe("formatting", () => {
  test("rates", () => {
    expect(formatRate(0)).toBe("unlimited");
    expect(formatRate(100e6)).toBe("100Mbit");
    expect(formatRate(1.5e9)).toBe("1.5Gbit");
    expect(formatRate(64e3)).toBe("64kbit");
    expect(formatRate(999)).toBe("999bit");
    expect(formatRate(2e12)).toBe("2Tbit");
  });

  test("durations", () => {
    expect(formatDuration(0)).toBe("0ms");
    expect(formatDuration(0.01)).toBe("10ms");
    expect(formatDuration(2)).toBe("2s");
    expect(formatDuration(250e-6)).toBe("250us");
  });

  test("fractions", () => {
    expect(formatFraction(0.1)).toBe("10%");
    expect(formatFraction(0.005)).toBe("0.5%");
    expect(formatFraction(0)).toBe("0%");
  });

  test("formatted values parse back to the same number", () => {
    for (const bps of [1, 999, 64e3, 100e6, 1.5e9]) expect(value(parseRate(formatRate(bps)))).toBeCloseTo(bps, 6);
    for (const s of [0, 0.001, 0.0105, 2]) expect(value(parseDuration(formatDuration(s)))).toBeCloseTo(s, 9);
    for (const f of [0, 0.01, 0.105, 1]) expect(value(parseFraction(formatFraction(f)))).toBeCloseTo(f, 9);
  });
});
