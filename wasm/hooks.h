/*
 * lwIP hooks (LWIP_HOOK_FILENAME in wasm/lwipopts.h), implemented in glue.c.
 *
 * - Every TCP segment on its way out passes nm_hook_tcp_out, which counts
 *   retransmissions per connection and per stack: a segment that starts
 *   below snd_nxt (the highest sequence number sent so far, which lwIP 2.1
 *   never moves back, not even for an RTO) is a retransmission, and so is a
 *   SYN sent again (glue.c). lwIP's own MIB2 counter misses RTO
 *   retransmissions.
 * - nm_hook_memp_available runs when an empty pool gets an element back, so
 *   writers that were refused for lack of memory are told to try again.
 * - nm_hook_tcp_isn picks initial sequence numbers as RFC 6528 does: a
 *   keyed hash of the connection's addresses and ports (the key comes from
 *   the host's seed) plus a 4-microsecond clock (the host's).
 */
#ifndef NEXTMINI_HOOKS_H
#define NEXTMINI_HOOKS_H

struct pbuf;
struct tcp_hdr;
struct tcp_pcb;
struct ip4_addr;

u32_t *nm_hook_tcp_out(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb, u32_t *opts);
void nm_hook_memp_available(int type);
u32_t nm_hook_tcp_isn(const struct ip4_addr *local_ip, u16_t local_port, const struct ip4_addr *remote_ip, u16_t remote_port);

#define LWIP_HOOK_TCP_OUT_ADD_TCPOPTS(p, hdr, pcb, opts) nm_hook_tcp_out((p), (hdr), (pcb), (opts))
#define LWIP_HOOK_MEMP_AVAILABLE(type) nm_hook_memp_available((int)(type))
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  nm_hook_tcp_isn((local_ip), (local_port), (remote_ip), (remote_port))

#endif /* NEXTMINI_HOOKS_H */
