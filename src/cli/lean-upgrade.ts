/**
 * The lean bundle of `gitopsd upgrade [--json] [--dry-run] [--operation switch|boot] [--config PATH]`
 * (dist/bundle/lean-upgrade.cjs, one file with only what the command reaches;
 * scripts/bundle.mjs). The bin's entry (./entry.ts) loads it instead of the
 * full CLI for the forms ./route.ts accepts. The handler, the session and
 * the exit codes are the full CLI's (./session.ts); only the bundle differs.
 */
import type { ExitCode } from '../core/errors.js';
import type { FastRoute } from './route.js';
import { createSession, defaultIO, runFast, type MainIO } from './session.js';
import { loadUpgradeHandler } from './upgrade-handler.js';

export function runLean(
  argv: readonly string[],
  route: FastRoute & { command: 'upgrade' },
  scriptName: string,
  io: MainIO = defaultIO,
): Promise<ExitCode> {
  const session = createSession(argv, scriptName, io, () => import('../report/after-run.js'));
  return runFast(session, route, loadUpgradeHandler);
}
