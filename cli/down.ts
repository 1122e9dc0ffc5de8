/** `nextmini down`: stops what `nextmini up` started and waits until its nodes are gone. */
import { COMMON, type CommandSpec, type Values, str } from "./options.ts";
import { alive, readPid } from "./lifecycle.ts";

export const spec: CommandSpec = {
  name: "down",
  usage: "down [options]",
  summary: "Stop the network that 'nextmini up' started: every node, namespace and TUN device is removed.",
  options: { timeout: { type: "string", help: "seconds to wait", value: "S", default: "30" }, ...COMMON },
};

export async function main(values: Values): Promise<number> {
  const pid = readPid(str(values, "state-dir"));
  if (pid === undefined) {
    console.error("nextmini is not up (no running 'nextmini up' for this state dir)");
    return 0;
  }
  process.kill(pid, "SIGTERM");
  const limit = Date.now() + Number(values.timeout) * 1000;
  while (alive(pid)) {
    if (Date.now() > limit) {
      console.error(`pid ${pid} did not stop within ${values.timeout} s; 'nextmini cleanup' removes leftovers after 'kill -9 ${pid}'`);
      return 1;
    }
    await Bun.sleep(100);
  }
  console.error("nextmini is down");
  return 0;
}
