/**
 * The long-running daemon's JavaScript stops at V8's mid tier (Maglev), never
 * Turbofan (issue 19, B7).
 *
 * Why: Turbofan, V8's top optimising compiler, is several MiB of machine code
 * inside node's own binary (libnode). A process maps those pages the first
 * time one of its functions is optimised with it, and keeps them resident
 * for as long as it lives. The daemon's work between cycles is small (the
 * scheduler, the relay of the child cycle's log lines, a poll), but over days
 * some of it gets hot enough to be optimised. Measured with B7's set-up
 * (`bench/b7-daemon.ts`, node 24.22.2 with V8 13.6): the daemon idle after a
 * cycle is 76.0 MiB with Turbofan and 66.6 MiB with `--no-turbofan
 * --no-maglev`; the file-backed part (RssFile) is what moves, 52.9 → 44.5 MiB.
 * Whether a given run reaches Turbofan depends on how much work crossed V8's
 * budget: the same build measured 47.7 or 52.9 MiB of RssFile depending only
 * on the length of its install path (docs/benchmarks.md, nineteenth session).
 * Taking the tier away makes the daemon's footprint stable as well as small.
 *
 * What it costs: nothing measurable. The daemon's own JavaScript is not where
 * its time goes (each cycle runs in a child process, ./child.ts, which keeps
 * every tier: a flag set here at run time is not in `process.execArgv`, so
 * the child does not inherit it; a poll's time is git's fetch).
 *
 * How: `v8.setFlagsFromString('--no-turbofan')` (node's documented API for
 * V8 flags at run time). V8 reads `v8_flags.turbofan` at each tiering
 * decision, so the flag holds for everything optimised after the call; it
 * does not change V8's code-cache flag hash, so the caches other commands
 * share are still accepted (both checked on node 24.22.2:
 * test/unit/cycle/tiering.test.ts). `--max-opt=2` would say the same but is
 * applied only through V8's flag implications at start-up, and set at run
 * time it leaves Turbofan on (checked the same way). `--no-maglev` is not
 * set: Maglev's code is smaller and its code keeps the poll's own CPU low.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flag the daemon sets on itself (V8's src/flags/flag-definitions.h, `turbofan`). */
export const DAEMON_V8_FLAGS = '--no-turbofan';

/** Effect: from now on, this process optimises with Maglev at most. Idempotent. */
export function capOptimizingTier(): void {
  setFlagsFromString(DAEMON_V8_FLAGS);
}
