/**
 * The lean bundle of `gitopsd sync [--json] [--config PATH]`
 * (dist/bundle/lean-sync.cjs, one file with only what the command reaches;
 * scripts/bundle.mjs): what gitopsd-sync.service runs in timer mode, and
 * what B3 and B4 measure against the bare jj and chezmoi commands. The
 * bin's entry (./entry.ts) loads it instead of the full CLI for the forms
 * ./route.ts accepts. The handler, the session, the run record and the exit
 * codes are the full CLI's (./session.ts); only the bundle differs.
 */
import type { ExitCode } from '../core/errors.js';
import type { FastRoute } from './route.js';
import { createSession, defaultIO, runFast, type MainIO } from './session.js';

export function runLean(
  argv: readonly string[],
  route: FastRoute & { command: 'sync' },
  scriptName: string,
  io: MainIO = defaultIO,
): Promise<ExitCode> {
  const session = createSession(argv, scriptName, io, () => import('../report/after-run.js'));
  return runFast(session, route, async () => (await import('../sync/cli.js')).syncCommand);
}
