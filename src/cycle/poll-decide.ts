/**
 * Whether a poll runs the upgrade: the pure decision of `gitopsd poll` and
 * of each poll of `gitopsd daemon` (src/cycle/poll.ts does the effects).
 *
 * The facts come from one `git fetch --porcelain` (the refs it changed) and
 * the state section "poll"; nothing else is read, so a poll that finds
 * nothing costs that one git process.
 */
import * as z from '../core/zod.js';
import type { FetchedRef } from '../upgrade/git.js';

/**
 * The shortest wait before a poll runs an upgrade again for a tip it already
 * ran for, when that run asked to be retried (gated at a wave, offline,
 * busy): a wave's soak is minutes to hours, so asking the fleet's statuses
 * every minute would only add load on the status remote.
 */
export const POLL_RETRY_MIN_SEC = 300;

/** State section "poll" (src/core/state.ts; written only when a poll ran an upgrade). */
export const POLL_KEY = 'poll';
export const PollSection = z.looseObject({
  /** The tip the last poll-run upgrade was for (null: the checkout did not exist). */
  lastTip: z._default(z.nullable(z.string()), null),
  lastRunAt: z._default(z.nullable(z.string()), null),
  /** The upgrade's result word (deployed, no-op, gated, retry-later, ...) or "error". */
  lastResult: z._default(z.nullable(z.string()), null),
  /** Run again, for the same tip, at the first poll at or after this time; null: no retry. */
  retryAt: z._default(z.nullable(z.string()), null),
});
export type PollSection = z.infer<typeof PollSection>;

export const EMPTY_POLL: PollSection = { lastTip: null, lastRunAt: null, lastResult: null, retryAt: null };

export type PollReason = 'new-tip' | 'no-checkout' | 'trigger' | 'retry';

export type PollDecision =
  { kind: 'run'; reason: PollReason; tip: string | null; line: string } | { kind: 'idle'; line: string };

export interface PollInput {
  /** The refs the poll's fetch changed (git fetch --porcelain); empty when it did not fetch. */
  fetched: readonly FetchedRef[];
  /** The branch's remote-tracking ref, e.g. refs/remotes/origin/main. */
  trackingRef: string;
  /** nixConfig.path does not exist: the upgrade clones it (no fetch was made). */
  checkoutMissing: boolean;
  state: PollSection;
  now: Date;
  /**
   * A fleet trigger this poll accepted (src/fleet/trigger/decide.ts
   * decideTrigger), by its one-line description, with the branch's tip as
   * the checkout's tracking ref has it; null: none, or ignored.
   */
  trigger?: { line: string; tip: string | null } | null;
}

/**
 * Decide one poll. Pure.
 *
 * - No checkout yet: run (the upgrade clones it).
 * - The fetch moved the tracking ref (fast-forward, forced or new): run for
 *   the new tip. A forced update runs too: the upgrade's own rules
 *   (nixConfig.allowForcePush, signatures, known-bad marks, the rollout
 *   gate) decide what happens to it, never the poll.
 * - A fleet trigger was accepted (signed, unexpired, new): run now, even
 *   for the tip already run or a retry not yet due. It changes only when
 *   the upgrade runs: the upgrade's rules decide what it deploys.
 * - The tracking ref did not move, and the last poll-run asked for a retry
 *   that is due: run again.
 * - Otherwise idle: nothing is written, nothing else is run.
 */
export function decidePoll(input: PollInput): PollDecision {
  if (input.checkoutMissing) {
    return { kind: 'run', reason: 'no-checkout', tip: null, line: 'no nix-config checkout yet: upgrading (it clones)' };
  }
  const moved = input.fetched.find((f) => f.ref === input.trackingRef && f.flag !== '!' && f.flag !== '=');
  if (moved !== undefined) {
    return {
      kind: 'run',
      reason: 'new-tip',
      tip: moved.new,
      line: `new tip ${moved.new.slice(0, 12)} (was ${moved.old.slice(0, 12)}): upgrading`,
    };
  }
  const trigger = input.trigger ?? null;
  if (trigger !== null) {
    return { kind: 'run', reason: 'trigger', tip: trigger.tip, line: `${trigger.line}: upgrading now` };
  }
  const retryAt = parseDate(input.state.retryAt);
  if (retryAt !== null && retryAt.getTime() <= input.now.getTime()) {
    return {
      kind: 'run',
      reason: 'retry',
      tip: input.state.lastTip,
      line: `no new tip; retrying the last upgrade (${input.state.lastResult ?? 'unknown'}), due since ${retryAt.toISOString()}`,
    };
  }
  return {
    kind: 'idle',
    line:
      retryAt === null
        ? 'no new tip'
        : `no new tip; the last upgrade (${input.state.lastResult ?? 'unknown'}) is retried at ${retryAt.toISOString()}`,
  };
}

/** Upgrade results after which a poll asks again for the same tip: the run did not settle it. */
const RETRY_RESULTS: ReadonlySet<string> = new Set(['gated', 'retry-later', 'error', 'waiting-turn']);

/**
 * The section after a poll ran the upgrade: a result that did not settle the
 * tip (gated at a wave, a reboot waiting for its turn, retry-later, an error
 * such as a held lock) is
 * retried after max(pollIntervalSec, POLL_RETRY_MIN_SEC). Pure.
 */
export function afterPollRun(input: {
  tip: string | null;
  result: string;
  exitCode: number;
  now: Date;
  pollIntervalSec: number;
}): PollSection {
  const retry = RETRY_RESULTS.has(input.result) || input.exitCode === 75;
  const waitSec = Math.max(input.pollIntervalSec, POLL_RETRY_MIN_SEC);
  return {
    lastTip: input.tip,
    lastRunAt: input.now.toISOString(),
    lastResult: input.result,
    retryAt: retry ? new Date(input.now.getTime() + waitSec * 1000).toISOString() : null,
  };
}

function parseDate(s: string | null): Date | null {
  if (s === null) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}
