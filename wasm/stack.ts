/**
 * @module
 * TcpStack: one node's user-space TCP/IP stack, lwIP 2.1.3 compiled to
 * WebAssembly (wasm/lwip.wasm, built by wasm/build.sh from wasm/glue.c).
 *
 * The stack never reads a clock, never starts a timer and never touches the
 * network. Its owner feeds it:
 * - `input(packet)`: an IPv4 packet addressed to the node (up to its 1500-byte
 *   MTU, checksums complete);
 * - `tick(now)`: the time in milliseconds, on any clock the owner chooses; it
 *   runs the TCP timers that are due and returns the next deadline;
 * and takes from it, through `output(packet)`, every IPv4 packet the node
 * sends. The packet is a view into the module's memory, valid only during
 * the call: copy it. `output` must not call back into the same stack (lwIP
 * is in the middle of its work); every other handler may.
 *
 * Socket events (open, data, end, writable, close) are delivered after the
 * call that caused them returns, never from inside lwIP. Data arrives as
 * (memory, offset, length): a slice of the module's memory, valid only
 * during the handler, so the hot path allocates no view per segment.
 *
 * Per packet nothing is allocated here: packets are copied straight into
 * lwIP's pbufs, outgoing packets are shown through views cached per length
 * over one fixed buffer, and events are read from a fixed record.
 */
import wasmPath from "./lwip.wasm" with { type: "file" };
import { formatIpv4, parseIpv4 } from "../protocol/ipv4.ts";

/** What the module exports (wasm/glue.c). Addresses are byte offsets into `memory`. */
interface LwipExports {
  memory: WebAssembly.Memory;
  nm_init(ip: number, netmask: number, now: number, seed: number): number;
  nm_out_buffer(): number;
  nm_tx_stage(): number;
  nm_tx_stage_size(): number;
  nm_event(): number;
  nm_rx_begin(len: number): number;
  nm_rx_end(): void;
  nm_tick(now: number): number;
  nm_listen(port: number): number;
  nm_connect(ip: number, port: number): number;
  nm_writable(handle: number, wanted: number): number;
  nm_write(handle: number, len: number): number;
  nm_set_sndbuf(handle: number, bytes: number): number;
  nm_shutdown(handle: number): number;
  nm_close(handle: number): number;
  nm_abort(handle: number): number;
  nm_next_event(): number;
  nm_conn_info(handle: number): number;
  nm_conn_record(): number;
  nm_counters(): number;
  nm_last_assert(): number;
  nm_last_assert_line(): number;
}

const EXPORT_NAMES: readonly (keyof LwipExports)[] = [
  "memory", "nm_init", "nm_out_buffer", "nm_tx_stage", "nm_tx_stage_size", "nm_event", "nm_rx_begin", "nm_rx_end",
  "nm_tick", "nm_listen", "nm_connect", "nm_writable", "nm_write", "nm_set_sndbuf", "nm_shutdown", "nm_close", "nm_abort",
  "nm_next_event", "nm_conn_info", "nm_conn_record", "nm_counters", "nm_last_assert", "nm_last_assert_line",
];

// event kinds and close reasons, as numbered in glue.c
const EV_NONE = 0;
const EV_OPEN = 1;
const EV_DATA = 2;
const EV_END = 3;
const EV_WRITABLE = 4;
const EV_CLOSED = 5;

export type CloseReason = "closed" | "reset" | "refused" | "aborted" | "timeout";
const REASONS: readonly CloseReason[] = ["closed", "closed", "reset", "refused", "aborted", "timeout"];

/** The stack's MTU: the largest packet `input` takes and `output` gives. */
export const MTU = 1500;

