/**
 * CLI handlers: `gitopsd cycle` (one cycle now) and `gitopsd daemon` (the
 * cycle on schedule until SIGTERM). The work is in ./index.ts and ./daemon.ts.
 */
import type { Handler } from '../core/outcome.js';
import { createDeps, type Deps } from '../core/deps.js';
import type { LogLevel } from '../core/log.js';
import { formatCycle, runCycle, type CycleResult, type CycleTrigger } from './index.js';
import { runDaemon } from './daemon.js';
import { cycleSteps } from './steps.js';

/**
 * `gitopsd cycle`. SIGTERM (systemd stopping the unit, or the daemon stopping
 * its cycle process, ./child.ts) lets the running step finish and starts no
 * other, as the daemon's own stop does; a second SIGTERM ends the process at
 * once (the crash story of each step covers that). SIGINT keeps its default:
 * a person at a terminal gets an immediate stop.
 */
export const cycleCommand: Handler = async (deps, args) => {
  const trigger = (args['trigger'] as CycleTrigger | undefined) ?? 'manual';
  let stop = false;
  const onTerm = (): void => {
    if (stop) {
      process.off('SIGTERM', onTerm);
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    stop = true;
    deps.log.warn('stop requested; the running step finishes, no later step starts', { signal: 'SIGTERM' });
  };
  process.on('SIGTERM', onTerm);
  let r: CycleResult;
  try {
    r = await runCycle(deps, { steps: cycleSteps(deps), trigger, shouldStop: () => stop });
  } finally {
    process.off('SIGTERM', onTerm);
  }
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
      trigger: p.trigger,
      upgrade: p.upgrade,
    },
  };
};

/**
 * `gitopsd trigger`: start gitopsd-upgrade.service now (./trigger.ts); with
 * --fleet, sign and push the fleet-wide trigger (src/fleet/trigger/cli.ts).
 */
export const triggerCommand: Handler = async (deps, args) => {
  if (args['fleet'] === true) {
    const { fleetTriggerCommand } = await import('../fleet/trigger/cli.js');
    return fleetTriggerCommand(deps, args);
  }
  const fleetOnly = ['expires', 'host', 'signing-key', 'reason', 'remote', 'allowed-signers'].filter(
    (o) => args[o] !== undefined,
  );
  if (fleetOnly.length > 0) {
    const { UsageError } = await import('../core/errors.js');
    throw new UsageError(
      fleetOnly.length === 1
        ? `--${fleetOnly[0]} only applies to a fleet trigger: add --fleet (gitopsd trigger --fleet --signing-key KEY), or drop it for a local trigger`
        : `--${fleetOnly.join(', --')} only apply to a fleet trigger: add --fleet (gitopsd trigger --fleet --signing-key KEY), or drop them for a local trigger`,
    );
  }
  const { triggerUpgrade } = await import('./trigger.js');
  const text = await triggerUpgrade(deps);
  return { exitCode: 0, text, json: { ok: true, message: text } };
};

export const daemonCommand: Handler = async (deps, args) => {
  const logLevel = args['log-level'] as LogLevel | undefined;
  // SIGHUP: the same file, read again, with the same environment and flags.
  const reload = (): Deps => createDeps({ configPath: deps.configPath, logLevel, env: deps.env, logBackend: 'plain' });
  const r = await runDaemon({
    deps,
    reload,
    // Each cycle is a `gitopsd cycle` process of its own (./child.ts), which
    // records, publishes and runs the hooks as any cycle does; the daemon
    // keeps only the scheduler in memory (issue 19, B7).
    runCycle: async (d, o) => {
      const { runCycleInChild } = await import('./child.js');
      return runCycleInChild(d, {
        trigger: o.trigger,
        shouldStop: o.shouldStop,
        ...(logLevel === undefined ? {} : { logLevel }),
      });
    },
    runPoll: async (d) => {
      const { runPoll } = await import('./poll.js');
      return runPoll(d);
    },
  });
  const text = `daemon stopped after ${r.cycles} cycle${r.cycles === 1 ? '' : 's'}`;
  return { exitCode: 0, text, json: { ok: true, cycles: r.cycles, lastExitCode: r.lastExitCode } };
};
