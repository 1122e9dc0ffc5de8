/**
 * Fixture for tests and benches of user-space flows: a dataplane worker with
 * two userspace nodes u1 and u2 on one host and one link between them, given
 * flows from the desired state; no controller, no privileges.
 */
import { Dataplane } from "../dataplane/dataplane.ts";
import { compileTables } from "../dataplane/tables.ts";
import { lineNamespace } from "../dataplane/namespace.fixture.ts";
import type { Shaping } from "../../protocol/state.ts";
import type { FlowSpec } from "../../protocol/flow.ts";
import { userspaceOrders } from "./orders.ts";
import type { FlowUpdate } from "./engine.ts";

export const HOST = "x";
/**
 * Packet memory of each fixture dataplane. An agent's default (1 GiB) costs
 * nothing once, but a second worker allocating it right after the first was
 * terminated waited 2.4 s here; runs in one process take a quarter of it.
 */
export const FIXTURE_POOL_BYTES = 1 << 28;
let dataplane: Dataplane | undefined;

/** Stops the dataplane the last runFlows started. */
export async function stopFlowsDataplane(): Promise<void> {
  await dataplane?.stop();
  dataplane = undefined;
}

/** Runs `flows` between u1 and u2 over one link; resolves with every end's last update once all ended. */
export async function runFlows(shaping: Partial<Shaping>, flows: FlowSpec[], limitMs = 20_000): Promise<Map<string, FlowUpdate>> {
  const last = new Map<string, FlowUpdate>();
  const samples = new Map<string, FlowUpdate["samples"]>();
  const errors: string[] = [];
  let ended: () => void = () => {};
  const done = new Promise<void>((r) => (ended = r));
  dataplane = new Dataplane({
    seed: 3,
    poolBytes: FIXTURE_POOL_BYTES,
    onError: (m) => errors.push(m),
    onFlows: (updates) => {
      for (const u of updates) {
        const k = `${u.key}/${u.role}`;
        samples.set(k, [...(samples.get(k) ?? []), ...u.samples]);
        last.set(k, { ...u, samples: samples.get(k)! });
      }
      const all = flows.length * 2;
      if ([...last.values()].filter((u) => u.state === "finished" || u.state === "failed").length === all) ended();
    },
  });
  await dataplane.start();
  const ns = lineNamespace(["u1", "u2"], { kind: "userspace", hosts: HOST, shaping, flows });
  await dataplane.setTables(compileTables([ns], new Map(), HOST));
  const orders = userspaceOrders([ns], HOST);
  dataplane.setUserspace(orders.stacks, orders.flows);
  const timeout = Bun.sleep(limitMs).then(() => "timeout" as const);
  const outcome = await Promise.race([done.then(() => "done" as const), timeout]);
  if (outcome === "timeout") throw new Error(`flows did not end within ${limitMs} ms: ${JSON.stringify([...last.values()].map(({ samples: _, ...u }) => u))} ${errors.join("; ")}`);
  return last;
}

