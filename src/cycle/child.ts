/**
 * The daemon's cycle, run in a child process (issue 19, B7): `gitopsd daemon`
 * holds only the scheduler, and each cycle is a `gitopsd cycle --json`
 * process of its own, so the memory a cycle needs (the upgrade, the sync,
 * their libraries and data) is returned to the system when it ends, and the
 * daemon stays at its idle size however many cycles it has run.
 *
 * Contract
 * - Command: this same program (`process.execPath`, its `execArgv` without
 *   the daemon's own node flags (./daemon-node.ts), and the script in
 *   `process.argv[1]`) with `cycle --json --trigger <trigger>
 *   --config <the daemon's config file>`, through the runner (argv, no shell,
 *   a timeout of CYCLE_TIMEOUT_MS as a backstop: every step inside has its
 *   own timeouts). The child records the run, publishes and runs the hooks
 *   itself, as any `gitopsd cycle` does (src/cli/main.ts withDeps).
 * - Logs: the child's stderr (its JSON log lines) is copied line by line to
 *   the daemon's stderr as it arrives, so the journal of gitopsd.service
 *   holds the cycle's log as before; control characters and bidi marks
 *   become \uXXXX escapes (src/core/printable.ts), which a JSON line reads
 *   back as the same text.
 * - Stop: when the daemon is asked to stop (`shouldStop`, polled every
 *   second), the child gets one SIGTERM; `gitopsd cycle` then finishes its
 *   running step and starts no other (src/cycle/cli.ts). The unit's
 *   KillMode=mixed sends systemd's SIGTERM to the daemon only (nix/module.nix).
 * - Clock: under GITOPSD_TEST_NOW (tests only) the child is given the daemon's
 *   current injected time, so both agree on when the cycle ran.
 * - Result: the child's CycleResult from its JSON output. A child that ends
 *   without one (killed, or a failure before the cycle started, which its
 *   JSON reports as `{ ok: false, error }`) throws a GitopsdError with the
 *   child's own message; the daemon logs it and goes on to the next slot.
 */
import type { Deps } from '../core/deps.js';
import { GitopsdError, tail } from '../core/errors.js';
import { printable } from '../core/printable.js';
import type { CycleResult, CycleTrigger } from './index.js';
import { cycleChildExecArgv } from './daemon-node.js';

/** The backstop on a whole cycle: 12 hours. */
export const CYCLE_TIMEOUT_MS = 12 * 3600 * 1000;
/** How often the running child is checked for a requested stop. */
const STOP_POLL_MS = 1000;

export interface ChildCycleOptions {
  trigger: CycleTrigger;
  shouldStop: () => boolean;
  /** The daemon's --log-level, passed on. */
  logLevel?: string;
}

/**
 * Pure: the argv of the child cycle. `self.daemonNodeFlags` (default: the
 * unit's, ./daemon-node.ts) are left out of `self.execArgv`.
 */
export function childCycleArgv(
  self: { execArgv: readonly string[]; script: string; daemonNodeFlags?: readonly string[] },
  configPath: string,
  o: Pick<ChildCycleOptions, 'trigger' | 'logLevel'>,
): string[] {
  return [
    ...cycleChildExecArgv(self.execArgv, self.daemonNodeFlags),
    self.script,
    'cycle',
    '--json',
    '--trigger',
    o.trigger,
    '--config',
    configPath,
    ...(o.logLevel === undefined ? [] : ['--log-level', o.logLevel]),
  ];
}

/** Pure: the child's CycleResult from its JSON output, or the reason there is none. */
export function parseChildCycle(
  stdout: string,
): { ok: true; result: CycleResult } | { ok: false; error: string | null; exitCode: number | null } {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return { ok: false, error: null, exitCode: null };
  }
  const d = doc as Partial<CycleResult> & { error?: unknown };
  if (typeof d.exitCode === 'number' && Array.isArray(d.steps) && typeof d.trigger === 'string') {
    return { ok: true, result: d as CycleResult };
  }
  return {
    ok: false,
    error: typeof d.error === 'string' ? d.error : null,
    exitCode: typeof d.exitCode === 'number' ? d.exitCode : null,
  };
}

export async function runCycleInChild(deps: Deps, o: ChildCycleOptions): Promise<CycleResult> {
  const script = process.argv[1];
  if (script === undefined)
    throw new GitopsdError('internal', 'cannot start the cycle process: no script path in argv');
  let pid: number | undefined;
  let signalled = false;
  const watch = setInterval(() => {
    if (signalled || pid === undefined || !o.shouldStop()) return;
    signalled = true;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }, STOP_POLL_MS);
  try {
    const testNow = deps.env['GITOPSD_TEST_NOW'];
    const r = await deps.runner.run(
      process.execPath,
      childCycleArgv({ execArgv: process.execArgv, script }, deps.configPath, o),
      {
        timeoutMs: CYCLE_TIMEOUT_MS,
        allowFailure: true,
        env: {
          GITOPSD_CONFIG: undefined,
          ...(testNow === undefined ? {} : { GITOPSD_TEST_NOW: deps.clock.now().toISOString() }),
        },
        onSpawn: (p) => {
          pid = p;
        },
        onLine: (line, stream) => {
          // printable: a JSON log line escapes only C0 controls, so a file
          // name of the dotfiles user's could bring C1 controls or a bidi
          // override to a terminal the daemon runs in (review 17). Their
          // \uXXXX escapes keep a JSON line valid, with the same meaning.
          if (stream === 'stderr') process.stderr.write(`${printable(line)}\n`);
        },
      },
    );
    const parsed = parseChildCycle(r.stdout);
    if (parsed.ok) return parsed.result;
    const why =
      parsed.error ??
      `the cycle process exited ${r.exitCode} without a result${r.stderr.trim() === '' ? '' : `: ${tail(r.stderr.trim().split('\n').at(-1) ?? '', 300)}`}`;
    throw new GitopsdError(parsed.exitCode === 75 ? 'temporary' : 'failed', why);
  } finally {
    clearInterval(watch);
  }
}
