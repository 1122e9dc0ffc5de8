/**
 * The one UDP socket a QUIC worker sends and receives on, shared by its server
 * and its clients (so peers see one port per agent). A subclass, because the
 * library creates the dgram socket inside `start` and offers no buffer
 * options: with 60 KB datagrams the default 208 KiB receive buffer holds three
 * of them, and the kernel dropped thousands a second on loopback (RcvbufErrors
 * in /proc/net/snmp) until the buffers were raised. Linux caps the request at
 * net.core.rmem_max / wmem_max.
 */
import { QUICSocket } from "@matrixai/quic";

export const UDP_BUFFER_BYTES = 4 << 20;

export class TunedSocket extends QUICSocket {
  /** what the kernel granted, as getsockopt reports it (Linux doubles the request, then caps it) */
  granted = { recv: 0, send: 0 };
  /** datagrams the kernel refused (their destination port was closed) */
  refused = 0;

  override async start(opts: { host?: string; port?: number; reuseAddr?: boolean; ipv6Only?: boolean } = {}): Promise<void> {
    await super.start(opts);
    try {
      this.socket.setRecvBufferSize(UDP_BUFFER_BYTES);
      this.socket.setSendBufferSize(UDP_BUFFER_BYTES);
      this.granted = { recv: this.socket.getRecvBufferSize(), send: this.socket.getSendBufferSize() };
    } catch {
      // not fatal: the transport works with the default buffers, only slower under load
    }
  }

  /**
   * Sends one datagram. A send the kernel refuses because an earlier datagram
   * to that address met a closed port (ECONNREFUSED, from the ICMP error) is a
   * lost packet, as UDP's always are: the library would instead throw it out
   * of an event handler and end the thread, while a peer is merely not up yet.
   */
  override async send_(...params: [string | Uint8Array, number, number, number, string]): Promise<number> {
    try {
      return await super.send_(...params);
    } catch (e) {
      if (e instanceof Error && "code" in e && e.code === "ECONNREFUSED") {
        this.refused++;
        return 0;
      }
      throw e;
    }
  }
}
