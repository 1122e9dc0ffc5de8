/** The scheduler's rules, one block each: loads, host order, group order, colocate, coschedule, errors. */
import { describe, expect, test } from "bun:test";
import { expandRange } from "../protocol/names.ts";
import { type GroupToPlace, type NodeOnHost, type ScheduleInput, type ScheduleResult, schedule } from "./scheduler.ts";
import { HostLoads, type LoadKind, type SchedulerHost } from "./scheduler-load.ts";

const LOADS: LoadKind[] = ["cpucommit", "memcommit", "netcommit"];

function host(name: string, cpus = 16, memTotalMB = 65536, connected = true): SchedulerHost {
  return { name, cpus, memTotalMB, connected };
}

function equalHosts(n: number): SchedulerHost[] {
  return Array.from({ length: n }, (_, i) => host(`h${i}`));
}

function run(groups: GroupToPlace[], opts: Partial<ScheduleInput> = {}): ScheduleResult {
  return schedule({ load: "cpucommit", hosts: equalHosts(2), existing: [], placed: new Map(), groups, ...opts });
}

/** The plan as node -> host, failing the test on an error. */
function placed(r: ScheduleResult): Map<string, string> {
  if (!r.ok) throw new Error(`expected a plan, got ${r.error.code}: ${r.error.message}`);
  return new Map(r.plan.map((p) => [p.node, p.host]));
}

/** Nodes per host, names sorted. */
function byHost(plan: Map<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [node, h] of plan) (out[h] ??= []).push(node);
  for (const list of Object.values(out)) list.sort();
  return out;
}

function errorOf(r: ScheduleResult) {
  if (r.ok) throw new Error(`expected an error, got a plan of ${r.plan.length} nodes`);
  expect("plan" in r).toBe(false); // all or nothing: a failure carries no partial plan
  return r.error;
}

describe("load", () => {
  for (const load of LOADS) {
    test(`${load}: 10 groups of 10 over 10 equal hosts give every host one node of each group`, () => {
      const groups = Array.from({ length: 10 }, (_, g) => ({
        names: expandRange(`g${g + 1}-[0-9]`),
        vcpus: g + 1,
        memoryMB: (g + 1) * 1024,
        links: g + 1,
      }));
      const plan = placed(run(groups, { load, hosts: equalHosts(10) }));
      expect(plan.size).toBe(100);
      const hosts = byHost(plan);
      expect(Object.keys(hosts).sort()).toEqual(equalHosts(10).map((h) => h.name));
      for (const nodes of Object.values(hosts)) {
        expect(nodes.map((n) => n.split("-")[0]).sort()).toEqual(groups.map((_, g) => `g${g + 1}`).sort());
      }
    });
  }

  test("cpucommit normalises by cpus: a host with twice the cpus takes twice the nodes", () => {
    const plan = placed(run([{ names: expandRange("n[1-12]") }], { hosts: [host("small", 4), host("big", 8)] }));
    expect(byHost(plan).big).toHaveLength(8);
    expect(byHost(plan).small).toHaveLength(4);
  });

  test("memcommit normalises by memory: a host with twice the memory takes twice the nodes", () => {
    const hosts = [host("small", 16, 8192), host("big", 16, 16384)];
    const plan = placed(run([{ names: expandRange("n[1-12]"), memoryMB: 1024 }], { load: "memcommit", hosts }));
    expect(byHost(plan).big).toHaveLength(8);
    expect(byHost(plan).small).toHaveLength(4);
  });

  test("netcommit counts link ends, not nodes: one node with 4 links weighs as much as 4 with 1", () => {
    const existing: NodeOnHost[] = [{ host: "h0", name: "hub", links: 4 }];
    const hosts = byHost(placed(run([{ names: expandRange("leaf[1-5]"), links: 1 }], { load: "netcommit", existing })));
    // leaf1-4 bring h1 level with h0 (4 link ends each); leaf5 then goes to the host with fewer nodes
    expect(hosts).toEqual({ h0: ["leaf5"], h1: ["leaf1", "leaf2", "leaf3", "leaf4"] });
  });

  test("netcommit before any link exists spreads by node count instead of piling onto one host", () => {
    const hosts = byHost(placed(run([{ names: expandRange("n[1-6]") }], { load: "netcommit", hosts: equalHosts(3) })));
    expect(Object.values(hosts).map((l) => l.length)).toEqual([2, 2, 2]);
  });

  test("nodes already on a host count, from every namespace; nodes on hosts outside the namespace do not", () => {
    const existing: NodeOnHost[] = [
      ...Array.from({ length: 3 }, () => ({ host: "h0", vcpus: 2 })),
      { host: "elsewhere", vcpus: 100 },
    ];
    const plan = placed(run([{ names: expandRange("n[1-8]") }], { existing }));
    // h0 starts at 6/16: n1-n6 bring h1 level, then the two alternate (ties to the host with fewer nodes)
    expect(byHost(plan)).toEqual({ h0: ["n7"], h1: ["n1", "n2", "n3", "n4", "n5", "n6", "n8"] });
  });

  test("ties in load go to the host with fewer nodes, then by name, whatever order hosts are listed in", () => {
    const a = placed(run([{ names: ["x", "y", "z"] }], { hosts: [host("b"), host("c"), host("a")] }));
    expect([...a]).toEqual([["x", "a"], ["y", "b"], ["z", "c"]]);
  });
});

