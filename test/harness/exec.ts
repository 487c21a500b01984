/**
 * The harness's one way to run a program (argv arrays, never a shell).
 *
 * Contract:
 * - `run` resolves with the result when the program exits 0, and otherwise
 *   throws a `HarnessCommandError` whose message names the command, the exit
 *   code and the stderr tail, so a failing harness step explains itself.
 * - `tryRun` never throws for a non-zero exit; it returns the exit code and
 *   output so a test can assert on a failure (a program that cannot be started
 *   at all still throws).
 * - Every call has a timeout (default 120 s); the environment is inherited plus
 *   `env`.
 */
import { execa } from 'execa';

export interface RunOptions {
  cwd?: string;
  /** Added to (and overriding) the inherited environment. */
  env?: Readonly<Record<string, string>>;
  /** Written to the program's stdin. */
  input?: string;
  timeoutMs?: number;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class HarnessCommandError extends Error {
  readonly result: RunResult;
  constructor(result: RunResult) {
    const tail = result.stderr.trim().split('\n').slice(-15).join('\n');
    super(`${result.command} exited with ${result.exitCode}${tail === '' ? '' : `:\n${tail}`}`);
    this.name = 'HarnessCommandError';
    this.result = result;
  }
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** Runs `cmd args`; returns its result whatever the exit code. */
export async function tryRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await execa(cmd, args, {
    reject: false,
    stripFinalNewline: false,
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    ...(opts.env === undefined ? {} : { env: opts.env }),
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  });
  const command = [cmd, ...args].join(' ');
  if (r.exitCode === undefined) {
    // Never started (ENOENT, EACCES) or killed by a signal or the timeout.
    const why = r.timedOut ? 'timed out' : r.signal !== undefined ? `was killed by ${r.signal}` : r.shortMessage;
    throw new Error(`harness: ${command} ${why}`, { cause: r });
  }
  return { command, exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Runs `cmd args`; throws `HarnessCommandError` unless it exits 0. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await tryRun(cmd, args, opts);
  if (r.exitCode !== 0) throw new HarnessCommandError(r);
  return r;
}
