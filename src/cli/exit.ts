/**
 * The one place where errors become exit codes (README "Exit codes").
 * A GitopsdError leaves with its kind's code and its one-line message;
 * anything else is a bug: exit 70 with "please report".
 */
import { EXIT, GitopsdError, type ErrorKind, type ExitCode } from '../core/errors.js';

const CODE: Record<ErrorKind, ExitCode> = {
  failed: EXIT.failed,
  'build-failed': EXIT.buildFailed,
  reverted: EXIT.reverted,
  'boot-failed': EXIT.bootFailed,
  refused: EXIT.refused,
  usage: EXIT.usage,
  internal: EXIT.internal,
  'not-implemented': EXIT.internal,
  temporary: EXIT.temporary,
  config: EXIT.config,
};

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof GitopsdError) return CODE[err.kind];
  return EXIT.internal;
}

export function messageFor(err: unknown): string {
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
