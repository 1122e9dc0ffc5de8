/*
 * lwIP configuration for nextmini's user-space TCP stack (wasm/lwip.wasm).
 *
 * One stack instance is one emulated node: one IPv4 address on one netif
 * with no link layer, TCP for flows, ICMP echo for reachability tests. The
 * host (wasm/stack.ts) drives everything: packets in, packets out, and the
 * clock. The numbers below are chosen for throughput between nodes inside
 * one process (bench/wasm-stack.ts) and for many concurrent flows; see
 * wasm/README.md for the memory they add up to.
 */
#ifndef NEXTMINI_LWIPOPTS_H
#define NEXTMINI_LWIPOPTS_H

/* ---- system: raw API, no threads, host-driven timers -------------------- */
#define NO_SYS                          1
#define LWIP_TIMERS                     1
#define SYS_LIGHTWEIGHT_PROT            0
#define LWIP_NETCONN                    0
#define LWIP_SOCKET                     0
#define LWIP_CALLBACK_API               1

/* ---- protocols: IPv4 + TCP (+ ICMP echo); nothing that needs UDP ------- */
#define LWIP_IPV4                       1
#define LWIP_IPV6                       0
#define LWIP_TCP                        1
#define LWIP_UDP                        0
#define LWIP_RAW                        0
#define LWIP_ICMP                       1
#define LWIP_IGMP                       0
#define LWIP_DHCP                       0
#define LWIP_AUTOIP                     0
#define LWIP_DNS                        0
#define LWIP_ARP                        0
#define LWIP_ETHERNET                   0
#define LWIP_SINGLE_NETIF               1
/* The dataplane delivers whole packets at the node's MTU and routes them
 * itself: no forwarding, no fragments either way (a fragment is dropped). */
#define IP_FORWARD                      0
#define IP_REASSEMBLY                   0
#define IP_FRAG                         0
/* No link header in front of IP: the netif hands bare IPv4 packets to the host. */
#define PBUF_LINK_HLEN                  0
#define PBUF_LINK_ENCAPSULATION_HLEN    0

/* ---- TCP, tuned for throughput ------------------------------------------ */
#define TCP_MSS                         1460
/* 4 MiB receive window, advertised with window scale 7 (granularity 128
 * bytes; the scale allows up to 8 MiB). It covers 1 Gbit/s over 32 ms of RTT.
 * Received in-order data leaves the stack as soon as the host has read it, so
 * the window only costs memory for out-of-order segments, which come from the
 * shared pbuf pool below. */
#define LWIP_WND_SCALE                  1
#define TCP_RCV_SCALE                   7
#define TCP_WND                         (4 * 1024 * 1024)
/* Send buffer per connection: data written but not yet acknowledged. Same 4
 * MiB as the window so one flow can fill a long fat pipe (1 Gbit/s over 32
 * ms); all connections share the tx pool (wasm/lwippools.h), which is the
 * real limit. Cost: lwIP 2.1's tcp_output walks the whole unacked queue on
 * every call, so per-packet work grows with the segments in flight (measured
 * by bench/wasm-stack.ts: 470-510 ns per packet with 1 MiB in flight, 710-830
 * ns with 4 MiB). A socket can take a smaller buffer (nm_set_sndbuf). */
#define TCP_SND_BUF                     (4 * 1024 * 1024)
/* Segments (pbufs) queued per connection: lwIP's rule of thumb, 4 per MSS of
 * send buffer (11,491), so the byte limit binds before the count does. */
#define TCP_SND_QUEUELEN                ((4 * (TCP_SND_BUF) + (TCP_MSS - 1)) / (TCP_MSS))
/* Only the sockets/netconn APIs read these; they must merely satisfy lwIP's
 * sanity checks (the default, half of TCP_SND_BUF, overflows a u16). */
#define TCP_SNDLOWAT                    (32 * 1024)
#define TCP_SNDQUEUELOWAT               (TCP_SND_QUEUELEN / 2)
/* SACK blocks on our ACKs (RFC 2018), so a kernel TCP sending to this stack
 * repairs several losses per RTT. (lwIP 2.1 does not act on SACKs it
 * receives.) Needs the out-of-order queue. */
