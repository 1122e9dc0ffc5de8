/*
 * nextmini's binding of lwIP 2.1 (raw API, NO_SYS) to its host, wasm/stack.ts.
 *
 * One instance of the module is one node's TCP/IP stack: one IPv4 address on
 * one netif without a link layer. The host owns everything outside it:
 *
 * - Packets in: the host asks for room with nm_rx_begin(len) (a pbuf from
 *   the pool), copies the IPv4 packet there and calls nm_rx_end(), which
 *   runs lwIP's input path.
 * - Packets out: the netif copies each IPv4 packet lwIP sends to one fixed
 *   buffer (nm_out_buffer) and calls the imported env.output(len). The host
 *   must copy it before returning and must not call back into the module
 *   from there: lwIP is in the middle of its work.
 * - Time: sys_now() is whatever the host passed to nm_tick(now) last; nothing
 *   here reads a clock. nm_tick also runs the timers that are due and says
 *   how long until the next one.
 * - Sockets: every connection and listener is a slot in a fixed table, named
 *   to the host by a handle (slot index + generation, so a stale handle never
 *   reaches a reused slot). lwIP's callbacks do not call the host. They
 *   record what happened on the slot (opened, data, end of data, writable,
 *   closed) and queue the slot once. The host collects the events with
 *   nm_next_event() after each call, outside lwIP, where its handlers may
 *   call anything. Received data stays in lwIP's pbufs until then. A data
 *   event points into the pbuf, which is freed (and its bytes given back to
 *   the receive window) at the next nm_next_event call.
 *
 * Nothing on the packet path allocates outside lwIP's fixed pools.
 *
 * TCP: RFC 793/9293 as implemented by lwIP, with window scaling (RFC 7323)
 * and SACK on our ACKs (RFC 2018); see wasm/lwipopts.h.
 */
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/ip4_addr.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"

#define EXPORT(name) __attribute__((export_name(#name))) 
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

/* The host's side of the netif: the packet is in out_buffer. */
IMPORT(output) void host_output(uint32_t len);

/* ---- errors returned to the host (lwIP's err_t values are -1..-16) ------ */
#define NM_ERR_HANDLE (-100) /* no such socket (closed, or never was) */
#define NM_ERR_SLOTS (-101)  /* the socket table is full */
#define NM_ERR_STATE (-102)  /* not in a state that allows this */

/* ---- events, in the order a slot reports them --------------------------- */
#define EV_NONE 0
#define EV_OPEN 1     /* connected, or accepted (aux = the listener's handle) */
#define EV_DATA 2     /* ptr/len: bytes received, valid until the next call */
#define EV_END 3      /* the peer sent FIN: no more data will come */
#define EV_WRITABLE 4 /* a write was refused or short; there is room again */
#define EV_CLOSED 5   /* the socket is gone (aux = reason); its handle is dead */

#define P_OPEN 1
#define P_END 2
#define P_WRITABLE 4
#define P_CLOSED 8

/* reasons of EV_CLOSED */
#define R_CLOSED 1  /* closed by us, or both sides finished */
#define R_RESET 2   /* the peer reset an established connection */
#define R_REFUSED 3 /* the peer answered our SYN with RST */
#define R_ABORTED 4 /* nm_abort */
#define R_TIMEOUT 5 /* lwIP gave up: retransmissions, SYN or FIN_WAIT_2 timeout */

/* ---- socket table ------------------------------------------------------- */
#define SLOT_BITS 12
#define NSLOTS (MEMP_NUM_TCP_PCB + MEMP_NUM_TCP_PCB_LISTEN)
#if NSLOTS > (1 << SLOT_BITS)
#error "socket table larger than the handle's slot field"
#endif
#define GEN_MAX ((1 << (31 - SLOT_BITS)) - 1)

#define K_FREE 0
#define K_LISTEN 1
#define K_TCP 2

struct conn {
  struct tcp_pcb *pcb; /* NULL once lwIP freed it or we let go of it */
  uint32_t gen;        /* bumped when the slot is freed */
  uint8_t kind;
  uint8_t queued;      /* on the event queue */
  uint8_t pending;     /* P_* events not yet collected */
  uint8_t reason;      /* of EV_CLOSED */
  uint8_t established; /* reached ESTABLISHED (tells reset from refused) */
  uint8_t rx_fin;      /* the peer's FIN arrived */
  uint8_t tx_shut;     /* we sent (or queued) our FIN */
  uint8_t shut_pending; /* nm_shutdown before the handshake finished */
  uint8_t want_writable;
  uint8_t starved;     /* a write failed for lack of pool memory */
  uint8_t local_abort; /* nm_abort is running: its ERR_ABRT is ours */
  int32_t listener;    /* handle of the listener that accepted it */
  uint32_t sndbuf_limit; /* bytes this socket may hold unacknowledged (0: TCP_SND_BUF) */
  struct pbuf *rx;     /* received, not yet handed to the host (a pbuf list) */
  struct pbuf *rx_tail;
  uint16_t next_free;
  double bytes_received; /* handed to the host */
  double bytes_written;  /* accepted by nm_write */
  double bytes_acked;
  double retransmits;    /* segments */
};

