/**
 * One QUIC connection between two agents, driven straight through quiche (the
 * native binding inside @matrixai/quic) by the worker's ppoll loop: datagrams
 * in, datagrams out, and one deadline for quiche's timers. Nothing here awaits
 * or dispatches events. The library's own classes (promise-driven streams,
 * events, locks and timers per datagram) cost 0.2-0.5 ms a datagram on an idle
 * machine, which was most of the quic transport's extra latency (1.1 ms per
 * crossing measured; see bench/quic.ts).
 *
 * Both ends present certificates from the controller's CA. BoringSSL is told
 * to let any chain through the handshake (verifyAllowFail), and the worker
 * checks the peer's certificate itself (verify.ts) once the handshake is done,
 * as @matrixai/quic did, so a refusal can say why.
 */
import * as native from "@matrixai/quic/native/index.js";
import type { Config, Connection, Host, RecvInfo } from "@matrixai/quic/native/types.js";
import type { TlsBundle } from "../../protocol/wire.ts";
import type { PeerLink } from "./link.ts";
import { peerSockaddr, type UdpSocket } from "./udp.ts";

export const quiche = native.quiche;
/** our connection ids' length; a short-header datagram names its connection in bytes 1..21 */
export const CID_LEN = 20;
/** how long the acknowledgement of a lone datagram may wait (quiche advertises max_ack_delay 25 ms) */
const ACK_DELAY_NS = 5e6;

/**
 * Measured on loopback through @matrixai/quic's classes (/tmp/quicprobe):
 * 1200-byte packets topped out near 30 Mbit/s, 60 KB UDP payloads reached
 * ~0.5 Gbit/s, so datagrams are large; over a 1500-MTU network they leave as
 * IP fragments, which costs loss resilience. The default flow-control windows
 * (10 MiB / 1 MiB) throttle badly.
 */
const TUNING = {
  initialMaxData: 64 << 20,
  initialMaxStreamData: 16 << 20,
  maxSendUdpPayloadSize: 60_000,
  maxRecvUdpPayloadSize: 65_527,
  maxIdleTimeoutMs: 10_000,
};
/** what @matrixai/quic offers (BoringSSL lacks rsa_pss_pss_* and ed448) */
const SIGALGS = [
  "rsa_pkcs1_sha256",
  "rsa_pkcs1_sha384",
  "rsa_pkcs1_sha512",
  "rsa_pss_rsae_sha256",
  "rsa_pss_rsae_sha384",
  "rsa_pss_rsae_sha512",
  "ecdsa_secp256r1_sha256",
  "ecdsa_secp384r1_sha384",
  "ecdsa_secp521r1_sha512",
  "ed25519",
].join(":");
/** the application protocol @matrixai/quic names, so agents of either kind understand each other */
const ALPN = ["quic"];
const NO_REASON = new Uint8Array(0);
const encoder = new TextEncoder();

/** The quiche configuration every connection of this agent uses, dialed or accepted. */
export function makeConfig(tls: TlsBundle): Config {
  const c = quiche.Config.withBoringSslCtx(true, true, encoder.encode(tls.ca), [encoder.encode(tls.key)], [encoder.encode(tls.cert)], SIGALGS);
  c.setApplicationProtos(ALPN);
  c.setMaxIdleTimeout(TUNING.maxIdleTimeoutMs);
  c.setMaxRecvUdpPayloadSize(TUNING.maxRecvUdpPayloadSize);
  c.setMaxSendUdpPayloadSize(TUNING.maxSendUdpPayloadSize);
  c.setInitialMaxData(TUNING.initialMaxData);
  c.setInitialMaxStreamDataBidiLocal(TUNING.initialMaxStreamData);
  c.setInitialMaxStreamDataBidiRemote(TUNING.initialMaxStreamData);
  c.setInitialMaxStreamDataUni(0);
  // one bidirectional stream, the dialer's, carries frames both ways
  c.setInitialMaxStreamsBidi(1);
  c.setInitialMaxStreamsUni(0);
  c.setDisableActiveMigration(true);
  return c;
}

/** A fresh connection id whose first four bytes (its key) no live connection of `taken` has. */
export function newConnectionId(taken: ReadonlyMap<number, unknown>): Uint8Array {
  for (;;) {
    const id = crypto.getRandomValues(new Uint8Array(CID_LEN));
    if (!taken.has(keyOf(id, 0))) return id;
  }
}

