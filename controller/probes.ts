/**
 * @module
 * Probes of the real network between two agents, for the hub (POST
 * /hosts/probe). The receiving agent is asked to listen first (probeServe);
 * once it names its port, the sending agent pings it and sends it the bytes
 * (probeRun); each answers probeDone with its side's figures, which are joined
 * into the answer. A side that fails, an agent that goes, or a wait that runs
 * out ends the probe with an error naming the host, and the other side is
 * cancelled. A host takes part in one probe at a time.
 */
import { ApiError } from "../protocol/errors.ts";
import { probeAnswer, PROBE_DEFAULT_BYTES, PROBE_PING_WAIT_MS, PROBE_PINGS, PROBE_TRANSFER_MS, type HostProbe, type HostProbeRequest, type ProbeReceived, type ProbeSent } from "../protocol/probe.ts";
import type { AgentFrame, ControllerFrame } from "../protocol/wire.ts";

/** how long the receiving agent has to start listening */
const READY_MS = 10_000;
/** beyond the pings and the transfer: connecting, starting threads, the last bytes draining */
const SLACK_MS = 20_000;

export interface ProbeHosts {
  /** sends `frame` to `host`'s agent; false when it is not connected */
  send(host: string, frame: ControllerFrame): boolean;
  /** the address other agents dial `host` at, if it told one */
  address(host: string): string | undefined;
  /** known at all (connected now or before) */
  known(host: string): boolean;
  isUp(host: string): boolean;
}

type ProbeFrame = Extract<AgentFrame, { type: "probeReady" | "probeDone" }>;

interface Pending {
  from: string;
  to: string;
  ready?: (port: number) => void;
  sent?: ProbeSent;
  received?: ProbeReceived;
  /** settles the whole probe: with an error, or when both sides are done */
  settle: (error?: ApiError) => void;
}

export class HostProbes {
  readonly #pending = new Map<number, Pending>();
  readonly #busy = new Set<string>();
  #nextId = 1;

  constructor(private readonly hosts: ProbeHosts) {}

  async probe(req: HostProbeRequest): Promise<HostProbe> {
    const { from, to, transport } = req;
    if (from === to) throw new ApiError(422, "invalid_request", `from and to are both ${from}: a probe measures between two hosts`, { field: "to" });
    for (const [field, host] of [["from", from], ["to", to]] as const) {
      if (!this.hosts.known(host)) throw new ApiError(404, "host_not_found", `${field}: no host named ${host}`, { field });
      if (!this.hosts.isUp(host)) throw new ApiError(503, "host_down", `${field}: host ${host} is not connected`, { field });
      if (this.#busy.has(host)) throw new ApiError(409, "probe_busy", `${field}: host ${host} is already in a probe; try again when it ends`, { field });
    }
    const address = this.hosts.address(to);
    if (!address) throw new ApiError(409, "no_address", `to: host ${to} has not told an address other agents can reach it at`, { field: "to" });
    const bytes = req.bytes ?? PROBE_DEFAULT_BYTES;
    const id = this.#nextId++;
    this.#busy.add(from);
    this.#busy.add(to);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = new Promise<void>((resolve, reject) => {
      const p: Pending = {
        from,
        to,
        settle: (error) => {
          if (!this.#pending.has(id)) return;
          this.#pending.delete(id);
          clearTimeout(timer);
          if (error) {
            // whichever side still runs stops and closes its sockets
            this.hosts.send(from, { type: "probeCancel", id });
            this.hosts.send(to, { type: "probeCancel", id });
            reject(error);
          } else resolve();
        },
      };
      this.#pending.set(id, p);
    });
    try {
      const pending = this.#pending.get(id)!;
      const port = await new Promise<number>((resolve, reject) => {
        pending.ready = resolve;
        finished.catch(reject);
        timer = setTimeout(() => pending.settle(new ApiError(504, "probe_timeout", `to: host ${to} did not start listening within ${READY_MS / 1000} s`)), READY_MS);
        if (!this.hosts.send(to, { type: "probeServe", id, address, transport })) pending.settle(new ApiError(503, "host_down", `to: host ${to} is not connected`, { field: "to" }));
      });
      clearTimeout(timer);
      const waitMs = PROBE_PINGS * PROBE_PING_WAIT_MS + PROBE_TRANSFER_MS + SLACK_MS;
      timer = setTimeout(() => pending.settle(new ApiError(504, "probe_timeout", `the probe from ${from} to ${to} did not end within ${waitMs / 1000} s`)), waitMs);
      if (!this.hosts.send(from, { type: "probeRun", id, address, port, transport, bytes })) {
        pending.settle(new ApiError(503, "host_down", `from: host ${from} is not connected`, { field: "from" }));
      }
      await finished;
      return probeAnswer({ from, to, transport }, address, pending.sent!, pending.received!);
    } finally {
      this.#busy.delete(from);
      this.#busy.delete(to);
    }
  }

  /** A probeReady or probeDone from `host`. */
  handle(host: string, frame: ProbeFrame): void {
    const p = this.#pending.get(frame.id);
    if (!p || (host !== p.from && host !== p.to)) return;
    const role = host === p.to ? "to" : "from";
    if (frame.type === "probeReady") {
      if (role === "to") p.ready?.(frame.port);
      return;
    }
    if (frame.error !== undefined) {
      p.settle(new ApiError(502, "probe_failed", `${role}: host ${host}: ${frame.error}`, { field: role }));
      return;
    }
    if (role === "from" && frame.sent) p.sent = frame.sent;
    if (role === "to" && frame.received) p.received = frame.received;
    if (p.sent && p.received) p.settle();
  }

  /** `host`'s agent went: its probes fail. */
  hostGone(host: string, why: string): void {
    for (const p of [...this.#pending.values()]) {
      if (p.from === host || p.to === host) p.settle(new ApiError(502, "agent_disconnected", `${p.from === host ? "from" : "to"}: host ${host}: ${why}`));
    }
  }
}