static struct conn conns[NSLOTS];
static uint16_t free_head;
static uint16_t nfree;
/* slots with events, each at most once (it can hold every slot) */
static uint16_t equeue[NSLOTS];
static uint32_t eq_head, eq_count;

/* The piece of received data handed out by the last EV_DATA: freed, and
 * returned to the window of its connection, at the next nm_next_event. */
static struct pbuf *handed;
static struct conn *handed_conn;
static uint32_t handed_gen;

/* what nm_next_event reports: kind, handle, aux, ptr, len */
static int32_t event[5];

/* ---- buffers shared with the host --------------------------------------- */
#define STAGE_BYTES (256 * 1024)
#define NM_MTU PBUF_POOL_BUFSIZE
static uint8_t out_buffer[65536];      /* one outgoing IPv4 packet */
static uint8_t tx_stage[STAGE_BYTES];  /* data the host writes to a socket */
static struct pbuf *rx_pbuf;           /* between nm_rx_begin and nm_rx_end */

/* ---- stack state -------------------------------------------------------- */
static struct netif nif;
static uint32_t now_ms;
static uint32_t rand_state = 0x9e3779b9u;
static uint32_t isn_key;
static uint8_t any_starved, pool_freed;

/* counters of the glue itself (lwIP's own are read from lwip_stats) */
static double c_rx_packets, c_rx_bytes, c_rx_drop_size, c_rx_drop_nobuf;
static double c_tx_packets, c_tx_bytes, c_retransmits, c_asserts;
static const char *last_assert;
static int last_assert_line;

/* ---- platform hooks lwIP calls ------------------------------------------ */
u32_t sys_now(void) { return now_ms; }

/* xorshift32: ephemeral ports and ISS only need to differ between stacks. */
u32_t nm_rand(void) {
  uint32_t x = rand_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rand_state = x;
  return x;
}

void nm_assert_failed(const char *message, int line) {
  c_asserts += 1;
  last_assert = message;
  last_assert_line = line;
}

/* One's-complement sum of `len` bytes read as little-endian 16-bit words from
 * `data` (any alignment), folded to 16 bits: what lwIP's reference routine
 * returns, summed 64 bits at a time. Unaligned loads are legal in wasm. */
u16_t nm_chksum(const void *data, int len) {
  const uint8_t *p = (const uint8_t *)data;
  uint64_t sum = 0;
  while (len >= 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    memcpy(&c, p + 16, 8);
    memcpy(&d, p + 24, 8);
    /* four independent 32-bit halves sums cannot overflow 64 bits here */
    sum += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32) +
           (c & 0xffffffffu) + (c >> 32) + (d & 0xffffffffu) + (d >> 32);
    p += 32;
    len -= 32;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t h;
    memcpy(&h, p, 2);
    sum += h;
    p += 2;
    len -= 2;
  }
  if (len > 0) sum += *p; /* the odd byte is the low byte of a little-endian word */
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return (u16_t)sum;
}

/* ---- slots and handles -------------------------------------------------- */
static int32_t handle_of(const struct conn *c) {
  return (int32_t)((c->gen << SLOT_BITS) | (uint32_t)(c - conns));
}

static struct conn *conn_of(int32_t h) {
  if (h <= 0) return NULL;
  uint32_t slot = (uint32_t)h & ((1u << SLOT_BITS) - 1);
  if (slot >= NSLOTS) return NULL;
  struct conn *c = &conns[slot];
  if (c->kind == K_FREE || c->gen != ((uint32_t)h >> SLOT_BITS)) return NULL;
  return c;
}

static struct conn *slot_alloc(uint8_t kind) {
  if (nfree == 0) return NULL;
  struct conn *c = &conns[free_head];
  free_head = c->next_free;
  nfree--;
  uint32_t gen = c->gen;
  memset(c, 0, sizeof(*c));
  c->gen = gen;
  c->kind = kind;
  return c;
}

