/**
 * Boot validation: `gitopsd boot validate`, run once per boot by a systemd
 * unit ordered before boot-complete.target (Requires semantics, nix/ module).
 *
 * Inputs: paths.bootedSystem (what was booted), paths.systemProfile (its
 * generations), config.validation (services, checks, timeoutSec,
 * maxBootFailures, autoPinGolden, onFirstFailure), the state sections "boot", "golden" and "deployments".
 *
 * Steps, and the durable trace each leaves (every state change is one atomic
 * write of the whole document, src/core/state.ts):
 *  1. observe: read the booted store path and the boot's identity.
 *  2. record the attempt (pending) BEFORE checking anything. The same write
 *     closes a still-pending attempt of an earlier boot as failed and counts
 *     it: that boot hung, crashed, lost power or was killed.
 *  3. repair the golden GC root if it does not match the state.
 *  3b. when the booted path's failures on record (failed verdicts and
 *     attempts that never reached one) already reached maxBootFailures, and
 *     there is a golden or an ok generation to go to: decide the rollback
 *     now, without running the checks (no tries left, as systemd-boot's boot
 *     counting), and go on at step 5 with that decision.
 *  4. wait for the units and checks (src/health/checks.ts).
 *  5. decide (src/boot-validate/decide.ts) and record the verdict in ONE
 *     write: counters, degraded flag, the auto-pinned golden, and for a
 *     rollback the "started" rollback and the bad commit; for a failed boot
 *     of the golden that fails every check the last automatically
 *     rolled-back system failed, the withdrawal of that rollback's mark
 *     (decideMarkWithdrawal: the failures were the environment's).
 *  6. act: pin root / rollback steps / `systemctl reboot`. (The onFailure
 *     hook runs afterwards, from the CLI's after-run step, for every exit 5.)
 *  7. record the actions as done.
 *
 * Crash (kill -9) at each boundary, and what the next run does:
 *  - before 2: nothing recorded; this boot is not counted (as a boot that
 *    dies before userspace: only boot-loader counting sees those).
 *  - after 2, before 5: the attempt is pending. In the same boot a re-run
 *    resumes it without counting again; at the next boot it is closed as
 *    failed and counted once.
 *  - after 5, before 7: the verdict and counters are final (never counted
 *    again). A re-run in the same boot finishes the actions; each is
 *    idempotent (`nix-env --set` is skipped when the profile already points
 *    at the target, switch-to-configuration boot is idempotent, the reboot
 *    counter was already raised in step 5, so a repeated reboot request is
 *    not counted twice). At the next boot a new attempt starts; if the
 *    rollback never reached the boot loader, the old system boots again,
 *    fails again and the rollback is decided again.
 *  - reboots for one store path are bounded by maxBootFailures + 1 (counted
 *    in step 5, before the request), so no crash pattern loops forever.
 *
 * Exit: 0 for an ok verdict, 5 (boot-failed) otherwise.
 */
import { existsSync } from 'node:fs';
import type { Deps } from '../core/deps.js';
import { withHostLock } from '../core/deps.js';
import { GitopsdError, LockHeldError } from '../core/errors.js';
import { DeploymentsSection, withoutBadCommit } from '../core/deployments.js';
import type { StateDoc } from '../core/state.js';
import { waitForHealthy, type CheckResult, type ChecksOutcome } from '../health/checks.js';
import {
  chooseLastOk,
  decideBeforeChecks,
  decideMarkWithdrawal,
  decideVerdict,
  describeDecision,
  exitCodeFor,
  planStart,
  type BootDecision,
  type MarkWithdrawal,
  type StartPlan,
  type VerdictInput,
} from './decide.js';
import {
  BOOT_KEY,
  Attempt,
  allAttempts,
  bootOf,
  pathRecord,
  withAttemptStarted,
  withEvent,
  withPath,
  withRollback,
  type BootSection,
  type Degraded,
} from '../shared/boot-state.js';
import { GOLDEN_KEY, goldenOf, withPinned, writeSections, type GoldenRecord } from '../golden/state.js';
import {
  applyRollbackSteps,
  ensureGoldenRoot,
  goldenInfo,
  withRollbackStarted,
  type GoldenInfo,
} from '../golden/index.js';
import {
  addGcRoot,
  gcRootIntact,
  generationOf,
  isSystemPath,
  listGenerations,
  readBootKey,
  readBootedSystem,
} from '../golden/nix.js';
import { realpathOrNull } from '../core/fs-read.js';
import { requestReboot } from '../host/system.js';
import { announcementAfterBoot, RebootAnnouncement, REBOOT_TURN_KEY } from '../shared/reboot-turn.js';

