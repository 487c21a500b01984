/**
 * The pure decisions of upgrade: which commit to deploy (or why not), whether
 * the host passes preflight, whether the new system needs a reboot, whether
 * now is inside the reboot window, and how to activate.
 *
 * Nothing here reads git, the file system, the environment or the clock: the
 * observations come in as values (src/upgrade/observe.ts), so every safety
 * rule is a row in a table test (test/unit/upgrade/).
 */
import type { BadCommit } from '../core/deployments.js';

// ---------------------------------------------------------------------------
// Preflight

export interface DiskObservation {
  path: string;
  /** Free space available to unprivileged users, in percent of the filesystem size. */
  freePercent: number;
}

export interface PreflightObservation {
  disks: DiskObservation[];
  /**
   * What `systemctl is-system-running` printed (running, degraded, starting,
   * ...); null when it was not asked: the run asks only once it knows there
   * is something to deploy (src/upgrade/index.ts), so a run with nothing new
   * starts no process for its preflight.
   */
  systemState: string | null;
  uptimeSec: number;
}

export interface PreflightPolicy {
  minFreeDiskPercent: number;
  allowDegraded: boolean;
  minUptimeSec: number;
}

export type PreflightCheck = 'disk' | 'system-state' | 'uptime';

export interface PreflightFailure {
  check: PreflightCheck;
  /** One line: what, the measured value, the threshold and the shortfall. */
  message: string;
}

export type PreflightVerdict = { ok: true } | { ok: false; failures: PreflightFailure[] };

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Every failing check is reported, not only the first: one run tells the operator everything. */
export function decidePreflight(obs: PreflightObservation, policy: PreflightPolicy): PreflightVerdict {
  const failures: PreflightFailure[] = [];
  for (const d of obs.disks) {
    if (d.freePercent < policy.minFreeDiskPercent) {
      failures.push({
        check: 'disk',
        message: `free space on ${d.path} is ${round1(d.freePercent)}%, below preflight.minFreeDiskPercent ${policy.minFreeDiskPercent}% (short by ${round1(policy.minFreeDiskPercent - d.freePercent)} points)`,
      });
    }
  }
  const state = obs.systemState;
  const stateOk = state === null || state === 'running' || (state === 'degraded' && policy.allowDegraded);
  if (!stateOk) {
    const hint =
      state === 'degraded'
        ? 'some unit failed (systemctl --failed); fix it or set preflight.allowDegraded'
        : 'the system is not up (yet)';
    failures.push({
      check: 'system-state',
      message: `systemctl is-system-running says "${state}", expected "running"${policy.allowDegraded ? ' or "degraded"' : ''}: ${hint}`,
    });
  }
  if (obs.uptimeSec < policy.minUptimeSec) {
    failures.push({
      check: 'uptime',
      message: `uptime is ${Math.floor(obs.uptimeSec)} s, below preflight.minUptimeSec ${policy.minUptimeSec} s (${Math.ceil(policy.minUptimeSec - obs.uptimeSec)} s to go)`,
    });
  }
  return failures.length === 0 ? { ok: true } : { ok: false, failures };
}

// ---------------------------------------------------------------------------
// Target choice

export type SignatureStatus =
  | { kind: 'not-required' }
  | { kind: 'good'; signer: string }
  | { kind: 'unsigned' }
  | { kind: 'untrusted'; detail: string };

export interface LocalCommit {
  sha: string;
  subject: string;
}

export interface TargetObservation {
  /** The remote branch tip after the fetch. */
  tip: string;
  /** The checkout's HEAD. */
  head: string;
  /** The deployed commit (deployments.current), null before the first deployment. */
  deployed: string | null;
  /**
   * Whether the system is the deployed one: the profile points at its store
   * path and, for a live switch, so does the running system.
   */
  systemIsDeployed: boolean;
  /** The deployed system was activated for the next boot and a reboot is still to come. */
  rebootPending: boolean;
  /** The known-bad record of the tip, if any. */
  badTip: BadCommit | null;
  /**
   * Whether the deployed commit's remote base is an ancestor of the tip
   * (null before the first deployment: there is nothing to compare with).
   */
  tipDescendsFromDeployed: boolean | null;
  /** Whether the tip is an ancestor of (or equal to) HEAD. */
  headContainsTip: boolean;
  /** Commits in HEAD that the remote does not have (oldest first). */
  localCommits: LocalCommit[];
  /** Uncommitted changes (tracked and untracked, not ignored), as paths; [] when not looked for (dirtyFilesMatter). */
  dirtyFiles: string[];
  signature: SignatureStatus;
}

