/**
 * The node flags `gitopsd daemon` is started with: package.json
 * "gitopsd"."daemonNodeFlags", the one list that nix/package.nix passes on
 * (passthru.daemonNodeFlags) to nix/module.nix's `ExecStart` of
 * gitopsd.service, and that the benchmarks B7 and B11 read (docs/nixos.md
 * "gitopsd.service", docs/benchmarks.md B7).
 *
 * - `--no-turbofan`: no code from V8's top tier, Turbofan (V8
 *   src/flags/flag-definitions.h `DEFINE_BOOL(turbofan, …)`; node 20's V8
 *   11.3 has it). The daemon holds the scheduler and runs the polls, and
 *   each cycle in a child process (./child.ts); a process that has run Turbofan keeps
 *   the pages of node's binary that hold the compiler resident, about 5 MiB
 *   of the idle daemon's RSS (docs/benchmarks.md "The nineteenth session").
 *   Given on the command line, V8 applies the flag's implications and node's
 *   compile cache keeps the entries of a node started with it apart (its
 *   directory name holds V8's cachedDataVersionTag, which hashes the flags).
 * - The cycle child gets the daemon's node flags without these
 *   (cycleChildExecArgv): a cycle is a normal `gitopsd cycle` process. A
 *   poll that finds a new commit runs its upgrade in the daemon process
 *   (src/cycle/poll.ts), with the flags.
 * - The match is exact, as the unit writes them: another spelling node also
 *   accepts (`--no_turbofan`) is passed on to the child.
 *
 * Shape: an array of strings, each a long option (`--…`); scripts/bundle.mjs
 * refuses anything else at build time and embeds the list
 * (GITOPSD_DAEMON_NODE_FLAGS); code run unbundled reads package.json.
 */
import { createRequire } from 'node:module';

declare const GITOPSD_DAEMON_NODE_FLAGS: readonly string[] | undefined;

function readDaemonNodeFlags(): readonly string[] {
  if (typeof GITOPSD_DAEMON_NODE_FLAGS !== 'undefined') return GITOPSD_DAEMON_NODE_FLAGS;
  // src/cycle and dist/cycle are both two levels below the package root.
  const pkg = createRequire(import.meta.url)('../../package.json') as { gitopsd?: { daemonNodeFlags?: string[] } };
  return pkg.gitopsd?.daemonNodeFlags ?? [];
}

export const DAEMON_NODE_FLAGS: readonly string[] = readDaemonNodeFlags();

/** Pure: the node flags of the daemon's cycle child: the daemon's own, without DAEMON_NODE_FLAGS. */
export function cycleChildExecArgv(
  execArgv: readonly string[],
  daemonFlags: readonly string[] = DAEMON_NODE_FLAGS,
): string[] {
  return execArgv.filter((a) => !daemonFlags.includes(a));
}
