/**
 * The `flows:` of a topology document, checked against the document's own
 * nodes and routes: both ends exist, one of them is a userspace node (whose
 * TCP stack runs the flow), a kernel destination names the port its program
 * listens on, and a pinned route goes from src to dst. Applying the document
 * starts them (controller/flows.ts), each as a new flow.
 */
import type { FlowRequest } from "./flow.ts";
import type { NodeKind, RouteSpec } from "./state.ts";

export function checkDocumentFlows(flows: readonly FlowRequest[], kinds: ReadonlyMap<string, NodeKind>, routes: readonly RouteSpec[], issues: string[]): void {
  flows.forEach((f, i) => {
    const origin = `flows[${i}]`;
    const src = kinds.get(f.src);
    const dst = kinds.get(f.dst);
    if (src === undefined) issues.push(`${origin}.src: unknown node "${f.src}"`);
    if (dst === undefined) issues.push(`${origin}.dst: unknown node "${f.dst}"`);
    if (src === undefined || dst === undefined) return;
    if (src !== "userspace" && dst !== "userspace") {
      issues.push(`${origin}: ${f.src} and ${f.dst} are kernel nodes; a flow runs in the TCP stack of a userspace node at one end at least`);
    }
    if (dst !== "userspace" && f.port === undefined) issues.push(`${origin}.port: ${f.dst} is a ${dst} node; give the port a program in it listens on`);
    if (f.route !== undefined) {
      const route = routes.find((r) => r.id === f.route);
      if (!route) issues.push(`${origin}.route: unknown route "${f.route}"`);
      else if (route.path[0] !== f.src || route.path[route.path.length - 1] !== f.dst) {
        issues.push(`${origin}.route: ${f.route} goes from ${route.path[0]} to ${route.path[route.path.length - 1]}, not from ${f.src} to ${f.dst}`);
      }
    }
  });
}
