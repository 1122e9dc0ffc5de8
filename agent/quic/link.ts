/**
 * One peer agent over QUIC: the connection serving it (being dialed, or
 * attached once the peer's certificate passed), the single bidirectional
 * stream that carries frames both ways, the frames staged towards the peer
 * and the frames arriving from it. Everything is synchronous: the worker's
 * loop calls in when records or datagrams come.
 *
 * Up: the dialer opens the stream with a hello naming itself; the acceptor
 * checks it against the certificate and answers with its own hello. A link
 * takes frames for its peer only once the other side's hello came, so a
 * dialer whose certificate the acceptor refused never counts as connected.
 *
 * Egress (towards the peer): frames taken from the out ring are copied into a
 * staging buffer and handed to quiche's stream in one write per batch, as far
 * as flow and congestion control let it; the rest stays staged and goes when
 * acknowledgements open the window. A link whose staging buffer is full makes
 * the worker stop taking from the out ring, which pushes back on the
 * dataplane instead of dropping at random here.
 *
 * Ingress (from the peer): the stream is a byte stream, so every whole frame
 * is pushed into the in ring behind the peer's index straight from the read
 * buffer, and only a frame split across reads is gathered in `carry`. The
 * stream is read only while the in ring has room for a whole read, so a full
 * in ring leaves data in quiche, whose flow control then slows the peer. A
 * malformed frame ends the connection, as in the tcp transport.
 */
import { ptr } from "bun:ffi";
import type { Peer } from "../../protocol/wire.ts";
import { FRAME_HEADER, FRAME_MAGIC, KIND_HELLO, KIND_PACKET, MAX_PAYLOAD, writeHeader } from "../dataplane/frame.ts";
import type { RingReader, RingWriter } from "../dataplane/ring.ts";
import { net } from "../sys/socket.ts";
import type { QuicConn } from "./conn.ts";

/** the stream every link uses: the first bidirectional one the client (the dialer) opens */
const STREAM = 0;
const STAGE_MIN = 256 << 10;
/** staged bytes beyond which the link is full (quiche's own send buffer holds a congestion window more) */
const STAGE_MAX = 4 << 20;
const MAX_FRAME = FRAME_HEADER + MAX_PAYLOAD;
/** bytes `readStream` asks of quiche at a time */
export const READ_CHUNK = 256 << 10;
/** in-ring room needed before a read: the read's frames plus a carried one, with each record's length word and padding */
const IN_RESERVE = 2 * (READ_CHUNK + MAX_FRAME);

/** The worker's scratch space for stream reads (READ_CHUNK bytes), with a view and its raw address made once. */
export interface ReadBuffer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly addr: number;
}

/** What a link needs from the worker that owns it. */
export interface LinkOwner {
  readonly inRing: RingWriter;
  /** wakes the dataplane if it armed a wake-up on the in ring */
  wakeIn(): void;
  readonly counts: { received: number; bytesReceived: number };
  readonly drops: { link_lost: number; bad_frame: number };
  log(message: string): void;
  /** the link is up: frames for the peer are taken from now on */
  onUp(link: PeerLink): void;
  /** the link lost its connection (or a dial failed); a dialing link is redialed */
  onDown(link: PeerLink): void;
}

/** A reason from anything thrown: quiche's errors are Errors named like StreamReset(7). */
export function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return e === null || e === undefined ? "closed locally" : String(e);
}

export class PeerLink {
  /** the connection dialing the peer, or serving it once attached */
  conn: QuicConn | undefined;
  /** the other side's hello came: frames for the peer are taken */
  ready = false;
  /** failed dials since the last success: only the first of a streak is logged */
  dialFailures = 0;
  backoffMs = 0;
  /** ns: when to dial again (Infinity: not scheduled) */
  redialAt = Infinity;
  /** the in ring had no room for a read: the worker polls again soon */
  inBlocked = false;
  closed = false;
  #stage = new Uint8Array(STAGE_MIN);
  #stageAddr = ptr(this.#stage);
  #sent = 0;
  #fill = 0;
  #stagedFrames = 0;
  readonly #carry = new Uint8Array(MAX_FRAME);
  readonly #carryAddr = ptr(this.#carry);
  readonly #carryView = new DataView(this.#carry.buffer);
  #carryLen = 0;
  readonly #prefix = new Uint8Array(4);
  readonly #prefixView = new DataView(this.#prefix.buffer);