export interface ValidateResult {
  booted: string;
  plan: StartPlan['kind'];
  attempt: Attempt;
  decision: BootDecision | null;
  checks: CheckResult[];
  message: string;
  exitCode: 0 | 5;
  abandoned: Attempt | null;
  failures: number;
  attempts: number;
  generation: number | null;
}

/** Run `fn` under the host lock, waiting up to `waitMs` for it (at boot an upgrade may still hold it). */
export async function withHostLockWaiting<T>(
  deps: Deps,
  command: string,
  waitMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const start = deps.clock.monotonicMs();
  for (;;) {
    let started = false;
    try {
      return await withHostLock(deps, command, () => {
        started = true;
        return fn();
      });
    } catch (err) {
      if (started || !(err instanceof LockHeldError)) throw err;
      // Waited it out: this is not a second run that bounced off the lock
      // (no run, LockHeldError's notARun) but a validation that did not
      // happen; recorded, it runs hooks.onFailure and shows in fleet status.
      if (deps.clock.monotonicMs() - start >= waitMs)
        throw new GitopsdError(
          'temporary',
          `waited ${Math.round(waitMs / 1000)} s for the host lock; ${command} did not run: ${err.message}`,
          { cause: err, detail: { ...err.detail, notARun: false } },
        );
      deps.log.info('host lock held; waiting for it', { holderPid: err.holderPid });
      await deps.clock.sleep(1000);
    }
  }
}