export interface TargetPolicy {
  host: string;
  allowForcePush: boolean;
  commitLocalChanges: boolean;
  updateInputs: boolean;
}

export type RefuseCheck = 'force-push' | 'signature' | 'local-changes';

export type TargetDecision =
  /** Nothing to build. `push`: our own local commits still wait to be pushed. */
  | { kind: 'no-op'; commit: string; push: boolean; rebootPending: boolean }
  | { kind: 'skip-bad'; commit: string; bad: BadCommit }
  | { kind: 'refuse'; check: RefuseCheck; commit: string; message: string; files?: string[] }
  | {
      kind: 'deploy';
      /** The remote tip the candidate is built on. */
      tip: string;
      /** Commit the dirty files first. */
      commitDirty: boolean;
      /** Rebase local commits onto the tip (else the checkout simply moves to the tip). */
      rebase: boolean;
      reason: 'first-deployment' | 'new-commit' | 'drift' | 'local-changes' | 'update-inputs';
    };

/**
 * Whether the checkout's dirty files must be looked for (`git status
 * --porcelain`, one git process) before decideTarget. Pure.
 *
 * They are skipped only when nothing is new and nothing would be built: the
 * tip is the deployed commit and HEAD (no local commits), the system is the
 * deployed one, no reboot is pending, the tip carries no bad mark, and
 * neither `commitLocalChanges` (dirty files are then a change to deploy) nor
 * `updateInputs` (the producer's run goes on to `nix flake update`) is set.
 * There, dirty files could only turn the no-op into a `local-changes`
 * refusal that protects nothing: no checkout moves, nothing is built or
 * activated. The first run with a new tip looks for them before it changes
 * anything, and refuses or commits them as before (docs/upgrade.md, "No-op").
 * This is also what a poll does (src/cycle/poll.ts: one `git fetch`).
 */
export function dirtyFilesMatter(
  obs: Pick<TargetObservation, 'tip' | 'head' | 'deployed' | 'systemIsDeployed' | 'rebootPending' | 'badTip'>,
  policy: Pick<TargetPolicy, 'commitLocalChanges' | 'updateInputs'>,
): boolean {
  const nothingNew =
    obs.deployed !== null &&
    obs.tip === obs.deployed &&
    obs.head === obs.tip &&
    obs.systemIsDeployed &&
    !obs.rebootPending &&
    obs.badTip === null;
  return !nothingNew || policy.commitLocalChanges || policy.updateInputs;
}

/** The subject of the producer's flake.lock commit; also recognised as "ours" when rebasing. */
export function lockCommitSubject(host: string): string {
  return `flake.lock: update (${host})`;
}

const short = (sha: string): string => sha.slice(0, 12);

/**
 * Choose what to do with the remote tip. The order is the safety order:
 * 1. a bad tip is never rebuilt (except for signature refusals, which are
 *    re-verified each run: the allowed signers may have changed);
 * 2. nothing new and the system is the deployed one: no-op;
 * 3. history that does not contain the deployed commit: refused (force-push);
 * 4. a tip without a good signature from an allowed signer: refused;
 * 5. local changes: committed and rebased, or refused, never discarded.
 */
