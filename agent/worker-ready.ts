/**
 * Starting the agent's worker threads (the dataplane, the quic transport, a
 * probe): where a worker's code is, and the start-up handshake, in which a
 * worker answers its init with `ready {port}`, or with `error` when it cannot
 * start (a taken port). Until ready, an error rejects the start; after it,
 * errors are only reported, and every other message goes on.
 */

/**
 * The URL of the `worker.ts` beside the module at `moduleUrl` (its
 * import.meta.url): that file when run from source; in a compiled binary, the
 * entrypoint `entrypoint` (as scripts/build.ts lists it) named relative to the
 * bundle root, the form every Bun 1.4 release resolves (an absolute $bunfs URL
 * is not).
 */
export function workerUrl(moduleUrl: string, entrypoint: string): string {
  if (moduleUrl.includes("$bunfs")) return `./${entrypoint}`;
  return new URL("./worker.ts", moduleUrl).href;
}

type ReadyOrError = { type: "ready"; port: number } | { type: "error"; message: string };

function isReadyOrError(msg: { type: string }): msg is ReadyOrError {
  return msg.type === "ready" || msg.type === "error";
}

/** Routes `worker`'s messages and resolves with the port its ready message names. */
export function awaitReady<M extends { type: string }>(
  worker: Worker,
  label: string,
  onMessage: (msg: M) => void,
  onError: (message: string) => void,
): Promise<number> {
  let started = false;
  return new Promise<number>((resolve, reject) => {
    const fail = (message: string) => (started ? onError(message) : reject(new Error(message)));
    worker.onmessage = (e: MessageEvent<M>) => {
      const msg = e.data;
      if (!isReadyOrError(msg)) onMessage(msg);
      else if (msg.type === "ready") {
        started = true;
        resolve(msg.port);
      } else fail(msg.message);
    };
    worker.onerror = (e) => fail(`${label} failed: ${e.message}`);
  });
}
