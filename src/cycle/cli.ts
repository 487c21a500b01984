/**
 * CLI handlers: `gitopsd cycle` (one cycle now) and `gitopsd daemon` (the
 * cycle on schedule until SIGTERM). The work is in ./index.ts and ./daemon.ts.
 */
import type { Handler } from '../core/outcome.js';
import { createDeps, type Deps } from '../core/deps.js';
import { exitCodeFor, messageFor } from '../core/exit.js';
import type { LogLevel } from '../core/log.js';
import { formatCycle, runCycle, type CycleResult } from './index.js';
import { runDaemon } from './daemon.js';
import { cycleSteps } from './steps.js';

export const cycleCommand: Handler = async (deps) => {
  const r = await runCycle(deps, { steps: cycleSteps(deps), trigger: 'manual' });
  return { exitCode: r.exitCode, text: formatCycle(r), json: { ok: r.exitCode === 0, ...r } };
};

/** `gitopsd poll`: one poll now (./poll.ts); what the daemon does every daemon.pollIntervalSec. */
export const pollCommand: Handler = async (deps) => {
  const { runPoll } = await import('./poll.js');
  const p = await runPoll(deps);
  return {
    exitCode: p.exitCode,
    text: p.message,
    json: {
      ok: p.exitCode === 0,
      decision: p.decision,
      upgrade: p.upgrade,
    },
  };
};

export const daemonCommand: Handler = async (deps, args) => {
  const logLevel = args['log-level'] as LogLevel | undefined;
  // SIGHUP: the same file, read again, with the same environment and flags.
  const reload = (): Deps => createDeps({ configPath: deps.configPath, logLevel, env: deps.env });
  const r = await runDaemon({
    deps,
    reload,
    runCycle: async (d, o) => {
      // What the CLI does after `gitopsd cycle` (src/cli/main.ts withDeps):
      // record the run, publish to the fleet, run the hooks, write the
      // metrics; each of these logs its own failure and never fails the cycle.
      const started = d.clock.monotonicMs();
      const { afterRun } = await import('../report/after-run.js');
      let c: CycleResult;
      try {
        c = await runCycle(d, { steps: cycleSteps(d), trigger: o.trigger, shouldStop: o.shouldStop });
      } catch (err) {
        await afterRun(d, 'cycle', {
          exitCode: exitCodeFor(err),
          result: 'error',
          error: messageFor(err),
          durationMs: Math.round(d.clock.monotonicMs() - started),
        });
        throw err;
      }
      await afterRun(d, 'cycle', {
        exitCode: c.exitCode,
        result: c.exitCode === 0 ? 'ok' : 'failed',
        error: c.exitCode === 0 ? null : (formatCycle(c).split('\n').at(-1) ?? null),
        durationMs: Math.round(d.clock.monotonicMs() - started),
      });
      return c;
    },
    runPoll: async (d) => {
      const { runPoll } = await import('./poll.js');
      return runPoll(d);
    },
  });
  const text = `daemon stopped after ${r.cycles} cycle${r.cycles === 1 ? '' : 's'}`;
  return { exitCode: 0, text, json: { ok: true, cycles: r.cycles, lastExitCode: r.lastExitCode } };
};
