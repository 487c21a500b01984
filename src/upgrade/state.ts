/**
 * Upgrade's own part of the state document (key "upgrade"): the last run's
 * record, the activation in flight, and the remote base of a deployed commit
 * that carries our own commits. The deployed commit and the known-bad commits live in the shared
 * "deployments" section (src/core/deployments.ts).
 */
import * as z from '../core/zod.js';
import type { StateStore, StateDoc } from '../core/state.js';
import { DeploymentsSection } from '../core/deployments.js';
import { PARSE_ONCE } from '../core/parse-once.js';

export const UPGRADE_KEY = 'upgrade';

export const UpgradeResult = z.enum([
  'deployed',
  'no-op',
  'build-failed',
  'refused',
  /** The tip is a known-bad commit: not rebuilt, exit 3 (`gitopsd bad list`). */
  'skipped-bad',
  'reverted',
  'reboot-pending',
  /** Waiting at the rollout gate (docs/rollout.md): nothing built. */
  'gated',
  /** The commit is halted fleet-wide by the rollout gate: nothing built. */
  'halted',
  /** A failure that was not the commit's (src/failure/classify.ts): exit 75, retried, nothing marked. */
  'retry-later',
]);
export type UpgradeResult = z.infer<typeof UpgradeResult>;

export const StepDurations = z.looseObject({
  preflightMs: z.optional(z.number()),
  fetchMs: z.optional(z.number()),
  buildMs: z.optional(z.number()),
  activateMs: z.optional(z.number()),
  validateMs: z.optional(z.number()),
  pushMs: z.optional(z.number()),
});
export type StepDurations = z.infer<typeof StepDurations>;

export const LastRun = z.looseObject({
  commit: z.nullable(z.string()),
  result: UpgradeResult,
  at: z.string(),
  exitCode: z.number().check(z.int()),
  message: z.string(),
  generation: z._default(z.nullable(z.number().check(z.int())), null),
  storePath: z._default(z.nullable(z.string()), null),
  durationMs: z.number(),
  steps: z._default(StepDurations, {}),
});
export type LastRun = z.infer<typeof LastRun>;

/**
 * An activation in flight, written before the first step that changes the
 * system and cleared in the same write that records its outcome. If a run
 * finds one, the previous run died mid-activation: the next run restores
 * `previous` before doing anything else (src/upgrade/index.ts, recover).
 */
export const PendingActivation = z.looseObject({
  commit: z.string(),
  storePath: z.string(),
  previous: z.nullable(z.string()),
  operation: z.enum(['switch', 'boot']),
  phase: z.enum(['activate', 'revert']),
  at: z.string(),
  /** Where the checkout goes back to if this activation is undone. */
  restoreHead: z._default(z.nullable(z.string()), null),
  /** The system that ran when the activation began (a revert puts it back live when `previous` cannot be: restoreSteps); absent before review 22. */
  running: z._default(z.nullable(z.string()), null),
});
export type PendingActivation = z.infer<typeof PendingActivation>;

/**
 * The deployed commit carries our own commits (local changes, flake.lock) on
 * top of the remote commit `base`. The force-push check compares the remote
 * with `base`, because `commit` itself may never reach the remote as such
 * (a push that had to rebase publishes a different commit).
 */
export const DeployedBase = z.looseObject({ commit: z.string(), base: z.string() });
export type DeployedBase = z.infer<typeof DeployedBase>;

/**
 * A build (or activation) of a commit that failed for a reason that was not
 * the commit's: environmental or unknown (src/failure/classify.ts). It marks
 * nothing; it only spaces out the retries of the same attempt (same commit,
 * flakeHost and flake.lock blob) by retryDelayMs, so a failure that costs a
 * build is not repeated every run. Cleared when the attempt deploys, when a
 * person runs `gitopsd bad forget <commit>`, or replaced by a newer attempt.
 */
export const RetryRecord = z.looseObject({
  commit: z.string(),
  flakeHost: z.string(),
  lockBlob: z.nullable(z.string()),
  stage: z.enum(['fetch', 'build', 'activation', 'post-switch', 'boot']),
  class: z.enum(['environmental', 'unknown']),
  cause: z.string(),
  /** Identical failures of this attempt so far. */
  failures: z.number().check(z.int(), z.gte(1)),
  firstAt: z.string(),
  lastAt: z.string(),
  /** Not before this time (ISO) does upgrade build this attempt again. */
  notBefore: z.string(),
  summary: z.string(),
  /** The whole meaningful error (src/failure/classify.ts meaningfulError). */
  evidence: z.string(),
});
export type RetryRecord = z.infer<typeof RetryRecord>;

/** Retry records kept (newest last); older attempts are dropped. */
export const RETRY_LIMIT = 20;

export const UpgradeSection = z.looseObject({
  lastRun: z._default(z.nullable(LastRun), null),
  pending: z._default(z.nullable(PendingActivation), null),
  deployedBase: z._default(z.nullable(DeployedBase), null),
  /** Added by issue #13; absent in older state (reads as none). */
  retries: z._default(z.array(RetryRecord), []),
});
export type UpgradeSection = z.infer<typeof UpgradeSection>;

export function readUpgrade(state: StateStore): UpgradeSection {
  return UpgradeSection.parse(state.section(UPGRADE_KEY) ?? {}, PARSE_ONCE);
}

export function updateUpgrade(state: StateStore, fn: (u: UpgradeSection) => UpgradeSection): UpgradeSection {
  return state.updateSection(UPGRADE_KEY, (cur) => fn(UpgradeSection.parse(cur ?? {}, PARSE_ONCE)));
}

/**
 * Change the deployment record and upgrade's section in ONE atomic write, so
 * a crash never leaves "deployed" without "pending cleared" or the reverse.
 */
export function updateBoth(
  state: StateStore,
  fn: (d: DeploymentsSection, u: UpgradeSection) => { deployments: DeploymentsSection; upgrade: UpgradeSection },
): void {
  state.update((doc: StateDoc) => {
    const next = fn(
      DeploymentsSection.parse(doc['deployments'] ?? {}, PARSE_ONCE),
      UpgradeSection.parse(doc[UPGRADE_KEY] ?? {}, PARSE_ONCE),
    );
    return { ...doc, deployments: next.deployments, [UPGRADE_KEY]: next.upgrade };
  });
}
