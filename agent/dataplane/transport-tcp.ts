/**
 * The tcp transport: one TCP connection per pair of agents carries the packets
 * of every namespace between them, framed with frame.ts headers. The agent whose
 * name sorts first dials, the other accepts and learns who called from a hello
 * frame. Sockets are non-blocking FFI descriptors polled by the worker's ppoll
 * loop; a packet goes out with one writev (header + slot, no copy) and only the
 * part the kernel did not take is copied into the connection's output buffer.
 * Reliability is TCP's; the emulated link's shaping already happened at the
 * sending agent.
 */
import { ptr } from "bun:ffi";
import { sys, errno, EAGAIN, EINTR, closeFd, POLLIN } from "../sys/libc.ts";
import { net, openSocket, bindSocket, startConnect, socketError, acceptConnection, SOCK_STREAM } from "../sys/socket.ts";
import type { PacketPool } from "./pool.ts";
import { LARGE_SLOT, SMALL_SLOT } from "./pool.ts";
import { FRAME_HEADER, FRAME_MAGIC, KIND_HELLO, KIND_PACKET, MAX_PAYLOAD, writeHeader, type FrameSink } from "./frame.ts";

export const POLLOUT = 0x4;
const IN_CAP = 1 << 20;
const OUT_CAP = 8 << 20;
const REDIAL_NS = 500_000_000;

export interface PeerAddress {
  name: string;
  address: string;
  port: number;
}

export class Conn {
  peer = -1;
  connecting = false;
  /** set once closed, so a poll entry built earlier can tell without searching `conns` */
  closed = false;
  readonly inbuf = new Uint8Array(IN_CAP);
  readonly inAddr = ptr(this.inbuf);
  readonly inView = new DataView(this.inbuf.buffer);
  rpos = 0;
  wpos = 0;
  readonly outbuf = new Uint8Array(OUT_CAP);
  readonly outAddr = ptr(this.outbuf);
  opos = 0;
  olen = 0;
  constructor(readonly fd: number) {}
}

export class TcpTransport {
  readonly listenFd: number;
  readonly port: number;
  /** bumped whenever the set of descriptors changes, so the worker rebuilds its poll array */
  version = 0;
  conns: Conn[] = [];
  drops = { noPeer: 0, backlog: 0, badFrame: 0 };
  #peers: PeerAddress[] = [];
  #me = "";
  #peerConn: Conn[] = [];
  #redialAt: number[] = [];
  #hdr = new Uint8Array(FRAME_HEADER);
  #hdrView = new DataView(this.#hdr.buffer);
  #hdrAddr = ptr(this.#hdr);
  #iov = new Uint32Array(8);
  #iovBytes = new Uint8Array(this.#iov.buffer);
  #poolAddr: number;

  constructor(
    private readonly pool: PacketPool,
    private readonly sink: FrameSink,
    bindAddress: string,
    port: number,
    private readonly log: (line: string) => void,
  ) {
    this.listenFd = openSocket(SOCK_STREAM);
    this.port = bindSocket(this.listenFd, bindAddress, port, true);
    this.#poolAddr = ptr(pool.mem);
  }

  /** Sets who the peers are (indices as the tables number them) and dials the ones this agent calls. */
  setPeers(me: string, peers: PeerAddress[], now: number): void {
    this.#me = me;
    const old = this.#peerConn;
    const oldPeers = this.#peers;
    this.#peers = peers;
    this.#peerConn = [];
    this.#redialAt = peers.map(() => now);
    const keep = new Set<Conn>();
    peers.forEach((p, i) => {
      const j = oldPeers.findIndex((o) => o.name === p.name && o.address === p.address && o.port === p.port);
      const c = j >= 0 ? old[j] : undefined;
      if (c) {
        c.peer = i;
        this.#peerConn[i] = c;
        keep.add(c);
      }
    });
    for (const c of this.conns) if (c.peer >= 0 && !keep.has(c)) this.#close(c, now, false);
    this.dialDue(now);
  }

  /**
   * When dialDue next has work: the earliest redial time of a peer without a
   * connection. A connection that closes (refused by a peer that did not know
   * this agent yet, say) lowers it, so the worker's poll wakes up to redial.
   */
  nextDialAt = Infinity;

