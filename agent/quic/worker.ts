/**
 * The QUIC worker: the quic transport between agents, in a thread of its own
 * because @matrixai/quic is promise-driven and costs about a millisecond of CPU
 * per 64 KB, which the dataplane's ppoll loop (never awaiting, never
 * allocating per packet) cannot host. The two threads share only the rings
 * described in messages.ts.
 *
 * One QUICServer listens for the peers that dial this agent; this agent dials
 * (QUICClient) every peer whose name sorts after its own, as the tcp transport
 * does, and redials with backoff when a connection dies. Both ends present
 * certificates from the controller's CA and check the other's name
 * (verify.ts). One bidirectional stream per connection carries frame.ts frames
 * both ways; link.ts owns a connection's queues.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import Logger, { LogLevel } from "@matrixai/logger";
import { events, QUICClient, QUICServer, type QUICConnection } from "@matrixai/quic";
import type { Peer, TlsBundle } from "../../protocol/wire.ts";
import { FRAME_HEADER, FRAME_MAGIC } from "../dataplane/frame.ts";
import { RingReader, RingWriter } from "../dataplane/ring.ts";
import { sys } from "../sys/libc.ts";
import { describe, PeerLink, type LinkOwner } from "./link.ts";
import type { FromQuic, QuicCounters, ToQuic } from "./messages.ts";
import { TunedSocket, UDP_BUFFER_BYTES } from "./udp.ts";
import { agentNameOfDer, peerVerifier } from "./verify.ts";

declare const self: Worker;

/**
 * Measured on loopback (/tmp/quicprobe): with 1200-byte packets the library
 * tops out near 30 Mbit/s; 60 KB UDP payloads reach ~0.5 Gbit/s. Over a
 * 1500-MTU network these leave as IP fragments, which costs loss resilience.
 * The default flow-control windows (10 MiB / 1 MiB) throttle badly.
 */
const TUNING = {
  initialMaxData: 64 << 20,
  initialMaxStreamDataBidiLocal: 16 << 20,
  initialMaxStreamDataBidiRemote: 16 << 20,
  readableChunkSize: 64 << 10,
  maxSendUdpPayloadSize: 60_000,
  maxRecvUdpPayloadSize: 65_527,
  maxIdleTimeout: 10_000,
  keepAliveIntervalTime: 2_000,
};

/** Mutual TLS under the controller's CA, accepting the peer names `accept` allows: the same for both ends. */
function tlsConfig(tls: TlsBundle, accept: (name: string) => boolean, onReject: (why: string) => void) {
  return { ...TUNING, ca: tls.ca, cert: tls.cert, key: tls.key, verifyPeer: true, verifyCallback: peerVerifier(tls.ca, accept, onReject) };
}
const DIAL_TIMEOUT_MS = 5_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** records taken from the out ring before the event loop gets a turn (QUIC timers, UDP reads) */
const BATCH = 256;
const REPORT_MS = 1_000;

const logger = new Logger("quic", LogLevel.WARN);
/** what a stream error says when the peer reset or stopped it (the library's default reads "read 0") */
const codeToReason = (type: "read" | "write", code: number): Error =>
  new Error(`the peer ${type === "read" ? "reset" : "stopped reading"} the stream (code ${code})`);
const wakeBuf = new BigUint64Array([1n]);

let me = "";
let tls: TlsBundle | undefined;
let out: RingReader | undefined;
let inWakeFd = -1;
let socket: TunedSocket | undefined;
let server: QUICServer | undefined;
let links = new Map<string, PeerLink>();
let byIndex: (PeerLink | undefined)[] = [];
let stopped = false;
let reporter: ReturnType<typeof setInterval> | undefined;
const counts = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 };
const drops = { no_peer: 0, link_lost: 0, bad_record: 0, bad_frame: 0 };

function post(msg: FromQuic): void {
  self.postMessage(msg);
}

let owner: LinkOwner | undefined;
function makeOwner(inRing: RingWriter): LinkOwner {
  return {
    inRing,
    counts,
    drops,
    wakeIn(): void {
      if (inRing.wakeNeeded()) sys.write(inWakeFd, wakeBuf, 8);
    },
    log(message: string): void {
      post({ type: "log", message });
    },
    // counters carry the links' states, so a change is reported at once rather than within a second
    onUp(): void {
      report();
    },
    onDown(link: PeerLink): void {
      if (link.dials && !stopped && !link.closed && links.get(link.name) === link) scheduleDial(link);
      if (!stopped) report();
    },
  };
}

