/**
 * Messages between the agent's main thread and its dataplane worker. Both sides
 * are this process's own code (structured clone, no untrusted bytes), so plain
 * types suffice here; the untrusted boundary is the agent socket (protocol/wire.ts).
 */
import type { Shaping } from "../../protocol/state.ts";
import type { DataplaneTables, FlowClasses } from "./tables.ts";
import type { RoutingTables } from "./route-sets.ts";
import type { ConversationReport } from "../../protocol/conversation.ts";
import type { FlowOrder, FlowUpdate, StackOrder } from "../flows/engine.ts";

export type ToWorker =
  /** listen: where the tcp transport accepts other agents (port 0: any free port) */
  | {
      type: "init";
      wakeFd: number;
      poolBytes: number;
      /** live conversations the worker tracks at most */
      conversationCap: number;
      seed: number;
      vnet: boolean;
      listen?: { address: string; port: number };
      /** the quic worker's rings: frames out (u32 peer + frame) and in (u32 peer + frame), and its wake eventfd */
      quic?: { out: SharedArrayBuffer; in: SharedArrayBuffer; inWakeFd: number };
    }
  /**
   * replace every table; packets queued under the old tables are dropped. The
   * worker answers `tablesApplied` with the same id: from then on it no longer
   * touches descriptors the old tables held, so they may be closed.
   */
  | { type: "tables"; id: number; tables: DataplaneTables }
  /** new routing (routes, weights, pins, link state), in place: queued packets keep going, conversations keep paths that still exist */
  | { type: "routing"; routing: RoutingTables }
  /** new flow classes for weighted sharing (tables.ts), in place: queued packets move to the new classes */
  | { type: "classes"; classes: FlowClasses }
  /** change shaping of existing link directions in place, keeping their queues */
  | { type: "shape"; updates: { dir: number; shaping: Shaping }[] }
  /** every capture to run; running ones left out are flushed and their files closed */
  | { type: "captures"; captures: CaptureOpen[] }
  /** every userspace node of this host that gets a TCP stack, and every flow end to run on them */
  | { type: "userspace"; stacks: StackOrder[]; flows: FlowOrder[] }
  | { type: "stop" };

export interface DirectionCounters {
  key: string;
  packets: number;
  bytes: number;
  segments: number;
  dropLoss: number;
  dropQueue: number;
  /** segments offered while the link was down */
  dropLinkDown: number;
  queued: number;
  /** the most segments queued since the last report */
  queuedMax: number;
}

/** A capture the worker writes into a file the main thread opened (agent/captures.ts); the worker closes it. */
export interface CaptureOpen {
  /** "namespace/id" */
  key: string;
  fd: number;
  /** node keys ("namespace/node"): packets they send into the dataplane and packets delivered to them */
  nodes: string[];
  /** direction keys ("namespace/link/ab"): packets as they are delivered across the direction */
  dirs: string[];
}

export interface CaptureCount {
  key: string;
  packets: number;
  bytes: number;
  /** why the file could not be written, once it could not */
  error?: string;
}

export type FromWorker =
  /** port: where the tcp transport listens (0 without one) */
  | { type: "ready"; port: number }
  | { type: "tablesApplied"; id: number }
  /** at: when the counters were read (ms since the epoch); drops: by registry index (drops.ts) */
  | { type: "counters"; at: number; dirs: DirectionCounters[]; drops: number[]; poolInUse: number; captures: CaptureCount[] }
  /** conversations that moved or ended since the last report, once a second; the table's totals */
  | { type: "conversations"; reports: ConversationReport[]; live: number; started: number; ended: number; evicted: number }
  /** a capture left the set: its last records are written and its file closed */
  | { type: "captureClosed"; capture: CaptureCount }
  /** flow ends that changed, and every running one twice a second */
  | { type: "flows"; updates: FlowUpdate[] }
  | { type: "error"; message: string }
  | { type: "stopped" };
