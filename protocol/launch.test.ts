/** Launch request and launch group schemas: defaults, the refusals, name expansion. */
import { describe, expect, test } from "bun:test";
import { LaunchGroup, LaunchRequest, launchNames, ScheduleMove, ScheduleRequest } from "./launch.ts";

describe("LaunchRequest", () => {
  test("fills in minimega's defaults", () => {
    expect(LaunchRequest.parse({ names: "a[0-1]" })).toEqual({ names: "a[0-1]", vcpus: 1, memoryMB: 2048, coschedule: -1 });
  });

  test("takes names or count, not both and not neither", () => {
    expect(LaunchRequest.safeParse({ count: 3 }).success).toBe(true);
    expect(LaunchRequest.safeParse({ names: "a", count: 3 }).success).toBe(false);
    expect(LaunchRequest.safeParse({}).success).toBe(false);
  });

  test("refuses schedule with colocate, naming the field", () => {
    const r = LaunchRequest.safeParse({ names: "a", schedule: "h1", colocate: "b" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(["colocate"]);
    expect(r.error?.issues[0].message).toContain("not both");
  });

  test("refuses malformed ranges, bad names, coschedule below -1 and unknown fields", () => {
    for (const body of [
      { names: "a[3-1]" },
      { names: "A" },
      { names: "a", coschedule: -2 },
      { names: "a", vcpus: 0 },
      { names: "a", colour: "red" },
    ]) {
      expect(LaunchRequest.safeParse(body).success).toBe(false);
    }
  });
});

test("LaunchGroup: expanded names, optional expected links, the same refusal", () => {
  expect(LaunchGroup.parse({ names: ["a0"], links: 3 })).toEqual({ names: ["a0"], vcpus: 1, memoryMB: 2048, coschedule: -1, links: 3 });
  expect(LaunchGroup.safeParse({ names: [] }).success).toBe(false);
  expect(LaunchGroup.safeParse({ names: ["a"], schedule: "h", colocate: "b" }).success).toBe(false);
});

test("launchNames: the range expanded, or node-N counting on from the namespace's counter past names in use", () => {
  expect(launchNames({ names: "vm[01-03]" }, 7)).toEqual({ names: ["vm01", "vm02", "vm03"], next: 7 });
  expect(launchNames({ count: 3 }, 7)).toEqual({ names: ["node-7", "node-8", "node-9"], next: 10 });
  const taken = new Set(["node-8"]);
  expect(launchNames({ count: 2 }, 7, (n) => taken.has(n))).toEqual({ names: ["node-7", "node-9"], next: 10 });
});

test("schedule bodies: dryRun defaults to false; move takes a range and a host", () => {
  expect(ScheduleRequest.parse({})).toEqual({ dryRun: false });
  expect(ScheduleRequest.safeParse({ dry: true }).success).toBe(false);
  expect(ScheduleMove.parse({ nodes: "vm[1-2]", host: "h2" })).toEqual({ nodes: "vm[1-2]", host: "h2" });
  expect(ScheduleMove.safeParse({ nodes: "", host: "h2" }).success).toBe(false);
});
