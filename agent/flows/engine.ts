/**
 * The user-space side of one dataplane worker: a WASM TCP stack (wasm/stack.ts)
 * for each userspace node on this host, and the ends of the flows this agent
 * runs on them (agent/flows/flow.ts). Packets the forwarder delivers to such a
 * node go into its stack (`deliver`); packets a stack sends are copied into
 * pool slots and queued, and the worker hands them to the forwarder as if
 * read from the node's interface (`drain`), so they meet the same routes and
 * shapers as any packet.
 *
 * Why a queue between a stack and the forwarder: on an unshaped path a packet
 * is delivered within the call that sent it, and the reply would re-enter the
 * sending stack from inside its own output; lwIP is not reentrant. The queue
 * also bounds the work per loop: a transfer between two stacks on this host
 * proceeds `drain`'s budget at a time, never in one unbounded call.
 *
 * Times: the worker's clock in nanoseconds, given to stacks and flows in ms;
 * reports carry epoch milliseconds for people and exact durations.
 */
import type { PacketPool } from "../dataplane/pool.ts";
import { SMALL_SLOT } from "../dataplane/pool.ts";
import { VNET_HDR_LEN, completeChecksum, segmentCount, splitSegments } from "../dataplane/vnet.ts";
import { TcpStack, type TcpListener, type TcpSocket } from "../../wasm/stack.ts";
import type { FlowRole, FlowState } from "../../protocol/flow.ts";
import { FlowReceiver, FlowSender, type FlowReport as EndReport, type SendSpec } from "./flow.ts";

/** A stack to run: the node's key ("namespace/node") and its address. */
export interface StackOrder {
  node: string;
  ip: string;
  netmask: string;
}

/** One end of a flow to run on a local stack. */
export interface FlowOrder {
  /** "namespace/flowId" */
  key: string;
  role: FlowRole;
  /** the node key of the stack this end runs on */
  node: string;
  port: number;
  /** sender: the receiver's address and what to send */
  dst?: string;
  spec?: SendSpec;
}

/** What one end has seen since the last update (samples: only the new ones). */
export interface FlowUpdate extends Omit<EndReport, "samples" | "sampleCount"> {
  key: string;
  role: FlowRole;
  durationMs?: number;
  samples: EndReport["samples"];
  samplesFrom: number;
}

/** The forwarder's entry for packets a node sends. */
export interface Ingress {
  ingress(now: number, node: number, slot: number): void;
}

export interface EngineHooks {
  /** a stack came up: the worker's loop should run (it may be asleep with nothing to do) */
  wake(): void;
  report(updates: FlowUpdate[]): void;
  log(line: string): void;
}

/** packets a stack may have queued for the forwarder; past this they are dropped, as a full NIC queue would */
const OUT_CAPACITY = 16384;
/** updates are sent this often while flows run, and at once when one starts, finishes or fails */
const REPORT_MS = 500;
/** flows are pumped at most this often (ms): enough for pacing to the packet at 100 Mbit/s, cheap at 10 Gbit/s */
const PUMP_MS = 0.05;
const MAX_SEGMENTS = 65536;
/** a stack is ticked at least this often (ms): lwIP's timers run every 50 ms, so one armed meanwhile is late by at most this */
const IDLE_TICK_MS = 10;
/** a refused connection is tried again this long after the first try, every REFUSED_RETRY_GAP_MS */
const REFUSED_RETRY_MS = 5000;
const REFUSED_RETRY_GAP_MS = 100;

interface StackEntry {
  order: StackOrder;
  stack: TcpStack | undefined;
  /** its node id in the current tables, -1 when it has none */
  node: number;
  /** when its timers are next due (ms) */
  due: number;
  broken: boolean;
}

interface FlowEntry {
  order: FlowOrder;
  started: boolean;
  sender: FlowSender | undefined;
  receiver: FlowReceiver | undefined;
  listener: TcpListener | undefined;
  /** a failure before any end existed (no stack, connect refused locally) */
  error: string | undefined;
  /** when the sender first tried, and when it may try again after a refusal (ms) */
  firstTry: number;
  retryAt: number;
  lastState: FlowState | "";
  samplesSent: number;
  reportedEnd: boolean;
}

