/**
 * `gitopsd daemon`: run the cycle on `schedule.cron` until stopped.
 *
 * Contract
 * - Inputs: the initial Deps, `reload` (re-reads the config file into new
 *   Deps, or throws), `runCycle` (the cycle, src/cycle/index.ts), and for
 *   tests: timers, signal source, random source and an event observer. The
 *   clock is the initial Deps' clock, kept across reloads.
 * - One instance: the daemon holds `<stateDir>/daemon.lock` for its whole
 *   life; a second daemon gets LockHeldError (exit 75) before doing anything.
 * - Schedule: the next slot of `schedule.cron` (src/shared/cron-schedule.ts) plus
 *   a random delay in [0, randomizedDelaySec). Persistent catch-up at start:
 *   when a slot passed since the last cycle started (state
 *   `cycle.lastStartedAt`), one cycle runs at start + the random delay.
 *   Timers are armed in chunks of at most 6 hours and the clock is read again
 *   on each wake-up, so a suspended host or a clock jump cannot make a run
 *   early, and a long delay cannot overflow setTimeout.
 * - Poll (daemon.pollIntervalSec > 0, docs/nixos.md "Poll mode"): every
 *   interval after start, and after the end of the previous poll or cycle,
 *   one poll (src/cycle/poll.ts): one `git fetch`, and the upgrade only when
 *   the branch has a new tip. Polls and cycles never overlap: a poll that
 *   falls during a cycle is skipped (the cycle fetches anyway), and a cycle
 *   slot that falls during a poll starts when the poll ends. A poll has no
 *   random delay: the interval is the bound on how late a push is deployed.
 *   A poll that throws (offline, lock held) is logged; the next one retries.
 * - SIGTERM / SIGINT: when idle, stop now. During a cycle, the running step
 *   is never interrupted (an activation must finish or be undone by its own
 *   code); the steps after it do not start (`shouldStop`), then the daemon
 *   stops. A second signal only logs.
 * - SIGHUP: re-read the config. A config that does not load, or that moves
 *   `stateDir` (the lock and state live there), is refused with an error log
 *   and the old one stays in force. During a cycle the reload waits for the
 *   cycle to end. After a reload the next run is planned again.
 * - A cycle that throws (e.g. the host lock is held by a manual upgrade) is
 *   logged and the daemon goes on to the next slot.
 * - Ending: the returned promise resolves after the stop; by then the timer
 *   is cleared, the signal handlers are removed and the lock is released, so
 *   the process ends by itself when the event loop drains (no process.exit).
 * - Crash (kill -9): the daemon lock is taken over by the next daemon (dead
 *   PID); the cycle's own crash story is in src/cycle/index.ts.
 */
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { GitopsdError } from '../core/errors.js';
import { messageFor } from '../core/exit.js';
import { lastCycleStart, type CycleResult } from './index.js';
import { createSchedule, type Schedule } from '../shared/cron-schedule.js';
import { planNextRun, type NextRun, type RunTrigger } from './schedule.js';
import type { PollResult } from './poll.js';

export type DaemonSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