static void slot_free(struct conn *c) {
  c->kind = K_FREE;
  c->pcb = NULL;
  c->gen = c->gen >= GEN_MAX ? 1 : c->gen + 1;
  c->next_free = free_head;
  free_head = (uint16_t)(c - conns);
  nfree++;
}

static void post(struct conn *c, uint8_t bits) {
  c->pending |= bits;
  if (!c->queued) {
    c->queued = 1;
    equeue[(eq_head + eq_count) % NSLOTS] = (uint16_t)(c - conns);
    eq_count++;
  }
}

/* Drops received data the host will not read. Before a close it is given
 * back to the window first (`give_back`), or lwIP would answer the close
 * with RST, as for data the application never read. */
static void rx_discard(struct conn *c, int give_back) {
  if (c->pcb == NULL) give_back = 0;
  struct pbuf *p = c->rx;
  while (p != NULL) {
    struct pbuf *next = p->next;
    p->next = NULL;
    if (give_back) tcp_recved(c->pcb, p->len);
    pbuf_free(p);
    p = next;
  }
  c->rx = c->rx_tail = NULL;
  if (handed_conn == c) {
    if (give_back) tcp_recved(c->pcb, handed->len);
    handed_conn = NULL;
  }
}

/* Forget the pcb: no more callbacks. lwIP finishes (or times out) the
 * connection on its own and frees the pcb without telling anyone. */
static void detach(struct conn *c) {
  if (c->pcb == NULL) return;
  tcp_arg(c->pcb, NULL);
  tcp_recv(c->pcb, NULL);
  tcp_sent(c->pcb, NULL);
  tcp_err(c->pcb, NULL);
  c->pcb = NULL;
}

/* ---- writability -------------------------------------------------------- */
/* Bytes a write would take now: bounded by the send buffer and by the queue
 * of segments (a write of n bytes adds at most n/mss + 1 pbufs). */
static uint32_t writable_space(const struct conn *c) {
  const struct tcp_pcb *pcb = c->pcb;
  /* snd_buf itself: lwIP's tcp_sndbuf() clamps it to 64 KiB - 1 */
  uint32_t space = pcb->snd_buf;
  if (c->sndbuf_limit != 0) {
    /* a smaller buffer for this socket: TCP_SND_BUF - snd_buf is what it holds */
    uint32_t held = TCP_SND_BUF - space;
    space = held >= c->sndbuf_limit ? 0 : c->sndbuf_limit - held;
  }
  uint32_t queued = tcp_sndqueuelen(pcb);
  if (queued + 2 > TCP_SND_QUEUELEN) return 0;
  uint32_t by_queue = (TCP_SND_QUEUELEN - queued - 2) * (uint32_t)pcb->mss;
  return space < by_queue ? space : by_queue;
}

/* Writable again once there is room for a good chunk, not for every ACK. */
#define WRITABLE_LOWAT (64 * 1024)

static void maybe_writable(struct conn *c) {
  if (!c->want_writable || c->pcb == NULL) return;
  uint32_t space = writable_space(c);
  uint32_t lowat = c->sndbuf_limit != 0 && c->sndbuf_limit / 4 < WRITABLE_LOWAT ? c->sndbuf_limit / 4 : WRITABLE_LOWAT;
  if (space >= lowat || (space > 0 && c->pcb->unsent == NULL && c->pcb->unacked == NULL) || c->starved) {
    c->want_writable = 0;
    c->starved = 0;
    post(c, P_WRITABLE);
  }
}

static void wake_starved(void) {
  pool_freed = 0;
  if (!any_starved) return;
  any_starved = 0;
  for (uint32_t i = 0; i < NSLOTS; i++) {
    if (conns[i].kind == K_TCP && conns[i].starved) maybe_writable(&conns[i]);
  }
}

void nm_hook_memp_available(int type) {
  (void)type;
  pool_freed = 1;
}

/* End of every entry point: work that must not run deep inside lwIP. */
static void settle(void) {
  if (pbuf_free_ooseq_pending) pbuf_free_ooseq();
  if (pool_freed) wake_starved();
}

