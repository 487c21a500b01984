/**
 * Upgrade: pull nix-config, validate by building, activate safely, never
 * deploy a broken commit (issue #3; docs/upgrade.md).
 *
 * Contract
 * - Inputs: Deps (config.nixConfig, preflight, validation, reboot, timeouts;
 *   paths.systemProfile/currentSystem/bootedSystem/uptimeFile/buildsDir; the
 *   clock for the reboot window), and `{ dryRun, operation }`.
 * - Steps: recover → preflight → fetch (clone first if needed) → observe
 *   (src/upgrade/observe.ts) → decide (src/upgrade/decide.ts) → prepare the
 *   checkout → [update inputs] → build (`nh os build -o
 *   <buildsDir>/candidate`) → activate → post-switch check → record → push
 *   our commits → reboot.
 * - Activation order for a live switch: `switch-to-configuration test`, the
 *   post-switch check, THEN `nix-env -p <profile> --set` and
 *   `switch-to-configuration boot`. A system that fails activation or the
 *   check therefore never becomes a generation or the boot default; a crash
 *   or power loss before the check passes boots the previous system.
 * - Side effects: the checkout (fetch; moves to the candidate; our commits;
 *   push), the system profile and boot default, the running system,
 *   `<buildsDir>/{candidate,deployed}` (GC roots), the state sections
 *   "deployments" (shared) and "upgrade" (ours), and `systemctl reboot`.
 * - Failure modes and exit codes: preflight refused 6; fetch or clone failed
 *   75 (nothing touched); known-bad tip 3 (no nix at all); force-push,
 *   signature, local changes 6 (nothing built); build failed 3 (checkout back,
 *   commit marked bad); activation or post-switch check failed 4 (previous
 *   system re-activated, commit marked bad); a build timeout 75; a
 *   post-switch check that fails on the previous system too, once it is
 *   back, 75 (nothing marked).
 * - Crash at any step (kill -9, power loss):
 *   - before `pending` is written: the system is untouched; at most the
 *     checkout sits on the candidate, which the next run moves again.
 *   - after `pending` (phase activate): the next run first restores
 *     `pending.previous` (nix-env --set, then switch-to-configuration
 *     switch|boot) and the checkout, clears `pending`, then upgrades as usual
 *     (the candidate is rebuilt from the cache and checked again).
 *   - after a failed activation (phase revert; the commit is already marked
 *     bad) or a failed post-switch check (phase revert; the mark waits for
 *     the re-check on the previous system): the next run finishes the revert
 *     the same way; a post-switch failure killed before its mark is tried
 *     again (rebuilt from the cache), and marked then.
 *   - after the record: the run is complete; only the out-link rename, the
 *     push or the reboot request can be missing, and the next run redoes the
 *     push (our commits are still local) or the reboot (reboot pending).
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { CommandFailed, GitopsdError, lastLine, tail } from '../core/errors.js';
import {
  readDeployments,
  updateDeployments,
  withBadCommit,
  withDeployment,
  withoutBadCommit,
  type BadCommit,
  type BadCommitInput,
  type BadReason,
} from '../core/deployments.js';
import { waitForHealthy, type CheckResult } from '../health/checks.js';
import {
  classifyFailure,
  failedDrvsNamed,
  planFullLogReads,
  storeObjectsNamedMissing,
  type FailureEvidence,
  type FailureStage,
  type FailureVerdict,
} from '../failure/classify.js';
import { LOCK_BUSY_EXIT, switchChangedNothing, switchOutcome, switchOutput } from '../failure/activation.js';
import {
  decideRetry,
  failedDrvOf,
  findRetry,
  reexamineMark,
  withRetry,
  withoutRetries,
  type AttemptKey,
} from './blame.js';
import {
  decidePreflight,
  decideTarget,
  inRebootWindow,
  lockCommitSubject,
  planActivation,
  rebootNeeded,
  initInterfaceChanged,
  restoreSteps,
  type ActivationPlan,
  type Operation,
  type PreflightCheck,
  type PreflightFailure,
  type RefuseCheck,
  type TargetDecision,
} from './decide.js';
import * as g from './git.js';
import { fileRefsGitDir, readHeadFromFiles, readRefFromFiles } from '../core/git-refs.js';
import { observePreflightLocal, observePreflightSystem, observeTarget } from './observe.js';
import type { RolloutGate } from '../shared/rollout-gate.js';
import type { RebootTurnAsk, RebootTurnVerdict } from '../shared/reboot-turn.js';
import {
  bootFilesOf,
  initInterfaceOf,
  buildToplevel,
  logClosureDiff,
  observeAbsent,
  observeDisks,
  observeFixedOutput,
  observeFixedOutputOrGone,
  profileGeneration,
  readFullBuildLogs,
  toplevelAttr,
  toplevelDrvPath,
  updateFlakeInputs,
} from './system.js';
import { requestReboot, setSystemProfile, switchToConfiguration, type SwitchResult } from '../host/system.js';
import {
  readUpgrade,
  updateBoth,
  updateUpgrade,
  type LastRun,
  type PendingActivation,
  type StepDurations,
  type UpgradeResult,
} from './state.js';
import { mkdirParents } from '../core/atomic.js';

export interface UpgradeOptions {
  dryRun: boolean;
  /** Overrides nixConfig.operation for this run. */
  operation?: Operation | undefined;
  /** The rollout gate (docs/rollout.md), asked before a new commit is built; none: deploy as soon as it appears. */
  gate?: RolloutGate | undefined;
  /**
   * The reboot turn (docs/rollout.md "Reboots take turns"), asked before
   * `systemctl reboot` when reboot.maxConcurrent is set; without it such a
   * host never reboots by itself (it waits, saying why).
   */
  rebootTurn?: RebootTurnAsk | undefined;
}

/**
 * requested: `systemctl reboot` was run; pending: outside the window;
 * needed: reboot.allow is off; waiting-turn: inside the window, but other
 * hosts of the reboot group hold the turns; turns-halted: a host of the group
 * did not come back well from its reboot, so none reboots.
 */
export type RebootStatus = 'not-needed' | 'requested' | 'pending' | 'needed' | 'waiting-turn' | 'turns-halted';

interface Base {
  message: string;
  commit: string | null;
  durationMs: number;
  dryRun: boolean;
}

/** What one upgrade run did; `exitCode` is what the CLI exits with. */
export type UpgradeRunResult = Base &
  (
    | {
        kind: 'deployed';
        exitCode: 0;
        storePath: string;
        generation: number | null;
        operation: Operation;
        reboot: RebootStatus;
        pushed: boolean | null;
      }
    | { kind: 'no-op'; exitCode: 0; storePath: string | null; reboot: RebootStatus; pushed: boolean | null }
    | { kind: 'would-deploy'; exitCode: 0; storePath: string; plan: ActivationPlan; reason: string }
    | { kind: 'skipped-bad'; exitCode: 3; bad: BadCommit }
    | { kind: 'gated'; exitCode: 0; gate: string }
    | { kind: 'halted'; exitCode: 3; gate: string }
    | { kind: 'build-failed'; exitCode: 3; logTail: string; failure: FailureSummary }
    | {
        kind: 'refused';
        exitCode: 6;
        check: RefuseCheck | PreflightCheck | 'rebase-conflict' | 'rollout-policy' | 'already-failing';
        details: string[];
      }
    | {
        /** Failed for a reason that was not the commit's: nothing marked, retried (after a backoff). */
        kind: 'retry-later';
        exitCode: 75;
        stage: FailureStage;
        failure: FailureSummary;
        /** Identical failures of this attempt so far (0: waiting out the backoff, nothing was run). */
        failures: number;
        notBefore: string;
      }
    | {
        kind: 'reverted';
        exitCode: 4;
        storePath: string;
        restored: string | null;
        stage: 'activation' | 'post-switch';
        checks: CheckResult[];
      }
  );

