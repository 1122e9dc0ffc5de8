/**
 * One peer agent over QUIC: its connection (dialed or accepted), the single
 * bidirectional stream that carries frames both ways, the frames queued
 * towards it and the frames arriving from it.
 *
 * Egress (towards the peer): frames taken from the out ring are copied into
 * 256 KiB chunks, so one stream write carries many frames (the library's cost
 * is per write as much as per byte); one write is in flight at a time and
 * later frames fill the next chunk. A link holding HIGH_WATER bytes is full:
 * the worker then stops taking from the out ring until it drains, which
 * pushes back on the dataplane instead of dropping at random here.
 *
 * Ingress (from the peer): the stream is a byte stream, so chunks are gathered
 * in a buffer and every whole frame goes into the in ring behind the peer's
 * index. A full in ring pauses reading, and QUIC flow control then slows the
 * peer. A malformed frame ends the connection, as in the tcp transport.
 */
import { events, type QUICConnection, type QUICStream } from "@matrixai/quic";
import type { Peer } from "../../protocol/wire.ts";
import { FRAME_HEADER, FRAME_MAGIC, KIND_HELLO, KIND_PACKET, MAX_PAYLOAD, writeHeader } from "../dataplane/frame.ts";
import type { RingReader, RingWriter } from "../dataplane/ring.ts";

const CHUNK = 256 << 10;
const HIGH_WATER = 8 << 20;
/** room for a partial frame plus a whole stream chunk (readableChunkSize) */
const IN_CAP = 256 << 10;

/** What a link needs from the worker that owns it. */
export interface LinkOwner {
  readonly inRing: RingWriter;
  /** wakes the dataplane if it armed a wake-up on the in ring */
  wakeIn(): void;
  readonly counts: { received: number; bytesReceived: number };
  readonly drops: { link_lost: number; bad_frame: number };
  log(message: string): void;
  /** the link has a stream: frames for the peer are taken from now on */
  onUp(link: PeerLink): void;
  /** the link lost its connection; a dialing link is redialed */
  onDown(link: PeerLink): void;
}

type Chunk = { buf: Uint8Array; fill: number; frames: number };

/** A reason from anything thrown: the library rejects with non-Errors too (a stream cancelled locally gives null). */
export function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return e === null || e === undefined ? "closed locally" : String(e);
}

export class PeerLink {
  /** the connection's closer: QUICClient.destroy for a dialed one, QUICConnection.stop for an accepted one */
  #closeConn: (() => Promise<void>) | undefined;
  conn: QUICConnection | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #chunks: Chunk[] = [];
  #spare: Chunk[] = [];
  #pending = 0;
  /** the connection a write loop runs for: a loop stuck on a dead stream must not block the next one */
  #pumping: QUICConnection | undefined;
  #waiters: (() => void)[] = [];
  readonly #inbuf = new Uint8Array(IN_CAP);
  readonly #inView = new DataView(this.#inbuf.buffer);
  #rpos = 0;
  #wpos = 0;
  readonly #prefix = new Uint8Array(4);
  readonly #prefixView = new DataView(this.#prefix.buffer);
  dialing = false;
  /** failed dials since the last success: only the first of a streak is logged */
  dialFailures = 0;
  backoffMs = 0;
  redial: ReturnType<typeof setTimeout> | undefined;
  closed = false;

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

  /** A stream is open: frames for the peer are taken. */
  get ready(): boolean {
    return this.#writer !== undefined;
  }

  full(): boolean {
    return this.#pending >= HIGH_WATER;
  }

