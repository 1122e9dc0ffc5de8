/**
 * Messages between the agent's main thread and the QUIC worker. Both ends are
 * this process's own code (structured clone, no untrusted bytes), so plain
 * types suffice; the packets themselves never travel as messages but through
 * the two shared-memory rings (agent/dataplane/ring.ts):
 *
 *   out ring (dataplane -> QUIC): record = u32 peer index, then one frame
 *     (frame.ts's 24-byte header and its payload), to send to that peer; the
 *     ring's `notify()` writes `outWakeFd`, which the worker polls
 *   in ring (QUIC -> dataplane): record = u32 peer index, then one frame that
 *     peer sent; after pushing, the worker writes 8 bytes to `inWakeFd` when
 *     the dataplane armed a wake-up
 *
 * Peer indices are positions in the latest `peers` list, as the dataplane's
 * tables number peers.
 */
import type { Peer, TlsBundle } from "../../protocol/wire.ts";

export type ToQuic =
  /** listen.port 0 picks a free port; `ready` says which */
  | {
      type: "init";
      rings: { out: SharedArrayBuffer; in: SharedArrayBuffer };
      inWakeFd: number;
      /** an eventfd the out ring's `notify()` writes (ring.ts setWakeFd) */
      outWakeFd: number;
      /** an eventfd the main thread writes after each message, so a worker waiting in ppoll takes it */
      ctlWakeFd: number;
      listen: { address: string; port: number };
      tls: TlsBundle;
      me: string;
    }
  | { type: "peers"; peers: Peer[] }
  | { type: "stop" };

export interface QuicPeerState {
  name: string;
  connected: boolean;
}

export interface QuicCounters {
  /** frames taken from the out ring and queued on a peer's stream */
  sent: number;
  /** frames received from peers and pushed into the in ring */
  received: number;
  /** frames dropped, by reason: no_peer (unknown or unconnected), link_lost (queued when a connection died), bad_record, bad_frame */
  dropped: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  peers: QuicPeerState[];
}

export type FromQuic =
  | { type: "ready"; port: number }
  | ({ type: "counters" } & QuicCounters)
  /** the worker could not start (before ready) */
  | { type: "error"; message: string }
  /** a line for the agent's log: links up and down, refused peers, failed dials (once per streak) */
  | { type: "log"; message: string }
  | { type: "stopped" };
