/**
 * @module
 * Colocation as a forest over the nodes being placed: a node that colocates
 * with another queued node is that node's child, and goes wherever its parent
 * goes, recursively. Nodes are integers (their position in the queue);
 * `parent[i]` is -1 for a node that chooses its own host. Everything here is
 * iterative, so a chain of 10,000 colocations does not overflow the stack.
 */
import { addDemand, type Demand } from "./scheduler-load.ts";

/** A set of nodes that colocate in a ring (each following the next), in walk order; undefined when there is none. */
export function findColocateCycle(parent: Int32Array): number[] | undefined {
  // 0 unvisited, 1 on the current walk, 2 known to reach a root
  const state = new Uint8Array(parent.length);
  for (let start = 0; start < parent.length; start++) {
    if (state[start] !== 0) continue;
    const walk: number[] = [];
    let i = start;
    while (i >= 0 && state[i] === 0) {
      state[i] = 1;
      walk.push(i);
      i = parent[i];
    }
    if (i >= 0 && state[i] === 1) return walk.slice(walk.indexOf(i));
    for (const j of walk) state[j] = 2;
  }
  return undefined;
}

/** Each node's children in queue order. */
export function childrenOf(parent: Int32Array): number[][] {
  const children: number[][] = Array.from({ length: parent.length }, () => []);
  for (let i = 0; i < parent.length; i++) if (parent[i] >= 0) children[parent[i]].push(i);
  return children;
}

/**
 * What each node asks of its host together with everything colocated on it,
 * recursively. Needs a forest without cycles (findColocateCycle first).
 */
export function bundleDemands(parent: Int32Array, children: readonly number[][], own: readonly Demand[]): Demand[] {
  const bundle = own.map((d) => ({ ...d }));
  // Roots first, then their children level by level: reversed, every child comes before its parent.
  const order: number[] = [];
  for (let i = 0; i < parent.length; i++) if (parent[i] < 0) order.push(i);
  for (let k = 0; k < order.length; k++) for (const c of children[order[k]]) order.push(c);
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k];
    if (parent[i] >= 0) addDemand(bundle[parent[i]], bundle[i]);
  }
  return bundle;
}

/** The node and everything colocated on it, recursively. */
export function bundleMembers(root: number, children: readonly number[][]): number[] {
  const members = [root];
  for (let k = 0; k < members.length; k++) for (const c of children[members[k]]) members.push(c);
  return members;
}