describe("host order", () => {
  test("a host full under a coschedule limit sorts after every host that is not, whatever its load", () => {
    const hosts = new HostLoads("cpucommit", [host("quiet", 64), host("busy", 2)]);
    hosts.add(0, { nodes: 1, vcpus: 1, memoryMB: 1, links: 0, coschedule: 0, limitOf: "alone" });
    hosts.add(1, { nodes: 1, vcpus: 2, memoryMB: 1, links: 0, coschedule: Infinity, limitOf: undefined });
    expect(hosts.load(0)).toBeLessThan(hosts.load(1));
    expect(hosts.isFull(0)).toBe(true);
    expect(hosts.less(1, 0)).toBe(true);
    expect(hosts.less(0, 1)).toBe(false);
  });

  test("so when nothing fits, the host named is the first one that is not full, not the least loaded", () => {
    const existing: NodeOnHost[] = [
      { host: "quiet", name: "alone", coschedule: 0 },
      { host: "busy", vcpus: 2 },
      { host: "busy", vcpus: 2 },
    ];
    const r = run([{ names: ["picky"], coschedule: 1 }], { hosts: [host("quiet", 64), host("busy", 2)], existing });
    expect(errorOf(r).details).toEqual({ node: "picky", host: "busy", limit: 1, limitOf: "picky", others: 2 });
  });

  test("a node without a limit skips a full host for a busier one", () => {
    const existing: NodeOnHost[] = [{ host: "quiet", name: "alone", coschedule: 0 }, { host: "busy", vcpus: 2 }];
    const plan = placed(run([{ names: ["n"] }], { hosts: [host("quiet", 64), host("busy", 2)], existing }));
    expect(plan.get("n")).toBe("busy");
  });
});