// retry tokens are HMACs under a per-process key; the ops are async because the library awaits them
const serverCrypto = {
  key: new Uint8Array(randomBytes(32)).buffer,
  ops: {
    async sign(key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> {
      return new Uint8Array(hmac(key, data)).buffer;
    },
    async verify(key: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer): Promise<boolean> {
      const h = hmac(key, data);
      const s = Buffer.from(sig);
      return s.length === h.length && timingSafeEqual(h, s);
    },
  },
};
const clientCrypto = {
  ops: {
    async randomBytes(data: ArrayBuffer): Promise<void> {
      crypto.getRandomValues(new Uint8Array(data));
    },
  },
};

function hmac(key: ArrayBuffer, data: ArrayBuffer): Buffer {
  return createHmac("sha256", Buffer.from(key)).update(Buffer.from(data)).digest();
}

async function start(msg: Extract<ToQuic, { type: "init" }>): Promise<number> {
  me = msg.me;
  tls = msg.tls;
  inWakeFd = msg.inWakeFd;
  out = new RingReader(msg.rings.out);
  owner = makeOwner(new RingWriter(msg.rings.in));
  const sock = new TunedSocket({ logger });
  await sock.start({ host: msg.listen.address, port: msg.listen.port });
  socket = sock;
  if (sock.granted.recv < UDP_BUFFER_BYTES) {
    post({ type: "log", message: `quic: UDP receive buffer is ${sock.granted.recv >> 10} KiB, not ${UDP_BUFFER_BYTES >> 10} (net.core.rmem_max caps it); bursts may be dropped by the kernel` });
  }
  const srv = new QUICServer({
    socket: sock,
    logger,
    codeToReason,
    crypto: serverCrypto,
    // only peers that dial this agent may connect to it
    config: tlsConfig(tls, (name) => links.get(name)?.dials === false, (why) => post({ type: "log", message: `quic: refused a connection: ${why}` })),
  });
  srv.addEventListener(events.EventQUICServerConnection.name, (e: Event) => accepted((e as events.EventQUICServerConnection).detail));
  await srv.start();
  server = srv;
  reporter = setInterval(report, REPORT_MS);
  void drainOut(out);
  return sock.port;
}

function accepted(conn: QUICConnection): void {
  const name = agentNameOfDer(conn.getRemoteCertsChain()[0]);
  const link = name === undefined ? undefined : links.get(name);
  if (!link || link.dials || stopped) {
    void conn.stop({ isApp: true, errorCode: 1, force: true }).catch(() => {});
    return;
  }
  // the dialer opens the stream with its hello, so the connection is usable once it appears
  conn.addEventListener(
    events.EventQUICConnectionStream.name,
    (e: Event) => {
      const stream = (e as events.EventQUICConnectionStream).detail;
      if (links.get(link.name) !== link || link.closed) {
        void conn.stop({ isApp: true, errorCode: 1, force: true }).catch(() => {});
        return;
      }
      link.attach(conn, stream, () => conn.stop({ isApp: true, errorCode: 0, force: true }));
    },
    { once: true },
  );
}

function scheduleDial(link: PeerLink): void {
  if (link.redial || link.dialing) return;
  link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs === 0 ? BACKOFF_MIN_MS : link.backoffMs * 2);
  link.redial = setTimeout(() => {
    link.redial = undefined;
    void dial(link);
  }, link.backoffMs);
}

