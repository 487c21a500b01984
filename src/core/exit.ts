/**
 * The one place where errors become exit codes (README "Exit codes"): the
 * table from ErrorKind to ExitCode sits here, in core beside the kinds
 * (./errors.ts), so both its users import down: src/cli/main.ts (the
 * process's exit code and its one-line message) and src/cycle (the exit
 * code and message of a step that threw).
 * A GitopsdError leaves with its kind's code and its one-line message;
 * anything else is a bug: exit 70 with "please report".
 */
import { EXIT, GitopsdError, type ErrorKind, type ExitCode } from './errors.js';

const CODE: Record<ErrorKind, ExitCode> = {
  failed: EXIT.failed,
  'build-failed': EXIT.buildFailed,
  reverted: EXIT.reverted,
  'boot-failed': EXIT.bootFailed,
  refused: EXIT.refused,
  usage: EXIT.usage,
  internal: EXIT.internal,
  temporary: EXIT.temporary,
  config: EXIT.config,
};

export function exitCodeFor(err: unknown): ExitCode {
  const e = asGitopsdError(err);
  if (e instanceof GitopsdError) return CODE[e.kind];
  return EXIT.internal;
}

/**
 * A state section that parses as JSON but not as what its capability
 * expects (edited by hand, or written by another version) surfaces as a
 * zod error from the section's reader: one line saying where and what to
 * do, exit 1, instead of a stack dump and "internal error". Other errors
 * come back unchanged.
 */
export function asGitopsdError(err: unknown): unknown {
  // zod/mini's parse throws "$ZodError" (zod core's error; src/core/zod.ts);
  // classic zod's is "ZodError". Matched by name so that this module, on
  // every command's path, does not load zod.
  if (!(err instanceof Error) || (err.name !== '$ZodError' && err.name !== 'ZodError')) return err;
  const issue = (err as Error & { issues?: Array<{ path?: PropertyKey[]; message?: string }> }).issues?.[0];
  if (issue === undefined) return err;
  const where = (issue.path ?? []).map(String).join('.');
  return new GitopsdError(
    'failed',
    `a section of the state under stateDir (state.json or sync/state.json) is not what this gitopsd expects (${where === '' ? '' : `at ${where}: `}${issue.message ?? 'invalid'}); fix it by hand, or move the file aside to start over (if nobody edited it, this is a bug: report it with --log-level debug)`,
    { cause: err },
  );
}

export function messageFor(err: unknown): string {
  err = asGitopsdError(err);
  if (err instanceof GitopsdError) return err.message;
  const e = err instanceof Error ? err : new Error(String(err));
  return `internal error: ${e.message} (this is a bug in gitopsd; please report it with the output of --log-level debug)`;
}

/** The cause chain, for --log-level debug. */
export function causeChain(err: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 8 && cur !== undefined && cur !== null; i++) {
    if (cur instanceof Error) {
      out.push(cur.stack ?? `${cur.name}: ${cur.message}`);
      cur = cur.cause;
    } else {
      out.push(typeof cur === 'string' ? cur : (JSON.stringify(cur) ?? typeof cur));
      break;
    }
  }
  return out;
}
