/**
 * The observe step of upgrade: read the host, the checkout and the state into
 * the values the pure decisions of src/upgrade/decide.ts take. Read-only: it
 * runs git and systemctl queries and reads files, and changes nothing (the
 * re-examination of an old bad mark, which writes, stays in runUpgrade).
 *
 * - `observePreflightLocal` (before the fetch): free space of
 *   preflight.diskPaths (statfs) and paths.uptimeFile -> decidePreflight;
 *   `observePreflightSystem` (only once there is something to deploy):
 *   `systemctl is-system-running` -> decidePreflight.
 * - `observeTarget`: the deployed commit and system (state "deployments",
 *   "upgrade"; paths.systemProfile/currentSystem/bootedSystem), the tip's
 *   bad mark for this build, and the checkout (ancestry, local commits,
 *   dirty files unless dirtyFilesMatter says they cannot change the
 *   decision, the tip's signature) -> decideTarget.
 *
 * Failures: a git, statfs or uptime read that fails throws (GitopsdError or
 * CommandFailed); nothing has changed by then.
 */
import { existsSync } from 'node:fs';
import type { Deps } from '../core/deps.js';
import { markApplies, type DeploymentsSection } from '../core/deployments.js';
import { realpathOrNull } from '../core/fs-read.js';
import {
  dirtyFilesMatter,
  rebootNeeded,
  initInterfaceChanged,
  type PreflightObservation,
  type SignatureStatus,
  type TargetObservation,
} from './decide.js';
import * as g from './git.js';
import { readUpgrade } from './state.js';
import { bootFilesOf, initInterfaceOf, observeDisks, readUptimeSec, systemState } from './system.js';

/** What decidePreflight needs: free disk space, systemd's state, uptime. */
/**
 * The preflight checks that start no process: free space (statfs) and uptime
 * (/proc/uptime). They run before the fetch.
 */
export function observePreflightLocal(deps: Deps): PreflightObservation {
  return {
    disks: observeDisks(deps.config.preflight.diskPaths),
    systemState: null,
    uptimeSec: readUptimeSec(deps.paths.uptimeFile),
  };
}

/** The system-state check (`systemctl is-system-running`): asked only once there is something to deploy. */
export async function observePreflightSystem(deps: Deps): Promise<PreflightObservation> {
  return { disks: [], systemState: await systemState(deps), uptimeSec: Number.POSITIVE_INFINITY };
}

/** decideTarget's observation, and what the later steps of runUpgrade need of the same reads. */
export interface TargetObserved {
  obs: TargetObservation;
  /** deployments.current. */
  deployed: DeploymentsSection['current'];
  /** The flake.lock blob of the tip; read only when the tip has a bad mark or a retry record, else null. */
  tipLock: string | null;
  profileStore: string | null;
  current: string | null;
  booted: string | null;
  /** On a producer, flake.lock was left modified (it is regenerated, so it is not in obs.dirtyFiles). */
  lockDirty: boolean;
}

/**
 * Read what decideTarget decides on, after the fetch. `deployments` is the
 * section as runUpgrade last read or wrote it. The git calls run in this
 * order: the tip's flake.lock blob (only when needed), the anchor's
 * existence, the dirty files, the tip's signature, then the ancestry and the
 * local commits.
 */
export async function observeTarget(
  deps: Deps,
  a: { dir: string; head: string; tip: string; deployments: DeploymentsSection },
): Promise<TargetObserved> {
  const { dir, head, tip } = a;
  const cfg = deps.config;
  const log = deps.log.child({ module: 'upgrade' });
  const dep = a.deployments;
  // A mark applies only to the same build: another flakeHost or another
  // flake.lock is a new attempt. The lock blob costs one git call, only
  // when the tip has a mark or a retry record.
  const flakeHost = cfg.nixConfig.flakeHost;
  const needLock = dep.badCommits[tip] !== undefined || readUpgrade(deps.state).retries.some((r) => r.commit === tip);
  const tipLock = needLock ? await g.blobId(deps, dir, tip, 'flake.lock') : null;
  const tipBad = dep.badCommits[tip];
  const badTip = tipBad !== undefined && markApplies(tipBad, { flakeHost, lockBlob: tipLock }) ? tipBad : null;
  if (tipBad !== undefined && badTip === null) {
    log.info('the known-bad mark of the tip was recorded for another build; building this one', {
      commit: tip,
      mark: tipBad.build,
      now: { flakeHost, lockBlob: tipLock },
    });
  }
  const up = readUpgrade(deps.state);
  const deployed = dep.current;
  const anchorSha =
    deployed === null
      ? null
      : up.deployedBase !== null && up.deployedBase.commit === deployed.commit
        ? up.deployedBase.base
        : deployed.commit;
  // The equality shortcuts below spare a git process each when nothing is
  // new upstream (the nightly no-op, benchmark B2): a commit is its own
  // ancestor, and `git log HEAD --not HEAD` is empty.
  const anchorKnown =
    anchorSha !== null &&
    (anchorSha === tip || anchorSha === head || (await g.revParse(deps, dir, anchorSha)) !== null);
  const profileStore = realpathOrNull(deps.paths.systemProfile);
  const current = realpathOrNull(deps.paths.currentSystem);
  const booted = realpathOrNull(deps.paths.bootedSystem);
  const systemIsDeployed =
    deployed !== null &&
    profileStore === deployed.storePath &&
    (deployed.operation === 'boot' || current === deployed.storePath);
  const deployedNeedsReboot =
    deployed !== null &&
    current !== deployed.storePath &&
    booted !== null &&
    existsSync(deployed.storePath) &&
    (rebootNeeded(bootFilesOf(booted), bootFilesOf(deployed.storePath)).needed ||
      // Set as the boot default because its init cannot be switched to live (planActivation).
      initInterfaceChanged(initInterfaceOf(deps.paths.currentSystem), initInterfaceOf(deployed.storePath)));
  // Nothing new and nothing to build: dirty files cannot change the outcome
  // (dirtyFilesMatter), so the no-op is one git process (B2).
  const lookForDirty = dirtyFilesMatter(
    { tip, head, deployed: deployed?.commit ?? null, systemIsDeployed, rebootPending: deployedNeedsReboot, badTip },
    cfg.nixConfig,
  );
  let dirty = lookForDirty ? await g.dirtyFiles(deps, dir) : [];
  // On a producer, flake.lock is gitopsd's to regenerate (a crash between
  // `nix flake update` and its commit leaves it modified).
  const lockDirty = cfg.nixConfig.updateInputs && dirty.includes('flake.lock');
  if (lockDirty) dirty = dirty.filter((f) => f !== 'flake.lock');
  const signersFile = cfg.nixConfig.allowedSignersFile;
  const signature: SignatureStatus =
    signersFile === null ? { kind: 'not-required' } : await g.verifySignature(deps, dir, tip, signersFile);

  const obs: TargetObservation = {
    tip,
    head,
    deployed: deployed?.commit ?? null,
    systemIsDeployed,
    rebootPending: deployedNeedsReboot,
    badTip,
    tipDescendsFromDeployed:
      anchorSha === null ? null : anchorKnown && (anchorSha === tip || (await g.isAncestor(deps, dir, anchorSha, tip))),
    headContainsTip: tip === head || (await g.isAncestor(deps, dir, tip, head)),
    localCommits:
      tip === head ? [] : await g.commitsNotIn(deps, dir, anchorKnown && anchorSha !== null ? [tip, anchorSha] : [tip]),
    dirtyFiles: dirty,
    signature,
  };
  return { obs, deployed, tipLock, profileStore, current, booted, lockDirty };
}
