/**
 * Realizes the nodes the controller placed on this host: a `netns` node is a
 * Linux network namespace holding a TUN device (eth0) with the node's address
 * and the default route; a `host` node is a TUN in the agent's own namespace
 * carrying the namespace's subnet; a `userspace` node has no kernel interface.
 * TUN descriptors stay with the agent: the dataplane reads and writes them.
 * Reconcile keeps nodes that still match, removes what is no longer wanted and
 * creates what is missing. A node the controller wants stopped (or killed) is
 * torn down like a removed one but stays listed as `stopped`; starting it
 * builds it again with the same address.
 */
import { randomBytes } from "node:crypto";
import type { NamespaceState, NodeSpec, NodeState } from "../protocol/state.ts";
import type { NodeStatus } from "../protocol/wire.ts";
import { createTun, closeTun, type TunDevice, MAX_IFNAME_LEN } from "./sys/tun.ts";
import { attachInterface, createNetns, deleteNetns, netnsName, stopNetns, TUN_PREFIX } from "./sys/netns.ts";
import { mustRun } from "./sys/run.ts";
import os from "node:os";
import path from "node:path";
import { commandLogPath, startNodeCommand } from "./node-command.ts";
import type { LocalInterface } from "./dataplane/tables.ts";

/** how long a stopped node's programs have between SIGTERM and SIGKILL */
const STOP_GRACE_MS = 3000;

interface LocalNode {
  namespace: string;
  spec: NodeSpec;
  state: NodeState;
  error?: string;
  netns?: string;
  tun?: TunDevice;
}

export interface NodeManagerOptions {
  agent: string;
  /** open TUNs with virtio headers and TSO (64 KB reads, real MTU); off for plain packets */
  offload: boolean;
  log: (line: string) => void;
  /** how many nodes are set up at once */
  parallel?: number;
  /** where the output of nodes' commands goes (default ~/.nextmini/logs) */
  logDir?: string;
}

export class NodeManager {
  #nodes = new Map<string, LocalNode>();

  constructor(private readonly opts: NodeManagerOptions) {}

