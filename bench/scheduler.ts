/**
 * @module
 * Benchmark of the scheduler (controller/scheduler.ts): 10,000 nodes over 100
 * simulated hosts, in three shapes, each under every load kind. Prints the
 * first (cold) run and the median of the following runs; the goal is under
 * 1 s. Prints figures; not a test.
 * Run: flock /tmp/nextmini-e2e.lock ./node_modules/.bin/bun bench/scheduler.ts
 */
import { type GroupToPlace, type NodeOnHost, type ScheduleInput, schedule } from "../controller/scheduler.ts";
import type { LoadKind, SchedulerHost } from "../controller/scheduler-load.ts";

const HOSTS = 100;
const NODES = 10_000;
const RUNS = 10;

const hostName = (i: number) => `h${String(i).padStart(3, "0")}`;
const range = (prefix: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);

/** minimega's own benchmark: one group, no constraints, hosts already loaded unevenly. */
function oneGroup(): Omit<ScheduleInput, "load"> {
  const hosts: SchedulerHost[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: hostName(i),
    cpus: 32,
    memTotalMB: 131072,
    connected: true,
  }));
  const existing: NodeOnHost[] = [];
  for (let i = 0; i < HOSTS; i++) for (let k = 0; k < i % 7; k++) existing.push({ host: hostName(i), links: 2 });
  return { hosts, existing, placed: new Map(), groups: [{ names: range("n", 0, NODES), links: 2 }] };
}

/**
 * Every rule at once: hosts of four sizes (one not connected), 2,000 nodes
 * already running on three quarters of them, then pinned groups, exclusive
 * nodes, coschedule-limited groups, chains of colocated nodes (one following
 * a running node) and groups of various sizes and commits.
 */
function mixed(): Omit<ScheduleInput, "load"> {
  const hosts: SchedulerHost[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: hostName(i),
    cpus: 8 << (i % 4),
    memTotalMB: 16384 << (i % 4),
    connected: i !== 99,
  }));
  const existing: NodeOnHost[] = Array.from({ length: 2000 }, (_, k) => ({
    host: hostName((k * 37) % 75), // h075-h098 stay empty for the exclusive nodes
    vcpus: 1 + (k % 3),
    memoryMB: 1024 * (1 + (k % 4)),
    links: k % 5,
  }));
  const placed = new Map<string, string>([["running", hostName(10)]]);
  const groups: GroupToPlace[] = [];
  let made = 0;
  const add = (g: Omit<GroupToPlace, "names">, n: number) => {
    groups.push({ names: range("n", made, n), ...g });
    made += n;
  };
  for (let i = 0; i < 5; i++) add({ schedule: hostName(i * 20 + 3), vcpus: 2 }, 100);
  for (let i = 0; i < 20; i++) add({ coschedule: 0 }, 1);
  for (let i = 0; i < 12; i++) add({ coschedule: 150 + i, vcpus: 2, memoryMB: 4096, links: 3 }, 25);
  // 200 chains of 5: each leader queued after its followers
  for (let c = 0; c < 200; c++) {
    const lead = `n${made + 4}`;
    for (let k = 0; k < 4; k++) add({ colocate: `n${made + 1}`, links: 1 }, 1);
    groups[groups.length - 1] = { ...groups[groups.length - 1], colocate: lead };
    add({ vcpus: 1 + (c % 4) }, 1);
  }
  add({ colocate: "running" }, 20);
  while (made < NODES) {
    const i = groups.length;
    add({ vcpus: 1 + (i % 4), memoryMB: 512 << (i % 5), links: 1 + (i % 6) }, Math.min(NODES - made, 10 + (i % 150)));
  }
  return { hosts, existing, placed, groups };
}

/**
 * The slow path: the 50 lightest hosts are crowded and can take no node with
 * a tight limit, so each of 2,000 such nodes looks past all 50 before it
 * finds a host; 8,000 unconstrained nodes follow.
 */
function crowded(): Omit<ScheduleInput, "load"> {
  const hosts: SchedulerHost[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: hostName(i),
    cpus: i < 50 ? 1024 : 64,
    memTotalMB: i < 50 ? 1 << 24 : 1 << 18,
    connected: true,
  }));
  const existing: NodeOnHost[] = [];
  for (let i = 0; i < 50; i++) for (let k = 0; k < 50; k++) existing.push({ host: hostName(i) });
  const groups: GroupToPlace[] = [{ names: range("tight", 0, 2000), coschedule: 39 }, { names: range("n", 0, NODES - 2000) }];
  return { hosts, existing, placed: new Map(), groups };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const shapes: [string, () => Omit<ScheduleInput, "load">][] = [
  ["one group", oneGroup],
  ["mixed rules", mixed],
  ["crowded hosts", crowded],
];
const loads: LoadKind[] = ["cpucommit", "memcommit", "netcommit"];

console.log(`scheduler: ${NODES} nodes over ${HOSTS} hosts (first run, then median of ${RUNS})`);
for (const [name, make] of shapes) {
  for (const load of loads) {
    const input: ScheduleInput = { ...make(), load };
    const nodes = input.groups.reduce((n, g) => n + g.names.length, 0);
    const times: number[] = [];
    for (let r = 0; r <= RUNS; r++) {
      const t0 = performance.now();
      const result = schedule(input);
      times.push(performance.now() - t0);
      if (!result.ok) throw new Error(`${name}/${load}: ${result.error.message}`);
      if (result.plan.length !== nodes) throw new Error(`${name}/${load}: planned ${result.plan.length} of ${nodes}`);
    }
    const [first, ...rest] = times;
    const ms = (t: number) => `${t.toFixed(1).padStart(6)} ms`;
    console.log(`  ${name.padEnd(14)} ${load.padEnd(10)} ${nodes} nodes  first ${ms(first)}  median ${ms(median(rest))}`);
  }
}