function failureReason(outcome: ChecksOutcome): string {
  const bad = outcome.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`);
  const list = bad.join('; ') || 'unknown';
  if (outcome.failedFast) return `unit failed (${list})`;
  return `not healthy within the timeout (${list})`;
}

function asDecision(raw: Record<string, unknown> | null): BootDecision | null {
  // Our own record, written by recordVerdict from a BootDecision.
  if (raw === null || typeof raw['kind'] !== 'string') return null;
  return raw as unknown as BootDecision;
}

/** Whether acting on this decision requests a reboot (counted before the request). */
function rebootsFor(d: BootDecision): boolean {
  switch (d.kind) {
    case 'retry-reboot':
      return true;
    case 'rollback':
      return d.reboot;
    case 'ok':
    case 'wait':
    case 'degraded':
      return false;
  }
}

function degradedFor(d: BootDecision, booted: string, at: string, message: string): Degraded | null {
  switch (d.kind) {
    case 'degraded':
      return { at, storePath: booted, reason: d.reason, message };
    case 'rollback':
      return d.reboot ? null : { at, storePath: booted, reason: 'reboot-bound', message };
    case 'ok':
    case 'retry-reboot':
    case 'wait':
      return null;
  }
}

function actionKind(d: BootDecision): Attempt['action'] {
  switch (d.kind) {
    case 'ok':
      return d.pin === 'pin' || d.pin === 'keep' ? 'pin' : 'none';
    case 'retry-reboot':
      return 'reboot';
    case 'wait':
      return 'wait';
    case 'rollback':
      return 'rollback';
    case 'degraded':
      return 'degraded';
  }
}

/**
 * Pure: observe what the withdrawal decision needs (the failed checks of the
 * rolled-back system's newest failed attempt, the commit's mark) and decide.
 */
function markWithdrawalFor(doc: StateDoc, d: BootDecision, booted: string, checks: CheckResult[]): MarkWithdrawal {
  const boot = bootOf(doc);
  const r = boot.lastRollback;
  const lastFailed =
    r === null
      ? undefined
      : allAttempts(boot)
          .filter((a) => a.storePath === r.from && a.verdict === 'failed')
          .at(-1);
  const mark = r?.commit != null ? DeploymentsSection.parse(doc['deployments'] ?? {}).badCommits[r.commit] : undefined;
  return decideMarkWithdrawal({
    decision: d,
    booted,
    lastRollback: r,
    failedOnRolledBack: (lastFailed?.checks ?? []).filter((c) => !c.ok).map((c) => c.name),
    failingNow: checks.filter((c) => !c.ok).map((c) => c.name),
    markReason: mark?.reason ?? null,
    badPath: r !== null && r.from in boot.badPaths,
  });
}

/**
 * Pure: the sections written with the verdict (step 5), and whether this
 * write takes back the last rollback's mark (decideMarkWithdrawal): in the
 * same write, so a kill leaves either the old verdict-less attempt and the
 * mark, or the verdict and no mark.
 */
export function recordVerdict(
  doc: StateDoc,
  v: {
    attempt: Attempt;
    decision: BootDecision;
    checks: CheckResult[];
    reason: string | null;
    message: string;
    now: string;
    generation: number | null;
  },
): { sections: Record<string, unknown>; withdrawal: MarkWithdrawal } {
  const { attempt, decision: d, now } = v;
  const booted = attempt.storePath;
  const sections: Record<string, unknown> = {};
  let boot: BootSection = bootOf(doc);
  if (d.kind === 'rollback') {
    const r = withRollbackStarted(doc, {
      at: now,
      from: booted,
      to: d.target,
      reason: `${d.failures} failed boot(s): ${v.reason ?? 'failed'}`,
      source: 'auto',
      targetSource: d.targetSource,
    });
    Object.assign(sections, r.sections);
    boot = bootOf({ ...doc, ...r.sections });
  }
  const reboot = rebootsFor(d);
  boot = withPath(
    boot,
    booted,
    (r) =>
      d.kind === 'ok'
        ? // failedAttempts stays: one lucky boot does not erase the failed ones (decideVerdict, auto-pin).
          { ...r, failures: 0, reboots: 0, okStreak: r.okStreak + 1, lastVerdict: 'ok', lastOkAt: now }
        : {
            ...r,
            failures: d.failures,
            failedAttempts: r.failedAttempts + 1,
            okStreak: 0,
            reboots: r.reboots + (reboot ? 1 : 0),
            lastVerdict: 'failed',
            lastFailedAt: now,
          },
    now,
  );
  const current: Attempt = {
    ...attempt,
    verdict: d.kind === 'ok' ? 'ok' : 'failed',
    verdictAt: now,
    reason: v.reason,
    checks: v.checks.map((c) => ({ ...c })),
    action: actionKind(d),
    actionDone: false,
    rollbackTo: d.kind === 'rollback' ? d.target : null,
    reboot,
    actionError: null,
    decision: { ...d },
  };
  const degraded = degradedFor(d, booted, now, v.message);
  boot = {
    ...boot,
    current,
    // An ok boot means the host is healthy again; a failure keeps an existing flag.
    degraded: d.kind === 'ok' ? null : (degraded ?? boot.degraded),
  };
  const withdrawal = markWithdrawalFor(doc, d, booted, v.checks);
  if (withdrawal.kind === 'withdraw') {
    const { from } = withdrawal;
    const badPaths = { ...boot.badPaths };
    delete badPaths[from];
    boot = withPath({ ...boot, badPaths }, from, (r) => ({ ...r, failures: 0, reboots: 0 }), now);
    boot = withEvent(boot, {
      at: now,
      event: 'mark-withdrawn',
      storePath: from,
      detail: `mark withdrawn: the golden fails the same checks (${withdrawal.checks.join(', ')})${withdrawal.mark && withdrawal.commit !== null ? `; commit ${withdrawal.commit} is no longer marked boot-rollback` : ''}; ${from} removed from boot.badPaths, its failure and reboot counts reset`,
    });
    if (withdrawal.mark && withdrawal.commit !== null) {
      sections['deployments'] = withoutBadCommit(DeploymentsSection.parse(doc['deployments'] ?? {}), withdrawal.commit);
    }
  }
  sections[BOOT_KEY] = boot;
  // A reboot turn (docs/rollout.md "Reboots take turns"): given back by a good
  // boot of the system it was for, failed by anything else after the reboot.
  const turn = RebootAnnouncement.safeParse(doc[REBOOT_TURN_KEY]);
  if (turn.success) {
    sections[REBOOT_TURN_KEY] = announcementAfterBoot(turn.data, { booted, ok: d.kind === 'ok', now });
  }
  if (d.kind === 'ok' && d.pin === 'pin') {
    const rec: GoldenRecord = {
      storePath: booted,
      generation: v.generation,
      pinnedAt: now,
      source: 'auto',
      forced: false,
      reason: `boot validated (attempt ${attempt.id})`,
    };
    sections[GOLDEN_KEY] = withPinned(goldenOf(doc), rec).section;
  }
  return { sections, withdrawal };
}

/** Pure: a rollback recorded as "started" whose target is now booted evidently took effect. */
function withSettledRollback(boot: BootSection, booted: string): BootSection {
  const r = boot.lastRollback;
  if (r === null || r.status !== 'started' || r.to !== booted) return boot;
  return withRollback(boot, { ...r, status: 'done' });
}

/** Step 6: act on the decision. Every step is safe to repeat (see the contract). */
async function act(deps: Deps, booted: string, d: BootDecision): Promise<void> {
  switch (d.kind) {
    case 'ok': {
      const g = goldenOf(deps.state.read()).current;
      if (d.pin === 'pin' && g !== null && g.storePath === booted) {
        // State first (the verdict write), root second: see src/golden/index.ts.
        if (!gcRootIntact(deps, booted)) await addGcRoot(deps, deps.paths.goldenRoot, booted);
        deps.log.info('golden pinned', { storePath: booted, source: 'auto' });
      } else if (d.pin === 'keep') {
        await ensureGoldenRoot(deps, g);
      }
      if (d.pin === 'refused-flaky') {
        deps.log.warn('boot validated, but this system has failed attempts on record; not pinning it as golden yet', {
          storePath: booted,
          failedAttempts: d.failedOnRecord,
          okStreak: d.okStreak,
          needed: d.needed,
        });
      }
      if (d.pin === 'refused-bad') {
        deps.log.warn('boot validated, but this system was rolled back from before; not pinning it as golden', {
          storePath: booted,
        });
      }
      return;
    }
    case 'retry-reboot':
      await requestReboot(deps);
      return;
    case 'wait':
    case 'degraded':
      // Nothing to do on the system; the CLI's after-run step runs the
      // onFailure hook (exit 5) with GITOPSD_RESULT naming the decision.
      return;
    case 'rollback':
      await applyRollbackSteps(deps, d.target, 'boot');
      if (d.reboot) await requestReboot(deps);
      return;
  }
}

function okPaths(boot: BootSection): Array<{ storePath: string; lastOkAt: string }> {
  const out: Array<{ storePath: string; lastOkAt: string }> = [];
  for (const [p, r] of Object.entries(boot.paths)) if (r.lastOkAt) out.push({ storePath: p, lastOkAt: r.lastOkAt });
  return out;
}

function badPathSet(doc: StateDoc): Set<string> {
  const s = new Set(Object.keys(bootOf(doc).badPaths));
  const d = DeploymentsSection.parse(doc['deployments'] ?? {});
  for (const b of Object.values(d.badCommits)) if (b.storePath !== null) s.add(b.storePath);
  return s;
}

function verdictInput(deps: Deps, doc: StateDoc, booted: string): Omit<VerdictInput, 'healthy'> {
  const boot = bootOf(doc);
  const golden = goldenOf(doc).current;
  const gens = listGenerations(deps.paths.systemProfile);
  const bad = badPathSet(doc);
  const rec = pathRecord(boot, booted);
  const v = deps.config.validation;
  return {
    booted,
    failuresBefore: rec.failures,
    failedOnRecord: rec.failedAttempts,
    okStreakBefore: rec.okStreak,
    rebootsBefore: rec.reboots,
    maxBootFailures: v.maxBootFailures,
    onFirstFailure: v.onFirstFailure,
    autoPinGolden: v.autoPinGolden,
    golden: golden === null ? null : { storePath: golden.storePath, present: isSystemPath(golden.storePath) },
    lastOk: chooseLastOk({
      booted,
      generations: gens,
      okPaths: okPaths(boot),
      exists: isSystemPath,
      bad: (p) => bad.has(p),
    }),
    bootedIsBad: bad.has(booted),
  };
}

/** Observe + decide (steps 4's result → 5's decision). */
export function decideFromState(
  deps: Deps,
  doc: StateDoc,
  booted: string,
  healthy: boolean,
): { decision: BootDecision; generation: number | null } {
  const decision = decideVerdict({ ...verdictInput(deps, doc, booted), healthy });
  return { decision, generation: generationOf(listGenerations(deps.paths.systemProfile), booted) };
}

function resultOf(
  deps: Deps,
  booted: string,
  plan: StartPlan['kind'],
  abandoned: Attempt | null,
  decision: BootDecision | null,
  extra: { message?: string } = {},
): ValidateResult {
  const boot = bootOf(deps.state.read());
  const attempt = boot.current as Attempt;
  const rec = pathRecord(boot, booted);
  const message =
    extra.message ??
    (decision !== null ? describeDecision(decision, booted) : `boot of ${booted}: verdict ${attempt.verdict}`);
  return {
    booted,
    plan,
    attempt,
    decision,
    checks: attempt.checks as CheckResult[],
    message,
    exitCode: attempt.verdict === 'ok' ? 0 : 5,
    abandoned,
    failures: rec.failures,
    attempts: rec.attempts,
    generation: generationOf(listGenerations(deps.paths.systemProfile), booted),
  };
}

/** `gitopsd boot validate`. Call under the host lock. */
export async function validateBoot(deps: Deps, opts: { pollMs?: number } = {}): Promise<ValidateResult> {
  // 1. observe
  const booted = readBootedSystem(deps);
  const bootKey = readBootKey(deps);
  const plan = planStart(bootOf(deps.state.read()).current, { booted, bootKey });
  deps.log.info('boot validation started', { booted, plan: plan.kind });

  let abandoned: Attempt | null = null;
  switch (plan.kind) {
    case 'done': {
      const d = asDecision(plan.attempt.decision);
      return resultOf(deps, booted, plan.kind, null, d, {
        message: `this boot was already validated: ${d !== null ? describeDecision(d, booted) : plan.attempt.verdict}`,
      });
    }
    case 'finish': {
      const d = asDecision(plan.attempt.decision);
      if (d === null)
        throw new GitopsdError('internal', `boot attempt ${plan.attempt.id} has a verdict but no decision`);
      deps.log.warn("finishing the actions of this boot's verdict (an earlier run stopped before they were done)", {
        attempt: plan.attempt.id,
        decision: d.kind,
      });
      await actAndRecord(deps, booted, d, describeDecision(d, booted));
      return resultOf(deps, booted, plan.kind, null, d);
    }
    case 'new': {
      // 2. the attempt, durably, before any check.
      writeSections(deps.state, (doc) => {
        const started = withAttemptStarted(withSettledRollback(bootOf(doc), booted), {
          storePath: booted,
          bootKey,
          now: deps.clock.now().toISOString(),
        });
        abandoned = started.abandoned;
        return { [BOOT_KEY]: started.section };
      });
      if (abandoned !== null) {
        const a = abandoned as Attempt;
        deps.log.warn('the previous boot attempt never reached a verdict; counted as failed', {
          attempt: a.id,
          storePath: a.storePath,
        });
      }
      break;
    }
    case 'resume':
      deps.log.warn("resuming this boot's attempt (an earlier run stopped before its verdict); not counting it again", {
        attempt: plan.attempt.id,
      });
      break;
  }

  // 3. golden root repair (before the wait: a GC can run any time).
  await ensureGoldenRoot(deps, goldenOf(deps.state.read()).current);

  // 3b. no tries left: the failures on record (verdicts, and attempts that
  // never reached one) already reached maxBootFailures. Roll back now,
  // without this boot's checks (src/boot-validate/decide.ts decideBeforeChecks).
  const early = decideBeforeChecks(verdictInput(deps, deps.state.read(), booted));
  if (early !== null)
    return recordAndAct(deps, { booted, bootKey, plan: plan.kind, abandoned, decision: early, outcome: null });

  // 4. wait
  const v = deps.config.validation;
  const outcome = await waitForHealthy(deps, {
    services: v.services,
    checks: v.checks,
    timeoutSec: v.timeoutSec,
    settleSec: v.settleSeconds,
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
  });
  return recordAndAct(deps, { booted, bootKey, plan: plan.kind, abandoned, decision: null, outcome });
}

/**
 * Steps 5 to 7: decide from the outcome of the checks (or take the decision
 * made before them, with no outcome), record the verdict in one write, act,
 * record the actions as done.
 */
async function recordAndAct(
  deps: Deps,
  r: {
    booted: string;
    bootKey: string;
    plan: StartPlan['kind'];
    abandoned: Attempt | null;
    decision: BootDecision | null;
    outcome: ChecksOutcome | null;
  },
): Promise<ValidateResult> {
  const { booted, bootKey, outcome } = r;

  // 5. decide and record the verdict in one write.
  const now = deps.clock.now().toISOString();
  let decision: BootDecision | null = null;
  let withdrawal: MarkWithdrawal = { kind: 'keep', why: 'no verdict yet' };
  let message = '';
  writeSections(deps.state, (doc) => {
    const attempt = bootOf(doc).current;
    if (attempt === null || attempt.storePath !== booted || attempt.bootKey !== bootKey) {
      throw new GitopsdError('internal', 'the boot attempt record changed under the host lock');
    }
    const decided =
      r.decision !== null
        ? { decision: r.decision, generation: generationOf(listGenerations(deps.paths.systemProfile), booted) }
        : decideFromState(deps, doc, booted, outcome?.ok ?? false);
    decision = decided.decision;
    message = describeDecision(decided.decision, booted);
    const failures = decided.decision.kind === 'ok' ? 0 : decided.decision.failures;
    const recorded = recordVerdict(doc, {
      attempt,
      decision: decided.decision,
      checks: outcome?.results ?? [],
      reason:
        outcome === null
          ? `${failures - 1} failed boot attempt(s) on record reached maxBootFailures ${deps.config.validation.maxBootFailures}; checks not run`
          : outcome.ok
            ? null
            : failureReason(outcome),
      message,
      now,
      generation: decided.generation,
    });
    withdrawal = recorded.withdrawal;
    if (recorded.withdrawal.kind === 'withdraw')
      message += `; the last rollback's mark is withdrawn (the golden fails the same checks: ${recorded.withdrawal.checks.join(', ')})${recorded.withdrawal.mark && recorded.withdrawal.commit !== null ? `: commit ${recorded.withdrawal.commit.slice(0, 12)} may be deployed again` : ''}`;
    return recorded.sections;
  });
  const d = decision as BootDecision | null;
  if (d === null) throw new GitopsdError('internal', 'no boot decision was made');
  if (d.kind === 'ok') deps.log.info('boot verdict', { booted, decision: d.kind, summary: message });
  else deps.log.error('boot verdict', { booted, decision: d.kind, summary: message });
  const w = withdrawal as MarkWithdrawal;
  if (w.kind === 'withdraw') {
    deps.log.warn('mark withdrawn: the golden fails the same checks', {
      storePath: w.from,
      commit: w.commit,
      checks: w.checks,
    });
  }

  // 6 + 7.
  await actAndRecord(deps, booted, d, message);
  return resultOf(deps, booted, r.plan, r.abandoned, d, { message });
}

