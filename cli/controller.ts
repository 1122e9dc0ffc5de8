/** `nextmini controller`: runs the controller (API, agent socket) in the foreground. */
import { startController } from "../controller/server.ts";
import { COMMON, type CommandSpec, type Values, str, UsageError } from "./options.ts";
import { printTokens, waitForSignal } from "./lifecycle.ts";

export const spec: CommandSpec = {
  name: "controller",
  usage: "controller [options]",
  summary: "Run the controller: the HTTP API, the agent socket and the desired state of every experiment.",
  description: "On first start it creates an API token and an agent join token in the state dir and prints them once.",
  options: {
    listen: { type: "string", env: "NEXTMINI_LISTEN", help: "address and port to serve on", value: "ADDR:PORT", default: "127.0.0.1:7400" },
    "heartbeat-timeout": { type: "string", env: "NEXTMINI_HEARTBEAT_TIMEOUT", help: "seconds without a heartbeat before a host is down and its nodes lost", value: "S", default: "5" },
    store: { type: "string", env: "NEXTMINI_STORE", help: "sqlite (in the state dir) or memory", value: "KIND", default: "sqlite" },
    ...COMMON,
  },
  examples: ["nextmini controller --listen 0.0.0.0:7400"],
};

export async function main(values: Values): Promise<number> {
  const store = str(values, "store");
  if (store !== "sqlite" && store !== "memory") throw new UsageError(`--store must be sqlite or memory, got "${store}"`);
  const timeout = Number(str(values, "heartbeat-timeout"));
  if (!(timeout > 0)) throw new UsageError(`--heartbeat-timeout must be a positive number of seconds, got "${values["heartbeat-timeout"]}"`);
  const ctl = await startController({
    listen: str(values, "listen"),
    stateDir: str(values, "state-dir"),
    store,
    heartbeatTimeoutMs: timeout * 1000,
    log: (l) => console.error(l),
  });
  console.error(`controller listening on ${ctl.url}`);
  if (ctl.createdTokens) printTokens(ctl.apiToken, ctl.joinToken, str(values, "state-dir"));
  await waitForSignal();
  await ctl.stop();
  return 0;
}
