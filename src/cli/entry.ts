/**
 * What the bins run (dist/bundle/gitopsd.js): it chooses the bundle that
 * runs a command line, and loads nothing else first.
 *
 * `status`, `upgrade` and `fleet status`, in the forms ./route.ts accepts,
 * run from a lean bundle of their own (./lean-*.ts; one file each with only
 * what the command reaches): starting node and loading code is most of what
 * they cost (docs/benchmarks.md, B1 and B2). Every other command line, help
 * and errors included, runs in the full CLI (./main.ts, yargs). Both run
 * the same handlers through the same session (./session.ts), so the output
 * and the exit codes are the same (test/unit/cli/fast-path.test.ts).
 */
import type { ExitCode } from '../core/errors.js';
import type { MainIO } from './session.js';
import { fastRoute } from './route.js';
import { enableCompileCache } from './compile-cache.js';

// Before the bundles below are loaded: they are what the cache is for.
enableCompileCache();

/** Run the CLI; resolves to the exit code (the bin sets process.exitCode from it). */
export async function main(argv: string[], scriptName = 'gitopsd', io?: MainIO): Promise<ExitCode> {
  const route = fastRoute(argv, scriptName);
  switch (route?.command) {
    case 'status':
      return (await import('./lean-status.js')).runLean(argv, { ...route, command: 'status' }, scriptName, io);
    case 'upgrade':
      return (await import('./lean-upgrade.js')).runLean(argv, { ...route, command: 'upgrade' }, scriptName, io);
    case 'fleet status':
      return (await import('./lean-fleet-status.js')).runLean(
        argv,
        { ...route, command: 'fleet status' },
        scriptName,
        io,
      );
    case 'daemon':
    case 'fleet publish':
    case undefined:
      return (await import('./main.js')).main(argv, scriptName, io);
  }
}
