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
 * cycle was 76.0 MiB with Turbofan and is 70.7 MiB without it; the
 * file-backed part (RssFile) is what moves, 52.9 → 47.6 MiB. One function
 * reached Turbofan (node's own `path` normalizeString, while the full CLI's
 * modules load), and whether it does depends on how much work crossed V8's
 * budget: the same build measured 47.7 or 52.9 MiB of RssFile depending only
 * on the directory it was installed in (docs/benchmarks.md, nineteenth
 * session). Without the tier, the footprint is small and stable. That is
 * also why the flag is set before the full CLI is loaded (src/cli/entry.ts):
 * set in the daemon's handler, after the load, it changed nothing (76.0 MiB).
 *
 * What it costs: nothing measured. B11 before and after (30 polls each, the
 * same machine, one after the other): the daemon's own CPU was 170 ms both
 * times. Each cycle runs in a child process (./child.ts), which keeps every
 * tier: a flag set here at run time is not in `process.execArgv`, so the
 * child does not inherit it.
 *
 * How: `v8.setFlagsFromString('--no-turbofan')` (node's documented API for
 * V8 flags at run time). V8 reads `v8_flags.turbofan` at each tiering
 * decision, so the flag holds for everything optimised after the call; it
 * does not change V8's code-cache flag hash, so the caches other commands
 * share are still accepted (both checked on node 24.22.2:
 * test/unit/cycle/tiering.test.ts). `--max-opt=2` would say the same but is
 * applied only through V8's flag implications at start-up, and set at run
 * time it leaves Turbofan on (checked the same way). `--no-maglev` is not
 * set: it would take about 4 MiB more off (66.6 MiB with both flags given
 * at start), but then every function the daemon runs stays in the
 * interpreter and baseline code, and a poll's CPU (B11) is what matters next.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flag the daemon sets on itself (V8's src/flags/flag-definitions.h, `turbofan`). */
export const DAEMON_V8_FLAGS = '--no-turbofan';

/** Effect: from now on, this process optimises with Maglev at most. Idempotent. */
export function capOptimizingTier(): void {
  setFlagsFromString(DAEMON_V8_FLAGS);
}
