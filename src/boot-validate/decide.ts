/**
 * Pure decisions of boot validation: from observations, state and config to a
 * tagged decision. No I/O here; every safety rule of the issue lives here and
 * is tested with tables in test/unit/boot-validate/.
 */
import type { Attempt, Rollback } from '../shared/boot-state.js';

/** What to do when `boot validate` starts, given the newest recorded attempt. */
export type StartPlan =
  /** A new boot: record a new attempt (closing a pending one from an earlier boot as failed). */
  | { kind: 'new' }
  /** Same boot, the earlier run died before its verdict: keep checking under the same attempt (not counted twice). */
  | { kind: 'resume'; attempt: Attempt }
  /** Same boot, verdict recorded but its actions did not all finish: finish them (each step is idempotent). */
  | { kind: 'finish'; attempt: Attempt }
  /** Same boot, everything recorded: report it, change nothing. */
  | { kind: 'done'; attempt: Attempt };

export function planStart(current: Attempt | null, obs: { booted: string; bootKey: string }): StartPlan {
  if (current === null || current.bootKey !== obs.bootKey || current.storePath !== obs.booted) return { kind: 'new' };
  if (current.verdict === 'pending') return { kind: 'resume', attempt: current };
  if (!current.actionDone) return { kind: 'finish', attempt: current };
  return { kind: 'done', attempt: current };
}

export type DegradedReason = 'golden-failed' | 'no-target' | 'reboot-bound';

export type BootDecision =
  /**
   * ok verdict; pin: what happens to the golden. refused-flaky: the path has
   * failed attempts on record and not yet `maxBootFailures` ok boots in a
   * row (okStreak counts this one).
   */
  | { kind: 'ok'; pin: 'pin' | 'keep' | 'off' | 'refused-bad' }
  | { kind: 'ok'; pin: 'refused-flaky'; failedOnRecord: number; okStreak: number; needed: number }
  /** Failed below maxBootFailures: reboot to retry. */
  | { kind: 'retry-reboot'; failures: number }
  /** Failed below maxBootFailures with onFirstFailure=wait: count it, wait for the next boot. */
  | { kind: 'wait'; failures: number }
  /**
   * maxBootFailures reached: set the target as boot default; reboot unless
   * the reboot bound is reached. beforeChecks: decided when the boot started,
   * from the attempts already on record, without running this boot's checks.
   */
  | {
      kind: 'rollback';
      failures: number;
      target: string;
      targetSource: 'golden' | 'last-ok';
      reboot: boolean;
      beforeChecks?: boolean;
    }
  /** Nothing safe to do automatically: no reboot, mark the host degraded, run the failure hook. */
  | { kind: 'degraded'; failures: number; reason: DegradedReason };

export interface VerdictInput {
  booted: string;
  healthy: boolean;
  /** Failures of the booted path recorded before this verdict (this attempt not included). */
  failuresBefore: number;
  /** Automatic reboots already requested while this path was booted. */
  rebootsBefore: number;
  maxBootFailures: number;
  onFirstFailure: 'reboot' | 'wait';
  autoPinGolden: boolean;
  /** The recorded golden, and whether its store path still exists. */
  golden: { storePath: string; present: boolean } | null;
  /** Newest other generation with an ok verdict that still exists (used when there is no usable golden). */
  lastOk: string | null;
  /** The booted path was rolled back from before: never auto-pin it. */
  bootedIsBad: boolean;
  /**
   * Failed attempts of the booted path on record since its last `boot reset`
   * (an ok verdict does not clear them), and ok verdicts in a row before
   * this one. Absent: 0 (a path with no history).
   */
  failedOnRecord?: number;
  okStreakBefore?: number;
}

/** Automatic reboots for one store path are bounded by this, whatever happens. */
export function rebootBound(maxBootFailures: number): number {
  return maxBootFailures + 1;
}

export function decideVerdict(i: VerdictInput): BootDecision {
  if (i.healthy) {
    if (!i.autoPinGolden) return { kind: 'ok', pin: 'off' };
    if (i.golden?.storePath === i.booted) return { kind: 'ok', pin: 'keep' };
    // Pin the booted path (what was actually validated), never the profile's newest.
    if (i.bootedIsBad) return { kind: 'ok', pin: 'refused-bad' };
    // One lucky boot of a path that failed before is no proof: it needs as
    // many ok boots in a row as it takes failures to roll it back.
    const failedOnRecord = i.failedOnRecord ?? 0;
    const okStreak = (i.okStreakBefore ?? 0) + 1;
    if (failedOnRecord > 0 && okStreak < i.maxBootFailures)
      return { kind: 'ok', pin: 'refused-flaky', failedOnRecord, okStreak, needed: i.maxBootFailures };
    return { kind: 'ok', pin: 'pin' };
  }
  return decideFailure(i, i.failuresBefore + 1);
}

