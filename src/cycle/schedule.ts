/**
 * When the daemon runs the cycle: the pure decision of the next run, from the
 * slots of `schedule.cron` (src/shared/cron-schedule.ts, which reads the
 * expression with node-cron).
 */
import type { Schedule } from '../shared/cron-schedule.js';

export type RunTrigger = 'schedule' | 'catch-up';

/** The daemon's next run: which slot it serves and when it starts. */
export type NextRun = {
  trigger: RunTrigger;
  /** The scheduled slot (for catch-up: the missed one). */
  slot: Date;
  /** slot (or now, for catch-up) + the random delay. */
  at: Date;
  delayMs: number;
};

export interface PlanInput {
  now: Date;
  schedule: Pick<Schedule, 'nextSlotAfter'>;
  /** When a cycle last started (state `cycle.lastStartedAt`); null: never. */
  lastRunAt: Date | null;
  persistent: boolean;
  randomizedDelaySec: number;
  /** A number in [0, 1), from Math.random in production. */
  random: number;
  /** Only when (re)starting: a missed slot may be caught up. */
  startingUp: boolean;
}

/**
 * Decide the next run. Pure.
 *
 * - Catch-up (like systemd's Persistent=true): at start-up, if a slot fell
 *   between the last run and now, run once soon: now + the random delay.
 *   Several missed slots give one run, not many. With no recorded run at
 *   all there is nothing to catch up (as systemd, with no stamp file): the
 *   first run is the next slot.
 * - Otherwise: the next slot after now, plus a random delay in
 *   [0, randomizedDelaySec) seconds (whole milliseconds).
 */
export function planNextRun(input: PlanInput): NextRun {
  const delayMs = Math.floor(clamp01(input.random) * input.randomizedDelaySec * 1000);
  if (input.startingUp && input.persistent && input.lastRunAt !== null) {
    const missed = input.schedule.nextSlotAfter(input.lastRunAt);
    if (missed.getTime() <= input.now.getTime()) {
      return { trigger: 'catch-up', slot: missed, at: new Date(input.now.getTime() + delayMs), delayMs };
    }
  }
  const slot = input.schedule.nextSlotAfter(input.now);
  return { trigger: 'schedule', slot, at: new Date(slot.getTime() + delayMs), delayMs };
}

function clamp01(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 1 - Number.EPSILON : x;
}
