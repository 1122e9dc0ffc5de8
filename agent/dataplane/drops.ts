/**
 * The one registry of reasons the dataplane drops or refuses a packet. Every
 * drop site counts one of these (by its index, a plain number, so the hot path
 * allocates nothing); the worker reports the counts by name, the agent sends
 * them to the controller, and /metrics shows them as
 * `nextmini_drops_total{host, reason}`. A reason is added here or nowhere.
 */

/** name and meaning of every drop reason, in index order */
export const DROP_REGISTRY = [
  ["not_ipv4", "a node sent something other than an IPv4 packet"],
  ["no_node", "the destination address is no node of the namespace (or is the sender itself)"],
  ["no_route", "no route or next hop leads from here to the destination"],
  ["loss", "the link's random loss (per segment)"],
  ["queue", "the link's queue was full (per segment)"],
  ["link_down", "offered to a link whose state is down"],
  ["pool", "no packet buffer was free (the agent's pool is exhausted)"],
  ["egress", "writing to the destination node failed (its TUN, or its stack refused it)"],
  ["no_host", "the next node's host is not connected"],
  ["bad_frame", "a frame from another agent names a namespace, link or node this agent does not carry"],
  ["tcp_no_peer", "no tcp connection to the next node's host yet"],
  ["tcp_backlog", "the tcp connection's send or receive buffer was full"],
  ["tcp_bad_frame", "a malformed frame on a tcp connection"],
  ["udp_no_peer", "the next node's host has no udp endpoint yet"],
  ["udp_send_failed", "sending a udp datagram failed"],
  ["udp_bad_frame", "a malformed udp datagram"],
  ["unknown_peer", "a datagram from an address that is no known agent"],
  ["quic_backlog", "the quic worker's ring was full"],
  ["stack_no_node", "a packet for a userspace node that has no stack here"],
  ["stack_backlog", "a userspace stack's output queue was full"],
  ["stack_pool", "no packet buffer was free for a userspace stack's output"],
  ["stack_broken", "a userspace stack failed and was reset"],
] as const;

export type DropReason = (typeof DROP_REGISTRY)[number][0];
export const DROP_REASONS: readonly DropReason[] = DROP_REGISTRY.map(([name]) => name);
export const DROP_COUNT = DROP_REGISTRY.length;

/** A reason's index, for counting into a Float64Array(DROP_COUNT). */
export function dropIndex(reason: DropReason): number {
  return DROP_REASONS.indexOf(reason);
}

/** Counts by name, every reason (a counter that stays 0 still reaches /metrics, so rates over it work). */
export function dropsByName(counts: ArrayLike<number>): Record<DropReason, number> {
  const out = {} as Record<DropReason, number>;
  for (let i = 0; i < DROP_COUNT; i++) out[DROP_REASONS[i]] = counts[i] ?? 0;
  return out;
}
