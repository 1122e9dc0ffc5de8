/**
 * @module
 * An in-memory Store for tests and throwaway controllers. It copies on the way
 * in and out so it behaves like the SQLite store: a caller mutating a returned
 * record never changes what is stored.
 */
import type { HostRecord, NamespaceRecord, Store } from "./store.ts";

export class MemoryStore implements Store {
  #namespaces = new Map<string, NamespaceRecord>();
  #hosts = new Map<string, HostRecord>();

  listNamespaces(): NamespaceRecord[] {
    return [...this.#namespaces.values()].sort(byName).map((ns) => structuredClone(ns));
  }

  getNamespace(name: string): NamespaceRecord | undefined {
    const ns = this.#namespaces.get(name);
    return ns && structuredClone(ns);
  }

  putNamespace(ns: NamespaceRecord): void {
    this.#namespaces.set(ns.name, structuredClone(ns));
  }

  deleteNamespace(name: string): void {
    this.#namespaces.delete(name);
  }

  listHosts(): HostRecord[] {
    return [...this.#hosts.values()].sort(byName).map((h) => structuredClone(h));
  }

  getHost(name: string): HostRecord | undefined {
    const h = this.#hosts.get(name);
    return h && structuredClone(h);
  }

  putHost(host: HostRecord): void {
    this.#hosts.set(host.name, structuredClone(host));
  }

  close(): void {}
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