/** Names of `counters()`, in the order nm_counters fills them. */
export const COUNTER_NAMES = [
  "rxPackets", "rxBytes", "rxDropSize", "rxDropNoBuffer", "txPackets", "txBytes",
  "ipRecv", "ipDrop", "ipChecksumErrors", "ipLengthErrors", "ipProtocolErrors", "ipErrors",
  "tcpRecv", "tcpXmit", "tcpDrop", "tcpChecksumErrors", "tcpLengthErrors", "tcpMemoryErrors", "tcpProtocolErrors",
  "tcpOptionErrors", "tcpErrors", "tcpRetransmits", "tcpActiveOpens", "tcpPassiveOpens", "tcpAttemptFails",
  "tcpOutResets", "icmpRecv", "icmpXmit", "icmpDrop", "icmpChecksumErrors",
  "rxPoolUsed", "rxPoolMax", "rxPoolErrors", "txPoolUsed", "txPoolMax", "txPoolErrors",
  "segmentsUsed", "segmentsMax", "segmentErrors", "pcbsUsed", "pcbsMax", "pcbErrors", "sockets", "assertions",
] as const;
export type StackCounters = { [K in (typeof COUNTER_NAMES)[number]]: number };

/** A socket's figures; bytes are payload bytes. */
export interface SocketStats {
  /** Handed to `onData`. */
  bytesReceived: number;
  /** Taken by `write`. */
  bytesWritten: number;
  /** Acknowledged by the peer. */
  bytesAcked: number;
  /** Segments sent again (fast retransmit or timeout). */
  retransmits: number;
  /** Congestion window, send window and bytes sent but not acknowledged. */
  cwnd: number;
  sendWindow: number;
  inFlight: number;
  /** Smoothed round-trip time, in lwIP's 100 ms ticks' resolution. */
  srttMs: number;
}

export interface TcpStackOptions {
  /** The node's address: "10.0.0.1", or a number with the first octet in the top byte. */
  ip: string | number;
  netmask: string | number;
  /** The clock, in milliseconds, at creation; later times come through `tick`. */
  now: number;
  /** Receives every packet the stack sends (see the module comment). */
  output: (packet: Uint8Array) => void;
  /** Seeds ephemeral ports and initial sequence numbers (default: from the address). */
  seed?: number;
}

let compiled: Promise<WebAssembly.Module> | undefined;
let prepared: WebAssembly.Module | undefined;

/** The module, compiled once per thread and instantiated per stack. */
function lwipModule(): Promise<WebAssembly.Module> {
  compiled ??= Bun.file(wasmPath)
    .arrayBuffer()
    .then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

function address(value: string | number, field: string): number {
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value;
  } else {
    const n = parseIpv4(value);
    if (n !== undefined) return n;
  }
  throw new TypeError(`${field}: not an IPv4 address: ${String(value)}`);
}

function errorText(code: number): string {
  switch (code) {
    case -1: return "out of memory";
    case -4: return "no route";
    case -6: return "invalid value";
    case -8: return "address in use";
    case -11: return "not connected";
    case -12: return "interface error";
    case -100: return "no such socket";
    case -101: return "too many sockets";
    case -102: return "not allowed in this state";
    default: return `error ${code}`;
  }
}

// Friend access from the stack to a socket's private state, set by TcpSocket's static block.
let socketOpened: (s: TcpSocket) => void;
let socketClosed: (s: TcpSocket, reason: CloseReason, final: SocketStats) => void;

/** One TCP connection. Handlers are plain properties; set them in `onAccept` or right after `connect`. */
export class TcpSocket {
  /** The connection is established (after `connect`; accepted sockets start open). */
  onConnect: (() => void) | undefined;
  /** Bytes received: `memory[offset, offset + length)`, valid only during the call. */
  onData: ((memory: Uint8Array, offset: number, length: number) => void) | undefined;
  /** The peer finished sending (FIN). The socket can still write; `end` or `close` it when done. */
  onEnd: (() => void) | undefined;
  /** A `write` took less than offered; now there is room again. */
  onWritable: (() => void) | undefined;
  /** The socket is gone; no handler runs after this one. */
  onClose: ((reason: CloseReason) => void) | undefined;

  readonly remoteAddress: string;
  readonly remotePort: number;
  #localPort = 0;
  #state: "connecting" | "open" | "closed";
  #ended = false;
  #closeReason: CloseReason | undefined;
  #final: SocketStats | undefined;
  readonly #core: StackCore;
  readonly #handle: number;