/** The key of the connection id at `at`: its first four bytes. */
export function keyOf(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

export class QuicConn {
  readonly key: number;
  /** ns: when quiche's timers want `onTimeout` (Infinity: none) */
  deadline = Infinity;
  /** ns: when to make the peer answer, so an idle link is not timed out (Infinity: not before it is verified) */
  keepaliveAt = Infinity;
  /** ns: a dial whose link is not up by then is given up (Infinity: no limit) */
  giveUpAt = Infinity;
  /** quiche may have datagrams to send now: after a stream write, a timer, a close, or datagrams to answer at once */
  dirty = true;
  /** datagrams received since the last flush, whose acknowledgement may wait until `ackAt` */
  heard = 0;
  ackAt = Infinity;
  /** the peer's certificate passed verify.ts */
  verified = false;
  /** out of the worker's tables */
  gone = false;
  /** why this side closed it (a refused certificate, a dial that timed out, a bad frame); quiche's errors say otherwise */
  why = "";
  /** something may have ended it since `ended` last looked: a datagram in, a timer, a close */
  #shaken = true;
  /** the link it serves: the one dialing, or (accepted) the one its certificate names once verified */
  link: PeerLink | undefined;
  /** (accepted) the client's first destination id, under which it may still send Initials */
  odcid = "";
  /** where datagrams go: quiche picks the path, so this follows what `send` reports */
  #toHost: string;
  #toPort: number;
  #to: Uint8Array;
  /** the last datagram's source and the RecvInfo naming it, reused while it stays the same */
  #fromAddr = -1;
  #fromPort = -1;
  #recvInfo: RecvInfo;

  constructor(
    readonly conn: Connection,
    id: Uint8Array,
    /** true when this agent dialed it */
    readonly dials: boolean,
    readonly local: Host,
    host: string,
    port: number,
    to: Uint8Array,
  ) {
    this.key = keyOf(id, 0);
    this.#toHost = host;
    this.#toPort = port;
    this.#to = to;
    this.#recvInfo = { from: { host, port }, to: local };
  }

  /** Where the peer is: its address and port as quiche last sent to them. */
  get remote(): string {
    return `${this.#toHost}:${this.#toPort}`;
  }

  /** Feeds quiche the datagram the socket just received (length `n`); false when quiche refused it. Call `answer` after. */
  recv(sock: UdpSocket, n: number): boolean {
    if (sock.fromAddr !== this.#fromAddr || sock.fromPort !== this.#fromPort) {
      this.#fromAddr = sock.fromAddr;
      this.#fromPort = sock.fromPort;
      this.#recvInfo = { from: { host: sock.fromHost(), port: sock.fromPort }, to: this.local };
    }
    this.#shaken = true;
    try {
      // decrypts in place: inbuf is not read again
      this.conn.recv(sock.received(n), this.#recvInfo);
      return true;
    } catch {
      // a datagram quiche cannot use; a fatal one also closes the connection, which the caller sees
      return false;
    }
  }

  /**
   * Sends every datagram quiche has ready, then rearms the timer. False when
   * the socket is out of room: the rest waits for POLLOUT.
   */
  flush(sock: UdpSocket, now: number): boolean {
    for (;;) {
      const r = this.conn.send(sock.outbuf);
      if (r === null) break;
      const to = r[1].to;
      if (to.port !== this.#toPort || to.host !== this.#toHost) this.#retarget(to.host, to.port);
      if (!sock.send(r[0], this.#to)) return false;
    }
    this.dirty = false;
    this.heard = 0;
    this.ackAt = Infinity;
    const t = this.conn.timeout();
    // quiche rounds down to whole milliseconds; one more keeps a timer from firing early and again
    this.deadline = t === null ? Infinity : now + (t + 1) * 1e6;
    return true;
  }

  /**
   * After a datagram: when to send what quiche has for the peer. A datagram
   * that brought stream data (`delivered`) may have its acknowledgement wait
   * up to ACK_DELAY_NS unless a second one came (RFC 9000 13.2.1), which
   * quiche does not do by itself: it would answer every datagram at once, and
   * on a two-core host that answer competes for a core with the dataplane
   * forwarding the frame just delivered. Anything else (handshake, an
   * acknowledgement that may open the congestion window) is answered at once.
   */
  answer(delivered: boolean, now: number): void {
    if (!delivered || !this.verified || ++this.heard >= 2) this.dirty = true;
    else this.ackAt = now + ACK_DELAY_NS;
  }

  /** Something waits to be sent by now. */
  due(now: number): boolean {
    return this.dirty || now >= this.ackAt;
  }

  /** Runs quiche's timers when due. */
  onTimer(now: number): void {
    if (now < this.deadline) return;
    this.deadline = Infinity;
    this.conn.onTimeout();
    this.dirty = true;
    this.#shaken = true;
  }

  /** Closes it (a transport error when `app` is false, e.g. a TLS alert), remembering why for the logs. */
  close(why: string, app = true, code = 0): void {
    if (!this.why) this.why = why;
    try {
      this.conn.close(app, code, NO_REASON);
    } catch {
      // already closing
    }
    this.dirty = true;
    this.#shaken = true;
  }

  /** Draining or closed: it carries nothing more. Asks quiche only when something may have changed that. */
  get ended(): boolean {
    if (!this.#shaken) return false;
    if (this.conn.isDraining() || this.conn.isClosed()) return true;
    this.#shaken = false;
    return false;
  }

  /** Why it ended, in words for the logs. */
  endReason(): string {
    if (this.why) return this.why;
    const c = this.conn;
    const peer = c.peerError();
    if (peer) {
      if (peer.errorCode >= quiche.CRYPTO_ERROR_START && peer.errorCode <= quiche.CRYPTO_ERROR_STOP) {
        return `the peer refused the handshake (TLS alert ${peer.errorCode - quiche.CRYPTO_ERROR_START})`;
      }
      const text = new TextDecoder().decode(peer.reason);
      if (peer.isApp && peer.errorCode === 0) return "the peer closed the connection";
      return `the peer closed the connection (${peer.isApp ? "application" : "transport"} code ${peer.errorCode}${text ? `: ${text}` : ""})`;
    }
    const local = c.localError();
    if (local) return `closed here (${local.isApp ? "application" : "transport"} code ${local.errorCode})`;
    if (c.isTimedOut()) return `no answer for ${TUNING.maxIdleTimeoutMs / 1000} s`;
    return "connection closed";
  }

  #retarget(host: string, port: number): void {
    const to = peerSockaddr(host, port);
    if (to === undefined) return;
    this.#toHost = host;
    this.#toPort = port;
    this.#to = to;
  }
}
