/**
 * @module
 * The controller's persistent desired state behind one small interface: the
 * namespaces (settings, nodes, links, routes, launch queue, schedule plan and runs, captures) and the hosts that have ever
 * joined. Implementations: `store-sqlite.ts` (the default, a file in the state
 * dir) and `store-memory.ts` (tests, throwaway controllers). The store is always
 * injected, never imported as a global, so a test can hand in its own.
 *
 * The interface is synchronous on purpose: both implementations are in-process
 * and synchronous (bun:sqlite is), and a synchronous store lets namespace logic
 * validate and commit a change without another request interleaving between
 * the read and the write.
 */
import { z } from "zod";
import { Name } from "../protocol/names.ts";
import { HostTransport, LinkSpec, NodeSpec, PathMode, RouteSpec, Transport } from "../protocol/state.ts";
import { Pin } from "../protocol/pins.ts";
import { DataEndpoint, HostFacts } from "../protocol/wire.ts";
import { LOAD_KINDS } from "../protocol/api.ts";
import { LaunchGroup, PlanEntry, ScheduleRun } from "../protocol/launch.ts";
import { CaptureRecord } from "../protocol/capture.ts";
import { FlowRecord } from "../protocol/flow.ts";

export const NamespaceSettings = z.strictObject({
  /** queue launches instead of scheduling them at once (minimega's queueing) */
  queueing: z.boolean(),
  /** which commit the scheduler balances hosts by */
  load: z.enum(LOAD_KINDS),
  /** how agents carry this namespace's packets between hosts (records saved before it existed read as tcp) */
  transport: Transport.default("tcp"),
  /** per host pair overrides of `transport` */
  hostTransports: z.array(HostTransport).default([]),
  /** how pairs without explicit routes are routed: one shortest path, or every equal-cost one (records before it read as shortest) */
  paths: PathMode.default("shortest"),
});
export type NamespaceSettings = z.infer<typeof NamespaceSettings>;

export const DEFAULT_SETTINGS: NamespaceSettings = { queueing: false, load: "cpucommit", transport: "tcp", hostTransports: [], paths: "shortest" };

/** One namespace as stored: everything needed to rebuild it after a restart. */
export const NamespaceRecord = z.strictObject({
  name: Name,
  subnet: z.string(),
  settings: NamespaceSettings,
  /**
   * The hosts its nodes may be placed on. Absent: every connected host, now
   * and later (the `default` namespace, and ones a topology document made).
   */
  hosts: z.array(Name).optional(),
  nodes: z.array(NodeSpec),
  links: z.array(LinkSpec),
  routes: z.array(RouteSpec),
  /** policy pins, first match wins (records saved before they existed read as none) */
  pins: z.array(Pin).default([]),
  // Scheduling (controller/scheduling.ts); records saved before it existed read as empty.
  /** queued launch groups, in the order they were queued */
  queue: z.array(LaunchGroup).default([]),
  /** the N of the next `node-N` a count launch makes; it only grows, so count names are never reused */
  nextNode: z.number().int().positive().default(1),
  /** the plan a dry run stored (and moves edited); absent when there is none */
  plan: z.array(PlanEntry).optional(),
  /** schedule runs, oldest first */
  runs: z.array(ScheduleRun).default([]),
  // Captures (controller/captures.ts); records saved before they existed read as none.
  /** running and stopped captures, in creation order */
  captures: z.array(CaptureRecord).default([]),
  /** the N of the next capture id cN; it only grows, so ids are never reused */
  nextCapture: z.number().int().positive().default(1),
  // Flows (controller/flows.ts); records saved before they existed read as none.
  /** user-space flows, running and ended, in creation order */
  flows: z.array(FlowRecord).default([]),
  /** the N of the next flow id fN; it only grows */
  nextFlow: z.number().int().positive().default(1),
});
export type NamespaceRecord = z.infer<typeof NamespaceRecord>;

/** A host that has joined at least once; `lastSeen` is milliseconds since the epoch. */
export const HostRecord = z.strictObject({
  name: Name,
  address: z.string(),
  facts: HostFacts,
  /** where other agents send this host's packets, as its agent announced */
  data: DataEndpoint.optional(),
  lastSeen: z.number(),
});
export type HostRecord = z.infer<typeof HostRecord>;

export interface Store {
  /** every namespace, ordered by name */
  listNamespaces(): NamespaceRecord[];
  getNamespace(name: string): NamespaceRecord | undefined;
  /** insert or replace the whole namespace */
  putNamespace(ns: NamespaceRecord): void;
  deleteNamespace(name: string): void;
  /** every known host, ordered by name */
  listHosts(): HostRecord[];
  getHost(name: string): HostRecord | undefined;
  putHost(host: HostRecord): void;
  close(): void;
}
