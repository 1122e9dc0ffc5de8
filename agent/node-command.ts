/**
 * A node's `command`: the program the agent starts in the node each time the
 * node comes up (after a start, too), detached from the agent's own I/O. Its
 * stdout and stderr are appended to one log file per node, ended by a line
 * saying how it exited, so a user can read what a launched server printed.
 * It dies with the node: stopping or removing a node kills every process in
 * its network namespace.
 */
import { appendFileSync, closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";

/** `<dir>/<namespace>-<node>.log` */
export function commandLogPath(dir: string, namespace: string, node: string): string {
  return path.join(dir, `${namespace}-${node}.log`);
}

/**
 * Starts `argv` (the node's `command`, behind `prefix` that enters the node)
 * with its output appended to `logFile`; throws when it cannot be started.
 */
export function startNodeCommand(prefix: string[], command: string[], logFile: string): void {
  const argv = [...prefix, ...command];
  mkdirSync(path.dirname(logFile), { recursive: true });
  appendFileSync(logFile, `[nextmini] ${new Date().toISOString()} starting: ${JSON.stringify(command)}\n`);
  const fd = openSync(logFile, "a");
  try {
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: fd, stderr: fd });
    proc.unref();
    void proc.exited.then((code) => {
      const how = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with code ${code}`;
      appendFileSync(logFile, `[nextmini] ${new Date().toISOString()} the command ${how}\n`);
    });
  } finally {
    // the child holds its own copy of the descriptor
    closeSync(fd);
  }
}