async function actAndRecord(deps: Deps, booted: string, d: BootDecision, message: string): Promise<void> {
  try {
    await act(deps, booted, d);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const at = deps.clock.now().toISOString();
    writeSections(deps.state, (doc) => {
      const boot = bootOf(doc);
      const cur = boot.current;
      const rb = boot.lastRollback;
      let next: BootSection = {
        ...boot,
        current: cur === null ? null : { ...cur, actionError: why },
        degraded: { at, storePath: booted, reason: 'action-failed', message: `${d.kind} failed: ${why}` },
      };
      if (d.kind === 'rollback' && rb !== null && rb.status === 'started')
        next = withRollback(next, { ...rb, status: 'failed' });
      return { [BOOT_KEY]: next };
    });
    throw new GitopsdError(
      'boot-failed',
      `${message}; but the ${d.kind} step failed: ${why}; fix it and run gitopsd boot validate again, or gitopsd golden rollback`,
      {
        cause: err,
      },
    );
  }
  writeSections(deps.state, (doc) => {
    let boot = bootOf(doc);
    const cur = boot.current;
    if (cur !== null) boot = { ...boot, current: { ...cur, actionDone: true, actionError: null } };
    const rb = boot.lastRollback;
    if (d.kind === 'rollback' && rb !== null && rb.from === booted && rb.to === d.target && rb.status !== 'done') {
      boot = withRollback(boot, { ...rb, status: 'done' });
    }
    return { [BOOT_KEY]: boot };
  });
}