async function dial(link: PeerLink): Promise<void> {
  if (stopped || link.closed || link.dialing || link.ready || !tls) return;
  link.dialing = true;
  const peer = link.peer;
  let refused = "";
  try {
    const client = await QUICClient.createQUICClient(
      {
        host: peer.address,
        port: peer.port,
        socket: socket!,
        serverName: peer.name,
        logger,
        codeToReason,
        crypto: clientCrypto,
        config: tlsConfig(tls, (name) => name === peer.name, (why) => (refused = why)),
      },
      { timer: DIAL_TIMEOUT_MS },
    );
    const close = () => client.destroy({ isApp: true, errorCode: 0, force: true });
    if (stopped || link.closed || links.get(link.name) !== link) {
      await close();
      return;
    }
    link.backoffMs = 0;
    link.dialFailures = 0;
    link.attach(client.connection, client.connection.newStream("bidi"), close);
  } catch (e) {
    // a streak of failures is reported once, not at every retry
    if (link.dialFailures++ === 0) {
      post({ type: "log", message: `quic: dialing ${peer.name} at ${peer.address}:${peer.port} failed: ${refused || describe(e)}; retrying` });
    }
    link.dialing = false;
    scheduleDial(link);
  } finally {
    link.dialing = false;
  }
}

function setPeers(peers: Peer[]): void {
  if (!owner) return;
  const next = new Map<string, PeerLink>();
  byIndex = [];
  peers.forEach((p, i) => {
    let link = links.get(p.name);
    // a dialer follows its peer to a new address; an acceptor does not care where it is
    if (link && link.dials && (link.peer.address !== p.address || link.peer.port !== p.port)) {
      void link.close();
      link = undefined;
    }
    link ??= new PeerLink(p, i, me < p.name, me, owner!);
    link.peer = p;
    link.index = i;
    next.set(p.name, link);
    byIndex[i] = link;
  });
  for (const [name, link] of links) if (!next.has(name)) void link.close();
  links = next;
  for (const link of links.values()) if (link.dials && !link.ready) void dial(link);
}

/** Moves frames from the out ring onto their peers' streams; sleeps on the ring when it is empty. */
async function drainOut(ring: RingReader): Promise<void> {
  while (!stopped) {
    let n = ring.peekLength();
    if (n < 0) {
      if (ring.armWake()) await ring.waitAsync(REPORT_MS);
      continue;
    }
    for (let k = 0; k < BATCH && n >= 0; k++) {
      const v = ring.view;
      const at = ring.at;
      if (n < 4 + FRAME_HEADER || v.getUint16(at + 4, true) !== FRAME_MAGIC || v.getUint32(at + 8, true) !== n - 4 - FRAME_HEADER) {
        drops.bad_record++;
      } else {
        const link = byIndex[v.getUint32(at, true)];
        if (!link || !link.ready) {
          drops.no_peer++;
        } else if (link.full()) {
          // leave the record where it is: the ring filling up is the dataplane's signal
          await link.drained();
          break;
        } else {
          link.enqueue(ring, 4, n - 4);
          counts.sent++;
          counts.bytesSent += n - 4 - FRAME_HEADER;
        }
      }
      ring.release();
      n = ring.peekLength();
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function snapshot(): QuicCounters {
  return {
    ...counts,
    dropped: { ...drops },
    peers: [...links.values()].map((l) => ({ name: l.name, connected: l.ready })),
  };
}

function report(): void {
  post({ type: "counters", ...snapshot() });
}

async function stop(): Promise<void> {
  stopped = true;
  if (reporter) clearInterval(reporter);
  await Promise.all([...links.values()].map((l) => l.close()));
  links.clear();
  await server?.stop({ isApp: true, errorCode: 0, force: true }).catch(() => {});
  await socket?.stop({ force: true }).catch(() => {});
  report();
  post({ type: "stopped" });
}

// The library rethrows some per-connection failures from its event handlers (a UDP send refused
// while dialing a peer that is not up yet) and leaves promises unobserved when connections die.
// Either would end this thread and with it every link, so they are logged; the connection they
// belong to times out and is redialed.
process.on("uncaughtException", (e: unknown) => post({ type: "log", message: `quic: ${describe(e)}` }));
process.on("unhandledRejection", (reason: unknown) => post({ type: "log", message: `quic: unhandled rejection: ${describe(reason)}` }));

self.onmessage = (e: MessageEvent<ToQuic>) => {
  const msg = e.data;
  switch (msg.type) {
    case "init":
      start(msg).then(
        (port) => post({ type: "ready", port }),
        (err: unknown) => post({ type: "error", message: `quic: cannot listen on ${msg.listen.address}:${msg.listen.port}: ${describe(err)}` }),
      );
      break;
    case "peers":
      setPeers(msg.peers);
      break;
    case "stop":
      void stop();
      break;
  }
};
