/**
 * The agent: connects to the controller's agent socket (retrying with backoff),
 * introduces itself with its join token and host facts, and converges this
 * host to each desired state it receives: nodes through NodeManager, packets
 * through the dataplane worker. It heartbeats, reports node states, link and
 * capture counters, and runs `exec` requests inside its nodes (agent/exec.ts).
 * Capture files are opened here (agent/captures.ts) and written by the worker.
 */
import os from "node:os";
import path from "node:path";
import {
  type CaptureCounters,
  decodeControllerFrame,
  encodeFrame,
  PROTOCOL_VERSION,
  type AgentFrame,
  type ControllerFrame,
  type LinkCounters,
  type Peer,
} from "../protocol/wire.ts";
import type { NamespaceState } from "../protocol/state.ts";
import { hostFacts } from "./facts.ts";
import { NodeManager } from "./nodes.ts";
import { Dataplane } from "./dataplane/dataplane.ts";
import { QuicTransport } from "./quic/quic.ts";
import type { CountersReport } from "./dataplane/dataplane.ts";
import { compileTables, sameClasses, sameRouting, sameStructure, type DataplaneTables } from "./dataplane/tables.ts";
import { dropsByName } from "./dataplane/drops.ts";
import { MAX_CONVERSATIONS_PER_FRAME } from "../protocol/conversation.ts";
import { Probes } from "./probe/probes.ts";
import { ExecRunner } from "./exec.ts";
import { CaptureFiles } from "./captures.ts";
import type { CaptureCount } from "./dataplane/messages.ts";
import { userspaceOrders } from "./flows/orders.ts";
import type { FlowUpdate } from "./flows/engine.ts";
import type { FlowReport } from "../protocol/flow.ts";

/** where agents take each other's packets unless told otherwise */
export const DEFAULT_DATA_PORT = 7401;

export interface AgentOptions {
  /** the controller's base URL, e.g. http://127.0.0.1:7400 */
  controller: string;
  joinToken: string;
  name: string;
  offload?: boolean;
  /** the address other agents reach this one at (default: its first non-loopback IPv4 address) */
  advertise?: string;
  /** the port other agents send packets to (tcp transport); 0 picks a free one */
  dataPort?: number;
  /** live conversations the dataplane tracks at most (default 100,000) */
  conversationCap?: number;
  /** bytes of packet buffers the dataplane may hold (default 1 GiB) */
  poolBytes?: number;
  /** seeds loss and jitter draws: the same seed and traffic give the same drops */
  seed?: number;
  heartbeatMs?: number;
  /** where capture files nobody named go, as <dir>/<namespace>-<id>.pcap (default ~/.nextmini/captures) */
  captureDir?: string;
  /** where nodes' commands write their output, as <dir>/<namespace>-<node>.log (default ~/.nextmini/logs) */
  logDir?: string;
  log?: (line: string) => void;
  /** the controller refused this agent for good (wrong join token, protocol version) */
  onFatal?: (message: string) => void;
}

export interface AgentHandle {
  /** resolves once the controller accepted the agent (welcome received) */
  connected: Promise<void>;
  /** resolves after the next desired state has been fully applied */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  const log = opts.log ?? ((l: string) => console.error(`agent ${opts.name}: ${l}`));
  const offload = opts.offload ?? true;
  // the quic transport needs this agent's certificate, which comes with the welcome;
  // its rings exist from the start so the dataplane can be handed them now
  // quic takes the UDP port after the data port, so a firewall needs one known range, not a random port
  const dataPort = opts.dataPort ?? DEFAULT_DATA_PORT;
  const quicPort = dataPort === 0 ? 0 : dataPort + 1;
  const quic = new QuicTransport({ me: opts.name, listen: { address: "0.0.0.0", port: quicPort }, onLog: (m) => log(`quic: ${m}`) });
  let quicStarted = false;
  let quicPeers: Peer[] = [];
  const captureDir = path.resolve(opts.captureDir ?? path.join(os.homedir(), ".nextmini", "captures"));
  const facts = () => ({ ...hostFacts(), captureDir });
  const captureFiles = new CaptureFiles();
  const dataplane = new Dataplane({
    seed: opts.seed,
    vnet: offload,
    quic: { out: quic.rings.out, in: quic.rings.in, inWakeFd: quic.inWakeFd },
    listen: { address: "0.0.0.0", port: dataPort },
    onError: (m) => log(`dataplane: ${m}`),
    // said at once, so a download right after a stop waits for exactly this (controller/captures.ts)
    onCaptureClosed: (c) => send({ type: "counters", links: [], captures: [{ ...captureCounters(c), closed: true }] }),
    onFlows: (updates) => send({ type: "flows", flows: updates.map(flowReport) }),
    onCounters: (c) => sendCounters(c),
    onConversations: (r) => {
      // a busy second may hold more than one frame's worth, each with the totals
      let at = 0;
      do {
        send({ type: "conversations", reports: r.reports.slice(at, at + MAX_CONVERSATIONS_PER_FRAME), live: r.live, started: r.started, ended: r.ended, evicted: r.evicted });
        at += MAX_CONVERSATIONS_PER_FRAME;
      } while (at < r.reports.length);
    },
    ...(opts.conversationCap === undefined ? {} : { conversationCap: opts.conversationCap }),
    ...(opts.poolBytes === undefined ? {} : { poolBytes: opts.poolBytes }),
  });
  try {
    await dataplane.start();
  } catch (e) {
    const why = (e as Error).message;
    const hint = /Address already in use/.test(why) ? "; another agent may be using it: pick another with --data-port (0 = any free port)" : "";
    throw new Error(`the dataplane could not start: ${why}${hint}`);
  }
  const advertise = opts.advertise ?? hostFacts().addresses[0] ?? "127.0.0.1";
  const nodes = new NodeManager({ agent: opts.name, offload, log, ...(opts.logDir ? { logDir: opts.logDir } : {}) });
  const wsUrl = `${opts.controller.replace(/^http/, "ws").replace(/\/$/, "")}/api/v1/agent`;

