/**
 * The udp transport: each packet travels between agents as one datagram (the
 * frame.ts header, then the packet), with no retransmission, for emulating on
 * top of a real lossy network. TSO super-packets are split into their segments
 * first, so datagrams stay near the nodes' MTU instead of being fragmented by
 * the underlay. Datagrams are accepted only from the peers' addresses. One
 * socket on the agent's data port serves every peer and namespace.
 */
import { ptr } from "bun:ffi";
import { errno, EAGAIN, EINTR, closeFd } from "../sys/libc.ts";
import { net, openSocket, bindSocket, sockaddr, SOCK_DGRAM } from "../sys/socket.ts";
import { parseIpv4 } from "../../protocol/ipv4.ts";
import type { PacketPool } from "./pool.ts";
import { SMALL_SLOT } from "./pool.ts";
import { segmentCount, splitSegments } from "./vnet.ts";
import { FRAME_HEADER, FRAME_MAGIC, KIND_PACKET, MAX_PAYLOAD, writeHeader, type FrameSink } from "./frame.ts";
import type { PeerAddress } from "./transport-tcp.ts";

const DGRAM_MAX = 65536;
const MAX_SEGMENTS = 65536;
const RECV_BATCH = 64;

export class UdpTransport {
  readonly fd: number;
  drops = { noPeer: 0, sendFailed: 0, badFrame: 0, strangers: 0 };
  #peers: Uint8Array[] = [];
  /** source addresses accepted, as u32 in network order read big-endian */
  #known = new Set<number>();
  #buf = new Uint8Array(DGRAM_MAX);
  #bufAddr = ptr(this.#buf);
  #view = new DataView(this.#buf.buffer);
  #from = new Uint8Array(16);
  #fromView = new DataView(this.#from.buffer);
  #fromLen = new Uint32Array(1);
  #fromLenBytes = new Uint8Array(this.#fromLen.buffer);
  #keepAll = new Uint8Array(MAX_SEGMENTS).fill(1);
  #split = new Int32Array(MAX_SEGMENTS);
  #poolAddr: number;

  constructor(
    private readonly pool: PacketPool,
    private readonly sink: FrameSink,
    bindAddress: string,
    port: number,
    /** packets carry a virtio header (so super-packets can be split) */
    private readonly vnet: boolean,
  ) {
    this.fd = openSocket(SOCK_DGRAM);
    bindSocket(this.fd, bindAddress, port, false);
    this.#poolAddr = ptr(pool.mem);
  }

  setPeers(peers: PeerAddress[]): void {
    this.#peers = peers.map((p) => sockaddr(p.address, p.port));
    this.#known = new Set(peers.map((p) => parseIpv4(p.address) ?? 0));
  }

  /** Sends the packet in `slot` to peer `peer` (one datagram per segment) and frees the slot. */
  send(peer: number, slot: number, ns: number, dir: number, dst: number, route: number): void {
    const to = this.#peers[peer];
    if (to === undefined) {
      this.drops.noPeer++;
      this.pool.free(slot);
      return;
    }
    if (this.vnet && segmentCount(this.pool.view(slot), this.pool.len[slot]) > 1) {
      // splitSegments frees the super-packet and writes each segment to its own slot
      const n = splitSegments(this.pool, slot, this.#keepAll, this.#split);
      for (let i = 0; i < n; i++) this.#sendOne(to, this.#split[i], ns, dir, dst, route);
      return;
    }
    this.#sendOne(to, slot, ns, dir, dst, route);
  }

  #sendOne(to: Uint8Array, slot: number, ns: number, dir: number, dst: number, route: number): void {
    const len = this.pool.len[slot];
    writeHeader(this.#view, 0, KIND_PACKET, len, ns, dir, dst, route);
    net.memcpy(this.#bufAddr + FRAME_HEADER, this.#poolAddr + this.pool.offset[slot], len);
    this.pool.free(slot);
    const r = net.sendto(this.fd, this.#buf, FRAME_HEADER + len, 0, to, 16) as number;
    if (r < 0) this.drops.sendFailed++;
  }

  /** Reads the datagrams waiting and hands their packets on. */
  onReadable(now: number): void {
    for (let k = 0; k < RECV_BATCH; k++) {
      this.#fromLen[0] = 16;
      const n = net.recvfrom(this.fd, this.#buf, DGRAM_MAX, 0, this.#from, this.#fromLenBytes) as number;
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN || e === EINTR) return;
        this.drops.badFrame++;
        return;
      }
      if (!this.#known.has(this.#fromView.getUint32(4, false))) {
        this.drops.strangers++;
        continue;
      }
      const v = this.#view;
      const len = v.getUint32(4, true);
      if (n < FRAME_HEADER || v.getUint16(0, true) !== FRAME_MAGIC || this.#buf[3] !== KIND_PACKET || len !== n - FRAME_HEADER || len > MAX_PAYLOAD) {
        this.drops.badFrame++;
        continue;
      }
      const slot = this.pool.alloc(len > SMALL_SLOT);
      if (slot < 0) {
        this.drops.badFrame++;
        continue;
      }
      net.memcpy(this.#poolAddr + this.pool.offset[slot], this.#bufAddr + FRAME_HEADER, len);
      this.pool.len[slot] = len;
      this.sink.fromPeer(now, slot, v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true), v.getInt32(20, true));
    }
  }

  close(): void {
    closeFd(this.fd);
  }
}
