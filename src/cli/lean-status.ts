/**
 * The lean bundle of `gitopsd status [--json] [--config PATH]`
 * (dist/bundle/lean-status.cjs, one file with only what the command reaches;
 * scripts/bundle.mjs). The bin's entry (./entry.ts) loads it instead of the
 * full CLI for the forms ./route.ts accepts. The handler, the session and
 * the exit codes are the full CLI's (./session.ts); only the bundle differs.
 */
import type { ExitCode } from '../core/errors.js';
import type { FastRoute } from './route.js';
import { createSession, defaultIO, runFast, type MainIO } from './session.js';

export function runLean(
  argv: readonly string[],
  route: FastRoute & { command: 'status' },
  scriptName: string,
  io: MainIO = defaultIO,
): Promise<ExitCode> {
  return runFast(
    createSession(argv, scriptName, io),
    route,
    async () => (await import('../status/cli.js')).statusCommand,
  );
}