  let ws: WebSocket | undefined;
  let stopping = false;
  let backoff = 250;
  let tables: DataplaneTables | undefined;
  let pending: { namespaces: NamespaceState[]; peers: Peer[] } | undefined;
  let applying: Promise<void> | undefined;
  let settledWaiters: (() => void)[] = [];
  let markConnected: () => void = () => {};
  const connected = new Promise<void>((r) => (markConnected = r));

  const send = (frame: AgentFrame) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(encodeFrame(frame));
  };
  const execs = new ExecRunner({ send, log: (l) => log(`exec: ${l}`) });
  const probes = new Probes(send, (l) => log(`probe: ${l}`));

  const apply = async (desired: NamespaceState[], peers: Peer[]) => {
    // the quic worker numbers peers as the tables do (so it gets them with any tables); it dials their quic ports
    quicPeers = peers.map((p) => ({ ...p, port: p.quicPort ?? p.port }));
    const usePeers = () => quicStarted && quic.setPeers(quicPeers);
    // nodes being removed leave the dataplane's tables before their TUNs are closed
    await nodes.reconcile(desired, opts.name, async () => {
      usePeers();
      tables = compileTables(desired, nodes.interfaces(), opts.name, peers, offload);
      await dataplane.setTables(tables);
    });
    usePeers();
    const next = compileTables(desired, nodes.interfaces(), opts.name, peers, offload);
    if (tables && sameStructure(tables, next)) {
      const updates = next.dirShaping
        .map((shaping, dir) => ({ dir, shaping }))
        .filter(({ dir, shaping }) => JSON.stringify(shaping) !== JSON.stringify(tables!.dirShaping[dir]));
      dataplane.reshape(updates);
      if (!sameRouting(tables.routing, next.routing)) dataplane.setRouting(next.routing);
      if (!sameClasses(tables, next)) dataplane.setClasses(next);
    } else {
      await dataplane.setTables(next);
    }
    tables = next;
    const user = userspaceOrders(desired, opts.name);
    dataplane.setUserspace(user.stacks, user.flows);
    dataplane.setCaptures(captureFiles.reconcile(desired));
    send({ type: "status", nodes: nodes.statuses() });
  };

  // states are applied one at a time; a state arriving meanwhile replaces any not yet started
  const enqueue = (desired: { namespaces: NamespaceState[]; peers: Peer[] }) => {
    pending = desired;
    if (applying) return;
    applying = (async () => {
      while (pending) {
        const d = pending;
        pending = undefined;
        try {
          await apply(d.namespaces, d.peers);
        } catch (e) {
          log(`applying state failed: ${(e as Error).message}`);
        }
      }
      applying = undefined;
      const waiters = settledWaiters;
      settledWaiters = [];
      for (const w of waiters) w();
    })();
  };

  const onFrame = async (frame: ControllerFrame) => {
    switch (frame.type) {
      case "welcome":
        backoff = 250;
        markConnected();
        if (frame.tls && !quicStarted) {
          quicStarted = true;
          try {
            await quic.start(frame.tls);
            quic.setPeers(quicPeers);
            send({ type: "endpoint", data: { address: advertise, port: dataplane.port, quicPort: quic.port } });
          } catch (e) {
            log(`quic transport did not start: ${(e as Error).message}; namespaces using quic cannot reach other hosts`);
          }
        }
        break;
      case "state":
        enqueue({ namespaces: frame.namespaces, peers: frame.peers });
        break;
      case "exec":
        execs.start(frame, frame.node === undefined ? frame.command : nodes.execArgv(frame.namespace, frame.node, frame.command));
        break;
      case "execInput":
        execs.input(frame);
        break;
      case "execAck":
        execs.ack(frame.id, frame.bytes);
        break;
      case "execCancel":
        execs.cancel(frame.id);
        break;
      case "probeServe":
      case "probeRun":
        probes.start(frame);
        break;
      case "probeCancel":
        probes.cancel(frame.id);
        break;
      case "error":
        log(`controller: ${frame.message}`);
        if (frame.fatal) {
          stopping = true;
          ws?.close();
          opts.onFatal?.(frame.message);
        }
        break;
    }
  };

  const connect = () => {
    if (stopping) return;
    const sock = new WebSocket(wsUrl);
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.onopen = () => {
      send({
        type: "hello",
        version: PROTOCOL_VERSION,
        name: opts.name,
        joinToken: opts.joinToken,
        facts: facts(),
        data: { address: advertise, port: dataplane.port, ...(quic.port ? { quicPort: quic.port } : {}) },
      });
    };
    sock.onmessage = (e: MessageEvent) => {
      if (!(e.data instanceof ArrayBuffer)) return;
      const d = decodeControllerFrame(new Uint8Array(e.data));
      if (!d.ok) {
        log(`rejected frame from controller: ${d.reason}`);
        send({ type: "error", message: `rejected frame: ${d.reason}` });
        return;
      }
      void onFrame(d.frame);
    };
    sock.onclose = () => {
      if (ws === sock) ws = undefined;
      // the controller failed these execs when the socket went; their output has nowhere to go
      execs.cancelAll();
      probes.stopAll();
      if (stopping) return;
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
    sock.onerror = () => {
      // onclose follows and schedules the retry
    };
  };

  const heartbeat = setInterval(() => send({ type: "heartbeat", facts: facts() }), opts.heartbeatMs ?? 1000);

  // the dataplane reports twice a second: a report goes on when something moved (so link rates follow
  // a change within a second), and at least once a second (so rates of links gone quiet fall to zero)
  let lastSent = 0;
  let lastMoved = -1;
  function sendCounters(c: CountersReport): void {
    let moved = c.captures.length;
    for (const d of c.dirs) moved += d.packets + d.dropLoss + d.dropQueue + d.dropLinkDown;
    if (moved === lastMoved && c.at - lastSent < 1000) return;
    lastMoved = moved;
    lastSent = c.at;
    const links: LinkCounters[] = c.dirs.map((d) => {
      const [namespace, id, dir] = splitKey(d.key);
      const drops = { loss: d.dropLoss, queue: d.dropQueue, ...(d.dropLinkDown > 0 ? { link_down: d.dropLinkDown } : {}) };
      return { namespace, id, dir, packets: d.packets, bytes: d.bytes, drops, queued: d.queued, queuedMax: d.queuedMax };
    });
    const captures = c.captures.map(captureCounters);
    for (const [key, error] of captureFiles.errors()) captures.push({ ...captureCounters({ key, packets: 0, bytes: 0 }), error });
    send({ type: "counters", at: c.at, links, ...(captures.length > 0 ? { captures } : {}), drops: dropsByName(c.drops) });
  }

  connect();

  return {
    connected,
    settled: () => new Promise<void>((resolve) => (applying || pending ? settledWaiters.push(resolve) : resolve())),
    async stop() {
      stopping = true;
      clearInterval(heartbeat);
      ws?.close();
      execs.cancelAll();
      if (applying) await applying;
      await dataplane.stop();
      await quic.stop();
      await nodes.removeAll();
    },
  };
}

/** A worker's count for "namespace/id" as the controller takes it. */
function captureCounters(c: CaptureCount): CaptureCounters {
  const slash = c.key.indexOf("/");
  return { namespace: c.key.slice(0, slash), id: c.key.slice(slash + 1), packets: c.packets, bytes: c.bytes, ...(c.error === undefined ? {} : { error: c.error }) };
}

/** A worker's update on "namespace/flowId" as the controller takes it. */
function flowReport(u: FlowUpdate): FlowReport {
  const { key, ...rest } = u;
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), id: key.slice(slash + 1), ...rest };
}

function splitKey(key: string): [string, string, "ab" | "ba"] {
  const first = key.indexOf("/");
  const last = key.lastIndexOf("/");
  return [key.slice(0, first), key.slice(first + 1, last), key.slice(last + 1) === "ab" ? "ab" : "ba"];
}