const short = (sha: string | null): string => (sha === null ? '(none)' : sha.slice(0, 12));

/** The verdict of src/failure/classify.ts as reported (run result, --json, the run record). */
export interface FailureSummary {
  class: FailureVerdict['class'];
  cause: FailureVerdict['cause'];
  summary: string;
  evidence: string;
}

const summaryOf = (v: FailureVerdict): FailureSummary => ({
  class: v.class,
  cause: v.cause,
  summary: v.summary,
  evidence: v.evidence,
});

/** Local time of day in minutes; the reboot window is wall-clock time on the host. */
function minuteOfDay(d: Date): number {
  return d.getHours() * 60 + d.getMinutes();
}

interface Ctx {
  deps: Deps;
  opts: UpgradeOptions;
  t0: number;
  steps: StepDurations;
  dir: string;
}

function elapsed(ctx: Ctx): number {
  return Math.round(ctx.deps.clock.monotonicMs() - ctx.t0);
}

type StepKey = 'preflightMs' | 'fetchMs' | 'buildMs' | 'activateMs' | 'validateMs' | 'pushMs';

async function timed<T>(ctx: Ctx, key: StepKey, fn: () => Promise<T>): Promise<T> {
  const s = ctx.deps.clock.monotonicMs();
  try {
    return await fn();
  } finally {
    ctx.steps[key] = Math.round(ctx.deps.clock.monotonicMs() - s) + (ctx.steps[key] ?? 0);
  }
}

/** A reboot is requested, or will be by a later run (window, turn). */
function rebootComes(r: RebootStatus): boolean {
  return r === 'pending' || r === 'requested' || r === 'waiting-turn' || r === 'turns-halted';
}

/**
 * The one name of a run's result: the state's `lastUpgrade.result`, the run
 * record `runs.upgrade.result`, the hooks' GITOPSD_RESULT and the metrics'
 * `result` label all use it (the table in docs/status.md). A dry run's
 * `would-deploy` is never recorded.
 */
export function upgradeResultName(r: UpgradeRunResult): UpgradeResult {
  switch (r.kind) {
    case 'deployed':
      return rebootComes(r.reboot) ? 'reboot-pending' : 'deployed';
    case 'no-op':
      return rebootComes(r.reboot) ? 'reboot-pending' : 'no-op';
    case 'would-deploy':
      return 'no-op';
    case 'skipped-bad':
      return 'skipped-bad';
    case 'refused':
      return 'refused';
    case 'gated':
    case 'halted':
      return r.kind;
    case 'build-failed':
      return 'build-failed';
    case 'reverted':
      return 'reverted';
    case 'retry-later':
      return 'retry-later';
  }
}

function lastRunOf(ctx: Ctx, r: UpgradeRunResult): LastRun {
  const storePath = 'storePath' in r ? r.storePath : null;
  const generation = r.kind === 'deployed' ? r.generation : null;
  return {
    commit: r.commit,
    result: upgradeResultName(r),
    at: ctx.deps.clock.now().toISOString(),
    exitCode: r.exitCode,
    message: r.message,
    generation,
    storePath,
    durationMs: r.durationMs,
    steps: { ...ctx.steps },
    ...(r.kind === 'skipped-bad' ? { check: 'known-bad' } : {}),
    ...(r.kind === 'refused' ? { check: r.check } : {}),
    ...(r.kind === 'retry-later' || r.kind === 'build-failed'
      ? { failure: { class: r.failure.class, cause: r.failure.cause, summary: r.failure.summary } }
      : {}),
  };
}

