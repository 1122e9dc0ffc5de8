/** Messages between the agent and a probe worker (agent/probe/worker.ts), one worker per probe side. */
import type { ProbeReceived, ProbeSent, ProbeTransport } from "../../protocol/probe.ts";

export type ProbeJob =
  | { role: "serve"; address: string; transport: ProbeTransport; cancel: Int32Array }
  | { role: "run"; address: string; port: number; transport: ProbeTransport; bytes: number; cancel: Int32Array };

export type FromProbe =
  | { type: "ready"; port: number }
  | { type: "done"; sent?: ProbeSent; received?: ProbeReceived }
  | { type: "failed"; message: string };
