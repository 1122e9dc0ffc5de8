/**
 * @module
 * The registry of connected agents. It is transport-agnostic: the WebSocket
 * route (or the embedded mode, or a test) hands it a connection that can send
 * bytes and close, and feeds it every message and the close. The hub runs the
 * handshake (hello -> welcome + state), keeps each host's facts, liveness,
 * node statuses, link and capture counters, pushes desired state, and starts execs
 * (their bookkeeping is controller/execs.ts). Untrusted bytes are decoded once by protocol/wire.ts; a bad
 * frame is logged and answered, never thrown.
 *
 * With `issueTls` the welcome carries the agent's TLS bundle (CA, certificate,
 * key for agent-to-agent transports). Issuing is asynchronous, so frames that
 * arrive meanwhile wait in the session and are handled after the welcome.
 *
 * Liveness uses an injected clock: a host is up while its last hello or
 * heartbeat is at most `heartbeatTimeoutMs` old. The sweep timer only logs the
 * transitions; every read computes liveness from the clock, so tests advance
 * a fake clock instead of sleeping.
 */
import { FlowReports } from "./flow-reports.ts";
import { EventBus } from "./monitor/event-bus.ts";
import { LinkRates } from "./monitor/link-rates.ts";
import { ConversationStore } from "./monitor/conversations.ts";
import { ApiError } from "../protocol/errors.ts";
import type { NamespaceState, NodeState } from "../protocol/state.ts";
import {
  type AgentFrame,
  type CaptureCounters,
  type ControllerFrame,
  decodeAgentFrame,
  encodeFrame,
  type DataEndpoint,
  type HostFacts,
  type Peer,
  type TlsBundle,
  PROTOCOL_VERSION,
} from "../protocol/wire.ts";
import { HostProbes } from "./probes.ts";
import { Execs, type ExecStart, type RemoteExec } from "./execs.ts";
import type { HostRecord, Store } from "./store.ts";
import { constantTimeEqual } from "./tokens.ts";

/** What the hub needs from a transport: send one binary frame, close with a code. */
export interface AgentConn {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** Returned by `attach`; the transport calls these for every message and on close. */
export interface AgentSession {
  /** the host name once the hello was accepted */
  readonly host: string | undefined;
  onMessage(data: Uint8Array | ArrayBuffer | string): void;
  onClose(): void;
}

export type Clock = { now(): number };
export type HostView = HostRecord & { state: "up" | "down"; connected: boolean };
/** A node as its agent last reported it (or as derived when it has not). */
export type NodeObservation = { state: NodeState; netns?: string; error?: string };

/** Close codes: 4001 means "do not retry with the same settings". */
export const CLOSE_REJECTED = 4001;
export const CLOSE_REPLACED = 4003;

export type HubOptions = {
  joinToken: string;
  store: Store;
  /** the desired state for one host: every namespace with a node on it */
  stateFor(host: string): NamespaceState[];
  log?: (line: string) => void;
  clock?: Clock;
  heartbeatTimeoutMs?: number;
  sweepIntervalMs?: number;
  /** how long past the command's own timeout to wait for the agent's answer */
  execGraceMs?: number;
  /** where an operator finds the join token, for the rejection message */
  joinTokenHint?: string;
  /** issues a joining agent's TLS bundle (controller/ca.ts); without it the welcome has none */
  issueTls?: (host: string, data?: DataEndpoint) => Promise<TlsBundle>;
  /** an end of a flow reported that it finished or failed (controller/flows.ts settles the flow) */
  onFlowEnded?: (namespace: string, id: string) => void;
  /** how long ended conversations stay listed (default 10 minutes) */
  conversationRetentionMs?: number;
};

class Session implements AgentSession {
  host: string | undefined;
  lastHeartbeat = 0;
  down = false;
  /** the transport closed (a join still issuing its certificate must not complete) */
  closed = false;
  /** tells this connection's conversation numbers from an earlier run's (they restart with the agent) */
  tag = "";
  /** set while the hello's TLS bundle is being issued: frames received meanwhile */
  held: (Uint8Array | ArrayBuffer | string)[] | undefined;
  readonly nodes = new Map<string, NodeObservation>();

  constructor(
    readonly hub: AgentHub,
    readonly conn: AgentConn,
    readonly remoteAddress: string,
  ) {}

  onMessage(data: Uint8Array | ArrayBuffer | string): void {
    this.hub.handleMessage(this, data);
  }

  onClose(): void {
    this.hub.handleClose(this);
  }

  send(frame: ControllerFrame): void {
    try {
      this.conn.send(encodeFrame(frame));
    } catch (e) {
      // the socket may have closed under us; its close event cleans up
      this.hub.log(`agent ${this.label()}: send failed: ${(e as Error).message}`);
    }
  }