describe("group order", () => {
  test("pinned groups go first, wherever they are queued", () => {
    const groups = [{ names: ["a0", "a1"] }, { names: ["p"], schedule: "h0", coschedule: 0 }];
    expect(byHost(placed(run(groups)))).toEqual({ h0: ["p"], h1: ["a0", "a1"] });
  });

  test("then groups with a coschedule limit, lowest first", () => {
    const groups = [
      { names: expandRange("a[0-3]") },
      { names: ["pair0", "pair1"], coschedule: 2 },
      { names: ["solo"], coschedule: 0 },
    ];
    // solo first takes h0 alone, the pair takes h1 and h2, and the rest fill those up to the pair's limit;
    // in queue order the a-nodes would have spread over all three hosts and left solo nowhere to go
    expect(byHost(placed(run(groups, { hosts: equalHosts(3) })))).toEqual({
      h0: ["solo"],
      h1: ["a0", "a2", "pair0"],
      h2: ["a1", "a3", "pair1"],
    });
  });

  test("then groups with more nodes colocated on them, before larger groups", () => {
    const groups = [
      { names: ["b0", "b1"] },
      { names: ["a"] },
      { names: ["f1"], colocate: "a" },
      { names: ["f2"], colocate: "a" },
    ];
    expect(byHost(placed(run(groups, { hosts: equalHosts(3) })))).toEqual({ h0: ["a", "f1", "f2"], h1: ["b0"], h2: ["b1"] });
  });

  test("then larger groups", () => {
    const groups = [{ names: ["s"], vcpus: 4 }, { names: ["b0", "b1", "b2"] }];
    // b0 -> h0, b1 -> h1, b2 -> h0, then s to the lighter h1; in queue order s would have taken h0
    expect(byHost(placed(run(groups)))).toEqual({ h0: ["b0", "b2"], h1: ["b1", "s"] });
  });

  test("the plan lists nodes in queue order, whatever order they were placed in", () => {
    const r = run([{ names: ["z"] }, { names: ["y"], schedule: "h1" }, { names: ["x"], colocate: "z" }]);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.plan.map((p) => p.node)).toEqual(["z", "y", "x"]);
  });

  test("the same facts give the same plan", () => {
    const input: ScheduleInput = {
      load: "cpucommit",
      hosts: equalHosts(7),
      existing: [{ host: "h3", vcpus: 5 }],
      placed: new Map(),
      groups: [
        { names: expandRange("a[0-40]"), vcpus: 2 },
        { names: expandRange("b[0-9]"), coschedule: 12 },
        { names: ["c"], colocate: "a7" },
      ],
    };
    const first = schedule(input);
    expect(schedule(input)).toEqual(first);
    expect(schedule({ ...input, hosts: [...input.hosts].reverse() })).toEqual(first);
  });
});

describe("colocate", () => {
  test("a chain a <- b <- c lands on one host, followers queued before their leaders", () => {
    const groups = [{ names: ["c"], colocate: "b" }, { names: ["b"], colocate: "a" }, { names: ["a"] }, { names: ["x"] }];
    const plan = placed(run(groups, { existing: [{ host: "h0", vcpus: 1 }] }));
    expect(byHost(plan)).toEqual({ h0: ["x"], h1: ["a", "b", "c"] });
  });

  test("a chain ending at a node that already has a host follows it there, however loaded", () => {
    const existing: NodeOnHost[] = [{ host: "h1", name: "run", vcpus: 16 }];
    const groups = [{ names: ["b"], colocate: "a" }, { names: ["a"], colocate: "run" }, { names: ["free"] }];
    const plan = placed(run(groups, { existing, placed: new Map([["run", "h1"]]) }));
    expect(byHost(plan)).toEqual({ h0: ["free"], h1: ["a", "b"] });
  });

  test("followers of a pinned node go to the pinned host", () => {
    const plan = placed(run([{ names: ["f"], colocate: "p" }, { names: ["p"], schedule: "h1" }]));
    expect(byHost(plan)).toEqual({ h1: ["f", "p"] });
  });

  test("a group colocated with one node: every node of the group follows it", () => {
    const plan = placed(run([{ names: ["lead"] }, { names: expandRange("f[1-5]"), colocate: "lead" }], { hosts: equalHosts(4) }));
    expect(byHost(plan)).toEqual({ h0: ["f1", "f2", "f3", "f4", "f5", "lead"] });
  });

  test("a chain of 5,000 colocations is placed without running out of stack", () => {
    const groups: GroupToPlace[] = [{ names: ["n0"] }];
    for (let i = 1; i < 5000; i++) groups.push({ names: [`n${i}`], colocate: `n${i - 1}` });
    expect(new Set(placed(run(groups)).values())).toEqual(new Set(["h0"]));
  });

  test("a leader is placed where its followers fit too", () => {
    // h0 is lighter but already holds a node; the follower wants at most 1 other, i.e. only its leader
    const existing: NodeOnHost[] = [{ host: "h0", vcpus: 1 }];
    const hosts = [host("h0", 64), host("h1", 2)];
    const plan = placed(run([{ names: ["lead"] }, { names: ["f"], colocate: "lead", coschedule: 1 }], { hosts, existing }));
    expect(byHost(plan)).toEqual({ h1: ["f", "lead"] });
  });
});

