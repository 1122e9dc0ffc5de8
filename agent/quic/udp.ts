/**
 * The one UDP socket a QUIC worker sends and receives on, shared by every
 * connection it dials or accepts (so peers see one port per agent). A
 * non-blocking FFI socket, because the worker waits in ppoll on it together
 * with its rings' eventfds: an event-loop socket would add a trip through the
 * event loop to every datagram. With 60 KB datagrams the default 208 KiB
 * receive buffer holds three of them (the kernel dropped thousands a second on
 * loopback), so both buffers are raised; Linux caps the request at
 * net.core.rmem_max / wmem_max.
 */
import { closeFd, EAGAIN, EINTR, errno } from "../sys/libc.ts";
import { bindSocket, net, openSocket, sockaddr, SOCK_DGRAM } from "../sys/socket.ts";
import { formatIpv4 } from "../../protocol/ipv4.ts";

export const UDP_BUFFER_BYTES = 4 << 20;
/** the largest UDP payload */
const DGRAM_MAX = 65_536;
const ECONNREFUSED = 111;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;

export class UdpSocket {
  readonly fd: number;
  readonly port: number;
  /** what the kernel granted (Linux doubles the request, then caps it) */
  readonly granted: { recv: number; send: number };
  /** where `recv` puts a datagram */
  readonly inbuf = new Uint8Array(DGRAM_MAX);
  readonly inView = new DataView(this.inbuf.buffer);
  /** where callers build a datagram for `send` */
  readonly outbuf = new Uint8Array(DGRAM_MAX);
  /** the last datagram's source, address as a u32 (a.b.c.d = a << 24 ...) and port */
  fromAddr = 0;
  fromPort = 0;
  /** datagrams the kernel refused (an earlier one met a closed port: that peer is not up) or failed to send */
  refused = 0;
  failed = 0;
  /** a datagram of `outbuf` the kernel had no room for; sent again by `retry` once writable */
  #heldLen = 0;
  #heldTo: Uint8Array | undefined;
  readonly #from = new Uint8Array(16);
  readonly #fromView = new DataView(this.#from.buffer);
  readonly #fromLen = new Uint32Array(1);
  readonly #fromLenBytes = new Uint8Array(this.#fromLen.buffer);
  /** views of `inbuf` by length: quiche takes a datagram as an exactly sized array, and making one per datagram would allocate */
  readonly #views: Uint8Array[] = [];

  constructor(address: string, port: number) {
    this.fd = openSocket(SOCK_DGRAM);
    try {
      this.port = bindSocket(this.fd, address, port, false);
    } catch (e) {
      closeFd(this.fd);
      throw e;
    }
    this.granted = { recv: this.#getInt(SO_RCVBUF), send: this.#getInt(SO_SNDBUF) };
  }

  /** True while a datagram waits for room in the kernel: nothing else may be sent before it. */
  get blocked(): boolean {
    return this.#heldTo !== undefined;
  }

  /** Receives one datagram into `inbuf`; its length, or -1 when none is waiting. */
  recv(): number {
    let n = -1;
    for (;;) {
      this.#fromLen[0] = 16;
      n = net.recvfrom(this.fd, this.inbuf, DGRAM_MAX, 0, this.#from, this.#fromLenBytes) as number;
      if (n >= 0) break;
      const e = errno();
      // a refusal reported for an earlier send is not a datagram: read on
      if (e === ECONNREFUSED) continue;
      if (e !== EAGAIN && e !== EINTR) this.failed++;
      return -1;
    }
    this.fromAddr = this.#fromView.getUint32(4, false);
    this.fromPort = this.#fromView.getUint16(2, false);
    return n;
  }

  /** The first `n` bytes of `inbuf` as their own array (cached, so this allocates once per length). */
  received(n: number): Uint8Array {
    let v = this.#views[n];
    if (v === undefined) this.#views[n] = v = this.inbuf.subarray(0, n);
    return v;
  }

  /** The last datagram's source as text (for new connections, not per datagram). */
  fromHost(): string {
    return formatIpv4(this.fromAddr);
  }

  /**
   * Sends `len` bytes of `outbuf` to `to` (a sockaddr). False when the kernel
   * had no room: the datagram is held and the caller must wait for POLLOUT and
   * `retry` before sending more. A refused or failed send counts as a lost
   * datagram, as UDP's always are; QUIC recovers it.
   */
  send(len: number, to: Uint8Array): boolean {
    const r = net.sendto(this.fd, this.outbuf, len, 0, to, 16) as number;
    if (r >= 0) return true;
    const e = errno();
    if (e === EAGAIN) {
      this.#heldLen = len;
      this.#heldTo = to;
      return false;
    }
    if (e === ECONNREFUSED) this.refused++;
    else this.failed++;
    return true;
  }

  /** Sends the held datagram again; true once nothing is held. */
  retry(): boolean {
    const to = this.#heldTo;
    if (to === undefined) return true;
    this.#heldTo = undefined;
    return this.send(this.#heldLen, to);
  }

  close(): void {
    closeFd(this.fd);
  }

  #getInt(name: number): number {
    const v = new Int32Array(1);
    const len = new Uint32Array([4]);
    net.getsockopt(this.fd, SOL_SOCKET, name, new Uint8Array(v.buffer), new Uint8Array(len.buffer));
    return v[0];
  }
}

/** The sockaddr of an IPv4 peer, or undefined for an address that is not IPv4. */
export function peerSockaddr(address: string, port: number): Uint8Array | undefined {
  try {
    return sockaddr(address, port);
  } catch {
    return undefined;
  }
}