  label(): string {
    return this.host ?? `(unjoined, ${this.remoteAddress})`;
  }
}

export class AgentHub {
  readonly log: (line: string) => void;
  readonly #opts: HubOptions;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #sessions = new Map<string, Session>();
  /** per host, "namespace/id" -> what its agent last said of the capture */
  readonly #captures = new Map<string, Map<string, CaptureCounters>>();
  /** what agents report about running flows (controller/flow-reports.ts) */
  readonly flows = new FlowReports();
  /** live events for /events clients (controller/monitor/) */
  readonly events: EventBus;
  /** link directions' rates from agents' counters */
  readonly links = new LinkRates();
  /** the conversations agents observe */
  readonly conversations: ConversationStore;
  /** per host: its dataplane's drops by reason since its agent started */
  readonly hostDrops = new Map<string, Record<string, number>>();
  readonly #execs: Execs;
  /** probes of the network between two agents (POST /hosts/probe) */
  readonly probes: HostProbes;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: HubOptions) {
    this.#opts = opts;
    this.log = opts.log ?? (() => {});
    this.#clock = opts.clock ?? { now: () => Date.now() };
    this.#timeoutMs = opts.heartbeatTimeoutMs ?? 5000;
    this.#execs = new Execs({ log: this.log, graceMs: opts.execGraceMs });
    this.probes = new HostProbes({
      send: (host, frame) => {
        const s = this.#sessions.get(host);
        if (!s || s.closed) return false;
        s.send(frame);
        return true;
      },
      address: (host) => this.#opts.store.getHost(host)?.data?.address,
      known: (host) => this.#opts.store.getHost(host) !== undefined,
      isUp: (host) => this.isUp(host),
    });
    const now = () => this.#clock.now();
    this.events = new EventBus(now);
    this.conversations = new ConversationStore({
      now,
      retentionMs: opts.conversationRetentionMs,
      onEvent: (namespace, event, conversation) => {
        if (this.events.wanted("conversation")) this.events.publish({ kind: "conversation", t: now(), namespace, event, conversation });
      },
    });
  }

  /**
   * What the namespace logic tells of its changes (Namespaces' onChange):
   * a topology event for /events; a deleted namespace's conversations go.
   */
  namespaceChanged(namespace: string, changed: string[], deleted: boolean): void {
    if (deleted) this.conversations.forgetNamespace(namespace);
    this.events.publish({ kind: "topology", t: this.#clock.now(), namespace, changed, ...(deleted ? { deleted } : {}) });
  }

  /** Starts the liveness sweep timer (tests call `sweep()` themselves instead). */
  start(): void {
    this.#timer ??= setInterval(() => this.sweep(), this.#opts.sweepIntervalMs ?? 1000);
  }

  /** Stops the timer, fails pending execs and closes every agent connection. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const s of [...this.#sessions.values()]) {
      this.#dropSession(s, "the controller is shutting down");
      s.conn.close(1001, "controller shutting down");
    }
  }

  attach(conn: AgentConn, remoteAddress: string): AgentSession {
    return new Session(this, conn, remoteAddress);
  }

  /** Logs hosts that went down since the last sweep; returns their names. */
  sweep(): string[] {
    const now = this.#clock.now();
    const gone: string[] = [];
    for (const s of this.#sessions.values()) {
      if (!s.down && now - s.lastHeartbeat > this.#timeoutMs) {
        s.down = true;
        gone.push(s.host ?? "");
        this.log(`host ${s.host}: no heartbeat for ${this.#timeoutMs} ms; it is down and its nodes are lost`);
        this.events.publish({ kind: "host", t: now, host: s.host ?? "", state: "down" });
      }
    }
    return gone;
  }

  /** Connected and heard from within the heartbeat timeout. */
  isUp(host: string): boolean {
    const s = this.#sessions.get(host);
    return s !== undefined && this.#clock.now() - s.lastHeartbeat <= this.#timeoutMs;
  }

  upHosts(): string[] {
    return [...this.#sessions.keys()].filter((h) => this.isUp(h)).sort();
  }

  /** Every host that ever joined, with its liveness. */
  hosts(): HostView[] {
    return this.#opts.store.listHosts().map((h) => ({
      ...h,
      state: this.isUp(h.name) ? "up" : "down",
      connected: this.#sessions.has(h.name),
    }));
  }

  /**
   * A node's observed state: what its agent reported; "building" while the
   * agent has not reported it yet; "lost" while its host is down or gone.
   */
  observeNode(host: string, namespace: string, node: string): NodeObservation {
    if (!this.isUp(host)) return { state: "lost" };
    return this.#sessions.get(host)?.nodes.get(key(namespace, node)) ?? { state: "building" };
  }