  /** Resolves once the queue fell to half the high-water mark, or the link went down. */
  drained(): Promise<void> {
    if (!this.full() || !this.ready) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Takes over a connection and its stream (replacing any earlier one); the dialer says hello first. */
  attach(conn: QUICConnection, stream: QUICStream, close: () => Promise<void>): void {
    if (this.conn && this.conn !== conn) void this.lost(this.conn, "replaced by a newer connection");
    this.conn = conn;
    this.#closeConn = close;
    this.#writer = stream.writable.getWriter();
    this.#rpos = 0;
    this.#wpos = 0;
    conn.addEventListener(events.EventQUICConnectionStopped.name, () => void this.lost(conn, "connection closed"), { once: true });
    if (this.dials) this.#queueHello();
    this.owner.log(`quic: link to ${this.name} up (${this.dials ? "dialed" : "accepted"} ${conn.remoteHost}:${conn.remotePort})`);
    void this.#readLoop(conn, stream);
    this.owner.onUp(this);
  }

  /** Queues `len` bytes of the out ring's current record, from `from` on: one frame. */
  enqueue(ring: RingReader, from: number, len: number): void {
    const c = this.#room(len);
    ring.copyOut(from, len, c.buf, c.fill);
    c.fill += len;
    c.frames++;
    this.#pending += len;
    if (this.#pumping !== this.conn) void this.#pump();
  }

  /** Forgets connection `conn` if it is still this link's: queued frames are dropped, a dialer redials. */
  lost(conn: QUICConnection, why: string): Promise<void> {
    if (this.conn !== conn) return Promise.resolve();
    const close = this.#closeConn;
    this.conn = undefined;
    this.#closeConn = undefined;
    this.#writer = undefined;
    // not recycled: the old stream's write may still hold the first one
    for (const c of this.#chunks) this.owner.drops.link_lost += c.frames;
    this.#chunks = [];
    this.#pumping = undefined;
    this.#pending = 0;
    this.#wake();
    if (!this.closed) this.owner.log(`quic: link to ${this.name} down: ${why}`);
    const closing = close ? close().catch(() => {}) : Promise.resolve();
    this.owner.onDown(this);
    return closing;
  }

  /** Ends the link for good (the peer left, or the worker stops). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.redial) clearTimeout(this.redial);
    if (this.conn) await this.lost(this.conn, "closing");
  }

  #room(len: number): Chunk {
    // the chunk being written (index 0 while pumping) is never appended to
    const last = this.#chunks[this.#chunks.length - 1];
    if (last && (this.#pumping !== this.conn || this.#chunks.length > 1) && last.fill + len <= CHUNK) return last;
    const c = this.#spare.pop() ?? { buf: new Uint8Array(CHUNK), fill: 0, frames: 0 };
    this.#chunks.push(c);
    return c;
  }

  #recycle(c: Chunk): void {
    c.fill = 0;
    c.frames = 0;
    if (this.#spare.length < 4) this.#spare.push(c);
  }

  #queueHello(): void {
    const name = new TextEncoder().encode(this.me);
    const c = this.#room(FRAME_HEADER + name.length);
    writeHeader(new DataView(c.buf.buffer, c.buf.byteOffset + c.fill), 0, KIND_HELLO, name.length, 0, 0, 0, -1);
    c.buf.set(name, c.fill + FRAME_HEADER);
    c.fill += FRAME_HEADER + name.length;
    this.#pending += FRAME_HEADER + name.length;
    if (this.#pumping !== this.conn) void this.#pump();
  }

  async #pump(): Promise<void> {
    const conn = this.conn;
    this.#pumping = conn;
    try {
      while (this.#chunks.length > 0 && this.#writer && this.conn === conn) {
        const c = this.#chunks[0];
        await this.#writer.write(c.buf.subarray(0, c.fill));
        if (this.conn !== conn) break;
        this.#chunks.shift();
        this.#pending -= c.fill;
        this.#recycle(c);
        if (this.#pending <= HIGH_WATER / 2) this.#wake();
      }
    } catch (e) {
      if (conn) void this.lost(conn, `write failed: ${describe(e)}`);
    } finally {
      if (this.#pumping === conn) this.#pumping = undefined;
    }
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #readLoop(conn: QUICConnection, stream: QUICStream): Promise<void> {
    const reader = stream.readable.getReader();
    let why = "the peer ended the stream";
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done || this.conn !== conn) break;
        const bad = await this.#ingress(conn, r.value);
        if (bad) {
          why = bad;
          break;
        }
      }
    } catch (e) {
      why = `read failed: ${describe(e)}`;
    }
    void this.lost(conn, why);
  }

  /** Gathers a stream chunk and hands on every whole frame; a reason when the connection must end. */
  async #ingress(conn: QUICConnection, chunk: Uint8Array): Promise<string | undefined> {
    let off = 0;
    while (off < chunk.length) {
      if (this.#rpos === this.#wpos) {
        this.#rpos = 0;
        this.#wpos = 0;
      } else if (IN_CAP - this.#wpos < chunk.length - off && this.#rpos > 0) {
        this.#inbuf.copyWithin(0, this.#rpos, this.#wpos);
        this.#wpos -= this.#rpos;
        this.#rpos = 0;
      }
      const n = Math.min(chunk.length - off, IN_CAP - this.#wpos);
      this.#inbuf.set(chunk.subarray(off, off + n), this.#wpos);
      this.#wpos += n;
      off += n;
      const bad = await this.#parse(conn);
      if (bad) return bad;
    }
    this.owner.wakeIn();
    return undefined;
  }

  async #parse(conn: QUICConnection): Promise<string | undefined> {
    const v = this.#inView;
    while (this.#wpos - this.#rpos >= FRAME_HEADER) {
      const at = this.#rpos;
      const len = v.getUint32(at + 4, true);
      if (v.getUint16(at, true) !== FRAME_MAGIC || len > MAX_PAYLOAD) {
        this.owner.drops.bad_frame++;
        return "malformed frame";
      }
      if (this.#wpos - at < FRAME_HEADER + len) break;
      const kind = this.#inbuf[at + 3];
      if (kind === KIND_PACKET) {
        for (;;) {
          this.#prefixView.setUint32(0, this.index, true);
          if (this.owner.inRing.push(this.#prefix, this.#inbuf, at, FRAME_HEADER + len)) break;
          // the dataplane is behind: let it catch up, and let QUIC flow control hold the peer
          this.owner.wakeIn();
          await Bun.sleep(1);
          if (this.conn !== conn) return "connection replaced";
        }
        this.owner.counts.received++;
        this.owner.counts.bytesReceived += len;
      } else if (kind === KIND_HELLO) {
        const said = new TextDecoder().decode(this.#inbuf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len));
        if (said !== this.name) return `hello names "${said}", but the certificate names "${this.name}"`;
      } else {
        this.owner.drops.bad_frame++;
      }
      this.#rpos = at + FRAME_HEADER + len;
    }
    return undefined;
  }
}