u32_t *nm_hook_tcp_out(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb, u32_t *opts) {
  if (pcb == NULL) return opts;
  uint16_t flags = TCPH_FLAGS(hdr);
  uint32_t seqlen = (uint32_t)p->tot_len - (uint32_t)TCPH_HDRLEN_BYTES(hdr);
  if (flags & (TCP_SYN | TCP_FIN)) seqlen++;
  if (seqlen == 0) return opts;
  /* An active open numbers its SYN one below the snd_nxt it starts with, so
   * a SYN (or SYN-ACK) is a retransmission when its retry count says so. */
  int again = (flags & TCP_SYN) ? pcb->nrtx > 0 : TCP_SEQ_LT(lwip_ntohl(hdr->seqno), pcb->snd_nxt);
  if (again) {
    c_retransmits += 1;
    struct conn *c = (struct conn *)pcb->callback_arg;
    if (c != NULL && c->kind == K_TCP) c->retransmits += 1;
  }
  return opts;
}

/* RFC 6528: ISN = M + F(local ip, local port, remote ip, remote port, key),
 * M a clock ticking every 4 microseconds. F here is a multiply-xorshift mix
 * keyed by the seed: unpredictable enough for an emulator, and repeatable
 * under a fixed seed and clock. */
static uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

u32_t nm_hook_tcp_isn(const struct ip4_addr *local_ip, u16_t local_port, const struct ip4_addr *remote_ip, u16_t remote_port) {
  uint32_t h = mix32(isn_key ^ ip4_addr_get_u32(local_ip));
  h = mix32(h ^ ip4_addr_get_u32(remote_ip));
  h = mix32(h ^ (((uint32_t)local_port << 16) | remote_port));
  return h + now_ms * 250u;
}

/* A socket is finished for the host once both sides sent FIN and the peer
 * acknowledged all our data (lwIP acknowledges the FINs and lingers in
 * TIME_WAIT on its own). Every one of the three conditions changes in a
 * callback or call that checks here. */
static void maybe_finished(struct conn *c) {
  if (c->pcb == NULL || !c->tx_shut || !c->rx_fin || c->bytes_acked < c->bytes_written) return;
  detach(c);
  c->reason = R_CLOSED;
  post(c, P_CLOSED);
}

/* ---- lwIP callbacks: record, never call the host ------------------------- */
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  struct conn *c = (struct conn *)arg;
  (void)pcb;
  (void)err;
  if (p == NULL) {
    c->rx_fin = 1;
    post(c, P_END);
    maybe_finished(c);
    return ERR_OK;
  }
  /* Keep the pbufs as a plain list (their tot_len no longer matters): the
   * host gets them one by one and each is freed on its own. */
  if (c->rx == NULL) c->rx = p; else c->rx_tail->next = p;
  while (p->next != NULL) p = p->next;
  c->rx_tail = p;
  post(c, 0);
  return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  struct conn *c = (struct conn *)arg;
  (void)pcb;
  c->bytes_acked += len;
  maybe_writable(c);
  maybe_finished(c);
  return ERR_OK;
}

static void on_err(void *arg, err_t err) {
  /* lwIP has already freed the pcb */
  struct conn *c = (struct conn *)arg;
  c->pcb = NULL;
  if (err == ERR_RST) c->reason = c->established ? R_RESET : R_REFUSED;
  else if (err == ERR_ABRT) c->reason = c->local_abort ? R_ABORTED : R_TIMEOUT;
  else c->reason = R_CLOSED; /* ERR_CLSD: our FIN was acked after the peer's */
  post(c, P_CLOSED);
}

static void attach(struct conn *c, struct tcp_pcb *pcb) {
  c->pcb = pcb;
  tcp_arg(pcb, c);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
  /* flows write in bulk; Nagle would only delay the last partial segment */
  tcp_nagle_disable(pcb);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  struct conn *l = (struct conn *)arg;
  if (err != ERR_OK || pcb == NULL || l == NULL) return ERR_VAL;
  struct conn *c = slot_alloc(K_TCP);
  if (c == NULL) return ERR_MEM; /* lwIP aborts the new connection */
  attach(c, pcb);
  c->established = 1;
  c->listener = handle_of(l);
  post(c, P_OPEN);
  return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  struct conn *c = (struct conn *)arg;
  (void)err;
  c->established = 1;
  if (c->shut_pending) {
    c->shut_pending = 0;
    if (tcp_shutdown(pcb, 0, 1) == ERR_OK) c->tx_shut = 1;
  }
  post(c, P_OPEN);
  return ERR_OK;
}

/* ---- the netif ---------------------------------------------------------- */
static err_t netif_out(struct netif *n, struct pbuf *p, const ip4_addr_t *dst) {
  (void)n;
  (void)dst;
  uint32_t len = p->tot_len;
  if (p->next == NULL) memcpy(out_buffer, p->payload, len);
  else pbuf_copy_partial(p, out_buffer, (u16_t)len, 0);
  c_tx_packets += 1;
  c_tx_bytes += len;
  host_output(len);
  return ERR_OK;
}