  /** Dials peers this agent calls that have no connection; returns (and keeps in nextDialAt) the next redial time. */
  dialDue(now: number): number {
    let next = Infinity;
    for (let i = 0; i < this.#peers.length; i++) {
      if (this.#peerConn[i] || this.#me >= this.#peers[i].name) continue;
      if (this.#redialAt[i] > now) {
        next = Math.min(next, this.#redialAt[i]);
        continue;
      }
      this.#redialAt[i] = now + REDIAL_NS;
      next = Math.min(next, this.#redialAt[i]);
      const p = this.#peers[i];
      let fd = -1;
      try {
        fd = openSocket(SOCK_STREAM);
        const c = new Conn(fd);
        c.peer = i;
        c.connecting = !startConnect(fd, p.address, p.port);
        this.conns.push(c);
        this.#peerConn[i] = c;
        this.version++;
        if (!c.connecting) this.#sendHello(c);
      } catch (e) {
        if (fd >= 0) closeFd(fd);
        this.log(`tcp transport: dialing ${p.name} at ${p.address}:${p.port}: ${(e as Error).message}`);
      }
    }
    this.nextDialAt = next;
    return next;
  }

  /** Events the worker should poll a connection for. */
  events(c: Conn): number {
    return c.connecting || c.olen > c.opos ? POLLIN | POLLOUT : POLLIN;
  }

  onListenReady(): void {
    for (;;) {
      const fd = acceptConnection(this.listenFd);
      if (fd < 0) return;
      this.conns.push(new Conn(fd));
      this.version++;
    }
  }

  onConnReady(c: Conn, revents: number, now: number): void {
    if (c.connecting) {
      if ((revents & (POLLOUT | 0x8 | 0x10)) === 0) return;
      const err = socketError(c.fd);
      if (err !== 0) {
        this.log(`tcp transport: connecting to ${this.#peers[c.peer]?.name}: error ${err}`);
        this.#close(c, now, true);
        return;
      }
      c.connecting = false;
      this.#sendHello(c);
    }
    if (revents & POLLOUT) this.#flush(c, now);
    if (revents & (POLLIN | 0x8 | 0x10)) this.#receive(c, now);
  }

  /** Whether a frame for `peer` would go out now (its connection is up and introduced). */
  connected(peer: number): boolean {
    const c = this.#peerConn[peer];
    return c !== undefined && !c.connecting && c.peer >= 0;
  }

  /** Sends the packet in `slot` to peer `peer` and frees the slot. */
  send(peer: number, slot: number, ns: number, dir: number, dst: number, route: number, now: number): void {
    const c = this.#peerConn[peer];
    const len = this.pool.len[slot];
    if (!c || c.connecting || c.peer < 0) {
      this.drops.noPeer++;
      this.pool.free(slot);
      return;
    }
    writeHeader(this.#hdrView, 0, KIND_PACKET, len, ns, dir, dst, route);
    this.#write(c, this.#hdrAddr, this.#poolAddr + this.pool.offset[slot], len, now);
    this.pool.free(slot);
  }

  close(): void {
    for (const c of this.conns) closeFd(c.fd);
    this.conns = [];
    closeFd(this.listenFd);
  }

  #sendHello(c: Conn): void {
    const name = new TextEncoder().encode(this.#me);
    writeHeader(this.#hdrView, 0, KIND_HELLO, name.length, 0, 0, 0, -1);
    this.#write(c, this.#hdrAddr, ptr(name), name.length, 0);
  }

  /** Header and payload out, in order: straight to the socket when nothing waits, else behind what does. */
  #write(c: Conn, hdrAddr: number, payAddr: number, payLen: number, now: number): void {
    const total = FRAME_HEADER + payLen;
    let sent = 0;
    if (c.olen === c.opos) {
      setIov(this.#iov, 0, hdrAddr, FRAME_HEADER);
      setIov(this.#iov, 1, payAddr, payLen);
      const n = net.writev(c.fd, this.#iovBytes, 2) as number;
      if (n < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) {
          this.#close(c, now, true);
          return;
        }
      } else {
        sent = n;
      }
      if (sent === total) return;
      c.opos = 0;
      c.olen = 0;
    }
    if (c.olen + total - sent > OUT_CAP) {
      if (c.opos > 0) this.#compact(c);
      if (c.olen + total - sent > OUT_CAP) {
        // the peer is not keeping up; only a whole frame may be dropped
        if (sent === 0) {
          this.drops.backlog++;
          return;
        }
      }
    }
    if (sent < FRAME_HEADER) {
      net.memcpy(c.outAddr + c.olen, hdrAddr + sent, FRAME_HEADER - sent);
      c.olen += FRAME_HEADER - sent;
      net.memcpy(c.outAddr + c.olen, payAddr, payLen);
      c.olen += payLen;
    } else {
      const off = sent - FRAME_HEADER;
      net.memcpy(c.outAddr + c.olen, payAddr + off, payLen - off);
      c.olen += payLen - off;
    }
  }

  #flush(c: Conn, now: number): void {
    while (c.olen > c.opos) {
      const n = sys.write(c.fd, c.outAddr + c.opos, c.olen - c.opos) as number;
      if (n <= 0) {
        if (n < 0 && errno() !== EAGAIN && errno() !== EINTR) this.#close(c, now, true);
        return;
      }
      c.opos += n;
    }
    c.opos = 0;
    c.olen = 0;
  }

  #compact(c: Conn): void {
    c.outbuf.copyWithin(0, c.opos, c.olen);
    c.olen -= c.opos;
    c.opos = 0;
  }

  #receive(c: Conn, now: number): void {
    for (let rounds = 0; rounds < 16; rounds++) {
      const n = sys.read(c.fd, c.inAddr + c.wpos, IN_CAP - c.wpos) as number;
      if (n === 0) {
        this.#close(c, now, true);
        return;
      }
      if (n < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) this.#close(c, now, true);
        return;
      }
      c.wpos += n;
      if (!this.#parse(c, now)) return;
      if (c.wpos < IN_CAP) continue;
    }
  }

  /** Hands every whole frame in the input buffer on; false when the connection was closed. */
  #parse(c: Conn, now: number): boolean {
    const v = c.inView;
    while (c.wpos - c.rpos >= FRAME_HEADER) {
      const at = c.rpos;
      const len = v.getUint32(at + 4, true);
      if (v.getUint16(at, true) !== FRAME_MAGIC || len > MAX_PAYLOAD) {
        this.drops.badFrame++;
        this.log(`tcp transport: malformed frame from ${this.#peers[c.peer]?.name ?? "an unidentified peer"}; closing`);
        this.#close(c, now, true);
        return false;
      }
      if (c.wpos - at < FRAME_HEADER + len) break;
      const kind = c.inbuf[at + 3];
      if (kind === KIND_HELLO) {
        this.#identify(c, new TextDecoder().decode(c.inbuf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len)), now);
      } else if (kind === KIND_PACKET && c.peer >= 0) {
        const slot = this.pool.alloc(len > SMALL_SLOT);
        if (slot < 0) {
          this.drops.backlog++;
        } else {
          net.memcpy(this.#poolAddr + this.pool.offset[slot], c.inAddr + at + FRAME_HEADER, len);
          this.pool.len[slot] = len;
          this.sink.fromPeer(now, slot, v.getUint32(at + 8, true), v.getUint32(at + 12, true), v.getUint32(at + 16, true), v.getInt32(at + 20, true));
        }
      } else {
        this.drops.badFrame++;
      }
      c.rpos = at + FRAME_HEADER + len;
    }
    if (c.rpos === c.wpos) {
      c.rpos = 0;
      c.wpos = 0;
    } else if (c.rpos > 0 && c.wpos > IN_CAP - FRAME_HEADER - LARGE_SLOT) {
      c.inbuf.copyWithin(0, c.rpos, c.wpos);
      c.wpos -= c.rpos;
      c.rpos = 0;
    }
    return true;
  }

  #identify(c: Conn, name: string, now: number): void {
    if (c.peer >= 0) return; // a second hello changes nothing
    const i = this.#peers.findIndex((p) => p.name === name);
    if (i < 0) {
      // its state may not have reached this agent yet; the caller redials
      this.log(`tcp transport: connection from agent "${name}", which is not a peer (yet); closing`);
      this.#close(c, now, false);
      return;
    }
    const previous = this.#peerConn[i];
    if (previous && previous !== c) this.#close(previous, now, false);
    c.peer = i;
    this.#peerConn[i] = c;
  }

  #close(c: Conn, now: number, redial: boolean): void {
    c.closed = true;
    closeFd(c.fd);
    const k = this.conns.indexOf(c);
    if (k >= 0) this.conns.splice(k, 1);
    if (c.peer >= 0 && this.#peerConn[c.peer] === c) {
      delete this.#peerConn[c.peer];
      if (redial) {
        this.#redialAt[c.peer] = now + REDIAL_NS;
        if (this.#redialAt[c.peer] < this.nextDialAt) this.nextDialAt = this.#redialAt[c.peer];
      }
    }
    this.version++;
  }
}

/** iovec i = { base, len } with the 64-bit base split into 32-bit halves (no BigInt per packet). */
function setIov(iov: Uint32Array, i: number, base: number, len: number): void {
  const hi = Math.floor(base / 4294967296);
  iov[4 * i] = base - hi * 4294967296;
  iov[4 * i + 1] = hi;
  iov[4 * i + 2] = len;
  iov[4 * i + 3] = 0;
}