describe("coschedule", () => {
  test("coschedule 0 nodes each get a host of their own", () => {
    const plan = placed(run([{ names: ["a", "b", "c"], coschedule: 0 }], { hosts: equalHosts(3) }));
    expect(new Set(plan.values()).size).toBe(3);
  });

  test("pinned + exclusive: the pinned node is alone on its host, the rest share the others", () => {
    const groups = [{ names: expandRange("n[1-6]") }, { names: ["picky"], schedule: "h0", coschedule: 0 }];
    const hosts = byHost(placed(run(groups, { hosts: equalHosts(3) })));
    expect(hosts.h0).toEqual(["picky"]);
    expect(hosts.h1).toHaveLength(3);
    expect(hosts.h2).toHaveLength(3);
  });

  test("exclusive without a pin: the least-loaded empty host, and no one joins it afterwards", () => {
    const groups = [{ names: expandRange("n[1-5]") }, { names: ["lonely"], coschedule: 0 }];
    const hosts = byHost(placed(run(groups, { hosts: equalHosts(3) })));
    expect(hosts.h0).toEqual(["lonely"]);
    expect(hosts.h1.length + hosts.h2.length).toBe(5);
  });

  test("a constraint while choosing: the other host, rather than the lighter one that would break the limit", () => {
    // big is far lighter (64 cpus) but already holds 2 nodes; picky allows 1 other
    const existing: NodeOnHost[] = [{ host: "big" }, { host: "big" }, { host: "small", vcpus: 1 }];
    const plan = placed(run([{ names: ["picky"], coschedule: 1 }], { hosts: [host("big", 64), host("small", 2)], existing }));
    expect(plan.get("picky")).toBe("small");
  });

  test("the limit of a node already on a host keeps others away once reached", () => {
    const existing: NodeOnHost[] = [{ host: "big", name: "shy", coschedule: 1 }, { host: "small" }];
    const plan = placed(run([{ names: ["a", "b", "c"] }], { hosts: [host("big", 64), host("small", 2)], existing }));
    // a joins shy (1 other is allowed); b and c would make 2, so they go to the busier host
    expect(byHost(plan)).toEqual({ big: ["a"], small: ["b", "c"] });
  });

  test("limits within a group: ice and fire (coschedule 1) may share one host but not a third node", () => {
    const groups = [{ names: ["fire", "ice"], coschedule: 1 }, { names: expandRange("n[1-4]") }];
    const plan = placed(run(groups, { hosts: equalHosts(3) }));
    for (const n of ["fire", "ice"]) {
      const h = plan.get(n) as string;
      expect(byHost(plan)[h].length).toBeLessThanOrEqual(2);
    }
  });
});