static err_t netif_setup(struct netif *n) {
  n->output = netif_out;
  n->mtu = 1500;
  n->name[0] = 'n';
  n->name[1] = 'm';
  n->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

/* ---- exports ------------------------------------------------------------ */

/* Starts the stack with address `ip` and `netmask` (numbers with the first
 * octet in the top byte), the clock at `now` and the generator at `seed`. */
EXPORT(nm_init) int32_t nm_init(uint32_t ip, uint32_t netmask, uint32_t now, uint32_t seed) {
  now_ms = now;
  rand_state = seed != 0 ? seed : 0x9e3779b9u;
  isn_key = nm_rand();
  for (uint32_t i = 0; i < NSLOTS; i++) {
    conns[i].gen = 1;
    conns[i].next_free = (uint16_t)(i + 1);
  }
  free_head = 0;
  nfree = NSLOTS;
  lwip_init();
  ip4_addr_t a, m, gw;
  ip4_addr_set_u32(&a, lwip_htonl(ip));
  ip4_addr_set_u32(&m, lwip_htonl(netmask));
  ip4_addr_set_zero(&gw);
  if (netif_add(&nif, &a, &m, &gw, NULL, netif_setup, ip4_input) == NULL) return ERR_IF;
  netif_set_default(&nif);
  netif_set_up(&nif);
  netif_set_link_up(&nif);
  return ERR_OK;
}

EXPORT(nm_out_buffer) uint8_t *nm_out_buffer(void) { return out_buffer; }
EXPORT(nm_tx_stage) uint8_t *nm_tx_stage(void) { return tx_stage; }
EXPORT(nm_tx_stage_size) uint32_t nm_tx_stage_size(void) { return STAGE_BYTES; }
EXPORT(nm_event) int32_t *nm_event(void) { return event; }

/* Where the host copies an incoming packet of `len` bytes; 0 drops it: a
 * length outside 1..MTU (a node receives nothing bigger than its MTU, and
 * fragments are not reassembled), or no pbuf left (it counts as lost on the
 * wire). */
EXPORT(nm_rx_begin) uint8_t *nm_rx_begin(uint32_t len) {
  if (rx_pbuf != NULL) {
    pbuf_free(rx_pbuf);
    rx_pbuf = NULL;
  }
  if (len < 1 || len > NM_MTU) {
    c_rx_drop_size += 1;
    return 0;
  }
  struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
  if (p == NULL) {
    c_rx_drop_nobuf += 1;
    settle();
    return 0;
  }
  rx_pbuf = p;
  return (uint8_t *)p->payload;
}

/* Runs lwIP's input on the packet placed by nm_rx_begin. */
EXPORT(nm_rx_end) void nm_rx_end(void) {
  struct pbuf *p = rx_pbuf;
  if (p == NULL) return;
  rx_pbuf = NULL;
  c_rx_packets += 1;
  c_rx_bytes += p->tot_len;
  if (nif.input(p, &nif) != ERR_OK) pbuf_free(p);
  settle();
}

/* Sets the clock and runs the timers that are due; returns the milliseconds
 * until the next one, or -1 when none is pending. */
EXPORT(nm_tick) int32_t nm_tick(uint32_t now) {
  now_ms = now;
  sys_check_timeouts();
  settle();
  u32_t sleep = sys_timeouts_sleeptime();
  return sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? -1 : (int32_t)(sleep > 0x7fffffffu ? 0x7fffffffu : sleep);
}

EXPORT(nm_listen) int32_t nm_listen(uint32_t port) {
  if (port < 1 || port > 65535) return ERR_VAL;
  struct conn *c = slot_alloc(K_LISTEN);
  if (c == NULL) return NM_ERR_SLOTS;
  struct tcp_pcb *pcb = tcp_new();
  if (pcb == NULL) {
    slot_free(c);
    return ERR_MEM;
  }
  err_t err = tcp_bind(pcb, IP4_ADDR_ANY, (u16_t)port);
  if (err != ERR_OK) {
    tcp_close(pcb);
    slot_free(c);
    return err;
  }
  struct tcp_pcb *lpcb = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &err);
  if (lpcb == NULL) {
    tcp_close(pcb);
    slot_free(c);
    return err != ERR_OK ? err : ERR_MEM;
  }
  c->pcb = lpcb;
  tcp_arg(lpcb, c);
  tcp_accept(lpcb, on_accept);
  return handle_of(c);
}

/* Opens a connection to `ip` (first octet in the top byte) and `port`; its
 * EV_OPEN (or EV_CLOSED, refused) comes later. */