  static {
    socketOpened = (s) => {
      if (s.#state === "connecting") s.#state = "open";
      s.#localPort = s.#core.info(s.#handle)?.[0] ?? s.#localPort;
    };
    socketClosed = (s, reason, final) => {
      s.#state = "closed";
      s.#closeReason = reason;
      s.#final = final;
    };
  }

  /** @internal Made by TcpStack.connect and by accepting; not for callers. */
  constructor(core: StackCore, handle: number, state: "connecting" | "open", remoteAddress: string, remotePort: number) {
    this.#core = core;
    this.#handle = handle;
    this.#state = state;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.#localPort = core.info(handle)?.[0] ?? 0;
  }

  get state(): "connecting" | "open" | "closed" {
    return this.#state;
  }
  get localPort(): number {
    return this.#localPort;
  }
  /** Why the socket closed, once it has. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /**
   * Queues as much of `bytes` as the send buffer takes now and returns that
   * count; when it is less than `bytes.length`, `onWritable` fires once there
   * is room again. Writing before the connection opens is allowed (the data
   * leaves after the handshake). Throws after `end` or `close`.
   */
  write(bytes: Uint8Array): number {
    if (this.#ended || this.#state === "closed") throw new Error("write after end or close");
    return this.#core.write(this.#handle, bytes);
  }

  /**
   * Caps what this socket holds written but not yet acknowledged (default and
   * maximum: the stack's 4 MiB; at least 2 MSS). A connection never has more
   * than this in flight, so it bounds its rate to about bytes / RTT.
   */
  setSendBuffer(bytes: number): void {
    if (this.#state === "closed") return;
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`send buffer: not a byte count: ${bytes}`);
    this.#core.enter();
    this.#core.ex.nm_set_sndbuf(this.#handle, Math.min(bytes, 0xffffffff) >>> 0);
  }

  /** Half close: FIN after everything written; data can still arrive. */
  end(): void {
    if (this.#ended || this.#state === "closed") return;
    this.#ended = true;
    this.#core.call(this.#core.ex.nm_shutdown, this.#handle);
  }

  /** Closes both directions: FIN after the queued data; unread and later data are dropped. `onClose("closed")` follows. */
  close(): void {
    if (this.#state === "closed") return;
    this.#ended = true;
    this.#core.call(this.#core.ex.nm_close, this.#handle);
  }

  /** Resets the connection (RST); queued data is dropped. `onClose("aborted")` follows. */
  abort(): void {
    if (this.#state === "closed") return;
    this.#ended = true;
    this.#core.call(this.#core.ex.nm_abort, this.#handle);
  }

  /** Current figures (the last ones once closed). */
  stats(): SocketStats {
    if (this.#final !== undefined) return this.#final;
    const info = this.#core.info(this.#handle);
    return info === undefined ? emptyStats() : statsOf(info);
  }
}

function emptyStats(): SocketStats {
  return { bytesReceived: 0, bytesWritten: 0, bytesAcked: 0, retransmits: 0, cwnd: 0, sendWindow: 0, inFlight: 0, srttMs: 0 };
}

function statsOf(info: Float64Array): SocketStats {
  return {
    bytesReceived: info[4],
    bytesWritten: info[5],
    bytesAcked: info[6],
    retransmits: info[7],
    cwnd: info[8],
    sendWindow: info[9],
    srttMs: info[10],
    inFlight: info[11],
  };
}

/** A listening port; `close` stops accepting (established sockets stay). */
export class TcpListener {
  readonly port: number;
  readonly onAccept: (socket: TcpSocket) => void;
  readonly #core: StackCore;
  readonly #handle: number;
  #closed = false;

  /** @internal Made by TcpStack.listen. */
  constructor(core: StackCore, handle: number, port: number, onAccept: (socket: TcpSocket) => void) {
    this.#core = core;
    this.#handle = handle;
    this.port = port;
    this.onAccept = onAccept;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#core.listeners.delete(this.#handle);
    this.#core.call(this.#core.ex.nm_close, this.#handle);
  }
}

/**
 * The state shared by a stack and its sockets: the instance, views over its
 * memory, the socket maps, and the loop that hands events out.
 */
class StackCore {
  readonly ex: LwipExports;
  readonly sockets = new Map<number, TcpSocket>();
  readonly listeners = new Map<number, TcpListener>();
  readonly #output: (packet: Uint8Array) => void;
  #u8: Uint8Array;
  #outViews: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(MTU + 1).fill(undefined);
  #event: Int32Array;
  #info: Float64Array;
  #counters: Float64Array;
  readonly #outPtr: number;
  readonly #stagePtr: number;
  readonly #stageSize: number;
  #inOutput = false;
  #draining = false;
  #outputError: unknown = undefined;
  /** Set when the module trapped: its state is unknown, so it is not used again. */
  broken: Error | undefined;

  constructor(instance: WebAssembly.Instance, output: (packet: Uint8Array) => void) {
    for (const name of EXPORT_NAMES) {
      if (!(name in instance.exports)) throw new Error(`lwip.wasm lacks the export ${name}: rebuild it with wasm/build.sh`);
    }
    this.ex = instance.exports as unknown as LwipExports;
    this.#output = output;
    this.#outPtr = this.ex.nm_out_buffer();
    this.#stagePtr = this.ex.nm_tx_stage();
    this.#stageSize = this.ex.nm_tx_stage_size();
    this.#u8 = new Uint8Array(this.ex.memory.buffer);
    this.#event = new Int32Array(this.ex.memory.buffer, this.ex.nm_event(), 5);
    this.#info = new Float64Array(this.ex.memory.buffer, this.ex.nm_conn_record(), 12);
    this.#counters = new Float64Array(this.ex.memory.buffer, this.ex.nm_counters(), COUNTER_NAMES.length);
  }

  /** The import env.output: lwIP sent a packet of `len` bytes, now in the out buffer. */
  onOutput(len: number): void {
    if (this.#u8.byteLength === 0) this.#refreshViews();
    let view = len <= MTU ? this.#outViews[len] : undefined;
    if (view === undefined) {
      view = new Uint8Array(this.ex.memory.buffer, this.#outPtr, len);
      if (len <= MTU) this.#outViews[len] = view;
    }
    this.#inOutput = true;
    try {
      this.#output(view);
    } catch (e) {
      // never unwind through lwIP's frames: rethrown once the module returns
      this.#outputError ??= e;
    } finally {
      this.#inOutput = false;
    }
  }

  /** The memory grew (it does not in practice: nothing in the module allocates): new views. */
  #refreshViews(): void {
    const buf = this.ex.memory.buffer;
    this.#u8 = new Uint8Array(buf);
    this.#outViews.fill(undefined);
    this.#event = new Int32Array(buf, this.ex.nm_event(), 5);
    this.#counters = new Float64Array(buf, this.ex.nm_counters(), COUNTER_NAMES.length);
    this.#info = new Float64Array(buf, this.ex.nm_conn_record(), 12);
  }

  /** Every public entry point starts here. */
  enter(): void {
    if (this.#inOutput) throw new Error("TcpStack: called from its own output handler (copy the packet and return instead)");
    if (this.broken !== undefined) throw this.broken;
    if (this.#u8.byteLength === 0) this.#refreshViews();
  }

  /** Every public entry point ends here: hand out the events, then rethrow what `output` threw, if anything. */
  leave(): void {
    if (this.#outputError === undefined && !this.#draining) this.#drain();
    if (this.#outputError !== undefined) {
      const e = this.#outputError;
      this.#outputError = undefined;
      throw e;
    }
  }

  /** Runs `fn(arg)` in the module as one entry point; returns its result. */
  call(fn: (arg: number) => number, arg: number): number {
    this.enter();
    let r: number;
    try {
      r = fn(arg);
    } catch (e) {
      throw this.trapped(e);
    }
    this.leave();
    return r;
  }

  trapped(e: unknown): unknown {
    if (e instanceof WebAssembly.RuntimeError) this.broken = new Error(`TcpStack: lwip.wasm trapped: ${e.message}`);
    return e;
  }

  input(packet: Uint8Array): void {
    this.enter();
    try {
      const ptr = this.ex.nm_rx_begin(packet.length);
      if (ptr !== 0) {
        this.#u8.set(packet, ptr);
        this.ex.nm_rx_end();
      }
    } catch (e) {
      throw this.trapped(e);
    }
    this.leave();
  }

  /** `input` of `len` bytes of `src` from `offset`, copied natively without a view per packet. */
  inputFrom(src: Buffer, offset: number, len: number): void {
    this.enter();
    try {
      const ptr = this.ex.nm_rx_begin(len);
      if (ptr !== 0) {
        src.copy(this.#u8, ptr, offset, offset + len);
        this.ex.nm_rx_end();
      }
    } catch (e) {
      throw this.trapped(e);
    }
    this.leave();
  }

  write(handle: number, bytes: Uint8Array): number {
    this.enter();
    let done = 0;
    try {
      while (done < bytes.length) {
        const want = bytes.length - done;
        const space = this.ex.nm_writable(handle, want);
        if (space <= 0) break;
        const n = Math.min(want, space, this.#stageSize);
        this.#u8.set(done === 0 && n === bytes.length ? bytes : bytes.subarray(done, done + n), this.#stagePtr);
        const took = this.ex.nm_write(handle, n);
        if (took <= 0) break;
        done += took;
        if (took < n) break;
      }
    } catch (e) {
      throw this.trapped(e);
    }
    this.leave();
    return done;
  }

  /** The connection record of `handle` (see nm_conn_info), or undefined once it is gone. */
  info(handle: number): Float64Array | undefined {
    if (this.#u8.byteLength === 0) this.#refreshViews();
    return this.ex.nm_conn_info(handle) === 0 ? undefined : this.#info;
  }

  counters(): StackCounters {
    this.enter();
    this.ex.nm_counters();
    const out: Record<string, number> = {};
    for (let i = 0; i < COUNTER_NAMES.length; i++) out[COUNTER_NAMES[i]] = this.#counters[i];
    return out as StackCounters;
  }

  /** Hands out queued events until there are none; handlers may call back in. */
  #drain(): void {
    this.#draining = true;
    try {
      for (;;) {
        let kind: number;
        try {
          kind = this.ex.nm_next_event();
        } catch (e) {
          throw this.trapped(e);
        }
        if (kind === EV_NONE) break;
        const ev = this.#event;
        const handle = ev[1];
        switch (kind) {
          case EV_OPEN:
            this.#opened(handle, ev[2]);
            break;
          case EV_DATA:
            this.sockets.get(handle)?.onData?.(this.#u8, ev[3], ev[4]);
            break;
          case EV_END:
            this.sockets.get(handle)?.onEnd?.();
            break;
          case EV_WRITABLE:
            this.sockets.get(handle)?.onWritable?.();
            break;
          case EV_CLOSED: {
            const s = this.sockets.get(handle);
            if (s === undefined) break;
            this.sockets.delete(handle);
            // glue.c leaves the record of the closed socket in nm_conn_record
            const final = statsOf(this.#info);
            const reason = REASONS[ev[2]] ?? "closed";
            socketClosed(s, reason, final);
            s.onClose?.(reason);
            break;
          }
        }
        if (this.#outputError !== undefined) break;
      }
    } finally {
      this.#draining = false;
    }
  }

  #opened(handle: number, listenerHandle: number): void {
    if (listenerHandle === 0) {
      const s = this.sockets.get(handle);
      if (s === undefined) return;
      socketOpened(s);
      s.onConnect?.();
      return;
    }
    const listener = this.listeners.get(listenerHandle);
    const info = this.info(handle);
    if (listener === undefined || info === undefined) {
      // accepted just as its listener closed: nobody wants it
      this.ex.nm_abort(handle);
      return;
    }
    const s = new TcpSocket(this, handle, "open", formatIpv4(info[1]), info[2]);
    this.sockets.set(handle, s);
    listener.onAccept(s);
  }
}

/** One node's TCP/IP stack (see the module comment). */
export class TcpStack {
  readonly address: string;
  readonly #core: StackCore;

  private constructor(core: StackCore, address: string) {
    this.#core = core;
    this.address = address;
  }

  /** Instantiates lwip.wasm (compiled once per thread) as a stack with this address. */
  static async create(options: TcpStackOptions): Promise<TcpStack> {
    await TcpStack.prepare();
    return TcpStack.createSync(options);
  }

  /** Compiles the module for this thread, so that `createSync` can instantiate it. */
  static async prepare(): Promise<void> {
    prepared ??= await lwipModule();
  }

  /** Whether `prepare` has finished in this thread. */
  static get prepared(): boolean {
    return prepared !== undefined;
  }

  /**
   * `create` without waiting, once `prepare` has finished: a dataplane makes a
   * node's stack in the same turn it learns of the node, so the first packets
   * for it find it there.
   */
  static createSync(options: TcpStackOptions): TcpStack {
    if (prepared === undefined) throw new Error("TcpStack.createSync: call TcpStack.prepare() first");
    const ip = address(options.ip, "ip");
    const netmask = address(options.netmask, "netmask");
    if (!Number.isFinite(options.now)) throw new TypeError(`now: not a number of milliseconds: ${options.now}`);
    let core: StackCore | undefined;
    const instance = new WebAssembly.Instance(prepared, {
      env: {
        output: (len: number): void => {
          core?.onOutput(len);
        },
      },
    });
    core = new StackCore(instance, options.output);
    const seed = (options.seed ?? (ip ^ 0x5bd1e995)) >>> 0;
    const err = core.ex.nm_init(ip, netmask, options.now >>> 0, seed);
    if (err !== 0) throw new Error(`TcpStack: lwIP failed to start: ${errorText(err)}`);
    return new TcpStack(core, formatIpv4(ip));
  }

  /** Takes one IPv4 packet addressed to this node. Bad packets are counted and dropped. */
  input(packet: Uint8Array): void {
    this.#core.input(packet);
  }

  /**
   * Takes the IPv4 packet of `len` bytes at `offset` in `src` (the dataplane's
   * packet pool, for one): the same as `input` without making a view per packet.
   */
  inputFrom(src: Buffer, offset: number, len: number): void {
    this.#core.inputFrom(src, offset, len);
  }

  /**
   * Sets the clock to `now` (ms) and runs the timers that are due. Returns
   * when to call again at the latest (an absolute time on the same clock), or
   * Infinity when no timer is pending; calling earlier or more often is fine.
   */
  tick(now: number): number {
    const core = this.#core;
    core.enter();
    let wait: number;
    try {
      wait = core.ex.nm_tick(now >>> 0);
    } catch (e) {
      throw core.trapped(e);
    }
    core.leave();
    return wait < 0 ? Infinity : now + wait;
  }

  /** Accepts connections on `port`; each new socket goes to `onAccept`, already open. */
  listen(port: number, onAccept: (socket: TcpSocket) => void): TcpListener {
    const core = this.#core;
    const handle = core.call(core.ex.nm_listen, port);
    if (handle < 0) throw new Error(`listen on port ${port}: ${errorText(handle)}`);
    const listener = new TcpListener(core, handle, port, onAccept);
    core.listeners.set(handle, listener);
    return listener;
  }

  /** Opens a connection; `onConnect` fires when it is established, `onClose("refused")` when refused. */
  connect(dst: string | number, port: number): TcpSocket {
    const ip = address(dst, "dst");
    const core = this.#core;
    core.enter();
    let handle: number;
    try {
      handle = core.ex.nm_connect(ip, port);
    } catch (e) {
      throw core.trapped(e);
    }
    if (handle < 0) {
      core.leave();
      throw new Error(`connect to ${formatIpv4(ip)}:${port}: ${errorText(handle)}`);
    }
    const socket = new TcpSocket(core, handle, "connecting", formatIpv4(ip), port);
    core.sockets.set(handle, socket);
    core.leave();
    return socket;
  }

  /** Counters of the whole stack (lwIP's statistics and the glue's own). */
  counters(): StackCounters {
    return this.#core.counters();
  }

  /** Open sockets (connecting or established, not yet closed). */
  get socketCount(): number {
    return this.#core.sockets.size;
  }

  /** The last lwIP assertion that failed (counted in `counters().assertions`), if any. */
  lastAssertion(): string | undefined {
    const ptr = this.#core.ex.nm_last_assert();
    if (ptr === 0) return undefined;
    const mem = new Uint8Array(this.#core.ex.memory.buffer);
    let end = ptr;
    while (end < mem.length && mem[end] !== 0) end++;
    return `${new TextDecoder().decode(mem.subarray(ptr, end))} (line ${this.#core.ex.nm_last_assert_line()})`;
  }
}