export class FlowEngine {
  readonly drops = { noNode: 0, backlog: 0, pool: 0, broken: 0 };
  readonly #pool: PacketPool;
  readonly #mem: Buffer;
  readonly #off: number;
  readonly #hooks: EngineHooks;
  readonly #stacks = new Map<string, StackEntry>();
  readonly #flows = new Map<string, FlowEntry>();
  #byNode: (StackEntry | undefined)[] = [];
  /** node key -> node id in the current tables */
  #nodeIds = new Map<string, number>();
  readonly #outNode = new Int32Array(OUT_CAPACITY);
  readonly #outSlot = new Int32Array(OUT_CAPACITY);
  #outHead = 0;
  #outTail = 0;
  readonly #keep = new Uint8Array(MAX_SEGMENTS).fill(1);
  readonly #split = new Int32Array(MAX_SEGMENTS);
  #nowMs = 0;
  /** orders that came before the module was compiled */
  #waiting: { stacks: StackOrder[]; flows: FlowOrder[] } | undefined;
  #lastPump = -Infinity;
  #nextReport = 0;
  /** epoch ms = clock ms + this */
  readonly #epoch: number;

  constructor(pool: PacketPool, vnet: boolean, nowNs: number, hooks: EngineHooks) {
    this.#pool = pool;
    this.#mem = Buffer.from(pool.mem.buffer, pool.mem.byteOffset, pool.mem.byteLength);
    this.#off = vnet ? VNET_HDR_LEN : 0;
    this.#hooks = hooks;
    this.#epoch = Date.now() - nowNs / 1e6;
  }

  get stackCount(): number {
    return this.#stacks.size;
  }

  /** Packets the stacks sent that the forwarder has not taken yet. */
  get backlog(): number {
    return this.#outTail - this.#outHead;
  }

  /** The stacks and flow ends to run; others stop (their sockets aborted, their stacks dropped). */
  update(nowNs: number, stacks: StackOrder[], flows: FlowOrder[]): void {
    if (!TcpStack.prepared) {
      // the module compiles once per thread; the newest orders are applied when it is ready
      const first = this.#waiting === undefined;
      this.#waiting = { stacks, flows };
      if (first) {
        TcpStack.prepare().then(
          () => {
            const w = this.#waiting!;
            this.#waiting = undefined;
            this.update(Bun.nanoseconds(), w.stacks, w.flows);
            this.#hooks.wake();
          },
          (err: unknown) => this.#hooks.log(`the TCP stack module did not compile: ${(err as Error).message}`),
        );
      }
      return;
    }
    const ms = nowNs / 1e6;
    const wanted = new Map(stacks.map((s) => [s.node, s]));
    for (const [key, e] of this.#stacks) {
      const w = wanted.get(key);
      if (!w || w.ip !== e.order.ip || w.netmask !== e.order.netmask) {
        this.#stacks.delete(key);
        if (e.node >= 0) this.#byNode[e.node] = undefined;
      }
    }
    for (const s of stacks) if (!this.#stacks.has(s.node)) this.#startStack(s, ms);
    const orders = new Map(flows.map((f) => [`${f.key}/${f.role}`, f]));
    for (const [key, f] of this.#flows) {
      if (orders.has(key) && this.#stacks.has(f.order.node)) continue;
      this.#flows.delete(key);
      this.#stop(f);
    }
    for (const [key, order] of orders) {
      const had = this.#flows.get(key);
      if (had) {
        // the window follows the flows sharing the route
        const window = order.spec?.window;
        if (window !== undefined && window !== had.order.spec?.window) had.sender?.setWindow(window);
        had.order = order;
        continue;
      }
      this.#flows.set(key, {
        order,
        started: false,
        sender: undefined,
        receiver: undefined,
        listener: undefined,
        error: undefined,
        firstTry: -1,
        retryAt: 0,
        lastState: "",
        samplesSent: 0,
        reportedEnd: false,
      });
    }
  }

  /** New tables: node ids change, and packets queued under the old ids are dropped. */
  setTables(nodeKeys: string[]): void {
    this.#flushOut();
    this.#nodeIds = new Map(nodeKeys.map((k, g) => [k, g]));
    this.#byNode = new Array<StackEntry | undefined>(nodeKeys.length).fill(undefined);
    for (const e of this.#stacks.values()) this.#bind(e);
  }

  #bind(e: StackEntry): void {
    e.node = this.#nodeIds.get(e.order.node) ?? -1;
    if (e.node >= 0) this.#byNode[e.node] = e;
  }