export function decideTarget(obs: TargetObservation, policy: TargetPolicy): TargetDecision {
  const lockSubject = lockCommitSubject(policy.host);
  const hasLocal = obs.localCommits.length > 0 || obs.dirtyFiles.length > 0;
  // The candidate when local commits already sit on the tip (a push that did not go through).
  const candidateIsHead = obs.localCommits.length > 0 && obs.dirtyFiles.length === 0 && obs.headContainsTip;

  // (A rebased candidate is checked again once its commit exists: src/upgrade/index.ts.)
  if (obs.badTip !== null && obs.badTip.reason !== 'signature') {
    return { kind: 'skip-bad', commit: obs.tip, bad: obs.badTip };
  }

  const upToDate =
    obs.deployed !== null &&
    obs.dirtyFiles.length === 0 &&
    (obs.localCommits.length === 0 ? obs.tip === obs.deployed : candidateIsHead && obs.head === obs.deployed);
  if (upToDate && obs.systemIsDeployed) {
    // A producer's nightly job is the input update itself: nothing new in git
    // still means "run nix flake update and see" (the run stays a no-op,
    // without a build, when the lock does not change).
    if (policy.updateInputs && obs.localCommits.length === 0 && !obs.rebootPending) {
      return { kind: 'deploy', tip: obs.tip, commitDirty: false, rebase: false, reason: 'update-inputs' };
    }
    return {
      kind: 'no-op',
      commit: obs.deployed ?? obs.tip,
      push: obs.localCommits.length > 0,
      rebootPending: obs.rebootPending,
    };
  }

  if (obs.tipDescendsFromDeployed === false && !policy.allowForcePush) {
    return {
      kind: 'refuse',
      check: 'force-push',
      commit: obs.tip,
      message: `the remote tip ${short(obs.tip)} does not contain the deployed commit ${short(obs.deployed ?? '')} (history was rewritten, e.g. by a force-push); check the remote, or set nixConfig.allowForcePush to accept it`,
    };
  }

  switch (obs.signature.kind) {
    case 'not-required':
    case 'good':
      break;
    case 'unsigned':
      return {
        kind: 'refuse',
        check: 'signature',
        commit: obs.tip,
        message: `the remote tip ${short(obs.tip)} is not signed, and nixConfig.allowedSignersFile requires an SSH signature from an allowed signer; push a signed commit`,
      };
    case 'untrusted':
      return {
        kind: 'refuse',
        check: 'signature',
        commit: obs.tip,
        message: `the signature of the remote tip ${short(obs.tip)} is not good or not from an allowed signer (${obs.signature.detail}); push a commit signed by a key in nixConfig.allowedSignersFile`,
      };
  }

  if (hasLocal) {
    // The producer's own flake.lock commit is ours to rebase even without commitLocalChanges.
    const foreign = obs.localCommits.filter((c) => !(policy.updateInputs && c.subject === lockSubject));
    if (!policy.commitLocalChanges && (obs.dirtyFiles.length > 0 || foreign.length > 0)) {
      const items = [...obs.dirtyFiles, ...foreign.map((c) => `commit ${short(c.sha)} "${c.subject}"`)];
      return {
        kind: 'refuse',
        check: 'local-changes',
        commit: obs.tip,
        files: items,
        message: `the checkout has local changes that gitopsd will not discard: ${items.join(', ')}; commit and push them, remove them, or set nixConfig.commitLocalChanges`,
      };
    }
    return {
      kind: 'deploy',
      tip: obs.tip,
      commitDirty: obs.dirtyFiles.length > 0,
      rebase: true,
      reason: 'local-changes',
    };
  }

  const reason = obs.deployed === null ? 'first-deployment' : obs.tip === obs.deployed ? 'drift' : 'new-commit';
  return { kind: 'deploy', tip: obs.tip, commitDirty: false, rebase: false, reason };
}

// ---------------------------------------------------------------------------
// Reboot

export interface BootFiles {
  kernel: string | null;
  initrd: string | null;
  kernelModules: string | null;
}

/**
 * autoUpgrade's three-way check: a reboot is needed when the kernel, initrd
 * or kernel modules of the new system differ from the booted system's
 * (comin compares only the kernel and misses initrd-only changes).
 */
export function rebootNeeded(booted: BootFiles, next: BootFiles): { needed: boolean; changed: (keyof BootFiles)[] } {
  const changed = (['kernel', 'initrd', 'kernelModules'] as const).filter((k) => booted[k] !== next[k]);
  return { needed: changed.length > 0, changed: [...changed] };
}

export { initInterfaceChanged } from '../host/system.js';