export interface SignalSource {
  on(signal: DaemonSignal, handler: () => void): void;
  off(signal: DaemonSignal, handler: () => void): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type DaemonEvent =
  | { type: 'started'; lockPath: string }
  | { type: 'planned'; next: NextRun }
  | { type: 'cycle-started'; trigger: RunTrigger }
  | { type: 'cycle-finished'; trigger: RunTrigger; exitCode: number | null; error?: string }
  | { type: 'poll-started' }
  | { type: 'poll-finished'; decision: 'run' | 'idle' | 'error'; exitCode: number | null; message: string }
  | { type: 'reloaded'; configPath: string }
  | { type: 'reload-refused'; reason: string }
  | { type: 'stopping'; during: 'idle' | 'cycle' }
  | { type: 'stopped'; cycles: number };

export interface CycleRunner {
  (deps: Deps, opts: { trigger: RunTrigger; shouldStop: () => boolean }): Promise<CycleResult>;
}

export interface PollRunner {
  (deps: Deps): Promise<PollResult>;
}

export interface DaemonOptions {
  deps: Deps;
  reload: () => Deps;
  runCycle: CycleRunner;
  /** One poll (src/cycle/poll.ts runPoll); used when daemon.pollIntervalSec > 0. */
  runPoll?: PollRunner;
  timers?: Timers;
  signals?: SignalSource;
  random?: () => number;
  observe?: (e: DaemonEvent) => void;
}

export interface DaemonSummary {
  cycles: number;
  lastExitCode: number | null;
}

/** Longest single timer; the daemon re-reads the clock at each wake-up. */
export const MAX_TIMER_MS = 6 * 3600 * 1000;

export function daemonLockPath(deps: Pick<Deps, 'paths'>): string {
  return join(deps.paths.stateDir, 'daemon.lock');
}

const processSignals: SignalSource = {
  on: (s, h) => {
    process.on(s, h);
  },
  off: (s, h) => {
    process.off(s, h);
  },
};

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export function runDaemon(opts: DaemonOptions): Promise<DaemonSummary> {
  const timers = opts.timers ?? realTimers;
  const signals = opts.signals ?? processSignals;
  const random = opts.random ?? Math.random;
  const observe = opts.observe ?? (() => undefined);
  const clock = opts.deps.clock;

  let deps = opts.deps;
  let log = deps.log.child({ module: 'daemon' });
  // Before anything else: a second daemon must change nothing.
  const lock = deps.lockAt(daemonLockPath(deps), 'daemon');

  let schedule: Schedule;
  try {
    schedule = createSchedule(deps.config.schedule.cron);
  } catch (err) {
    lock.release();
    throw new GitopsdError(
      'config',
      `schedule.cron "${deps.config.schedule.cron}" cannot be scheduled: ${messageFor(err)}`,
    );
  }

  return new Promise<DaemonSummary>((resolve, reject) => {
    let timer: unknown = undefined;
    let pollTimer: unknown = undefined;
    /** A cycle slot came while a poll ran: start the cycle when the poll ends. */
    let cycleDue = false;
    let next: NextRun | null = null;
    let running = false;
    let stopRequested = false;
    let reloadRequested = false;
    let finished = false;
    let cycles = 0;
    let lastExitCode: number | null = null;

    const clearTimer = (): void => {
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    };

    const clearPollTimer = (): void => {
      if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
      pollTimer = undefined;
    };

    /** Arm the next poll one interval from now (or clear it: polling off, no poll runner, stopping). */
    const armPoll = (): void => {
      clearPollTimer();
      const sec = deps.config.daemon.pollIntervalSec;
      if (sec <= 0 || opts.runPoll === undefined || stopRequested) return;
      pollTimer = timers.setTimeout(onPollTimer, sec * 1000);
    };

    const arm = (): void => {
      clearTimer();
      if (next === null || stopRequested) return;
      const wait = Math.max(0, Math.min(next.at.getTime() - clock.now().getTime(), MAX_TIMER_MS));
      timer = timers.setTimeout(onTimer, wait);
    };

    const plan = (startingUp: boolean): void => {
      next = planNextRun({
        now: clock.now(),
        schedule,
        // Only a start-up can catch up, so only then is the state read.
        lastRunAt: startingUp && deps.config.schedule.persistent ? lastCycleStart(deps) : null,
        persistent: deps.config.schedule.persistent,
        randomizedDelaySec: deps.config.schedule.randomizedDelaySec,
        random: random(),
        startingUp,
      });
      log.info('next cycle planned', {
        trigger: next.trigger,
        slot: next.slot.toISOString(),
        at: next.at.toISOString(),
        randomDelaySec: Math.round(next.delayMs / 1000),
        cron: schedule.expression,
      });
      observe({ type: 'planned', next });
      arm();
    };

    const cleanUp = (): void => {
      finished = true;
      clearTimer();
      clearPollTimer();
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) signals.off(s, handlers[s]);
      schedule.dispose();
      lock.release();
    };

    const finish = (): void => {
      if (finished) return;
      cleanUp();
      log.info('daemon stopped', { cycles });
      observe({ type: 'stopped', cycles });
      resolve({ cycles, lastExitCode });
    };

    const applyReload = (): void => {
      reloadRequested = false;
      let fresh: Deps;
      try {
        fresh = opts.reload();
      } catch (err) {
        refuseReload(messageFor(err));
        return;
      }
      if (fresh.paths.stateDir !== deps.paths.stateDir) {
        refuseReload(
          `stateDir changed from ${deps.paths.stateDir} to ${fresh.paths.stateDir}; the daemon's lock and state live there, so restart the daemon instead`,
        );
        return;
      }
      let nextSchedule: Schedule | undefined;
      try {
        nextSchedule = createSchedule(fresh.config.schedule.cron);
        nextSchedule.nextSlotAfter(clock.now()); // a cron with no future run is refused too
      } catch (err) {
        nextSchedule?.dispose();
        refuseReload(`schedule.cron "${fresh.config.schedule.cron}" cannot be scheduled: ${messageFor(err)}`);
        return;
      }
      schedule.dispose();
      schedule = nextSchedule;
      // The clock is the daemon's, not the new Deps': a reload must not move time.
      deps = { ...fresh, clock };
      log = deps.log.child({ module: 'daemon' });
      log.info('config reloaded', {
        config: deps.configPath,
        cron: schedule.expression,
        pollIntervalSec: deps.config.daemon.pollIntervalSec,
      });
      observe({ type: 'reloaded', configPath: deps.configPath });
      plan(false);
      armPoll();
    };

    const refuseReload = (reason: string): void => {
      log.error('config reload refused; keeping the old config', { reason });
      observe({ type: 'reload-refused', reason });
    };

    const startCycle = async (trigger: RunTrigger): Promise<void> => {
      running = true;
      next = null;
      observe({ type: 'cycle-started', trigger });
      log.info('cycle starting', { trigger });
      let exitCode: number | null = null;
      try {
        const r = await opts.runCycle(deps, { trigger, shouldStop: () => stopRequested });
        exitCode = r.exitCode;
        lastExitCode = r.exitCode;
        for (const s of r.steps)
          log.info('cycle step', { step: s.step, status: s.status, exitCode: s.exitCode, summary: s.summary });
        observe({ type: 'cycle-finished', trigger, exitCode });
      } catch (err) {
        // The daemon outlives a failed cycle; the next slot tries again.
        const message = messageFor(err);
        log.error('cycle failed', { trigger, err, message });
        observe({ type: 'cycle-finished', trigger, exitCode: null, error: message });
      }
      cycles += 1;
      running = false;
      if (stopRequested) {
        finish();
        return;
      }
      if (reloadRequested) applyReload();
      else plan(false);
      // A poll right after a cycle would find nothing: count the interval from here.
      armPoll();
    };

    const startPoll = async (runPoll: PollRunner): Promise<void> => {
      running = true;
      observe({ type: 'poll-started' });
      try {
        const p = await runPoll(deps);
        if (p.upgrade !== null) lastExitCode = p.exitCode;
        log.info('poll finished', { decision: p.decision.kind, exitCode: p.exitCode, line: p.message });
        observe({ type: 'poll-finished', decision: p.decision.kind, exitCode: p.exitCode, message: p.message });
      } catch (err) {
        const message = messageFor(err);
        log.warn('poll failed; the next poll retries', { err, line: message });
        observe({ type: 'poll-finished', decision: 'error', exitCode: null, message });
      }
      running = false;
      if (stopRequested) {
        finish();
        return;
      }
      if (reloadRequested) applyReload();
      if (cycleDue) {
        cycleDue = false;
        if (next !== null && clock.now().getTime() >= next.at.getTime()) {
          void startCycle(next.trigger);
          return;
        }
        arm(); // an early wake-up (a chunk of a long wait) came during the poll
      }
      armPoll();
    };

    function onPollTimer(): void {
      pollTimer = undefined;
      if (stopRequested) return;
      // During a cycle: skip this poll (the cycle fetches); startCycle re-arms.
      if (running || opts.runPoll === undefined) return;
      void startPoll(opts.runPoll);
    }

    function onTimer(): void {
      timer = undefined;
      if (next === null || stopRequested) return;
      if (running) {
        // A poll is running (a cycle never arms this timer): start when it ends.
        cycleDue = true;
        return;
      }
      // Woken early (a chunk of a long wait, or the clock moved back): wait again.
      if (clock.now().getTime() < next.at.getTime()) {
        arm();
        return;
      }
      void startCycle(next.trigger);
    }

    const onStop = (signal: DaemonSignal): void => {
      if (stopRequested) {
        log.warn('already stopping; waiting for the running step to finish', { signal });
        return;
      }
      stopRequested = true;
      clearTimer();
      clearPollTimer();
      log.info('stop requested', { signal, during: running ? 'cycle' : 'idle' });
      observe({ type: 'stopping', during: running ? 'cycle' : 'idle' });
      if (!running) finish();
      // Else startCycle finishes when the cycle returns.
    };

    const handlers: Record<DaemonSignal, () => void> = {
      SIGTERM: () => onStop('SIGTERM'),
      SIGINT: () => onStop('SIGINT'),
      SIGHUP: () => {
        if (stopRequested) return;
        log.info('reload requested', { signal: 'SIGHUP', during: running ? 'cycle' : 'idle' });
        if (running) reloadRequested = true;
        else applyReload();
      },
    };
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) signals.on(s, handlers[s]);

    log.info('daemon started', {
      lock: lock.path,
      cron: schedule.expression,
      pollIntervalSec: deps.config.daemon.pollIntervalSec,
      pid: process.pid,
    });
    observe({ type: 'started', lockPath: lock.path });
    try {
      plan(true);
      armPoll();
    } catch (err) {
      // E.g. a corrupt state file (moved aside by the state store): fail
      // loudly so the service manager restarts us on a clean state.
      log.error('cannot plan the first cycle', { err });
      cleanUp();
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