EXPORT(nm_connect) int32_t nm_connect(uint32_t ip, uint32_t port) {
  if (port < 1 || port > 65535) return ERR_VAL;
  struct conn *c = slot_alloc(K_TCP);
  if (c == NULL) return NM_ERR_SLOTS;
  struct tcp_pcb *pcb = tcp_new();
  if (pcb == NULL) {
    slot_free(c);
    settle();
    return ERR_MEM;
  }
  attach(c, pcb);
  ip_addr_t dst;
  ip_addr_set_ip4_u32(&dst, lwip_htonl(ip));
  err_t err = tcp_connect(pcb, &dst, (u16_t)port, on_connected);
  if (err != ERR_OK) {
    detach(c);
    tcp_abort(pcb);
    slot_free(c);
    settle();
    return err;
  }
  settle();
  return handle_of(c);
}

/* How many bytes a write would take now. When that is less than `wanted`,
 * the socket reports EV_WRITABLE once there is room again. */
EXPORT(nm_writable) int32_t nm_writable(int32_t h, uint32_t wanted) {
  struct conn *c = conn_of(h);
  if (c == NULL || c->kind != K_TCP) return NM_ERR_HANDLE;
  if (c->pcb == NULL || c->tx_shut || c->shut_pending) return NM_ERR_STATE;
  uint32_t space = writable_space(c);
  if (space < wanted) c->want_writable = 1;
  return (int32_t)(space > 0x7fffffffu ? 0x7fffffffu : space);
}

/* Queues up to `len` bytes from the staging buffer and sends what the
 * windows allow; returns how many bytes were taken. */
EXPORT(nm_write) int32_t nm_write(int32_t h, uint32_t len) {
  struct conn *c = conn_of(h);
  if (c == NULL || c->kind != K_TCP) return NM_ERR_HANDLE;
  if (c->pcb == NULL || c->tx_shut || c->shut_pending) return NM_ERR_STATE;
  if (len > STAGE_BYTES) len = STAGE_BYTES;
  uint32_t space = writable_space(c);
  if (len > space) len = space;
  /* tcp_write takes at most a u16 of data at a time; whole MSS multiples
   * keep the segments full */
  const uint32_t chunk_max = 0xffffu - 0xffffu % TCP_MSS;
  /* A tcp_write that runs out of pool memory gives back what it took, which
   * looks like memory coming back; that must not wake the writers (this one
   * included) that the failure starves. */
  uint8_t freed_before = pool_freed;
  uint32_t done = 0;
  while (done < len) {
    uint32_t chunk = len - done;
    if (chunk > chunk_max) chunk = chunk_max;
    err_t err = tcp_write(c->pcb, tx_stage + done, (u16_t)chunk, TCP_WRITE_FLAG_COPY);
    while (err == ERR_MEM && chunk > TCP_MSS) {
      chunk /= 2;
      err = tcp_write(c->pcb, tx_stage + done, (u16_t)chunk, TCP_WRITE_FLAG_COPY);
    }
    if (err != ERR_OK) {
      if (err == ERR_MEM) {
        /* the pools are empty: try again when some memory comes back */
        c->starved = 1;
        any_starved = 1;
        pool_freed = freed_before;
      }
      break;
    }
    done += chunk;
  }
  if (done < len) c->want_writable = 1;
  c->bytes_written += done;
  if (done > 0) tcp_output(c->pcb);
  settle();
  return (int32_t)done;
}

/* Limits what socket `h` holds written but unacknowledged to `bytes`
 * (at least 2 MSS, at most TCP_SND_BUF): a smaller send buffer, which
 * caps what one connection keeps in flight. */
EXPORT(nm_set_sndbuf) int32_t nm_set_sndbuf(int32_t h, uint32_t bytes) {
  struct conn *c = conn_of(h);
  if (c == NULL || c->kind != K_TCP) return NM_ERR_HANDLE;
  if (bytes < 2 * TCP_MSS || bytes >= TCP_SND_BUF) bytes = bytes < 2 * TCP_MSS ? 2 * TCP_MSS : 0;
  c->sndbuf_limit = bytes;
  return ERR_OK;
}

