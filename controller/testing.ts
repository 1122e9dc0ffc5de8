/**
 * @module
 * Test fixtures for the controller, imported only by *.test.ts: a fake clock,
 * a fake agent connection that decodes what the hub sends, and a harness that
 * wires a memory store, the hub, namespace logic and the app the way
 * server.ts does, without sockets.
 */
import { createApp } from "./app.ts";
import { settleFlow } from "./flows.ts";
import { AgentHub, type AgentSession } from "./hub.ts";
import { Namespaces } from "./namespaces.ts";
import { schedulerBusy } from "./schedule-runs.ts";
import { MemoryStore } from "./store-memory.ts";
import { type AgentFrame, type ControllerFrame, decodeControllerFrame, encodeFrame, type HostFacts, PROTOCOL_VERSION } from "../protocol/wire.ts";

export const API_TOKEN = "test-api-token";
export const JOIN_TOKEN = "test-join-token";

export class FakeClock {
  constructor(public ms = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const FACTS: HostFacts = { cpus: 4, memTotalMB: 8192, memUsedMB: 1024, load: 0.25, addresses: ["192.0.2.10"], privileged: true };

/** One agent's end of the hub: every frame the hub sent it, decoded. */
export class FakeAgent {
  readonly frames: ControllerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly session: AgentSession;

  constructor(hub: AgentHub, address = "192.0.2.10") {
    this.session = hub.attach(
      {
        send: (bytes) => {
          const d = decodeControllerFrame(bytes);
          if (!d.ok) throw new Error(`hub sent an invalid frame: ${d.reason}`);
          this.frames.push(d.frame);
        },
        close: (code, reason) => {
          this.closed = { code, reason };
        },
      },
      address,
    );
  }

  send(frame: AgentFrame): void {
    this.session.onMessage(encodeFrame(frame));
  }

  hello(name: string, joinToken = JOIN_TOKEN, facts: HostFacts = FACTS): this {
    this.send({ type: "hello", version: PROTOCOL_VERSION, name, joinToken, facts });
    return this;
  }

  /** Frames of one type, in the order they came. */
  of<T extends ControllerFrame["type"]>(type: T): Extract<ControllerFrame, { type: T }>[] {
    return this.frames.filter((f): f is Extract<ControllerFrame, { type: T }> => f.type === type);
  }

  lastState(): Extract<ControllerFrame, { type: "state" }> | undefined {
    return this.of("state").at(-1);
  }

  /** Reports every node of every namespace it was given as running. */
  reportAllRunning(): void {
    const nodes = (this.lastState()?.namespaces ?? []).flatMap((ns) =>
      ns.nodes.map((n) => ({ namespace: ns.name, name: n.name, state: "running" as const, netns: `nm-${n.name}` })),
    );
    this.send({ type: "status", nodes });
  }
}

export function harness(opts: { heartbeatTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const hub: AgentHub = new AgentHub({
    joinToken: JOIN_TOKEN,
    store,
    stateFor: (host) => namespaces.stateFor(host),
    onFlowEnded: (namespace, id) => settleFlow({ namespaces, hub }, namespace, id),
    log,
    clock,
    execGraceMs: 0,
    heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
  });
  const namespaces = new Namespaces({
    store,
    agents: hub,
    log,
    busy: schedulerBusy(store, hub),
    onChange: (namespace, changed, deleted) => hub.namespaceChanged(namespace, changed, deleted),
  });
  const app = createApp({ store, hub, namespaces, apiToken: API_TOKEN, version: "test", log });

  /** An API call with the right token; `body` is sent as JSON. */
  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const agent = (name: string) => new FakeAgent(hub).hello(name);

  return { clock, store, logs, hub, namespaces, app, request, agent };
}

export type Harness = ReturnType<typeof harness>;

/** The error body every failing route answers with. */
export type ErrorBody = { error: { code: string; message: string; details?: { issues?: string[] } & Record<string, unknown> } };