  constructor(
    public peer: Peer,
    /** position in the latest peers list: the u32 in front of every ring record */
    public index: number,
    /** true when this agent dials the peer (its name sorts first) */
    readonly dials: boolean,
    private readonly me: string,
    private readonly owner: LinkOwner,
  ) {}

  get name(): string {
    return this.peer.name;
  }

  /** Staged bytes quiche has not taken yet. */
  get staged(): boolean {
    return this.#fill > this.#sent;
  }

  /** Takes over `conn`, whose certificate names this peer, replacing any earlier one; the dialer says hello first. */
  attach(conn: QuicConn): void {
    const old = this.conn;
    if (old && old !== conn) {
      this.lost(old, "replaced by a newer connection");
      old.close("replaced by a newer connection");
    }
    this.conn = conn;
    conn.link = this;
    this.ready = false;
    this.#sent = this.#fill = this.#stagedFrames = 0;
    this.#carryLen = 0;
    if (this.dials) this.#stageHello();
  }

  /** True when a frame of `len` bytes fits the staging buffer (compacting or growing it first). */
  room(len: number): boolean {
    if (this.#fill + len <= this.#stage.length) return true;
    const held = this.#fill - this.#sent;
    if (held + len > STAGE_MAX) return false;
    if (held + len <= this.#stage.length) {
      this.#stage.copyWithin(0, this.#sent, this.#fill);
    } else {
      let size = this.#stage.length * 2;
      while (size < held + len) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#stage.subarray(this.#sent, this.#fill));
      this.#stage = next;
      this.#stageAddr = ptr(next);
    }
    this.#sent = 0;
    this.#fill = held;
    return true;
  }

  /** Stages `len` bytes of the out ring's current record, from `from` on: one frame. Call `room` first. */
  enqueue(ring: RingReader, from: number, len: number): void {
    ring.copyOut(from, len, this.#stage, this.#fill);
    this.#fill += len;
    this.#stagedFrames++;
  }

  /** Hands staged bytes to the stream as far as quiche takes them. */
  flush(): void {
    const conn = this.conn;
    if (!conn || this.#fill === this.#sent) return;
    let n: number | null;
    try {
      n = conn.conn.streamSend(STREAM, this.#stage.subarray(this.#sent, this.#fill), false);
    } catch (e) {
      conn.close(/StreamStopped/.test(describe(e)) ? "the peer stopped reading the stream" : `write failed: ${describe(e)}`, true, 1);
      return;
    }
    conn.dirty = true;
    if (n === null) return;
    this.#sent += n;
    if (this.#sent === this.#fill) this.#sent = this.#fill = this.#stagedFrames = 0;
  }

  /** Reads what the peer sent and pushes every whole frame into the in ring; true when there was any. */
  readStream(buf: ReadBuffer): boolean {
    const conn = this.conn;
    if (!conn) return false;
    const ring = this.owner.inRing;
    let got = false;
    this.inBlocked = false;
    // once up, the stream exists and a read that finds nothing says so; before, reading a stream the peer has not opened throws
    while (this.ready || conn.conn.streamReadable(STREAM)) {
      if (ring.capacity - ring.used() < IN_RESERVE) {
        this.inBlocked = true;
        break;
      }
      let r: [number, boolean] | null;
      try {
        r = conn.conn.streamRecv(STREAM, buf.bytes);
      } catch (e) {
        const code = /StreamReset\((\d+)\)/.exec(describe(e))?.[1];
        conn.close(code === undefined ? `read failed: ${describe(e)}` : `the peer reset the stream (code ${code})`, true, 1);
        break;
      }
      // quiche's window updates ride on the next datagram out: reading wants none at once
      if (r === null) break;
      got = true;
      const bad = this.#ingress(conn, buf, r[0]);
      if (bad) {
        conn.close(bad, true, 1);
        break;
      }
      if (r[1]) {
        conn.close("the peer ended the stream", true, 1);
        break;
      }
      // a read that did not fill the buffer took all there was: no need to ask again
      if (r[0] < buf.bytes.length) break;
    }
    if (got) this.owner.wakeIn();
    return got;
  }

  /** Forgets connection `conn` if it is this link's: staged frames are dropped, and the owner redials a dialer. */
  lost(conn: QuicConn, why: string): void {
    if (this.conn !== conn) return;
    const wasReady = this.ready;
    this.conn = undefined;
    conn.link = undefined;
    this.ready = false;
    this.inBlocked = false;
    this.owner.drops.link_lost += this.#stagedFrames;
    this.#sent = this.#fill = this.#stagedFrames = 0;
    if (this.closed) {
      // going away for good: nothing to report
    } else if (wasReady) {
      this.owner.log(`quic: link to ${this.name} down: ${why}`);
    } else if (this.dials) {
      // a streak of failures is reported once, not at every retry
      if (this.dialFailures++ === 0) this.owner.log(`quic: dialing ${this.name} at ${this.peer.address}:${this.peer.port} failed: ${why}; retrying`);
    } else {
      this.owner.log(`quic: a connection from ${this.name} ended before its hello: ${why}`);
    }
    this.owner.onDown(this);
  }

  /** Ends the link for good (the peer left, or the worker stops). */
  close(why: string): void {
    this.closed = true;
    this.redialAt = Infinity;
    const conn = this.conn;
    if (conn) {
      this.lost(conn, why);
      conn.close(why);
    }
  }

  #stageHello(): void {
    const name = new TextEncoder().encode(this.me);
    this.room(FRAME_HEADER + name.length);
    writeHeader(new DataView(this.#stage.buffer, this.#fill), 0, KIND_HELLO, name.length, 0, 0, 0, -1);
    this.#stage.set(name, this.#fill + FRAME_HEADER);
    this.#fill += FRAME_HEADER + name.length;
    this.flush();
  }

  /** Hands on every whole frame of the `n` bytes read into `buf`; a reason when the connection must end. */
  #ingress(conn: QuicConn, buf: ReadBuffer, n: number): string | undefined {
    const bufAddr = buf.addr;
    let off = 0;
    if (this.#carryLen > 0) {
      // finish the frame the last read split: its header first, then the rest of it
      if (this.#carryLen < FRAME_HEADER) {
        const take = Math.min(FRAME_HEADER - this.#carryLen, n);
        net.memcpy(this.#carryAddr + this.#carryLen, bufAddr, take);
        this.#carryLen += take;
        off = take;
        if (this.#carryLen < FRAME_HEADER) return undefined;
      }
      const v = this.#carryView;
      const len = v.getUint32(4, true);
      if (v.getUint16(0, true) !== FRAME_MAGIC || len > MAX_PAYLOAD) return this.#malformed();
      const take = Math.min(FRAME_HEADER + len - this.#carryLen, n - off);
      if (take > 0) net.memcpy(this.#carryAddr + this.#carryLen, bufAddr + off, take);
      this.#carryLen += take;
      off += take;
      if (this.#carryLen < FRAME_HEADER + len) return undefined;
      this.#carryLen = 0;
      const bad = this.#frame(conn, this.#carry, 0, len);
      if (bad) return bad;
    }
    const v = buf.view;
    while (n - off >= FRAME_HEADER) {
      const len = v.getUint32(off + 4, true);
      if (v.getUint16(off, true) !== FRAME_MAGIC || len > MAX_PAYLOAD) return this.#malformed();
      if (n - off < FRAME_HEADER + len) break;
      const bad = this.#frame(conn, buf.bytes, off, len);
      if (bad) return bad;
      off += FRAME_HEADER + len;
    }
    if (off < n) {
      net.memcpy(this.#carryAddr, bufAddr + off, n - off);
      this.#carryLen = n - off;
    }
    return undefined;
  }

  #malformed(): string {
    this.owner.drops.bad_frame++;
    return "malformed frame";
  }

  /** One whole frame (header at `at` of `buf`, payload `len` bytes). */
  #frame(conn: QuicConn, buf: Uint8Array, at: number, len: number): string | undefined {
    const kind = buf[at + 3];
    if (kind === KIND_PACKET) {
      this.#prefixView.setUint32(0, this.index, true);
      // readStream made sure of the room
      if (!this.owner.inRing.push(this.#prefix, buf, at, FRAME_HEADER + len)) return "the in ring overflowed";
      this.owner.counts.received++;
      this.owner.counts.bytesReceived += len;
    } else if (kind === KIND_HELLO) {
      const said = new TextDecoder().decode(buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len));
      if (said !== this.name) return `hello names "${said}", but the certificate names "${this.name}"`;
      if (!this.ready) {
        if (!this.dials) this.#stageHello();
        conn.giveUpAt = Infinity;
        this.ready = true;
        this.dialFailures = 0;
        this.backoffMs = 0;
        this.owner.log(`quic: link to ${this.name} up (${this.dials ? "dialed" : "accepted"} ${conn.remote})`);
        this.owner.onUp(this);
      }
    } else {
      this.owner.drops.bad_frame++;
    }
    return undefined;
  }
}