/* Half close: FIN after the data already written; data keeps coming in. */
EXPORT(nm_shutdown) int32_t nm_shutdown(int32_t h) {
  struct conn *c = conn_of(h);
  if (c == NULL || c->kind != K_TCP) return NM_ERR_HANDLE;
  if (c->pcb == NULL || c->tx_shut || c->shut_pending) return ERR_OK;
  if (c->pcb->state == SYN_SENT) {
    c->shut_pending = 1;
    return ERR_OK;
  }
  err_t err = tcp_shutdown(c->pcb, 0, 1);
  if (err != ERR_OK) return err;
  c->tx_shut = 1;
  maybe_finished(c);
  settle();
  return ERR_OK;
}

/* Closes a socket or a listener. A connection gets FIN after its queued
 * data (lwIP sends the rest on its own); unread data is dropped. */
EXPORT(nm_close) int32_t nm_close(int32_t h) {
  struct conn *c = conn_of(h);
  if (c == NULL) return NM_ERR_HANDLE;
  if (c->kind == K_LISTEN) {
    if (c->pcb != NULL) {
      tcp_arg(c->pcb, NULL);
      tcp_close(c->pcb);
    }
    slot_free(c);
    return ERR_OK;
  }
  if (c->pending & P_CLOSED) return ERR_OK; /* already gone; its event is queued */
  rx_discard(c, 1);
  struct tcp_pcb *pcb = c->pcb;
  detach(c);
  if (pcb != NULL && tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  c->reason = R_CLOSED;
  c->pending = 0;
  post(c, P_CLOSED);
  settle();
  return ERR_OK;
}

/* Resets the connection (RST) and drops everything queued either way. */
EXPORT(nm_abort) int32_t nm_abort(int32_t h) {
  struct conn *c = conn_of(h);
  if (c == NULL) return NM_ERR_HANDLE;
  if (c->kind == K_LISTEN) return nm_close(h);
  if (c->pending & P_CLOSED) return ERR_OK;
  rx_discard(c, 0);
  if (c->pcb != NULL) {
    c->local_abort = 1;
    tcp_abort(c->pcb); /* on_err runs: pcb gone, P_CLOSED posted */
  }
  c->reason = R_ABORTED;
  c->pending = P_CLOSED;
  post(c, P_CLOSED);
  settle();
  return ERR_OK;
}

/* A connection's record, in a static array of doubles (nm_conn_record):
 * [local port, remote ip, remote port, state, bytes received, bytes written,
 *  bytes acked, retransmitted segments, cwnd, send window, smoothed RTT (ms),
 *  bytes in flight]. Filled by nm_conn_info, and by nm_next_event for the
 * socket of an EV_CLOSED, whose slot is gone right after. */
static double conn_record[12];

static void fill_conn_record(const struct conn *c) {
  memset(conn_record, 0, sizeof(conn_record));
  const struct tcp_pcb *pcb = c->pcb;
  if (pcb != NULL) {
    conn_record[0] = pcb->local_port;
    conn_record[1] = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)));
    conn_record[2] = pcb->remote_port;
    conn_record[3] = pcb->state;
    if (c->kind == K_TCP) {
      conn_record[8] = pcb->cwnd;
      conn_record[9] = pcb->snd_wnd;
      conn_record[10] = (double)(pcb->sa >> 3) * TCP_SLOW_INTERVAL;
      conn_record[11] = (double)(uint32_t)(pcb->snd_nxt - pcb->lastack);
    }
  }
  conn_record[4] = c->bytes_received;
  conn_record[5] = c->bytes_written;
  conn_record[6] = c->bytes_acked;
  conn_record[7] = c->retransmits;
}

EXPORT(nm_conn_record) double *nm_conn_record(void) { return conn_record; }

/* Fills the record of socket `h`; 0 when there is no such socket. */
EXPORT(nm_conn_info) int32_t nm_conn_info(int32_t h) {
  struct conn *c = conn_of(h);
  if (c == NULL) return 0;
  fill_conn_record(c);
  return 1;
}

/* Frees the data piece handed out by the last EV_DATA and opens the window
 * by its size. */
static void release_handed(void) {
  if (handed == NULL) return;
  struct conn *c = handed_conn;
  if (c != NULL && c->gen == handed_gen && c->pcb != NULL) tcp_recved(c->pcb, handed->len);
  pbuf_free(handed);
  handed = NULL;
  handed_conn = NULL;
}

/* The next event (EV_NONE when there are no more) into nm_event():
 * [kind, handle, aux, ptr, len]. */