describe("errors", () => {
  test("no host fits: names the node, the host and the limit", () => {
    const e = errorOf(run([{ names: ["a", "b", "c"], coschedule: 0 }]));
    expect(e.code).toBe("no_host_fits");
    expect(e.message).toBe(
      'node "c" fits on no host: on "h0", the least-loaded, "c" would share the host with 1 other node but allows at most 0 (coschedule 0)',
    );
    expect(e.details).toEqual({ node: "c", host: "h0", limit: 0, limitOf: "c", others: 1 });
  });

  test("no host fits because of a node already there: names that node", () => {
    const existing: NodeOnHost[] = [{ host: "h0", name: "hermit", coschedule: 0 }, { host: "h1", name: "monk", coschedule: 0 }];
    const e = errorOf(run([{ names: ["n"] }], { existing }));
    expect(e.message).toBe(
      'node "n" fits on no host: on "h0", the least-loaded, "hermit", already there, would share the host with 1 other node but allows at most 0 (coschedule 0)',
    );
  });

  test("no host fits because of a follower: names the follower", () => {
    const groups = [{ names: ["lead"] }, { names: ["f"], colocate: "lead", coschedule: 0 }];
    const e = errorOf(run(groups));
    expect(e.message).toBe(
      'node "lead" fits on no host: on "h0", the least-loaded, "f", colocated with it, would share the host with 1 other node but allows at most 0 (coschedule 0)',
    );
    expect(e.details).toEqual({ node: "lead", host: "h0", limit: 0, limitOf: "f", others: 1 });
  });

  test("a pinned node that would break a limit: names the node, its host and the limit", () => {
    const groups = [{ names: ["p", "q"], schedule: "h1", coschedule: 0 }];
    const e = errorOf(run(groups));
    expect(e.message).toBe(
      'node "q" cannot go on host "h1", where it is scheduled: "q" would share the host with 1 other node but allows at most 0 (coschedule 0)',
    );
    expect(e.details).toEqual({ node: "q", host: "h1", limit: 0, limitOf: "q", others: 1 });
  });

  test("a node following a placed node onto a host it would break", () => {
    const existing: NodeOnHost[] = [{ host: "h1", name: "run" }, { host: "h1", name: "other" }];
    const e = errorOf(run([{ names: ["f"], colocate: "run", coschedule: 0 }], { existing, placed: new Map([["run", "h1"]]) }));
    expect(e.message).toBe(
      'node "f" cannot go on host "h1", where "run" that it colocates with is: "f" would share the host with 2 other nodes but allows at most 0 (coschedule 0)',
    );
  });

  test("a colocate target that exists nowhere", () => {
    const e = errorOf(run([{ names: ["a"] }, { names: ["b"], colocate: "ghost" }]));
    expect(e).toEqual({
      code: "unknown_colocate",
      message: 'node "b" colocates with "ghost", which is neither being placed nor placed in this namespace',
      details: { node: "b", colocate: "ghost" },
    });
  });

  test("a pinned host that is not in the namespace", () => {
    const e = errorOf(run([{ names: ["a"], schedule: "h9" }]));
    expect(e).toEqual({
      code: "unknown_host",
      message: 'node "a" is scheduled on host "h9", which is not a host of this namespace',
      details: { node: "a", host: "h9" },
    });
  });

  test("a pinned host that is not connected", () => {
    const e = errorOf(run([{ names: ["a"], schedule: "h1" }], { hosts: [host("h0"), host("h1", 16, 65536, false)] }));
    expect(e).toEqual({
      code: "host_down",
      message: 'node "a" is scheduled on host "h1", which is not connected',
      details: { node: "a", host: "h1" },
    });
  });

  test("a colocate target on a host that is not connected, or not in the namespace", () => {
    const hosts = [host("h0"), host("h1", 16, 65536, false)];
    const down = errorOf(run([{ names: ["a"], colocate: "x" }], { hosts, placed: new Map([["x", "h1"]]) }));
    expect(down.code).toBe("host_down");
    expect(down.message).toBe('node "a" colocates with "x", which is on host "h1", which is not connected');
    const gone = errorOf(run([{ names: ["a"], colocate: "x" }], { hosts, placed: new Map([["x", "h7"]]) }));
    expect(gone.code).toBe("unknown_host");
    expect(gone.details).toEqual({ node: "a", host: "h7", colocate: "x" });
  });

  test("schedule together with colocate is refused", () => {
    const e = errorOf(run([{ names: ["a"] }, { names: ["b"], schedule: "h0", colocate: "a" }]));
    expect(e).toEqual({
      code: "schedule_with_colocate",
      message:
        'node "b" sets both schedule ("h0") and colocate ("a"): a colocated node goes wherever the node it follows goes, so it cannot be pinned as well',
      details: { node: "b", schedule: "h0", colocate: "a" },
    });
  });

  test("colocate rings, and a node colocating with itself", () => {
    const ring = errorOf(run([{ names: ["a"], colocate: "b" }, { names: ["b"], colocate: "c" }, { names: ["c"], colocate: "a" }]));
    expect(ring.message).toBe('nodes "a", "b", "c" colocate with one another in a ring, so none of them has a host to follow');
    const self = errorOf(run([{ names: ["a0", "a1"], colocate: "a0" }]));
    expect(self.message).toBe('node "a0" colocates with itself, so it has no host to follow');
  });

  test("a name twice in the queue, or already placed", () => {
    expect(errorOf(run([{ names: ["a"] }, { names: ["a"] }])).message).toBe('node "a" appears more than once among the nodes to place');
    expect(errorOf(run([{ names: ["a"] }], { placed: new Map([["a", "h0"]]) })).message).toBe(
      'node "a" already exists in this namespace',
    );
  });

  test("no connected host", () => {
    const e = errorOf(run([{ names: ["a"] }], { hosts: [host("h0", 16, 65536, false)] }));
    expect(e).toEqual({ code: "no_hosts", message: 'no connected host in this namespace to place node "a" on', details: { node: "a" } });
    expect(run([], { hosts: [] })).toEqual({ ok: true, plan: [] });
  });
});