  /** The forwarder delivers `slot` to node `node`: true when a stack took it (the slot is freed either way then). */
  deliver(node: number, slot: number): boolean {
    const e = this.#byNode[node];
    if (e === undefined || e.stack === undefined) return false;
    const p = this.#pool;
    if (this.#off !== 0 && segmentCount(p.view(slot), p.len[slot]) > 1) {
      // a kernel sender's super-packet: the stack takes real segments
      const n = splitSegments(p, slot, this.#keep, this.#split);
      for (let i = 0; i < n; i++) this.#input(e, this.#split[i]);
      return true;
    }
    this.#input(e, slot);
    return true;
  }

  #input(e: StackEntry, slot: number): void {
    const p = this.#pool;
    const off = this.#off;
    const len = p.len[slot];
    if (e.broken || len <= off) {
      p.free(slot);
      return;
    }
    // the stack checks every checksum; a kernel sender with offload left its TCP checksum partial
    if (off !== 0) completeChecksum(p.view(slot), len);
    try {
      e.stack!.inputFrom(this.#mem, p.offset[slot] + off, len - off);
    } catch (err) {
      this.#broke(e, err);
    }
    p.free(slot);
  }

  /** Hands up to `budget` queued packets to the forwarder; returns how many. */
  drain(now: number, fwd: Ingress, budget: number): number {
    let n = 0;
    while (this.#outHead < this.#outTail && n < budget) {
      const i = this.#outHead++ % OUT_CAPACITY;
      fwd.ingress(now, this.#outNode[i], this.#outSlot[i]);
      n++;
    }
    if (this.#outHead === this.#outTail) this.#outHead = this.#outTail = 0;
    return n;
  }

  /** Runs due timers, starts and pumps flows, and reports. Call every loop, and by `nextDeadline`. */
  service(nowNs: number): void {
    const ms = nowNs / 1e6;
    this.#nowMs = ms;
    for (const e of this.#stacks.values()) {
      if (e.stack === undefined || e.broken || ms < e.due) continue;
      try {
        // a call between ticks (a connect, a packet) can arm a timer the last tick did not know of
        const next = e.stack.tick(ms);
        e.due = next < ms + IDLE_TICK_MS ? next : ms + IDLE_TICK_MS;
      } catch (err) {
        this.#broke(e, err);
      }
    }
    if (ms - this.#lastPump < PUMP_MS && ms < this.#nextReport) return;
    this.#lastPump = ms;
    let changed = false;
    for (const f of this.#flows.values()) {
      if (!f.started && ms >= f.retryAt) this.#start(f, ms);
      try {
        f.sender?.pump(ms);
        f.receiver?.pump(ms);
      } catch (err) {
        f.error ??= `the flow's stack failed: ${(err as Error).message}`;
      }
      if (f.sender?.refused && ms - f.firstTry < REFUSED_RETRY_MS) {
        // the receiver may not listen yet (its agent is still applying the state): try again shortly
        f.sender = undefined;
        f.started = false;
        f.retryAt = ms + REFUSED_RETRY_GAP_MS;
      }
      if (this.#state(f) !== f.lastState) changed = true;
    }
    if (changed || ms >= this.#nextReport) {
      this.#report();
      this.#nextReport = ms + REPORT_MS;
    }
  }

  /** When `service` is next needed (ns): a stack's timer, a paced sender's next segment, a report. */
  nextDeadline(): number {
    let min = this.#flows.size > 0 ? this.#nextReport : Infinity;
    for (const e of this.#stacks.values()) if (e.stack !== undefined && !e.broken && e.due < min) min = e.due;
    for (const f of this.#flows.values()) {
      if (!f.started) {
        if (this.#stacks.get(f.order.node)?.stack !== undefined && f.retryAt < min) min = f.retryAt;
        continue;
      }
      const d = f.sender?.nextDeadline ?? Infinity;
      if (d < min) min = d;
    }
    return min === Infinity ? Infinity : min * 1e6;
  }

  #startStack(order: StackOrder, ms: number): void {
    const e: StackEntry = { order, stack: undefined, node: -1, due: ms, broken: false };
    this.#stacks.set(order.node, e);
    this.#bind(e);
    try {
      e.stack = TcpStack.createSync({ ip: order.ip, netmask: order.netmask, now: ms, output: (packet) => this.#queueOut(e, packet) });
    } catch (err) {
      e.broken = true;
      this.#hooks.log(`node ${order.node}: its TCP stack did not start: ${(err as Error).message}`);
    }
  }

  /** A stack's packet: copied into a slot and queued for the forwarder (never forwarded from inside lwIP). */
  #queueOut(e: StackEntry, packet: Uint8Array): void {
    if (e.node < 0) {
      this.drops.noNode++;
      return;
    }
    if (this.#outTail - this.#outHead >= OUT_CAPACITY) {
      this.drops.backlog++;
      return;
    }
    const p = this.#pool;
    const off = this.#off;
    const slot = p.alloc(packet.length + off > SMALL_SLOT);
    if (slot < 0) {
      this.drops.pool++;
      return;
    }
    const at = p.offset[slot];
    // a zero virtio header: a whole packet with its checksums done
    if (off !== 0) p.mem.fill(0, at, at + off);
    p.mem.set(packet, at + off);
    p.len[slot] = packet.length + off;
    const i = this.#outTail++ % OUT_CAPACITY;
    this.#outNode[i] = e.node;
    this.#outSlot[i] = slot;
  }

  #flushOut(): void {
    while (this.#outHead < this.#outTail) this.#pool.free(this.#outSlot[this.#outHead++ % OUT_CAPACITY]);
    this.#outHead = this.#outTail = 0;
  }

  #broke(e: StackEntry, err: unknown): void {
    if (e.broken) return;
    e.broken = true;
    this.drops.broken++;
    this.#hooks.log(`node ${e.order.node}: its TCP stack failed and is stopped: ${(err as Error).message}`);
  }

  #start(f: FlowEntry, ms: number): void {
    const e = this.#stacks.get(f.order.node);
    if (e === undefined || e.broken) {
      f.started = true;
      f.error = `node ${f.order.node} has no running TCP stack on this host`;
      return;
    }
    if (e.stack === undefined) return;
    f.started = true;
    const o = f.order;
    try {
      if (o.role === "sender") {
        if (o.dst === undefined || o.spec === undefined) throw new Error("a sender needs a destination and what to send");
        if (f.firstTry < 0) f.firstTry = ms;
        f.sender = new FlowSender(e.stack.connect(o.dst, o.port), o.spec, ms);
      } else {
        f.listener = e.stack.listen(o.port, (socket) => this.#accepted(f, socket));
      }
    } catch (err) {
      f.error = (err as Error).message;
    }
  }

  #accepted(f: FlowEntry, socket: TcpSocket): void {
    // one connection per flow: a second one is someone else's
    if (f.receiver !== undefined) {
      socket.abort();
      return;
    }
    f.receiver = new FlowReceiver(socket, this.#nowMs);
    f.listener?.close();
    f.listener = undefined;
  }

  #stop(f: FlowEntry): void {
    f.listener?.close();
    for (const end of [f.sender, f.receiver]) end?.abort();
  }

  /** The end's state, without building its report (this runs at every pump). */
  #state(f: FlowEntry): FlowState {
    if (f.error !== undefined) return "failed";
    return (f.sender ?? f.receiver)?.state ?? "pending";
  }

  #report(): void {
    const updates: FlowUpdate[] = [];
    for (const f of this.#flows.values()) {
      if (f.reportedEnd) continue;
      const r: EndReport | undefined = (f.sender ?? f.receiver)?.report();
      const state = this.#state(f);
      f.lastState = state;
      const fresh = r ? Math.min(r.samples.length, r.sampleCount - f.samplesSent) : 0;
      const samples = r && fresh > 0 ? r.samples.slice(r.samples.length - fresh) : [];
      if (r) f.samplesSent = r.sampleCount;
      const u: FlowUpdate = {
        key: f.order.key,
        role: f.order.role,
        state,
        bytes: r?.bytes ?? 0,
        retransmits: r?.retransmits ?? 0,
        samples,
        samplesFrom: (r?.sampleCount ?? 0) - samples.length,
      };
      if (r?.startedAt !== undefined) u.startedAt = r.startedAt + this.#epoch;
      if (r?.finishedAt !== undefined) {
        u.finishedAt = r.finishedAt + this.#epoch;
        if (r.startedAt !== undefined) u.durationMs = r.finishedAt - r.startedAt;
      }
      if (r?.sha256 !== undefined) u.sha256 = r.sha256;
      const error = f.error ?? r?.error;
      if (error !== undefined) u.error = error;
      if (state === "finished" || state === "failed") f.reportedEnd = true;
      updates.push(u);
    }
    if (updates.length > 0) this.#hooks.report(updates);
  }
}