/** Record the run (never in dry-run: a dry run changes no state). */
function record(
  ctx: Ctx,
  r: UpgradeRunResult,
  extra?: { bad?: BadCommitInput; retry?: AttemptKey & { stage: FailureStage; verdict: FailureVerdict } },
): UpgradeRunResult {
  if (ctx.opts.dryRun) return r;
  const retry = extra?.retry;
  updateBoth(ctx.deps.state, (d, u) => ({
    deployments: extra?.bad ? withBadCommit(d, extra.bad) : d,
    upgrade: {
      ...u,
      lastRun: lastRunOf(ctx, r),
      retries: retry ? withRetry(u.retries, { ...retry, now: ctx.deps.clock.now() }) : u.retries,
    },
  }));
  return r;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Draft = DistributiveOmit<UpgradeRunResult, 'durationMs' | 'dryRun'>;

function finish(ctx: Ctx, r: Draft): UpgradeRunResult {
  return { ...r, durationMs: elapsed(ctx), dryRun: ctx.opts.dryRun };
}

// ---------------------------------------------------------------------------

/** A preflight refusal (exit 6): every failing check, nothing fetched into the system. */
function refusePreflight(ctx: Ctx, failures: readonly PreflightFailure[], commit: string | null): UpgradeRunResult {
  const first = failures[0];
  return record(
    ctx,
    finish(ctx, {
      kind: 'refused',
      exitCode: 6,
      check: first?.check ?? 'disk',
      details: failures.map((f) => f.message),
      commit,
      message: `preflight refused the upgrade: ${failures.map((f) => f.message).join('; ')}`,
    }),
  );
}

export async function runUpgrade(deps: Deps, opts: UpgradeOptions): Promise<UpgradeRunResult> {
  const log = deps.log.child({ module: 'upgrade' });
  const ctx: Ctx = { deps, opts, t0: deps.clock.monotonicMs(), steps: {}, dir: deps.config.nixConfig.path };
  const cfg = deps.config;

  // 0. Finish what a killed run left half done, before anything else.
  const pending = readUpgrade(deps.state).pending;
  if (pending !== null) {
    if (opts.dryRun) {
      log.warn('an interrupted activation is pending; the next real run restores the previous system first', {
        pending,
      });
    } else {
      await recover(ctx, pending);
    }
  }

  // 1. Preflight: the checks that start no process (disk space, uptime).
  // `systemctl is-system-running` waits until there is something to deploy
  // (step 4), so that a run with nothing new costs one fetch (issue 19, B2).
  const pf = await timed(ctx, 'preflightMs', () =>
    Promise.resolve(decidePreflight(observePreflightLocal(deps), cfg.preflight)),
  );
  if (!pf.ok) return refusePreflight(ctx, pf.failures, null);

  // 2. Fetch (clone first when the checkout does not exist yet).
  const dir = ctx.dir;
  await timed(ctx, 'fetchMs', async () => {
    if (!existsSync(dir)) {
      log.info('nix-config checkout missing; cloning', { path: dir, url: cfg.nixConfig.url });
      await g.cloneCheckout(deps);
    }
  });
  // HEAD and the fetched tip from git's ref files when they say them
  // (src/core/git-refs.ts), else from `git rev-parse`.
  const headGitDir = fileRefsGitDir(dir);
  const head = (headGitDir === null ? null : readHeadFromFiles(headGitDir)) ?? (await g.revParse(deps, dir, 'HEAD'));
  if (head === null) {
    await explainUnreadableCheckout(deps, dir);
    throw new GitopsdError(
      'failed',
      `${dir} is not a git checkout with a commit; point nixConfig.path at your nix-config clone (or remove it and set nixConfig.url)`,
    );
  }
  await timed(ctx, 'fetchMs', () => g.fetchBranch(deps, dir));
  const gitDir = fileRefsGitDir(dir);
  const tip =
    (gitDir === null ? null : readRefFromFiles(gitDir, g.trackingRef(deps))) ??
    (await g.revParse(deps, dir, g.trackingRef(deps)));
  if (tip === null)
    throw new GitopsdError('failed', `fetched, but ${g.trackingRef(deps)} does not exist; please report`);

  // 3. Observe (src/upgrade/observe.ts), after one write: a mark written
  // before issue #13 blamed every failure; re-examine it once; a legacy
  // build mark whose own log shows a full disk, a fetch or a timeout is
  // cleared (docs/upgrade.md "What gets blamed").
  let dep = readDeployments(deps.state);
  const tipMark = dep.badCommits[tip];
  if (tipMark !== undefined && !opts.dryRun) {
    const re = reexamineMark(tipMark, observeFixedOutputOrGone(failedDrvsNamed(tipMark.logTail)));
    if (!re.keep) {
      log.warn("a bad mark from an older gitopsd was not the commit's fault; clearing it", {
        commit: tip,
        cause: re.cause,
        why: re.why,
      });
      dep = updateDeployments(deps.state, (d) => withoutBadCommit(d, tip));
    }
  }
  const observed = await observeTarget(deps, { dir, head, tip, deployments: dep });
  const { deployed, tipLock, profileStore, current, booted, lockDirty } = observed;
  const dirty = observed.obs.dirtyFiles;
  const flakeHost = cfg.nixConfig.flakeHost;

  // 4. Decide.
  const decision: TargetDecision = decideTarget(observed.obs, {
    host: cfg.hostname,
    allowForcePush: cfg.nixConfig.allowForcePush,
    commitLocalChanges: cfg.nixConfig.commitLocalChanges,
    updateInputs: cfg.nixConfig.updateInputs,
  });
  log.info('upgrade decision', { decision, tip, head, deployed: deployed?.commit ?? null });

  switch (decision.kind) {
    case 'no-op':
      return noOp(ctx, {
        decision,
        storePath: deployed?.storePath ?? null,
        deployedNeedsReboot: observed.obs.rebootPending,
      });
    case 'skip-bad':
      if (!opts.dryRun) await followDeployed(ctx, { head, tip, dirty, deployed: deployed?.commit ?? null });
      return record(
        ctx,
        finish(ctx, {
          kind: 'skipped-bad',
          exitCode: 3,
          bad: decision.bad,
          commit: decision.commit,
          message: `commit ${short(decision.commit)} is known bad (${decision.bad.reason} at ${decision.bad.at}: ${decision.bad.message}); not rebuilding it, waiting for a newer commit on ${cfg.nixConfig.remote}/${cfg.nixConfig.branch} ("gitopsd bad list" shows the evidence, "gitopsd bad forget ${short(decision.commit)}" retracts the mark)`,
        }),
      );
    case 'refuse': {
      const bad: BadCommitInput | undefined =
        decision.check === 'signature'
          ? {
              commit: decision.commit,
              reason: 'signature',
              at: deps.clock.now().toISOString(),
              message: decision.message,
              storePath: null,
              logTail: '',
              cause: 'signature',
              evidence: decision.message,
            }
          : undefined;
      return record(
        ctx,
        finish(ctx, {
          kind: 'refused',
          exitCode: 6,
          check: decision.check,
          details: decision.files ?? [],
          commit: decision.commit,
          message: decision.message,
        }),
        bad ? { bad } : undefined,
      );
    }
    case 'deploy':
      break;
  }

  // 4b. The system-state preflight, now that there is something to deploy.
  const pfSystem = await timed(ctx, 'preflightMs', async () =>
    decidePreflight(await observePreflightSystem(deps), cfg.preflight),
  );
  if (!pfSystem.ok) return refusePreflight(ctx, pfSystem.failures, tip);

  // A signature refusal is re-checked every run; now that it verifies, forget it.
  if (!opts.dryRun && dep.badCommits[tip]?.reason === 'signature') {
    updateDeployments(deps.state, (d) => {
      const badCommits = { ...d.badCommits };
      delete badCommits[tip];
      return { ...d, badCommits };
    });
  }

  // The rollout gate: a new commit waits for its wave (never a redeploy of our own commit).
  const gated = decision.reason === 'drift' ? null : await askGate(ctx, tip);
  if (gated !== null) return gated;

  if (opts.dryRun) return dryRunBuild(ctx, { decision, current, booted });

  // An attempt that failed for a reason not its own waits out its backoff
  // (retrying costs a build); a person can skip the wait with `gitopsd bad forget`.
  if (decision.reason !== 'update-inputs' && !decision.rebase) {
    const gate = decideRetry(
      findRetry(readUpgrade(deps.state).retries, { commit: tip, flakeHost, lockBlob: tipLock }),
      deps.clock.now(),
    );
    if (gate.kind === 'wait') {
      await followDeployed(ctx, { head, tip, dirty, deployed: deployed?.commit ?? null });
      const r = gate.record;
      return record(
        ctx,
        finish(ctx, {
          kind: 'retry-later',
          exitCode: 75,
          stage: r.stage,
          failure: {
            class: r.class,
            cause: r.cause as FailureVerdict['cause'],
            summary: r.summary,
            evidence: r.evidence,
          },
          failures: 0,
          notBefore: gate.until,
          commit: tip,
          message: `commit ${short(tip)} failed ${r.failures} time(s) for a reason that is not the commit's (${r.summary}); not building it again before ${gate.until} (backoff); "gitopsd bad forget ${short(tip)}" retries at the next run`,
        }),
      );
    }
  }

  // The checks of the verdict (post-switch for `switch`, boot validation's
  // at the next boot for `boot`) run on the current system first: a check
  // that already fails is not the new generation's fault. Refuse (exit 6,
  // naming it) rather than deploy, blame, and revert an innocent commit.
  // With `boot` this also ends the cycle of an upstream down at boot: two
  // failed boots, a rollback to the golden, the mark withdrawn when the
  // golden fails the same checks, then the same commit set as the boot
  // default again at the next run while the upstream is still down
  // (docs/golden-and-boot.md "A mark taken back").
  const operation = opts.operation ?? cfg.nixConfig.operation;
  if (cfg.validation.services.length > 0 || cfg.validation.checks.length > 0) {
    const pre = await timed(ctx, 'validateMs', () =>
      waitForHealthy(deps, {
        services: cfg.validation.services,
        checks: cfg.validation.checks,
        timeoutSec: cfg.validation.timeoutSec,
        settleSec: cfg.validation.settleSeconds,
      }),
    );
    if (!pre.ok) {
      const failing = pre.results.filter((r) => !r.ok);
      await followDeployed(ctx, { head, tip, dirty, deployed: deployed?.commit ?? null });
      return record(
        ctx,
        finish(ctx, {
          kind: 'refused',
          exitCode: 6,
          check: 'already-failing',
          details: failing.map((r) => `${r.name}: ${r.detail}`),
          commit: tip,
          message: `the health check${failing.length > 1 ? 's' : ''} ${failing.map((r) => `"${r.name}" (${r.detail})`).join(', ')} already fail${failing.length > 1 ? '' : 's'} on the current system, before any change; not ${operation === 'switch' ? 'activating' : 'setting as the boot default'} ${short(tip)}, whose ${operation === 'switch' ? 'post-switch check' : 'boot validation'} could not tell its own failures from these; fix the check or what it tests (validation.checks / validation.services), the next run retries`,
        }),
      );
    }
  }
  return deploy(ctx, { decision, head, lockDirty, profileStore, current, booted });
}

/**
 * After a run that deploys nothing, the checkout goes back to the deployed
 * commit (a boot rollback or a killed run may have left it on a commit that
 * is not running), unless it has local changes: uncommitted files, or
 * commits the remote does not have, are never discarded.
 */
async function followDeployed(
  ctx: Ctx,
  a: { head: string; tip: string; dirty: readonly string[]; deployed: string | null },
): Promise<void> {
  if (a.deployed === null || a.head === a.deployed || a.dirty.length > 0) return;
  const log = ctx.deps.log.child({ module: 'upgrade' });
  // HEAD must be a commit of the remote branch (the tip or an ancestor):
  // anything else carries a person's commits.
  if (a.head !== a.tip && !(await g.isAncestor(ctx.deps, ctx.dir, a.head, a.tip))) {
    log.info('the checkout is not at the deployed commit, and carries local commits: left as it is', {
      head: a.head,
      deployed: a.deployed,
    });
    return;
  }
  try {
    await g.moveCheckoutTo(ctx.deps, ctx.dir, a.deployed);
    log.info('moved the checkout back to the deployed commit', { from: a.head, to: a.deployed });
  } catch (err) {
    log.warn('could not move the checkout back to the deployed commit', { from: a.head, to: a.deployed, err });
  }
}

/**
 * `git rev-parse HEAD` failed: say why when git says why. A checkout owned by
 * another user is a valid clone that git refuses to read ("detected dubious
 * ownership", git's safe.directory check): removing it would be wrong advice.
 */
async function explainUnreadableCheckout(deps: Deps, dir: string): Promise<void> {
  let stderr = '';
  try {
    const r = await deps.runner.run('git', ['-C', dir, 'rev-parse', '--verify', 'HEAD'], {
      allowFailure: true,
      timeoutMs: deps.config.timeouts.commandSec * 1000,
    });
    stderr = r.stderr;
  } catch (err) {
    stderr = err instanceof CommandFailed ? err.stderrTail : '';
  }
  const v = classifyFailure({
    stage: 'fetch',
    tool: 'git',
    exitCode: 128,
    signal: null,
    timedOut: false,
    output: stderr,
  });
  if (v.cause === 'ownership') {
    throw new GitopsdError(
      'failed',
      `${dir} is owned by another user, and git refuses to read it ("detected dubious ownership"); the clone is fine, do not remove it: either trust it (git config --system --add safe.directory ${dir}) or give it to root (chown -R root: ${dir})`,
      { detail: { path: dir, evidence: v.evidence } },
    );
  }
}

// ---------------------------------------------------------------------------

/** Ask the rollout gate about `tip`; null: go on and deploy. Nothing is built or marked here. */
async function askGate(ctx: Ctx, tip: string): Promise<UpgradeRunResult | null> {
  if (ctx.opts.gate === undefined) return null;
  const v = await ctx.opts.gate({ commit: tip, checkout: ctx.dir });
  ctx.deps.log.info('rollout gate', { commit: tip, verdict: v.kind, line: v.line });
  switch (v.kind) {
    case 'pass':
      return null;
    case 'wait':
      return record(ctx, finish(ctx, { kind: 'gated', exitCode: 0, gate: v.line, commit: tip, message: v.line }));
    case 'halt':
      return record(ctx, finish(ctx, { kind: 'halted', exitCode: 3, gate: v.line, commit: tip, message: v.line }));
    case 'refuse':
      return record(
        ctx,
        finish(ctx, {
          kind: 'refused',
          exitCode: 6,
          check: 'rollout-policy',
          details: [],
          commit: tip,
          message: v.line,
        }),
      );
  }
}

async function noOp(
  ctx: Ctx,
  a: { decision: Extract<TargetDecision, { kind: 'no-op' }>; storePath: string | null; deployedNeedsReboot: boolean },
): Promise<UpgradeRunResult> {
  const { deps } = ctx;
  let pushed: boolean | null = null;
  if (a.decision.push && !ctx.opts.dryRun) {
    const p = await timed(ctx, 'pushMs', () => g.pushWithRetry(deps, ctx.dir));
    pushed = p.pushed;
    if (!p.pushed) deps.log.warn('our commits could not be pushed; the next run retries', { why: p.why });
  }
  let reboot: RebootStatus = 'not-needed';
  let text = `up to date: ${short(a.decision.commit)} is deployed and running`;
  if (a.deployedNeedsReboot) {
    if (!deps.config.reboot.allow) {
      reboot = 'needed';
      text = `up to date: ${short(a.decision.commit)} is deployed for the next boot; reboot needed (kernel, initrd, modules or init interface changed; reboot.allow is off)`;
    } else if (inRebootWindow(minuteOfDay(deps.clock.now()), deps.config.reboot.window)) {
      const turn = ctx.opts.dryRun || a.storePath === null ? null : await askRebootTurn(ctx, a.storePath);
      reboot =
        turn === null || turn.kind === 'go' ? 'requested' : turn.kind === 'wait' ? 'waiting-turn' : 'turns-halted';
      text =
        reboot === 'requested'
          ? `reboot requested: ${short(a.decision.commit)} is the boot default and needs a reboot (inside the reboot window${turn === null ? '' : `; ${turn.line}`})`
          : `reboot pending: ${short(a.decision.commit)} is the boot default and needs a reboot; ${turn?.line ?? ''}`;
    } else {
      reboot = 'pending';
      text = `reboot pending: ${short(a.decision.commit)} is the boot default and needs a reboot; outside the reboot window ${windowText(deps)}`;
    }
  }
  const r = record(
    ctx,
    finish(ctx, {
      kind: 'no-op',
      exitCode: 0,
      commit: a.decision.commit,
      storePath: a.storePath,
      reboot,
      pushed,
      message: text + (pushed === false ? '; pushing our commits failed, the next run retries' : ''),
    }),
  );
  if (reboot === 'requested' && !ctx.opts.dryRun) await requestReboot(deps);
  return r;
}

function windowText(deps: Deps): string {
  const w = deps.config.reboot.window;
  return w === null ? '(any time)' : `${w.lower}-${w.upper}`;
}

// ---------------------------------------------------------------------------

/**
 * The evidence of a failed build for src/failure/classify.ts, with what is
 * observed right after it: the disk, whether the store objects the error
 * names as missing are gone (a garbage collection under the evaluation) or
 * there (the commit asked for a file they do not have), and which of the
 * failed derivations are fetchers (fixed-output: their network errors are an
 * outage; any other builder's are its own).
 */
/**
 * The evidence of a failed build: nh's stderr and what is observed right
 * after it (disk, gone store paths, fixed-output .drv files). When those
 * would blame the commit's build (planFullLogReads), the whole build logs of
 * the builders that failed are read from nix too: nix shows only their
 * last lines, and a kill or a full disk may be further up.
 */
async function buildEvidence(
  deps: Deps,
  built: Extract<Awaited<ReturnType<typeof buildToplevel>>, { ok: false }>,
): Promise<FailureEvidence> {
  let lowDisk = false;
  try {
    lowDisk = observeDisks(deps.config.preflight.diskPaths).some(
      (d) => d.freePercent < deps.config.preflight.minFreeDiskPercent,
    );
  } catch {
    // A disk that cannot be measured says nothing either way.
  }
  const e: FailureEvidence = {
    stage: 'build',
    tool: 'nh',
    exitCode: built.exitCode,
    signal: built.signal,
    timedOut: built.timedOut,
    output: built.stderr,
    lowDisk,
    goneStorePaths: observeAbsent(storeObjectsNamedMissing(built.stderr)),
    fixedOutputDrvs: observeFixedOutput(failedDrvsNamed(built.stderr)),
  };
  const drvs = planFullLogReads(e);
  return drvs.length === 0 ? e : { ...e, fullBuildLogs: await readFullBuildLogs(deps, drvs) };
}

function candidateLink(deps: Deps): string {
  return join(deps.paths.buildsDir, 'candidate');
}
function deployedLink(deps: Deps): string {
  return join(deps.paths.buildsDir, 'deployed');
}

/** Remove everything in buildsDir but the deployed out-link: stale candidates, dry-run trees. */
function cleanBuildsDir(deps: Deps, keep: readonly string[]): void {
  mkdirParents(deps.paths.buildsDir);
  for (const name of readdirSync(deps.paths.buildsDir)) {
    if (!keep.includes(name)) rmSync(join(deps.paths.buildsDir, name), { recursive: true, force: true });
  }
}

function rebootOf(plan: ActivationPlan): RebootStatus {
  switch (plan.kind) {
    case 'switch':
      return plan.rebootNeeded ? 'needed' : 'not-needed';
    case 'boot':
      switch (plan.reboot) {
        case 'now':
          return 'requested';
        case 'pending':
          return 'pending';
        case 'not-allowed':
          return 'needed';
        case 'not-needed':
          return 'not-needed';
      }
  }
}

function planFor(
  ctx: Ctx,
  a: { storePath: string; booted: string | null; current: string | null },
): { plan: ActivationPlan; changed: string[] } {
  const { deps } = ctx;
  const operation = ctx.opts.operation ?? deps.config.nixConfig.operation;
  const reference = a.booted ?? a.current;
  const rn =
    reference === null
      ? { needed: false, changed: [] }
      : rebootNeeded(bootFilesOf(reference), bootFilesOf(a.storePath));
  // Against the running system, as switch-to-configuration compares it.
  const initChanged = initInterfaceChanged(initInterfaceOf(deps.paths.currentSystem), initInterfaceOf(a.storePath));
  const plan = planActivation({
    operation,
    rebootNeeded: rn.needed,
    initChanged,
    rebootAllowed: deps.config.reboot.allow,
    inWindow: inRebootWindow(minuteOfDay(deps.clock.now()), deps.config.reboot.window),
  });
  return { plan, changed: [...rn.changed, ...(initChanged ? ['init-interface-version'] : [])] };
}

function describePlan(plan: ActivationPlan, changed: string[], deps: Deps): string {
  switch (plan.kind) {
    case 'switch':
      return plan.rebootNeeded ? `switched live; reboot needed (${changed.join(', ')} changed)` : 'switched live';
    case 'boot':
      switch (plan.reboot) {
        case 'now':
          // Whether it reboots now is said after the reboot turn (deploy, at its end):
          // a host that must wait for its turn must not have said "rebooting now".
          return `set as the boot default; reboot due (${changed.join(', ')} changed, inside the reboot window)`;
        case 'pending':
          return `set as the boot default; reboot pending (${changed.join(', ')} changed; outside the reboot window ${windowText(deps)})`;
        case 'not-allowed':
          return `set as the boot default; reboot needed (${changed.join(', ')} changed; reboot.allow is off)`;
        case 'not-needed':
          return 'set as the boot default (active after the next reboot)';
      }
  }
}

async function dryRunBuild(
  ctx: Ctx,
  a: { decision: Extract<TargetDecision, { kind: 'deploy' }>; current: string | null; booted: string | null },
): Promise<UpgradeRunResult> {
  const { deps } = ctx;
  const tip = a.decision.tip;
  // Build the tip in a throwaway worktree: the checkout itself is never touched.
  // The out-link is a throwaway too: it is a GC root, and a dry run leaves
  // none behind (`candidate` may belong to a real run; it is not touched).
  cleanBuildsDir(deps, ['deployed', 'candidate']);
  const wt = join(deps.paths.buildsDir, 'dry-run-src');
  const outLink = join(deps.paths.buildsDir, 'dry-run');
  await g.addWorktree(deps, ctx.dir, wt, tip);
  let built;
  try {
    if (deps.config.nixConfig.updateInputs) await updateFlakeInputs(deps, wt);
    built = await timed(ctx, 'buildMs', () => buildToplevel(deps, { flakeDir: wt, outLink }));
  } finally {
    await g.removeWorktree(deps, ctx.dir, wt);
    rmSync(outLink, { force: true });
  }
  if (!built.ok) {
    const v = classifyFailure(await buildEvidence(deps, built));
    if (v.class !== 'caused-by-commit') {
      return finish(ctx, {
        kind: 'retry-later',
        exitCode: 75,
        stage: 'build',
        failure: summaryOf(v),
        failures: 0,
        notBefore: deps.clock.now().toISOString(),
        commit: tip,
        message: `dry run: building ${short(tip)} failed, not by the commit's fault (${v.summary}); a real run would retry it and mark nothing`,
      });
    }
    return finish(ctx, {
      kind: 'build-failed',
      exitCode: 3,
      logTail: v.evidence,
      failure: summaryOf(v),
      commit: tip,
      message: `dry run: commit ${short(tip)} does not build (${v.summary}); it would be marked bad and nothing activated`,
    });
  }
  const { plan, changed } = planFor(ctx, { storePath: built.storePath, booted: a.booted, current: a.current });
  const extra =
    a.decision.commitDirty || a.decision.rebase
      ? '; local changes would be committed and rebased onto it (not part of this build)'
      : '';
  return finish(ctx, {
    kind: 'would-deploy',
    exitCode: 0,
    commit: tip,
    storePath: built.storePath,
    plan,
    reason: a.decision.reason,
    message: `dry run: would deploy ${short(tip)} (${a.decision.reason}) as ${built.storePath}: it would be ${describePlan(plan, changed, deps)}${extra}; nothing was changed (the build is in the store without a GC root: the next garbage collection may remove it)`,
  });
}

// ---------------------------------------------------------------------------

interface DeployArgs {
  decision: Extract<TargetDecision, { kind: 'deploy' }>;
  head: string;
  lockDirty: boolean;
  profileStore: string | null;
  current: string | null;
  booted: string | null;
}

async function deploy(ctx: Ctx, a: DeployArgs): Promise<UpgradeRunResult> {
  const { deps, dir } = ctx;
  const cfg = deps.config;
  const log = deps.log.child({ module: 'upgrade' });
  const tip = a.decision.tip;

  // Prepare the checkout. `baseHead` is where it returns on any failure: the
  // head as found, plus the commit of the local changes (never discarded).
  if (a.lockDirty) await g.restoreFile(deps, dir, 'flake.lock');
  let baseHead = a.head;
  if (a.decision.commitDirty) {
    baseHead = await g.commitAll(deps, dir, `${cfg.hostname}: local changes (committed by gitopsd)`);
    log.info('committed local changes', { commit: baseHead });
  }
  if (a.decision.rebase) {
    const rb = await g.rebaseOnto(deps, dir, tip);
    if (!rb.ok) {
      return record(
        ctx,
        finish(ctx, {
          kind: 'refused',
          exitCode: 6,
          check: 'rebase-conflict',
          details: rb.conflicts,
          commit: tip,
          message: `the local commits do not rebase onto ${short(tip)}: conflicts in ${rb.conflicts.join(', ')}; the checkout keeps them on ${short(baseHead)}; resolve by hand (git rebase ${short(tip)}) and push`,
        }),
      );
    }
  } else {
    await g.moveCheckoutTo(deps, dir, tip);
  }
  let candidate = (await g.revParse(deps, dir, 'HEAD')) ?? tip;
  const restoreCheckout = async (): Promise<void> => {
    try {
      await g.moveCheckoutTo(deps, dir, baseHead);
    } catch (err) {
      log.error('could not move the checkout back; fix it by hand', { to: baseHead, err });
    }
  };

  // A rebased candidate that is the same commit as a known-bad one (nothing to rebase).
  const badCandidate = readDeployments(deps.state).badCommits[candidate];
  if (candidate !== tip && badCandidate !== undefined && badCandidate.reason !== 'signature') {
    await restoreCheckout();
    return record(
      ctx,
      finish(ctx, {
        kind: 'skipped-bad',
        exitCode: 3,
        bad: badCandidate,
        commit: candidate,
        message: `commit ${short(candidate)} is known bad (${badCandidate.reason}); not rebuilding it, waiting for a newer commit`,
      }),
    );
  }

  // Producer: update the inputs before building.
  let inputsUpdated = false;
  if (cfg.nixConfig.updateInputs) {
    await timed(ctx, 'buildMs', () => updateFlakeInputs(deps, dir));
    inputsUpdated = (await g.dirtyFiles(deps, dir)).includes('flake.lock');
    log.info('flake inputs updated', { changed: inputsUpdated });
    if (!inputsUpdated && a.decision.reason === 'update-inputs') {
      return record(
        ctx,
        finish(ctx, {
          kind: 'no-op',
          exitCode: 0,
          commit: candidate,
          storePath: a.profileStore,
          reboot: 'not-needed',
          pushed: null,
          message: `up to date: ${short(candidate)} is deployed and running, and the flake inputs have no updates`,
        }),
      );
    }
  }

  // Build.
  cleanBuildsDir(deps, ['deployed']);
  const built = await timed(ctx, 'buildMs', () => buildToplevel(deps, { flakeDir: dir, outLink: candidateLink(deps) }));
  if (!built.ok) {
    const v = classifyFailure(await buildEvidence(deps, built));
    const lockBlob = await g.blobId(deps, dir, candidate, 'flake.lock');
    // The toplevel's .drv for the record, while the checkout is still the
    // candidate (only for a build error: an evaluation error has none).
    const drvPath = v.cause === 'build-error' && !inputsUpdated ? await toplevelDrvPath(deps, dir) : null;
    if (inputsUpdated) await g.restoreFile(deps, dir, 'flake.lock');
    await restoreCheckout();
    rmSync(candidateLink(deps), { force: true });
    const attempt: AttemptKey = { commit: candidate, flakeHost: cfg.nixConfig.flakeHost, lockBlob };
    // With freshly updated inputs the failure may be the update's, not the
    // commit's: do not mark the commit bad, the next run tries again.
    if (v.class !== 'caused-by-commit' || inputsUpdated) {
      const prev = findRetry(readUpgrade(deps.state).retries, attempt);
      const failures = prev !== null && prev.cause === v.cause ? prev.failures + 1 : 1;
      const r = record(
        ctx,
        finish(ctx, {
          kind: 'retry-later',
          exitCode: 75,
          stage: 'build',
          failure: summaryOf(v),
          failures,
          notBefore: '',
          commit: candidate,
          message: `building ${short(candidate)}${inputsUpdated ? ' with updated inputs' : ''} failed, and it is not the commit's fault (${v.summary}); nothing was activated or marked bad, the checkout is back at ${short(baseHead)}, a later run retries`,
        }),
        { retry: { ...attempt, stage: 'build', verdict: v } },
      );
      const rec = findRetry(readUpgrade(deps.state).retries, attempt);
      return r.kind === 'retry-later' && rec !== null ? { ...r, notBefore: rec.notBefore } : r;
    }
    const bad: BadCommitInput = {
      commit: candidate,
      reason: 'build-failed',
      at: deps.clock.now().toISOString(),
      message: v.summary,
      storePath: null,
      logTail: tail(built.stderr, 4000),
      cause: v.cause,
      evidence: v.evidence,
      build: {
        flakeHost: cfg.nixConfig.flakeHost,
        flakeAttr: toplevelAttr(dir, cfg.nixConfig.flakeHost),
        lockBlob,
        drvPath,
        failedDrv: failedDrvOf(v.evidence),
      },
    };
    return record(
      ctx,
      finish(ctx, {
        kind: 'build-failed',
        exitCode: 3,
        logTail: v.evidence,
        failure: summaryOf(v),
        commit: candidate,
        message: `commit ${short(candidate)} does not build (${v.summary}); nothing was activated, the checkout is back at ${short(baseHead)}, and the commit is marked bad for this build (flakeHost ${cfg.nixConfig.flakeHost}) until a newer one arrives ("gitopsd bad forget ${short(candidate)}" retracts it)`,
      }),
      { bad },
    );
  }
  const storePath = built.storePath;
  if (inputsUpdated) {
    candidate = await g.commitPaths(deps, dir, ['flake.lock'], lockCommitSubject(cfg.hostname));
    log.info('committed the updated flake.lock', { commit: candidate });
  }
  await logClosureDiff(deps, a.current, storePath);

  const { plan, changed } = planFor(ctx, { storePath, booted: a.booted, current: a.current });
  const operation: Operation = plan.kind;
  const previous = a.profileStore ?? a.current;
  const deployedBase = candidate !== tip ? { commit: candidate, base: tip } : null;
  const at = (): string => deps.clock.now().toISOString();

  // Nothing changes on the system: record without re-activating (comin #192).
  const unchanged = storePath === a.profileStore && (operation === 'boot' || storePath === a.current);
  if (!unchanged) {
    const pending: PendingActivation = {
      commit: candidate,
      storePath,
      previous,
      operation,
      phase: 'activate',
      at: at(),
      restoreHead: baseHead,
      running: a.current,
    };
    updateUpgrade(deps.state, (u) => ({ ...u, pending }));

    const lockBlob = await g.blobId(deps, dir, candidate, 'flake.lock');
    const build = {
      flakeHost: cfg.nixConfig.flakeHost,
      flakeAttr: toplevelAttr(dir, cfg.nixConfig.flakeHost),
      lockBlob,
      drvPath: null,
      failedDrv: null,
    };
    const fail = async (
      stage: 'activation' | 'post-switch',
      reason: BadReason,
      v: FailureVerdict,
      checks: CheckResult[],
      // 'reverted': the previous system is already back (the post-switch
      // check); 'profile-only': switch-to-configuration stopped before it
      // changed anything (switchChangedNothing), so only the profile goes back;
      // 'untouched': it stopped so at the live `test`, before which gitopsd
      // sets nothing, so nothing goes back (the profile may be a person's
      // nixos-rebuild's, which holds the lock).
      after: 'revert' | 'reverted' | 'profile-only' | 'untouched' = 'revert',
    ): Promise<UpgradeRunResult> => {
      const reverted = after === 'reverted';
      const back =
        after === 'untouched'
          ? 'switch-to-configuration changed nothing, and gitopsd had changed nothing before it, so nothing was put back'
          : after === 'profile-only'
            ? `switch-to-configuration changed nothing, so only the profile was put back to ${previous ?? '(none)'}`
            : `re-activated the previous system ${previous ?? '(none)'}`;
      const what =
        stage === 'activation' ? `activating ${short(candidate)}` : `the post-switch check of ${short(candidate)}`;
      if (v.class !== 'caused-by-commit') {
        // Not the commit's fault (a hang, a full disk, ...): put the previous
        // system back in this same run, and mark nothing. The retry record
        // spaces out the next try (a hang waits days, not one night).
        if (!reverted)
          await revert(ctx, { pending, bad: null, reactivate: after === 'revert', profile: after !== 'untouched' });
        rmSync(candidateLink(deps), { force: true });
        const attempt: AttemptKey = { commit: candidate, flakeHost: cfg.nixConfig.flakeHost, lockBlob };
        const r = record(
          ctx,
          finish(ctx, {
            kind: 'retry-later',
            exitCode: 75,
            stage,
            failure: summaryOf(v),
            failures: 0,
            notBefore: '',
            commit: candidate,
            message: `${what} failed, and it is not the commit's fault (${v.summary}); ${back} in this run, marked nothing, the checkout is back at ${short(baseHead)}`,
          }),
          { retry: { ...attempt, stage, verdict: v } },
        );
        const rec = findRetry(readUpgrade(deps.state).retries, attempt);
        return r.kind === 'retry-later' && rec !== null
          ? {
              ...r,
              failures: rec.failures,
              notBefore: rec.notBefore,
              message: `${r.message}; not tried again before ${rec.notBefore}`,
            }
          : r;
      }
      const message = `${what} failed (${v.summary})`;
      const bad: BadCommitInput = {
        commit: candidate,
        reason,
        at: at(),
        message,
        storePath,
        logTail: v.evidence,
        cause: v.cause,
        evidence: v.evidence,
        build,
      };
      // Already reverted (the post-switch check, re-asked on the previous
      // system): the mark goes with the record of the run. A kill between the
      // two leaves the commit unmarked, and the next run tries it again.
      if (!reverted)
        await revert(ctx, { pending, bad, reactivate: after === 'revert', profile: after !== 'untouched' });
      rmSync(candidateLink(deps), { force: true });
      return record(
        ctx,
        finish(ctx, {
          kind: 'reverted',
          exitCode: 4,
          commit: candidate,
          storePath,
          restored: previous,
          stage,
          checks,
          message: `${message}; ${back}, marked the commit bad, the checkout is back at ${short(baseHead)}`,
        }),
        reverted ? { bad } : undefined,
      );
    };
    // What failed by name (stdout, anywhere in stderr) above the end of the
    // program's own stderr (switchOutput).
    const activationVerdict = (action: string, r: SwitchResult, output: string): FailureVerdict =>
      classifyFailure({
        stage: 'activation',
        tool: `switch-to-configuration ${action}`,
        exitCode: r.exitCode,
        signal: r.signal,
        timedOut: r.timedOut,
        output,
      });

    if (plan.kind === 'switch') {
      const t = await timed(ctx, 'activateMs', () => switchToConfiguration(deps, storePath, 'test'));
      // Exit 4 means "some units failed": the post-switch check decides
      // whether they matter; unless the activate script failed too
      // (switchOutcome, src/failure/activation.ts).
      const out = switchOutput('test', t);
      const outcome = switchOutcome(t.exitCode, out);
      if (outcome === 'failed') {
        // gitopsd sets the profile only after `test` and the checks.
        const after = switchChangedNothing(t.exitCode, out) ? 'untouched' : 'revert';
        return fail('activation', 'activation-failed', activationVerdict('test', t, out), [], after);
      }
      if (outcome === 'units-failed')
        log.warn('switch-to-configuration reported failed units', { stderr: t.stderrTail });
      const h = await timed(ctx, 'validateMs', () =>
        waitForHealthy(deps, {
          services: cfg.validation.services,
          checks: cfg.validation.checks,
          timeoutSec: cfg.validation.timeoutSec,
          settleSec: cfg.validation.settleSeconds,
        }),
      );
      if (!h.ok) {
        const failed = h.results.filter((r) => !r.ok);
        // The same checks passed on the previous system before the build (the
        // pre-check in runUpgrade), but a build can take hours, and an
        // upstream a check reaches may have gone down since. So put the
        // previous system back first, and ask it the same checks again: a
        // check that fails there too is the environment's, not the commit's.
        await revert(ctx, { pending, bad: null });
        const again = await timed(ctx, 'validateMs', () =>
          waitForHealthy(deps, {
            services: cfg.validation.services,
            checks: cfg.validation.checks,
            timeoutSec: cfg.validation.timeoutSec,
            settleSec: cfg.validation.settleSeconds,
          }),
        );
        const onPrevious = again.ok ? [] : again.results.filter((r) => !r.ok);
        const v = classifyFailure({
          stage: 'post-switch',
          tool: 'check',
          exitCode: null,
          signal: null,
          timedOut: h.timedOut === true,
          output: [
            ...failed.map((r) => `${r.name}: ${r.detail}`),
            ...onPrevious.map((r) => `${r.name} (on the previous system, after the revert): ${r.detail}`),
          ].join('\n'),
          failingBefore: [],
          failingAfter: failed.map((r) => r.name),
          failingOnPrevious: onPrevious.map((r) => r.name),
        });
        return fail('post-switch', 'post-switch-failed', v, h.results, 'reverted');
      }
    }
    await timed(ctx, 'activateMs', () => setSystemProfile(deps, storePath));
    const b = await timed(ctx, 'activateMs', () => switchToConfiguration(deps, storePath, 'boot'));
    if (b.exitCode !== 0) {
      // After a live `test` the candidate runs: only a re-activation puts the
      // previous system back, whatever stopped `boot`.
      const out = switchOutput('boot', b);
      const after = plan.kind !== 'switch' && switchChangedNothing(b.exitCode, out) ? 'profile-only' : 'revert';
      return fail('activation', 'activation-failed', activationVerdict('boot', b, out), [], after);
    }
  }

  // Record: deployment, run, pending cleared, in one write. The subject is
  // recorded so that `status` can show it without starting git.
  const subject = await g.commitSubject(deps, ctx.dir, candidate);
  const generation = profileGeneration(deps.paths.systemProfile);
  const reboot = rebootOf(plan);
  const result = finish(ctx, {
    kind: 'deployed',
    exitCode: 0,
    commit: candidate,
    storePath,
    generation,
    operation,
    reboot,
    pushed: null,
    message: `deployed ${short(candidate)} as generation ${generation ?? '?'} (${storePath}): ${unchanged ? 'the system was already this one' : describePlan(plan, changed, deps)}`,
  });
  updateBoth(deps.state, (d, u) => ({
    deployments: withDeployment(d, { commit: candidate, storePath, generation, at: at(), operation, subject }),
    upgrade: {
      ...u,
      pending: null,
      deployedBase,
      lastRun: lastRunOf(ctx, result),
      retries: withoutRetries(u.retries, candidate),
    },
  }));
  try {
    renameSync(candidateLink(deps), deployedLink(deps));
  } catch (err) {
    log.warn('could not keep the out-link of the deployed system', { err });
  }

  // Push our commits (local changes, flake.lock) only after a good activation.
  let final: UpgradeRunResult = result;
  if (deployedBase !== null) {
    const p = await timed(ctx, 'pushMs', () => g.pushWithRetry(deps, dir));
    if (!p.pushed) log.warn('our commits could not be pushed; the next run retries', { why: p.why });
    final = {
      ...result,
      pushed: p.pushed,
      message: `${result.message}; ${p.pushed ? pushedText(deps, p.to) : `pushing our commits failed (${p.why}), the next run retries`}`,
    } as UpgradeRunResult;
  }
  if (reboot !== 'requested') return final;
  const turn = await askRebootTurn(ctx, storePath);
  if (turn === null || turn.kind === 'go') {
    await requestReboot(deps);
    return { ...final, message: `${final.message}; ${turn === null ? 'rebooting now' : turn.line}` };
  }
  // Not our turn: the system is the boot default, and a later run reboots it.
  const waited = {
    ...final,
    reboot: turn.kind === 'wait' ? 'waiting-turn' : 'turns-halted',
    message: `${final.message}; not rebooting yet: ${turn.line}`,
  } as UpgradeRunResult;
  updateUpgrade(deps.state, (u) => ({
    ...u,
    lastRun: u.lastRun === null ? null : { ...u.lastRun, message: waited.message },
  }));
  return waited;
}

/**
 * Ask for a reboot turn (docs/rollout.md "Reboots take turns") before
 * `systemctl reboot`; null: no turns (reboot.maxConcurrent is null), reboot.
 * A turn that cannot be asked is a wait: rebooting without one could take a
 * group's last healthy hosts down together.
 */
async function askRebootTurn(ctx: Ctx, system: string): Promise<RebootTurnVerdict | null> {
  const { deps } = ctx;
  const max = deps.config.reboot.maxConcurrent;
  if (max === null) return null;
  const log = deps.log.child({ module: 'upgrade' });
  let v: RebootTurnVerdict;
  if (ctx.opts.rebootTurn === undefined) {
    v = {
      kind: 'wait',
      line: 'reboot.maxConcurrent is set, but this command cannot ask for a reboot turn; please report',
    };
  } else {
    try {
      v = await ctx.opts.rebootTurn({ system });
    } catch (err) {
      v = {
        kind: 'wait',
        line: `could not ask for a reboot turn (${(err as Error).message}); the next run asks again`,
      };
    }
  }
  log.info('reboot turn', { system, verdict: v.kind, line: v.line });
  return v;
}

/**
 * Put the previous system back: mark the commit bad and the pending
 * activation as reverting (one write, so a crash from here on is finished by
 * the next run's recover), re-activate, move the checkout back, clear.
 */
async function revert(
  ctx: Ctx,
  a: { pending: PendingActivation; bad: BadCommitInput | null; reactivate?: boolean; profile?: boolean },
): Promise<void> {
  const { deps } = ctx;
  updateBoth(deps.state, (d, u) => ({
    deployments: a.bad === null ? d : withBadCommit(d, a.bad),
    upgrade: { ...u, pending: { ...a.pending, phase: 'revert' } },
  }));
  await restorePrevious(ctx, a.pending, a.reactivate ?? true, a.profile ?? true);
  updateUpgrade(deps.state, (u) => ({ ...u, pending: null }));
}

/**
 * `reactivate` false: switch-to-configuration stopped before it changed
 * anything (its lock was held): only the profile goes back, since running
 * the previous system's switch-to-configuration would meet the same lock. A
 * crash in between leaves phase 'revert', and the next run's recover
 * re-activates in full. `profile` false as well (the live plan's `test`,
 * before which gitopsd set nothing): nothing is written.
 */
async function restorePrevious(ctx: Ctx, p: PendingActivation, reactivate = true, profile = true): Promise<void> {
  const { deps } = ctx;
  const log = deps.log.child({ module: 'upgrade' });
  if (p.previous !== null && !reactivate) {
    if (profile) await setSystemProfile(deps, p.previous);
  } else if (p.previous !== null) {
    await setSystemProfile(deps, p.previous);
    // A live plan on a host that owes a reboot into a new init interface:
    // the previous system is only the boot default, and its live switch
    // would exit 100 (restoreSteps).
    const steps = restoreSteps({
      operation: p.operation,
      previous: p.previous,
      running: p.running ?? null,
      initChanged: initInterfaceChanged(initInterfaceOf(deps.paths.currentSystem), initInterfaceOf(p.previous)),
    });
    if (p.operation === 'switch' && steps.every((s) => s.action !== 'test' && s.action !== 'switch'))
      log.warn(
        'the previous system can only be set as the boot default (its init interface differs from the running one), and the system that ran before is not recorded; the candidate runs until the reboot',
        { pending: p },
      );
    for (const { system, action } of steps) {
      const r = await switchToConfiguration(deps, system, action);
      if (r.exitCode === LOCK_BUSY_EXIT && switchChangedNothing(r.exitCode, switchOutput(action, r))) {
        // Another switch (a person's nixos-rebuild) holds the lock: golden's
        // rollback would meet it too. The profile is back; the next run,
        // once the lock is free, finishes the re-activation (pending stays).
        throw new GitopsdError(
          'temporary',
          `re-activating the previous system ${system} waits: another switch-to-configuration holds its lock (a nixos-rebuild by hand?); the profile is back, and the next run finishes it once that switch is done`,
        );
      }
      if (r.exitCode !== 0 && r.exitCode !== 4) {
        throw new GitopsdError(
          'failed',
          `re-activating the previous system ${system} failed (switch-to-configuration ${action} exited ${r.exitCode}: ${lastLine(r.stderrTail)}); the next run retries, or run "gitopsd golden rollback"`,
        );
      }
      if (r.exitCode === 4)
        log.warn('the previous system reports failed units after re-activation', { stderr: r.stderrTail });
    }
  } else {
    log.warn('no previous system is known; nothing to re-activate', { pending: p });
  }
  const restoreHead = typeof p['restoreHead'] === 'string' ? p['restoreHead'] : null;
  if (restoreHead !== null && existsSync(ctx.dir)) {
    try {
      await g.moveCheckoutTo(deps, ctx.dir, restoreHead);
    } catch (err) {
      log.warn('could not move the checkout back after the revert', { to: restoreHead, err });
    }
  }
}

/** A previous run died mid-activation: restore the previous system, then carry on. */
async function recover(ctx: Ctx, p: PendingActivation): Promise<void> {
  const log = ctx.deps.log.child({ module: 'upgrade' });
  log.warn('a previous upgrade was interrupted during activation; restoring the previous system first', {
    pending: p,
  });
  await restorePrevious(ctx, p);
  updateUpgrade(ctx.deps.state, (u) => ({ ...u, pending: null }));
}

/** What a good push of our commits did: to the deployed branch, or a proposal on nixConfig.proposeBranch. */
function pushedText(deps: Deps, to: string): string {
  return to === deps.config.nixConfig.branch
    ? 'pushed our commits'
    : `proposed our commits on ${to} (gitopsd updates lists it; gitopsd updates merge ${to} deploys it)`;
}
