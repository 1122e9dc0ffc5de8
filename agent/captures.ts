/**
 * @module
 * The agent's side of packet captures: for each capture the controller wants
 * this host to write, open its file (making its directory), start it with the
 * pcap header, and hand the descriptor to the dataplane worker, which records
 * into it and closes it when the capture leaves the desired state.
 *
 * A file already there is appended to when it is this capture's own (our
 * header, and written to since the capture was created: the agent restarted
 * mid-capture), so a restart loses nothing written before it; any other file
 * is replaced, as tcpdump -w replaces.
 */
import { closeSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import type { NamespaceState } from "../protocol/state.ts";
import type { CaptureOpen } from "./dataplane/messages.ts";
import { isOwnPcapHeader, PCAP_HEADER_BYTES, pcapFileHeader } from "./dataplane/pcap.ts";

export class CaptureFiles {
  /** "namespace/id" -> the descriptor handed to the worker */
  #open = new Map<string, { fd: number; file: string }>();
  #errors = new Map<string, string>();

  /**
   * The captures the worker should run for `desired`, opening files for new
   * ones; captures no longer wanted are dropped here (the worker closes
   * their files). A file that cannot be opened is left out and reported by
   * `errors()`; the next desired state tries again.
   */
  reconcile(desired: readonly NamespaceState[]): CaptureOpen[] {
    const out: CaptureOpen[] = [];
    const wanted = new Set<string>();
    for (const ns of desired) {
      for (const c of ns.captures) {
        const key = `${ns.name}/${c.id}`;
        wanted.add(key);
        let open = this.#open.get(key);
        if (!open) {
          try {
            open = { fd: openCaptureFile(c.file, c.created), file: c.file };
          } catch (e) {
            this.#errors.set(key, `cannot open ${c.file}: ${(e as Error).message}`);
            continue;
          }
          this.#open.set(key, open);
          this.#errors.delete(key);
        }
        out.push({
          key,
          fd: open.fd,
          nodes: "node" in c ? [`${ns.name}/${c.node}`] : [],
          dirs: "link" in c ? [`${ns.name}/${c.link}/ab`, `${ns.name}/${c.link}/ba`] : [],
        });
      }
    }
    for (const key of [...this.#open.keys()]) if (!wanted.has(key)) this.#open.delete(key);
    for (const key of [...this.#errors.keys()]) if (!wanted.has(key)) this.#errors.delete(key);
    return out;
  }

  /** Captures whose file could not be opened, by "namespace/id", with why. */
  errors(): ReadonlyMap<string, string> {
    return this.#errors;
  }
}

/**
 * A descriptor for writing capture records to `file`: appending to the file
 * when it is already this capture's (see the module comment), else a new file
 * holding the pcap header. `created` is the capture's creation, ms since the epoch.
 */
export function openCaptureFile(file: string, created: number): number {
  mkdirSync(path.dirname(file), { recursive: true });
  const append = isOwnFile(file, created);
  const fd = openSync(file, append ? "a" : "w", 0o644);
  if (!append) {
    try {
      writeSync(fd, pcapFileHeader());
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }
  return fd;
}

function isOwnFile(file: string, created: number): boolean {
  let st;
  try {
    st = statSync(file);
  } catch {
    return false;
  }
  if (st.isDirectory()) throw new Error("it is a directory");
  if (!st.isFile() || st.mtimeMs < created || st.size < PCAP_HEADER_BYTES) return false;
  const head = new Uint8Array(PCAP_HEADER_BYTES);
  const fd = openSync(file, "r");
  try {
    readSync(fd, head, 0, PCAP_HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  return isOwnPcapHeader(head);
}