/**
 * At the start of a boot, before any check: when the failures already on
 * record for the booted path (failed verdicts and attempts that never reached
 * one) have reached maxBootFailures, roll back now, as systemd-boot never
 * boots an entry with no tries left again (systemd.io AUTOMATIC_BOOT_ASSESSMENT).
 * Without this a system that hangs before every verdict would be retried
 * forever, and one lucky boot could validate it. Null: run the checks, also
 * when the booted path is the golden or there is nothing to roll back to
 * (a verdict is then more useful than a guess).
 */
export function decideBeforeChecks(i: Omit<VerdictInput, 'healthy'>): BootDecision | null {
  if (i.failuresBefore < i.maxBootFailures) return null;
  if (i.golden !== null && i.golden.storePath === i.booted) return null;
  // This attempt counts too: every boot of the path that is not ok is a
  // failure (the boot loader booted it once more, e.g. a rollback that never
  // reached it), so failures stay equal to the attempts of a bad path.
  const d = decideFailure(i, i.failuresBefore + 1);
  return d.kind === 'rollback' ? { ...d, beforeChecks: true } : null;
}

function decideFailure(i: Omit<VerdictInput, 'healthy'>, failures: number): BootDecision {
  const canReboot = i.rebootsBefore < rebootBound(i.maxBootFailures);
  // Loop guard 1: the golden itself fails. There is nothing better to go to,
  // and rebooting into it again would loop.
  if (i.golden !== null && i.golden.storePath === i.booted)
    return { kind: 'degraded', failures, reason: 'golden-failed' };
  if (failures < i.maxBootFailures) {
    switch (i.onFirstFailure) {
      case 'wait':
        return { kind: 'wait', failures };
      case 'reboot':
        return canReboot ? { kind: 'retry-reboot', failures } : { kind: 'degraded', failures, reason: 'reboot-bound' };
    }
  }
  // Loop guard 2: no usable golden, fall back to the newest ok generation; none, degraded.
  const usableGolden = i.golden !== null && i.golden.present ? i.golden.storePath : null;
  if (usableGolden !== null) {
    return { kind: 'rollback', failures, target: usableGolden, targetSource: 'golden', reboot: canReboot };
  }
  if (i.lastOk !== null && i.lastOk !== i.booted) {
    return { kind: 'rollback', failures, target: i.lastOk, targetSource: 'last-ok', reboot: canReboot };
  }
  return { kind: 'degraded', failures, reason: 'no-target' };
}

export interface WithdrawalInput {
  /** This boot's decision. */
  decision: BootDecision;
  booted: string;
  /** boot.lastRollback as recorded before this verdict. */
  lastRollback: Pick<Rollback, 'from' | 'to' | 'source' | 'status' | 'commit'> | null;
  /**
   * Names of the checks that failed on the newest failed attempt of
   * lastRollback.from; empty when that attempt has none (it never reached a
   * verdict, or the rollback was decided before its checks ran).
   */
  failedOnRolledBack: readonly string[];
  /** Names of the checks that fail on this boot. */
  failingNow: readonly string[];
  /** Reason of the mark on lastRollback.commit in deployments.badCommits; null: no mark. */
  markReason: string | null;
  /** Whether boot.badPaths holds lastRollback.from. */
  badPath: boolean;
}

export type MarkWithdrawal =
  | { kind: 'keep'; why: string }
  /**
   * Take back what the rollback recorded against the system it left: the
   * commit's boot-rollback mark (when `mark`), its boot.badPaths entry, and
   * the failure and reboot counts of that path (else a redeploy of the same
   * path would be rolled back again at its first boot, before any check:
   * decideBeforeChecks). Its failed attempts stay on record (auto-pin needs
   * an ok streak, as for any path that failed).
   */
  | { kind: 'withdraw'; from: string; commit: string | null; mark: boolean; checks: string[] };

/**
 * Whether the golden's failure shows that the last automatic rollback blamed
 * the environment's failure on a commit (docs/golden-and-boot.md "What gets
 * blamed"). The rollback marked the commit one boot earlier, when only the
 * new system had failed; now the golden, the system known to be good, fails
 * every check that failed there too, so those failures were not the
 * commit's. Anything less stays blamed: a failed check the golden passes is
 * the commit's own, and a rolled-back system with no failed check on record
 * (a hang, or no tries left) gives nothing to compare.
 */