  /**
   * Brings this host's nodes to what `desired` says, for the nodes placed on `host`.
   * Before closing the TUN of a node it removes, it awaits `release`, which must
   * stop the dataplane using every TUN `interfaces()` no longer lists: a closed
   * descriptor's number is reused by the next thing the agent opens.
   */
  async reconcile(desired: NamespaceState[], host: string, release?: () => Promise<void>): Promise<void> {
    const want = new Map<string, { namespace: string; spec: NodeSpec }>();
    for (const ns of desired) {
      for (const spec of ns.nodes) if (spec.host === host) want.set(`${ns.name}/${spec.name}`, { namespace: ns.name, spec });
    }
    const removed: { node: LocalNode; graceMs: number }[] = [];
    for (const [key, node] of this.#nodes) {
      const w = want.get(key);
      // kept when it matches and is already up (or coming up) if it should run, stopped if it should not
      if (w && sameNode(w.spec, node.spec) && node.state !== "error" && (node.state === "stopped") !== shouldRun(w.spec)) {
        node.spec = w.spec;
        continue;
      }
      this.#nodes.delete(key);
      removed.push({ node, graceMs: w?.spec.desired === "stopped" ? STOP_GRACE_MS : 0 });
    }
    if (release && removed.some((r) => r.node.tun)) await release();
    await Promise.all(removed.map((r) => this.#destroy(r.node, r.graceMs)));
    for (const [key, w] of want) {
      // a stopped node has nothing on the host; it is kept only to report its state
      if (!this.#nodes.has(key) && !shouldRun(w.spec)) {
        this.#nodes.set(key, { namespace: w.namespace, spec: w.spec, state: "stopped" });
      }
    }
    const todo = [...want.entries()].filter(([key]) => !this.#nodes.has(key));
    const parallel = this.opts.parallel ?? 8;
    for (let i = 0; i < todo.length; i += parallel) {
      await Promise.all(
        todo.slice(i, i + parallel).map(async ([key, w]) => {
          const node: LocalNode = { namespace: w.namespace, spec: w.spec, state: "building" };
          this.#nodes.set(key, node);
          try {
            await this.#create(node);
            if (w.spec.command) this.#startCommand(node, w.spec.command);
            node.state = "running";
          } catch (e) {
            node.state = "error";
            node.error = (e as Error).message;
            this.opts.log(`node ${key}: ${node.error}`);
          }
        }),
      );
    }
  }

  interfaces(): Map<string, LocalInterface> {
    const out = new Map<string, LocalInterface>();
    for (const [key, node] of this.#nodes) {
      if (node.tun && node.state === "running") out.set(key, { fd: node.tun.fd, vnet: node.tun.vnet });
    }
    return out;
  }

  statuses(): NodeStatus[] {
    return [...this.#nodes.values()].map((n) => ({
      namespace: n.namespace,
      name: n.spec.name,
      state: n.state,
      ...(n.error ? { error: n.error } : {}),
      ...(n.netns ? { netns: n.netns } : {}),
    }));
  }

  /** The command line that runs `command` inside the node, or an error sentence. */
  execArgv(namespace: string, name: string, command: string[]): string[] | string {
    const node = this.#nodes.get(`${namespace}/${name}`);
    if (!node) return `node ${name} is not on this host`;
    if (node.state !== "running") return `node ${name} is ${node.state}`;
    if (node.netns) return ["ip", "netns", "exec", node.netns, ...command];
    if (node.spec.kind === "host") return command;
    return `node ${name} is a userspace node: it has no kernel interface to run programs against`;
  }

  async removeAll(): Promise<void> {
    const nodes = [...this.#nodes.values()];
    this.#nodes.clear();
    await Promise.all(nodes.map((n) => this.#destroy(n)));
  }

  async #create(node: LocalNode): Promise<void> {
    const { spec } = node;
    if (spec.kind === "userspace") return;
    const tunName = `${TUN_PREFIX}${randomBytes(8).toString("hex")}`.slice(0, MAX_IFNAME_LEN);
    if (spec.kind === "netns") {
      const netns = netnsName(this.opts.agent, node.namespace, spec.name);
      node.netns = netns;
      await createNetns(netns);
      node.tun = createTun(tunName, { offload: this.opts.offload });
      await attachInterface(netns, { tun: tunName, ip: spec.ip, mtu: spec.mtu });
      return;
    }
    // kind host: the agent's own host gets the interface; the subnet route comes with the address
    node.tun = createTun(tunName, { offload: this.opts.offload });
    await mustRun(["ip", "-batch", "-"], {
      stdin: `addr add ${spec.ip} dev ${tunName}\nlink set ${tunName} mtu ${spec.mtu}\nlink set ${tunName} up\n`,
    });
  }

  #startCommand(node: LocalNode, command: string[]): void {
    const prefix = node.netns ? ["ip", "netns", "exec", node.netns] : node.spec.kind === "host" ? [] : undefined;
    if (!prefix) throw new Error("a userspace node has no kernel interface to run its command against");
    const dir = this.opts.logDir ?? path.join(os.homedir(), ".nextmini", "logs");
    startNodeCommand(prefix, command, commandLogPath(dir, node.namespace, node.spec.name));
  }

  /** graceMs > 0: the node's programs get SIGTERM and that long to exit before SIGKILL */
  async #destroy(node: LocalNode, graceMs = 0): Promise<void> {
    if (node.tun) {
      closeTun(node.tun);
      node.tun = undefined;
    }
    if (node.netns) await (graceMs > 0 ? stopNetns(node.netns, graceMs) : deleteNetns(node.netns));
  }
}

function shouldRun(spec: NodeSpec): boolean {
  return (spec.desired ?? "running") === "running";
}

function sameNode(a: NodeSpec, b: NodeSpec): boolean {
  return a.kind === b.kind && a.ip === b.ip && a.mtu === b.mtu && a.host === b.host && a.index === b.index;
}
