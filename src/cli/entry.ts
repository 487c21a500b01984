/**
 * What the bins run (dist/bundle/gitopsd.js): it chooses the bundle that
 * runs a command line, and loads nothing else first.
 *
 * `status`, `sync`, `upgrade` and `fleet status`, in the forms ./route.ts accepts,
 * run from a lean bundle of their own (./lean-*.ts; one file each with only
 * what the command reaches): starting node and loading code is most of what
 * they cost (docs/benchmarks.md, B1 and B2). In the build, the lean bundles
 * are CommonJS scripts run with a V8 code cache made after a first run
 * (./code-cache.ts); unbundled (the unit tests) they are imported as
 * modules. Every other command line, help and errors included, runs in the
 * full CLI (./main.ts, yargs). Both run the same handlers through the same
 * session (./session.ts), so the output and the exit codes are the same
 * (test/unit/cli/fast-path.test.ts).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSync } from 'node:fs';
import { EXIT, type ExitCode } from '../core/errors.js';
import type { MainIO } from './session.js';
import { fastRoute, type FastRoute } from './route.js';
import { enableCompileCache } from './compile-cache.js';
import { loadBundle, saveCaches } from './code-cache.js';

/** True in dist/bundle/gitopsd.js (esbuild `define`, scripts/bundle.mjs); undefined unbundled. */
declare const GITOPSD_LEAN_CJS: boolean | undefined;

// Before the bundles below are loaded: they are what the cache is for.
const cacheDir = enableCompileCache();

type Lean<C extends FastRoute['command']> = {
  runLean(argv: string[], route: FastRoute & { command: C }, scriptName: string, io?: MainIO): Promise<ExitCode>;
};

/** Run a lean bundle's command; in the build, save its code cache afterwards (./code-cache.ts). */
async function runLeanBundle<C extends FastRoute['command']>(
  name: 'lean-status' | 'lean-sync' | 'lean-upgrade' | 'lean-fleet-status',
  unbundled: () => Promise<Lean<C>>,
  run: (m: Lean<C>) => Promise<ExitCode>,
): Promise<ExitCode> {
  if (typeof GITOPSD_LEAN_CJS === 'undefined') return run(await unbundled());
  const bundle = loadBundle<Lean<C>>(join(dirname(fileURLToPath(import.meta.url)), `${name}.cjs`), cacheDir);
  const code = await run(bundle.exports);
  saveCaches(); // the lean bundle's, and execa's and prom-client's when the command loaded them
  return code;
}

/** Set by the first write to stdout or stderr that failed for another reason than a reader that has gone. */
let outputError: NodeJS.ErrnoException | null = null;

/**
 * What a failed write to stdout or stderr does. node reports it as an
 * 'error' event on the stream, later, from the event loop (node's process
 * documentation, "A note on process I/O"); with no listener that event was
 * an uncaught exception: a stack trace, and exit 1, which `fleet status`
 * uses for "a host is unhealthy".
 *
 * - The reader has gone (EPIPE on a pipe, `gitopsd fleet status --json |
 *   head -c 80`; ECONNRESET on a socket): the output is dropped and the exit
 *   code stays the command's, so a check that keeps the first lines still
 *   gets 0, 1 or 75. Later writes fail the same way, or with
 *   ERR_STREAM_DESTROYED once node has destroyed the stream.
 * - Anything else (ENOSPC with stdout on a full disk, EIO): the output is
 *   lost, so the run exits 75 (temporary: free space and run it again; the
 *   command's own work, if it had any, is recorded in its state as usual)
 *   with one line on stderr naming the stream and the error. A failure of
 *   stderr itself has nowhere to be told: only the exit code says it.
 *
 * The long-running daemon keeps running when its log stream goes; under
 * systemd that stream is journald's, which keeps it open across its own
 * restarts.
 */
function watchOutput(): void {
  for (const [name, stream] of [
    ['stdout', process.stdout],
    ['stderr', process.stderr],
  ] as const) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_DESTROYED') return;
      if (outputError !== null) return;
      outputError = err;
      process.exitCode = EXIT.temporary;
      if (name === 'stdout') {
        try {
          writeSync(
            2,
            `gitopsd: cannot write the output to stdout (${err.code ?? err.message}); free space where stdout goes, or fix the redirection, then run the command again\n`,
          );
        } catch {
          // stderr is gone too: the exit code says it.
        }
      }
    });
  }
}

/** Run the CLI; resolves to the exit code (the bin sets process.exitCode from it). */
export async function main(argv: string[], scriptName = 'gitopsd', io?: MainIO): Promise<ExitCode> {
  if (io === undefined) watchOutput();
  const code = await runCommand(argv, scriptName, io);
  // A write that failed before the command returned (watchOutput): its
  // output is lost. One that fails later sets process.exitCode itself.
  return outputError === null ? code : EXIT.temporary;
}

async function runCommand(argv: string[], scriptName: string, io: MainIO | undefined): Promise<ExitCode> {
  const route = fastRoute(argv, scriptName);
  switch (route?.command) {
    case 'status':
      return runLeanBundle<'status'>(
        'lean-status',
        () => import('./lean-status.js'),
        (m) => m.runLean(argv, { ...route, command: 'status' }, scriptName, io),
      );
    case 'sync':
      return runLeanBundle<'sync'>(
        'lean-sync',
        () => import('./lean-sync.js'),
        (m) => m.runLean(argv, { ...route, command: 'sync' }, scriptName, io),
      );
    case 'upgrade':
      return runLeanBundle<'upgrade'>(
        'lean-upgrade',
        () => import('./lean-upgrade.js'),
        (m) => m.runLean(argv, { ...route, command: 'upgrade' }, scriptName, io),
      );
    case 'fleet status':
      return runLeanBundle<'fleet status'>(
        'lean-fleet-status',
        () => import('./lean-fleet-status.js'),
        (m) => m.runLean(argv, { ...route, command: 'fleet status' }, scriptName, io),
      );
    case 'daemon':
    case 'fleet publish':
    case undefined:
      return (await import('./main.js')).main(argv, scriptName, io);
  }
}