export function decideMarkWithdrawal(i: WithdrawalInput): MarkWithdrawal {
  if (i.decision.kind !== 'degraded' || i.decision.reason !== 'golden-failed')
    return { kind: 'keep', why: 'not a failed boot of the golden' };
  const r = i.lastRollback;
  if (r === null || r.source !== 'auto') return { kind: 'keep', why: 'no automatic rollback on record' };
  if (r.to !== i.booted || r.from === i.booted || r.status !== 'done')
    return { kind: 'keep', why: 'the last rollback did not bring this system up' };
  if (i.failedOnRolledBack.length === 0)
    return { kind: 'keep', why: 'no failed check on record for the rolled-back system' };
  const now = new Set(i.failingNow);
  if (!i.failedOnRolledBack.every((c) => now.has(c)))
    return { kind: 'keep', why: 'a check that failed on the rolled-back system passes on the golden' };
  if (i.markReason !== null && i.markReason !== 'boot-rollback')
    return { kind: 'keep', why: `the commit is marked for another reason (${i.markReason})` };
  const mark = r.commit !== null && i.markReason === 'boot-rollback';
  if (!mark && !i.badPath) return { kind: 'keep', why: 'nothing left to withdraw' };
  return { kind: 'withdraw', from: r.from, commit: r.commit, mark, checks: [...i.failedOnRolledBack] };
}

/** Exit code of a verdict: 0 only for ok. */
export function exitCodeFor(d: BootDecision): 0 | 5 {
  return d.kind === 'ok' ? 0 : 5;
}

/**
 * Newest generation (highest number) with an ok verdict, other than the
 * booted path, whose store path still exists. When no profile link is left,
 * the most recently ok path still on disk.
 */
export function chooseLastOk(input: {
  booted: string;
  generations: ReadonlyArray<{ number: number; storePath: string }>;
  okPaths: ReadonlyArray<{ storePath: string; lastOkAt: string }>;
  exists: (p: string) => boolean;
  bad: (p: string) => boolean;
}): string | null {
  const ok = new Set(input.okPaths.map((p) => p.storePath));
  const usable = (p: string): boolean => p !== input.booted && ok.has(p) && !input.bad(p) && input.exists(p);
  const gens = [...input.generations].sort((a, b) => b.number - a.number);
  for (const g of gens) if (usable(g.storePath)) return g.storePath;
  const byTime = [...input.okPaths].sort((a, b) => b.lastOkAt.localeCompare(a.lastOkAt));
  for (const p of byTime) if (usable(p.storePath)) return p.storePath;
  return null;
}

export function describeDecision(d: BootDecision, booted: string): string {
  switch (d.kind) {
    case 'ok':
      if (d.pin === 'refused-flaky')
        return `boot of ${booted} validated; not pinned as golden: ${d.failedOnRecord} failed attempt(s) on record, ${d.okStreak} of ${d.needed} ok boots in a row`;
      return `boot of ${booted} validated`;
    case 'retry-reboot':
      return `boot of ${booted} failed (${d.failures} failure(s)); rebooting to retry`;
    case 'wait':
      return `boot of ${booted} failed (${d.failures} failure(s)); waiting for the next boot (onFirstFailure: wait)`;
    case 'rollback':
      if (d.beforeChecks === true)
        return d.reboot
          ? `${booted} already failed ${d.failures - 1} boot attempt(s) (maxBootFailures reached; attempts without a verdict count); rolling back to ${d.targetSource === 'golden' ? 'the golden' : 'the newest ok generation'} ${d.target} before running its checks, and rebooting`
          : `${booted} already failed ${d.failures - 1} boot attempt(s); boot default set to ${d.target} without running its checks, but the automatic reboot limit for this system is reached: reboot by hand`;
      return d.reboot
        ? `boot of ${booted} failed ${d.failures} time(s); rolling back to ${d.targetSource === 'golden' ? 'the golden' : 'the newest ok generation'} ${d.target} and rebooting`
        : `boot of ${booted} failed ${d.failures} time(s); boot default set to ${d.target}, but the automatic reboot limit for this system is reached: reboot by hand`;
    case 'degraded':
      switch (d.reason) {
        case 'golden-failed':
          return `the golden system ${booted} itself failed validation; not rolling back or rebooting (nothing better to go to): host degraded, fix it by hand`;
        case 'no-target':
          return `boot of ${booted} failed ${d.failures} time(s) and there is no golden and no other generation with an ok verdict; not rebooting: host degraded, fix it by hand`;
        case 'reboot-bound':
          return `boot of ${booted} failed; the automatic reboot limit for this system is reached, not rebooting: host degraded, fix it by hand (then gitopsd boot reset)`;
      }
  }
}

/** The run result name (GITOPSD_RESULT for hooks, the run record). */
export function resultName(d: BootDecision | null): string {
  if (d === null) return 'unknown';
  switch (d.kind) {
    case 'ok':
      return 'ok';
    case 'retry-reboot':
      return 'boot-failed-reboot';
    case 'wait':
      return 'boot-failed-wait';
    case 'rollback':
      return d.reboot ? 'rollback' : 'rollback-no-reboot';
    case 'degraded':
      return `degraded-${d.reason}`;
  }
}