EXPORT(nm_next_event) int32_t nm_next_event(void) {
  release_handed();
  settle();
  while (eq_count > 0) {
    struct conn *c = &conns[equeue[eq_head]];
    int32_t h = handle_of(c);
    event[1] = h;
    event[2] = 0;
    event[3] = 0;
    event[4] = 0;
    if (c->pending & P_OPEN) {
      c->pending &= (uint8_t)~P_OPEN;
      event[0] = EV_OPEN;
      event[2] = c->listener;
      return EV_OPEN;
    }
    while (c->rx != NULL) {
      struct pbuf *p = c->rx;
      c->rx = p->next;
      if (c->rx == NULL) c->rx_tail = NULL;
      p->next = NULL;
      p->tot_len = p->len;
      if (p->len == 0) {
        pbuf_free(p);
        continue;
      }
      handed = p;
      handed_conn = c;
      handed_gen = c->gen;
      c->bytes_received += p->len;
      event[0] = EV_DATA;
      event[3] = (int32_t)(uintptr_t)p->payload;
      event[4] = p->len;
      return EV_DATA;
    }
    if (c->pending & P_END) {
      c->pending &= (uint8_t)~P_END;
      event[0] = EV_END;
      return EV_END;
    }
    if (c->pending & P_WRITABLE) {
      c->pending &= (uint8_t)~P_WRITABLE;
      if (c->pcb != NULL && !(c->pending & P_CLOSED)) {
        event[0] = EV_WRITABLE;
        return EV_WRITABLE;
      }
    }
    /* nothing else for this slot: off the queue (and freed when closed) */
    eq_head = (eq_head + 1) % NSLOTS;
    eq_count--;
    c->queued = 0;
    if (c->pending & P_CLOSED) {
      c->pending = 0;
      event[0] = EV_CLOSED;
      event[2] = c->reason;
      fill_conn_record(c);
      slot_free(c);
      return EV_CLOSED;
    }
    c->pending = 0;
  }
  event[0] = EV_NONE;
  return EV_NONE;
}

/* The stack's counters into a static array of doubles, in the order of
 * COUNTER_NAMES in wasm/stack.ts. */
static double counters[48];
static int memp_index(memp_t t) { return (int)t; }
EXPORT(nm_counters) double *nm_counters(void) {
  int i = 0;
  counters[i++] = c_rx_packets;
  counters[i++] = c_rx_bytes;
  counters[i++] = c_rx_drop_size;
  counters[i++] = c_rx_drop_nobuf;
  counters[i++] = c_tx_packets;
  counters[i++] = c_tx_bytes;
  counters[i++] = lwip_stats.ip.recv;
  counters[i++] = lwip_stats.ip.drop;
  counters[i++] = lwip_stats.ip.chkerr;
  counters[i++] = lwip_stats.ip.lenerr;
  counters[i++] = lwip_stats.ip.proterr;
  counters[i++] = lwip_stats.ip.err;
  counters[i++] = lwip_stats.tcp.recv;
  counters[i++] = lwip_stats.tcp.xmit;
  counters[i++] = lwip_stats.tcp.drop;
  counters[i++] = lwip_stats.tcp.chkerr;
  counters[i++] = lwip_stats.tcp.lenerr;
  counters[i++] = lwip_stats.tcp.memerr;
  counters[i++] = lwip_stats.tcp.proterr;
  counters[i++] = lwip_stats.tcp.opterr;
  counters[i++] = lwip_stats.tcp.err;
  counters[i++] = c_retransmits;
  counters[i++] = lwip_stats.mib2.tcpactiveopens;
  counters[i++] = lwip_stats.mib2.tcppassiveopens;
  counters[i++] = lwip_stats.mib2.tcpattemptfails;
  counters[i++] = lwip_stats.mib2.tcpoutrsts;
  counters[i++] = lwip_stats.icmp.recv;
  counters[i++] = lwip_stats.icmp.xmit;
  counters[i++] = lwip_stats.icmp.drop;
  counters[i++] = lwip_stats.icmp.chkerr;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_PBUF_POOL)]->used;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_PBUF_POOL)]->max;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_PBUF_POOL)]->err;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_POOL_1536)]->used;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_POOL_1536)]->max;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_POOL_1536)]->err;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_TCP_SEG)]->used;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_TCP_SEG)]->max;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_TCP_SEG)]->err;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_TCP_PCB)]->used;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_TCP_PCB)]->max;
  counters[i++] = lwip_stats.memp[memp_index(MEMP_TCP_PCB)]->err;
  counters[i++] = NSLOTS - nfree;
  counters[i++] = c_asserts;
  return counters;
}

/* The message of the last failed lwIP assertion (0 if none) and its line. */
EXPORT(nm_last_assert) const char *nm_last_assert(void) { return last_assert; }
EXPORT(nm_last_assert_line) int32_t nm_last_assert_line(void) { return last_assert_line; }
