/** `nextmini agent`: runs a dataplane agent that joins a controller. */
import { readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startAgent } from "../agent/agent.ts";
import { quietGc } from "../agent/sys/quiet-gc.ts";
import { NAME_PATTERN } from "../protocol/names.ts";
import { COMMON, type CommandSpec, type Values, str, UsageError, seedFrom, DATAPLANE, dataplaneFrom, portFrom } from "./options.ts";
import { waitForSignal } from "./lifecycle.ts";

export const spec: CommandSpec = {
  name: "agent",
  usage: "agent --controller URL [--join-token T] [--name NAME] [options]",
  summary: "Run a dataplane agent: it realizes the nodes the controller places on this host and carries their packets.",
  description: "Needs root for netns nodes (ip netns needs CAP_SYS_ADMIN as well as CAP_NET_ADMIN); CAP_NET_ADMIN suffices for host nodes. SIGINT/SIGTERM remove every namespace and TUN device it made.",
  options: {
    controller: { type: "string", env: "NEXTMINI_CONTROLLER", help: "the controller's URL", value: "URL", default: "http://127.0.0.1:7400" },
    "join-token": { type: "string", env: "NEXTMINI_JOIN_TOKEN", help: "the controller's join token (default: join-token in the state dir)", value: "T" },
    name: { type: "string", env: "NEXTMINI_NAME", help: "this host's name in the cluster (default: the hostname)", value: "NAME" },
    advertise: { type: "string", env: "NEXTMINI_ADVERTISE", help: "address other agents reach this host at (default: its first non-loopback IPv4)", value: "ADDR" },
    "data-port": { type: "string", env: "NEXTMINI_DATA_PORT", help: "port other agents send packets to (tcp and udp; quic uses the next UDP port); 0 picks free ones", value: "PORT", default: "7401" },
    seed: { type: "string", env: "NEXTMINI_SEED", help: "seed for loss and jitter draws, for repeatable runs (default: random)", value: "N" },
    "no-offload": { type: "boolean", env: "NEXTMINI_NO_OFFLOAD", help: "plain TUN packets instead of 64 KB TSO reads (slower; for kernels without TUN offload)" },
    ...DATAPLANE,
    ...COMMON,
  },
  examples: ["nextmini agent --controller http://10.1.0.1:7400 --join-token 3f2a... --name h1"],
};

export function defaultHostName(): string {
  const n = os.hostname().toLowerCase().replace(/[^a-z0-9_.-]/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 63);
  return NAME_PATTERN.test(n) ? n : "local";
}

export function joinTokenFrom(values: Values): string {
  const given = values["join-token"];
  if (typeof given === "string" && given) return given;
  const file = path.join(str(values, "state-dir"), "join-token");
  if (!existsSync(file)) throw new UsageError(`no join token: pass --join-token (the controller printed it on first start; it is in ${file} on the controller's host)`);
  return readFileSync(file, "utf8").trim();
}

export async function main(values: Values): Promise<number> {
  const name = typeof values.name === "string" ? values.name : defaultHostName();
  if (!NAME_PATTERN.test(name)) throw new UsageError(`--name "${name}" is not a valid name: lowercase letters, digits, '_', '.', '-'`);
  const dataPort = portFrom(values, "data-port");
  if (dataPort === 65535) throw new UsageError("--data-port 65535 leaves no port after it for the quic transport; pick a lower one");
  quietGc((line) => console.error(`nextmini agent: ${line}`));
  let refused: (message: string) => void = () => {};
  const fatal = new Promise<string>((resolve) => (refused = resolve));
  const agent = await startAgent({
    controller: str(values, "controller"),
    joinToken: joinTokenFrom(values),
    name,
    offload: values["no-offload"] !== true,
    seed: seedFrom(values),
    ...dataplaneFrom(values),
    ...(typeof values.advertise === "string" ? { advertise: values.advertise } : {}),
    dataPort,
    captureDir: path.join(str(values, "state-dir"), "captures"),
    logDir: path.join(str(values, "state-dir"), "logs"),
    onFatal: (m) => refused(m),
  });
  console.error(`agent ${name}: connecting to ${str(values, "controller")}`);
  void agent.connected.then(() => console.error(`agent ${name}: joined`));
  const outcome = await Promise.race([waitForSignal().then(() => undefined), fatal]);
  console.error(outcome === undefined ? `agent ${name}: stopping, removing its nodes` : `agent ${name}: refused by the controller: ${outcome}`);
  await agent.stop();
  return outcome === undefined ? 0 : 1;
}
