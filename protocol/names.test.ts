/** Tests for names and range expressions (`h[1-4]`, `h[1,3,5-6]`, `vm[01-03]`). */
import { describe, expect, test } from "bun:test";
import { expandRange, Name, NAME_PATTERN, expandList } from "./names.ts";

describe("Name", () => {
  test("accepts lowercase names of up to 63 characters", () => {
    for (const ok of ["h1", "0", "node-1", "a.b_c-d", "x".repeat(63)]) expect(Name.safeParse(ok).success).toBe(true);
  });

  test("refuses capitals, leading punctuation, spaces, brackets and long names", () => {
    for (const bad of ["", "H1", "-h", ".h", "_h", "h 1", "h[1]", "h/1", "x".repeat(64)]) {
      expect(NAME_PATTERN.test(bad)).toBe(false);
      const r = Name.safeParse(bad);
      expect(r.success).toBe(false);
    }
    expect(Name.safeParse("H1").error?.issues[0].message).toStartWith("expected a name of lowercase letters");
  });
});

describe("expandRange", () => {
  test("a plain name is itself", () => {
    expect(expandRange("h1")).toEqual(["h1"]);
  });

  test("ranges, lists and their mix", () => {
    expect(expandRange("a[0-3]")).toEqual(["a0", "a1", "a2", "a3"]);
    expect(expandRange("h[1,3,5-6]")).toEqual(["h1", "h3", "h5", "h6"]);
    expect(expandRange("h[7]")).toEqual(["h7"]);
    expect(expandRange("h[ 1 - 2 ]")).toEqual(["h1", "h2"]);
  });

  test("keeps zero padding and suffixes", () => {
    expect(expandRange("vm[01-03]")).toEqual(["vm01", "vm02", "vm03"]);
    expect(expandRange("vm[008-010]")).toEqual(["vm008", "vm009", "vm010"]);
    expect(expandRange("rack[1-2]-tor")).toEqual(["rack1-tor", "rack2-tor"]);
  });

  test("malformed ranges throw a sentence", () => {
    expect(() => expandRange("h[1-")).toThrow('malformed range "h[1-": expected like "a[0-3]"');
    expect(() => expandRange("h[a-b]")).toThrow('"a-b" is not a number or a range like 1-4');
    expect(() => expandRange("h[3-1]")).toThrow("3-1 counts down");
    expect(() => expandRange("h[1-2][3-4]")).toThrow("malformed range");
    expect(() => expandRange("h[0-200000]")).toThrow("too large");
  });
});

describe("expandList", () => {
  test("commas outside brackets separate names and ranges; order kept, duplicates dropped", () => {
    expect(expandList("h1,h[3-4]")).toEqual(["h1", "h3", "h4"]);
    expect(expandList("h[1,3], x , h1")).toEqual(["h1", "h3", "x"]);
    expect(expandList("vm[01-02]")).toEqual(["vm01", "vm02"]);
  });

  test("empty parts and malformed ranges throw a sentence", () => {
    expect(() => expandList("h1,,h2")).toThrow('malformed list "h1,,h2": an empty name between commas');
    expect(() => expandList("h[1-")).toThrow(/malformed range/);
  });
});