/** `gitopsd boot reset`: clear one path's failure and reboot counters (logged, and kept as an event). */
export function resetBootCounters(
  deps: Deps,
  storePath: string,
): { before: { failures: number; reboots: number }; turnCleared: boolean } {
  let before = { failures: 0, reboots: 0 };
  let turnCleared = false;
  writeSections(deps.state, (doc) => {
    // A failed reboot turn halts the turns of the group until a person looks: this is that look.
    const turn = RebootAnnouncement.safeParse(doc[REBOOT_TURN_KEY]);
    turnCleared = turn.success && turn.data.state === 'failed';
    const boot = bootOf(doc);
    const r = pathRecord(boot, storePath);
    before = { failures: r.failures, reboots: r.reboots };
    const now = deps.clock.now().toISOString();
    let next = withPath(
      boot,
      storePath,
      (x) => ({ ...x, failures: 0, reboots: 0, failedAttempts: 0, okStreak: 0 }),
      now,
    );
    next = withEvent(next, {
      at: now,
      event: 'reset',
      storePath,
      detail: `failures ${r.failures} -> 0, reboots ${r.reboots} -> 0, failed attempts on record ${r.failedAttempts} -> 0`,
    });
    if (next.degraded?.storePath === storePath) next = { ...next, degraded: null };
    return turnCleared ? { [BOOT_KEY]: next, [REBOOT_TURN_KEY]: null } : { [BOOT_KEY]: next };
  });
  deps.log.info('boot failure counters reset', { storePath, ...before, turnCleared });
  return { before, turnCleared };
}

