/**
 * The start-up handshake of the agent's worker threads (the dataplane, the quic
 * transport): a worker answers its init with `ready {port}`, or with `error`
 * when it cannot start (a taken port). Until ready, an error rejects the start;
 * after it, errors are only reported, and every other message goes on.
 */

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
