/**
 * A Runner (src/core/runner.ts) that runs nothing: it records the argv and
 * options of every call and answers each from a script, standing in for the
 * external programs. It keeps the runner's own contract
 * (src/core/runner.ts `run`), so code under test meets the same behaviour
 * as in production:
 * - a call marked `mutates` under dry-run is skipped (exitCode 0, skipped);
 * - a non-zero exit throws CommandFailed unless `allowFailure`;
 * - a timeout, a signal or a program that cannot start always throws.
 * A call with no scripted answer fails the test loudly.
 */
import { CommandFailed, tail } from '../../src/core/errors.js';
import type { RunOptions, RunResult, Runner } from '../../src/core/runner.js';

/** What the program does: exits with a code, or is ended by our timeout or a signal, or cannot be started. */
export type ScriptedRun =
  | { exitCode: number; stdout?: string; stderr?: string }
  | { timedOut: true; stderr?: string }
  | { signal: string; stderr?: string }
  | { notFound: true };

export interface RecordedCall {
  argv: string[];
  opts: RunOptions;
}

export interface RecordingRunner extends Runner {
  readonly calls: RecordedCall[];
}

export function recordingRunner(
  answer: (argv: readonly string[]) => ScriptedRun | undefined,
  o: { dryRun?: boolean } = {},
): RecordingRunner {
  const calls: RecordedCall[] = [];
  const dryRun = o.dryRun ?? false;
  return {
    calls,
    dryRun,
    git: () => {
      throw new Error('recordingRunner: no git client here');
    },
    run: (cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> => {
      const argv = [cmd, ...args];
      calls.push({ argv, opts });
      if (opts.mutates === true && dryRun) {
        return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', durationMs: 0, skipped: true });
      }
      const a = answer(argv);
      if (a === undefined)
        return Promise.reject(new Error(`recordingRunner: no scripted answer for ${JSON.stringify(argv)}`));
      const fail = (f: { exitCode?: number; signal?: string; timedOut?: boolean; stderr: string }): Promise<never> =>
        Promise.reject(
          new CommandFailed({
            cmd,
            args,
            exitCode: f.exitCode,
            signal: f.signal,
            timedOut: f.timedOut ?? false,
            stderrTail: tail(f.stderr, 4000),
            stdout: '',
          }),
        );
      if ('notFound' in a) return fail({ stderr: `spawn ${cmd} ENOENT` });
      if ('timedOut' in a) return fail({ timedOut: true, signal: 'SIGTERM', stderr: a.stderr ?? '' });
      if ('signal' in a) return fail({ signal: a.signal, stderr: a.stderr ?? '' });
      if (a.exitCode !== 0 && opts.allowFailure !== true) return fail({ exitCode: a.exitCode, stderr: a.stderr ?? '' });
      return Promise.resolve({
        exitCode: a.exitCode,
        stdout: a.stdout ?? '',
        stderr: a.stderr ?? '',
        durationMs: 0,
        skipped: false,
      });
    },
  };
}
