/** `nextmini cleanup`: removes what a killed agent left behind, found by the name prefixes agents own. */
import { COMMON, type CommandSpec, type Values } from "./options.ts";
import { deleteLink, deleteNetns, listOwnedNetns, listStrayTuns } from "../agent/sys/netns.ts";

export const spec: CommandSpec = {
  name: "cleanup",
  usage: "cleanup [--agent NAME] [--dry-run]",
  summary: "Remove network namespaces (nm:*) and TUN devices (nmt*) left by agents that were killed.",
  description: "Programs still running inside those namespaces are killed. Do not run it while agents on this machine are running.",
  options: {
    agent: { type: "string", help: "only what this agent made", value: "NAME" },
    "dry-run": { type: "boolean", help: "list what would be removed" },
    help: COMMON.help,
  },
};

export async function main(values: Values): Promise<number> {
  const agent = typeof values.agent === "string" ? values.agent : undefined;
  const namespaces = listOwnedNetns(agent);
  const tuns = agent === undefined ? await listStrayTuns() : [];
  for (const ns of namespaces) {
    console.log(`${values["dry-run"] ? "would remove" : "removing"} netns ${ns}`);
    if (!values["dry-run"]) await deleteNetns(ns);
  }
  for (const tun of tuns) {
    console.log(`${values["dry-run"] ? "would remove" : "removing"} link ${tun}`);
    if (!values["dry-run"]) await deleteLink(tun);
  }
  if (namespaces.length + tuns.length === 0) console.log("nothing to clean up");
  return 0;
}