/**
 * How the previous system is put back (revert, recover): `previous` is the
 * profile's system before the activation (`pending.previous`), `running` the
 * system that ran then (`pending.running`, null in records of older
 * versions). Normally its `switch` (a live plan) or `boot`. But when a live
 * plan ran on a host that owes a reboot into a new init interface (the
 * boot-only deploy of planActivation), `previous` is only the boot default,
 * and its `switch` would exit 100 without activating anything (main.rs,
 * do_system_switch): `initChanged` is initInterfaceChanged(the running
 * system's, previous's). Then previous goes back as the boot default and
 * the system that ran before back live with `test` (its init interface is
 * the running one's: the live plan's candidate had the same). Without
 * `running`, only the boot default goes back, and the candidate runs until
 * the reboot.
 */
export function restoreSteps(p: {
  operation: Operation;
  previous: string;
  running: string | null;
  initChanged: boolean;
}): { system: string; action: 'switch' | 'boot' | 'test' }[] {
  if (p.operation !== 'switch') return [{ system: p.previous, action: 'boot' }];
  if (!p.initChanged) return [{ system: p.previous, action: 'switch' }];
  return [
    { system: p.previous, action: 'boot' },
    ...(p.running === null || p.running === p.previous ? [] : [{ system: p.running, action: 'test' as const }]),
  ];
}

export interface RebootWindow {
  lower: string;
  upper: string;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map((s) => Number.parseInt(s, 10));
  return (h ?? 0) * 60 + (m ?? 0);
}

/**
 * Whether `minuteOfDay` (0..1439, local time) is inside the window
 * [lower, upper). A window with lower > upper crosses midnight; lower ==
 * upper is the whole day (as in autoUpgrade); no window means any time.
 */
export function inRebootWindow(minuteOfDay: number, window: RebootWindow | null): boolean {
  if (window === null) return true;
  const lo = minutesOf(window.lower);
  const hi = minutesOf(window.upper);
  if (lo === hi) return true;
  if (lo < hi) return minuteOfDay >= lo && minuteOfDay < hi;
  return minuteOfDay >= lo || minuteOfDay < hi;
}

export type Operation = 'switch' | 'boot';

export type ActivationPlan =
  /** Live switch: test, post-switch check, then profile and boot default. */
  | { kind: 'switch'; rebootNeeded: boolean }
  /** Boot default only; `reboot` says whether to reboot right after. */
  | { kind: 'boot'; reboot: 'now' | 'pending' | 'not-needed' | 'not-allowed' };

/**
 * How to activate. With reboot.allow and a changed kernel/initrd/modules, the
 * new system is only set as the boot default (a live switch to a new kernel
 * would run new userland on the old kernel) and the host reboots inside the
 * window. Without reboot.allow, the configured operation runs as asked and
 * the report says "reboot needed".
 *
 * A changed init interface (`initChanged`, initInterfaceChanged) is a reboot
 * needed too, with one difference: switch-to-configuration cannot activate
 * such a system live at all (it exits 100), so the plan is never a live
 * switch. With reboot.allow the host reboots as above; without, the system
 * is set as the boot default and the report says "reboot needed", which is
 * what `nixos-rebuild switch` leaves behind in that case (the boot entry
 * installed, nothing activated). Before, the live plan's `test` met exit
 * 100 on every run and waited with backoff for a reboot nobody scheduled.
 */
export function planActivation(opts: {
  operation: Operation;
  rebootNeeded: boolean;
  initChanged?: boolean;
  rebootAllowed: boolean;
  inWindow: boolean;
}): ActivationPlan {
  const initChanged = opts.initChanged === true;
  if ((opts.rebootNeeded || initChanged) && opts.rebootAllowed) {
    return { kind: 'boot', reboot: opts.inWindow ? 'now' : 'pending' };
  }
  if (initChanged) return { kind: 'boot', reboot: 'not-allowed' };
  if (opts.operation === 'switch') return { kind: 'switch', rebootNeeded: opts.rebootNeeded };
  return { kind: 'boot', reboot: opts.rebootNeeded ? 'not-allowed' : 'not-needed' };
}
