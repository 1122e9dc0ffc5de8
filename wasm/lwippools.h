/*
 * The pools that stand in for lwIP's heap (MEM_USE_POOLS, wasm/lwipopts.h).
 * mem_malloc takes the smallest pool whose blocks fit, and a bigger one when
 * that pool is empty (MEM_USE_POOLS_TRY_BIGGER_POOL), in constant time.
 *
 * Who allocates what (wasm32, no link header, no TCP timestamps):
 * - 256 bytes: ACKs, SYNs, RSTs and other header-only segments (16-byte pbuf
 *   + 40 bytes of IP/TCP header + up to 40 of options); they live from
 *   tcp_output to the netif's output, or on the unacked queue (SYN, FIN).
 * - 1,536 bytes: one data segment as written by the application: the pbuf,
 *   the headers and TCP_OVERSIZE (one MSS, 1460) of payload. These hold all
 *   written-but-unacknowledged data of all connections: 4,096 of them are
 *   6 MiB, 5.7 MiB of payload across the stack (a connection's own limit is
 *   TCP_SND_BUF, 4 MiB). A writer refused for lack of them is told when they
 *   come back (EV_WRITABLE).
 * Nothing bigger is ever asked for: the stack takes packets up to its MTU
 * (1500), and an ICMP echo reply reuses the request's pbuf.
 */
LWIP_MALLOC_MEMPOOL_START
LWIP_MALLOC_MEMPOOL(1024, 256)
LWIP_MALLOC_MEMPOOL(4096, 1536)
LWIP_MALLOC_MEMPOOL_END