  /** What `host`'s agent last reported of a capture, if anything (since it joined). */
  captureCounters(host: string, namespace: string, id: string): CaptureCounters | undefined {
    return this.#captures.get(host)?.get(key(namespace, id));
  }

  /** Sends the host its whole desired state; false when it is not connected. */
  pushState(host: string): boolean {
    const s = this.#sessions.get(host);
    if (!s) return false;
    const namespaces = this.#opts.stateFor(host);
    s.send({ type: "state", namespaces, peers: this.#peersOf(host, namespaces) });
    return true;
  }

  /** The other hosts holding nodes of these namespaces, where their agents take packets. */
  #peersOf(host: string, namespaces: NamespaceState[]): Peer[] {
    const names = new Set<string>();
    for (const ns of namespaces) for (const n of ns.nodes) if (n.host !== host) names.add(n.host);
    const peers: Peer[] = [];
    for (const name of [...names].sort()) {
      const data = this.#opts.store.getHost(name)?.data;
      if (data) peers.push({ name, address: data.address, port: data.port, ...(data.quicPort ? { quicPort: data.quicPort } : {}) });
    }
    return peers;
  }

  /** Starts a command inside a node (or on the host) through its host's agent; throws a 503 when the host is not up. */
  exec(host: string, request: ExecStart): RemoteExec {
    const s = this.#sessions.get(host);
    if (!s || !this.isUp(host)) {
      const which = request.node === undefined ? "" : `, which holds node ${request.node},`;
      throw new ApiError(503, "host_down", `host ${host}${which} is not connected`);
    }
    return this.#execs.start(host, (frame) => s.send(frame), request);
  }

  /** @internal called by Session */
  handleMessage(s: Session, data: Uint8Array | ArrayBuffer | string): void {
    if (s.held) {
      s.held.push(data);
      return;
    }
    if (typeof data === "string") {
      this.#reject(s, "text frame; agents send binary msgpack frames");
      return;
    }
    const decoded = decodeAgentFrame(data instanceof Uint8Array ? data : new Uint8Array(data));
    if (!decoded.ok) {
      this.#reject(s, decoded.reason);
      return;
    }
    const frame = decoded.frame;
    if (s.host === undefined) {
      this.#hello(s, frame);
      return;
    }
    if (this.#sessions.get(s.host) !== s) return; // replaced by a newer connection
    this.#dispatch(s, s.host, frame);
  }

  /** @internal called by Session */
  handleClose(s: Session): void {
    s.closed = true;
    if (s.host === undefined || this.#sessions.get(s.host) !== s) return;
    this.#dropSession(s, "the agent disconnected");
    this.log(`agent ${s.host}: disconnected`);
    this.events.publish({ kind: "host", t: this.#clock.now(), host: s.host, state: "down" });
  }

  #dispatch(s: Session, host: string, frame: AgentFrame): void {
    switch (frame.type) {
      case "hello":
        this.#reject(s, "hello sent twice on one connection");
        return;
      case "heartbeat": {
        s.lastHeartbeat = this.#clock.now();
        if (s.down) {
          s.down = false;
          this.log(`host ${host}: heartbeats resumed; it is up`);
          this.events.publish({ kind: "host", t: s.lastHeartbeat, host, state: "up" });
        }
        this.#saveHost(s, host, frame.facts);
        return;
      }
      case "endpoint": {
        const facts = this.#opts.store.getHost(host)?.facts;
        if (facts) this.#saveHost(s, host, facts, frame.data);
        // every agent learns the new endpoint
        for (const other of this.#sessions.keys()) this.pushState(other);
        return;
      }
      case "status":
        for (const n of frame.nodes) {
          const before = s.nodes.get(key(n.namespace, n.name));
          if (before?.state !== n.state) {
            this.events.publish({ kind: "node", t: this.#clock.now(), namespace: n.namespace, node: n.name, host, state: n.state, ...(n.error ? { error: n.error } : {}) });
          }
          s.nodes.set(key(n.namespace, n.name), { state: n.state, netns: n.netns, error: n.error });
          if (n.state === "error") this.log(`agent ${host}: node ${n.namespace}/${n.name} failed: ${n.error ?? "no reason given"}`);
        }
        return;
      case "counters": {
        this.links.note(host, frame.at ?? this.#clock.now(), frame.links);
        if (frame.drops) this.hostDrops.set(host, frame.drops);
        if (frame.captures) {
          let caps = this.#captures.get(host);
          if (!caps) this.#captures.set(host, (caps = new Map()));
          for (const c of frame.captures) caps.set(key(c.namespace, c.id), c);
        }
        return;
      }
      case "flows":
        for (const r of this.flows.note(frame.flows)) this.#opts.onFlowEnded?.(r.namespace, r.id);
        if (this.events.wanted("flow")) {
          const t = this.#clock.now();
          for (const r of frame.flows) this.events.publish({ kind: "flow", t, namespace: r.namespace, id: r.id, role: r.role, state: r.state, bytes: r.bytes });
        }
        return;
      case "conversations":
        this.conversations.note(host, s.tag, frame.reports, frame);
        return;
      case "execOutput":
      case "execResult":
      case "execAck":
        this.#execs.handle(host, frame);
        return;
      case "probeReady":
      case "probeDone":
        this.probes.handle(host, frame);
        return;
      case "error":
        this.log(`agent ${host} reports: ${frame.message}`);
        return;
    }
  }

  #hello(s: Session, frame: AgentFrame): void {
    if (frame.type !== "hello") {
      this.#fatal(s, `expected a hello frame first, got "${frame.type}"`, "expected hello");
      return;
    }
    if (frame.version !== PROTOCOL_VERSION) {
      this.#fatal(
        s,
        `protocol version ${frame.version} is not supported: this controller speaks version ${PROTOCOL_VERSION}; run the same nextmini release on agents and controller`,
        "protocol version mismatch",
      );
      return;
    }
    if (!constantTimeEqual(frame.joinToken, this.#opts.joinToken)) {
      const hint = this.#opts.joinTokenHint ?? "~/.nextmini/join-token on the controller's host";
      this.#fatal(s, `join token rejected: it does not match the controller's; use the token in ${hint}`, "join token rejected");
      return;
    }
    const issue = this.#opts.issueTls;
    if (!issue) {
      this.#join(s, frame);
      return;
    }
    s.held = [];
    issue(frame.name, frame.data).then(
      (tls) => {
        const held = s.held ?? [];
        s.held = undefined;
        if (s.closed) return;
        this.#join(s, frame, tls);
        for (const data of held) this.handleMessage(s, data);
      },
      (e: unknown) => {
        s.held = undefined;
        if (!s.closed) this.#fatal(s, `cannot issue a TLS certificate for ${frame.name}: ${e instanceof Error ? e.message : String(e)}`, "certificate not issued");
      },
    );
  }

  #join(s: Session, frame: Extract<AgentFrame, { type: "hello" }>, tls?: TlsBundle): void {
    const previous = this.#sessions.get(frame.name);
    if (previous) {
      this.#dropSession(previous, `host ${frame.name} reconnected`);
      previous.conn.close(CLOSE_REPLACED, "replaced by a newer connection");
      this.log(`agent ${frame.name}: new connection from ${s.remoteAddress} replaces the old one`);
    }
    s.host = frame.name;
    s.lastHeartbeat = this.#clock.now();
    s.tag = s.lastHeartbeat.toString(36);
    this.#sessions.set(frame.name, s);
    // a fresh agent counts from zero
    this.links.forget(frame.name);
    this.hostDrops.delete(frame.name);
    this.#captures.delete(frame.name);
    this.#saveHost(s, frame.name, frame.facts, frame.data);
    this.log(`agent ${frame.name}: joined from ${s.remoteAddress} (${frame.facts.cpus} cpus)`);
    s.send({ type: "welcome", version: PROTOCOL_VERSION, host: frame.name, ...(tls ? { tls } : {}) });
    this.events.publish({ kind: "host", t: s.lastHeartbeat, host: frame.name, state: "up" });
    // every agent learns where this one now takes packets (its port may have changed)
    for (const other of this.#sessions.keys()) this.pushState(other);
  }

  #saveHost(s: Session, host: string, facts: HostFacts, data?: DataEndpoint): void {
    // heartbeats carry no endpoint: keep the one from the hello
    const endpoint = data ?? this.#opts.store.getHost(host)?.data;
    this.#opts.store.putHost({ name: host, address: s.remoteAddress, facts, ...(endpoint ? { data: endpoint } : {}), lastSeen: this.#clock.now() });
  }

  #dropSession(s: Session, why: string): void {
    if (s.host === undefined) return;
    this.#sessions.delete(s.host);
    this.#execs.failHost(s.host, why);
    this.probes.hostGone(s.host, why);
  }

  #reject(s: Session, reason: string): void {
    this.log(`agent ${s.label()}: rejected frame: ${reason}`);
    if (s.host === undefined) {
      this.#fatal(s, `rejected frame before hello: ${reason}`, "expected hello", false);
      return;
    }
    s.send({ type: "error", message: `rejected frame: ${reason}`, fatal: false });
  }

  #fatal(s: Session, message: string, closeReason: string, log = true): void {
    if (log) this.log(`agent ${s.label()}: ${message}`);
    s.send({ type: "error", message, fatal: true });
    s.conn.close(CLOSE_REJECTED, closeReason);
  }
}

function key(a: string, b: string): string {
  // "/" cannot occur in a name, so the key is unambiguous
  return `${a}/${b}`;
}