#define TCP_QUEUE_OOSEQ                 1
#define LWIP_TCP_SACK_OUT               1
#define LWIP_TCP_MAX_SACK_NUM           4
/* Data written is copied into MSS-sized pbufs with room to grow, so the next
 * write fills the same segment, and its checksum is summed while copying. */
#define TCP_OVERSIZE                    TCP_MSS
#define LWIP_CHECKSUM_ON_COPY           1
#define LWIP_TCP_TIMESTAMPS             0
#define LWIP_TCP_KEEPALIVE              0
#define TCP_LISTEN_BACKLOG              0
/* TCP timer: 50 ms fast (delayed ACKs) and 100 ms slow ticks. lwIP counts RTO
 * in slow ticks and its estimator settles at >= 3 ticks for short RTTs, so
 * this gives a minimum RTO near 300 ms (the default 250/500 ms gives 1.5 s, far
 * from kernel TCP's 200 ms) and delayed ACKs within 50 ms (kernel: 40 ms). */
#define TCP_TMR_INTERVAL                50

/* ---- memory: fixed pools, no malloc on the packet path ------------------ */
/* 4-byte alignment: wasm32 pointers and u32 fields. */
#define MEM_ALIGNMENT                   4
/* lwIP's "heap" (PBUF_RAM: segments written by the application, ACKs and
 * other control segments) is carved from fixed-size pools (wasm/lwippools.h)
 * instead of the first-fit heap, whose allocation time grows with the number
 * of segments in flight. */
#define MEM_USE_POOLS                   1
#define MEMP_USE_CUSTOM_POOLS           1
#define MEM_USE_POOLS_TRY_BIGGER_POOL   1
/* Not a heap size (there is no heap): above 64000 it makes mem_size_t 32
 * bits, so no size computation in mem_malloc can wrap around 64 KiB. */
#define MEM_SIZE                        (16 * 1024 * 1024)
/* Received packets: 4,096 pbufs of one 1500-byte IP packet each (6 MiB).
 * They hold out-of-order segments and data the host has not read yet (it
 * reads in-order data at once): room for the out-of-order queue of a full
 * 4 MiB window (2,873 segments). When they run out, lwIP drops the
 * out-of-order queue of one connection (PBUF_POOL_FREE_OOSEQ) to make room. */
#define PBUF_POOL_SIZE                  4096
#define PBUF_POOL_BUFSIZE               1500
/* Connections: 1,024 TCP PCBs (active, plus TIME_WAIT ones lwIP recycles
 * when it runs out) and 64 listeners. */
#define MEMP_NUM_TCP_PCB                1024
#define MEMP_NUM_TCP_PCB_LISTEN         64
/* Segment descriptors for all unsent, unacked and out-of-order segments of all
 * connections: one per tx data pbuf plus one per rx pbuf, and lwIP wants at
 * least TCP_SND_QUEUELEN of them (16,384 x 20 bytes). */
#define MEMP_NUM_TCP_SEG                16384
/* PBUF_REF/ROM pbufs (ICMP replies built on a received packet). */
#define MEMP_NUM_PBUF                   64

/* ---- checksums: all checked on input, all generated on output ---------- */
#define CHECKSUM_CHECK_IP               1
#define CHECKSUM_CHECK_TCP              1
#define CHECKSUM_CHECK_ICMP             1
#define CHECKSUM_GEN_IP                 1
#define CHECKSUM_GEN_TCP                1
#define CHECKSUM_GEN_ICMP               1

/* ---- counters read by the host ------------------------------------------ */
#define LWIP_STATS                      1
#define LWIP_STATS_LARGE                1
#define LWIP_STATS_DISPLAY              0
#define IP_STATS                        1
#define ICMP_STATS                      1
#define TCP_STATS                       1
#define MEMP_STATS                      1
#define MIB2_STATS                      1
#define LINK_STATS                      0
#define SYS_STATS                       0

/* ---- hooks (wasm/hooks.h): per-connection retransmission counts and
 * waking writers that waited for pool memory. */
#define LWIP_HOOK_FILENAME              "hooks.h"

#endif /* NEXTMINI_LWIPOPTS_H */
