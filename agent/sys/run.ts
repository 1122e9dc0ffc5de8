/**
 * Running system commands (iproute2, programs inside nodes) and collecting their
 * output, with a timeout so a hung command never hangs the agent.
 */

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  timeoutMs?: number;
  /** output beyond this many bytes per stream is cut, so a chatty command cannot exhaust memory */
  maxOutput?: number;
  /** how messages name the command (default argv[0]); `ip netns exec` wrappers name the user's program */
  label?: string;
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, {
      stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (e) {
    return { exitCode: 127, stdout: "", stderr: `${argv[0]}: ${(e as Error).message}\n` };
  }
  const timeout = opts.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeout);
  const max = opts.maxOutput ?? 4 * 1024 * 1024;
  const [stdout, stderr] = await Promise.all([readCapped(proc.stdout, max), readCapped(proc.stderr, max)]);
  const exitCode = await proc.exited;
  clearTimeout(timer);
  if (timedOut) return { exitCode: 124, stdout, stderr: `${stderr}${opts.label ?? argv[0]}: killed after ${timeout} ms\n` };
  return { exitCode, stdout, stderr };
}

async function readCapped(stream: ReadableStream<Uint8Array> | number | undefined, max: number): Promise<string> {
  if (!stream || typeof stream === "number") return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size < max) chunks.push(chunk.subarray(0, max - size));
    size += chunk.length;
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return size > max ? `${text}\n[output cut at ${max} bytes]\n` : text;
}

/** Runs a command and throws with its stderr when it fails: for set-up steps that must succeed. */
export async function mustRun(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