export interface BootStatus {
  bootedSystem: string | null;
  verdict: 'ok' | 'failed' | 'pending' | 'none';
  attempts: number;
  failures: number;
  golden: GoldenInfo;
  lastRollback: {
    at: string;
    from: string;
    to: string;
    reason: string;
    status?: string;
    source?: string;
    commit?: string | null;
  } | null;
  checks: CheckResult[];
  /** Additions to the contract. */
  generation: number | null;
  reboots: number;
  rebootLimit: number;
  maxBootFailures: number;
  degraded: Degraded | null;
  badCommits: Array<{ commit: string; storePath: string | null; at: string; message: string }>;
  history: Array<{
    id: number;
    storePath: string;
    startedAt: string;
    verdict: string;
    reason: string | null;
    action: string | null;
  }>;
}

/** Observe only: `gitopsd boot status`. */
export function bootStatus(deps: Deps): BootStatus {
  const doc = deps.state.read();
  const boot = bootOf(doc);
  const booted = realpathOrNull(deps.paths.bootedSystem);
  const bootKey = booted !== null && existsSync(deps.paths.bootedSystem) ? readBootKey(deps) : null;
  const cur = boot.current;
  const thisBoot = cur !== null && booted !== null && cur.storePath === booted && cur.bootKey === bootKey ? cur : null;
  const rec = booted === null ? null : pathRecord(boot, booted);
  const deployments = DeploymentsSection.parse(doc['deployments'] ?? {});
  const recent = [...boot.history, ...(cur === null ? [] : [cur])].slice(-10);
  return {
    bootedSystem: booted,
    verdict: thisBoot === null ? 'none' : thisBoot.verdict,
    attempts: rec?.attempts ?? 0,
    failures: rec?.failures ?? 0,
    golden: goldenInfo(deps, goldenOf(doc).current),
    lastRollback: boot.lastRollback,
    checks: (thisBoot?.checks ?? []) as CheckResult[],
    generation: booted === null ? null : generationOf(listGenerations(deps.paths.systemProfile), booted),
    reboots: rec?.reboots ?? 0,
    rebootLimit: deps.config.validation.maxBootFailures + 1,
    maxBootFailures: deps.config.validation.maxBootFailures,
    degraded: boot.degraded,
    badCommits: Object.values(deployments.badCommits)
      .filter((b) => b.reason === 'boot-rollback')
      .map((b) => ({ commit: b.commit, storePath: b.storePath, at: b.at, message: b.message })),
    history: recent.map((a) => ({
      id: a.id,
      storePath: a.storePath,
      startedAt: a.startedAt,
      verdict: a.verdict,
      reason: a.reason,
      action: a.action,
    })),
  };
}

export { exitCodeFor };
