/**
 * The golden generation: a system store path that passed boot validation,
 * kept as the rollback target.
 *
 * Inputs: config (paths.*, timeouts), the state sections "golden", "boot" and
 * "deployments", the system profile's generation links, the booted/current
 * system symlinks.
 *
 * Side effects:
 * - pin: one state write (golden.current), then `nix-store --add-root
 *   <gcRootsDir>/gitopsd-golden --indirect --realise <path>`.
 * - rollback: one state write (lastRollback "started" + the left system's
 *   commit marked bad), `nix-env -p <profile> --set <golden>` (skipped when the
 *   profile already points there), `<golden>/bin/switch-to-configuration
 *   switch|boot`, one state write ("done"), and with --reboot `systemctl reboot`.
 *
 * Failure modes: no golden, golden path gone, not a system path, command
 * failures (CommandFailed, exit 1), refusal without --force/--yes (exit 6).
 *
 * Crash at each step (kill -9):
 * - pin, after the state write and before the root: the state names the new
 *   golden, the root still the old one. The new path is the booted system (or
 *   was validated), held by its own roots; the next `golden show` reports the
 *   root as not intact, and the next `boot validate` or pin repairs it. State
 *   first, root second, on purpose: the other order could leave the state
 *   naming an old golden that no root protects.
 * - rollback, after "started": re-running it finishes the job; the bad commit
 *   is keyed by commit (no duplicate), `nix-env --set` is skipped when the
 *   profile already points at the golden (no extra generation), and
 *   switch-to-configuration is idempotent.
 */
import { existsSync } from 'node:fs';
import type { Deps } from '../core/deps.js';
import { GitopsdError, storePathMissing } from '../core/errors.js';
import { DeploymentsSection, commitForStorePath, withBadCommit } from '../core/deployments.js';
import type { StateDoc } from '../core/state.js';
import {
  GOLDEN_KEY,
  goldenOf,
  readGolden,
  withPinned,
  writeSections,
  type GoldenRecord,
  type PinSource,
} from './state.js';
import {
  addGcRoot,
  gcRootIntact,
  generationOf,
  isSystemPath,
  isValidStorePath,
  listGenerations,
  profileSystem,
} from './nix.js';
import { realpathOrNull, readlinkOrNull } from '../core/fs-read.js';
import {
  initInterfaceChanged,
  initInterfaceOf,
  requestReboot,
  setSystemProfile,
  switchFailed,
  switchToConfiguration,
} from '../host/system.js';
import {
  BOOT_KEY,
  bootOf,
  hasOkVerdict,
  readBoot,
  withRollback,
  type BootSection,
  type Rollback,
} from '../shared/boot-state.js';

export interface GoldenInfo {
  storePath: string | null;
  generation: number | null;
  pinnedAt: string | null;
  source: PinSource | null;
  gcRootIntact: boolean;
  /** Extra fields (the contract allows additions). */
  gcRoot: string;
  gcRootTarget: string | null;
  exists: boolean;
  forced: boolean;
  reason: string;
  generationAtPin: number | null;
}

/** Observe: the golden as `golden show` reports it. */
export function goldenInfo(deps: Pick<Deps, 'paths'>, rec: GoldenRecord | null): GoldenInfo {
  const gcRootTarget = readlinkOrNull(deps.paths.goldenRoot);
  if (rec === null) {
    return {
      storePath: null,
      generation: null,
      pinnedAt: null,
      source: null,
      gcRootIntact: false,
      gcRoot: deps.paths.goldenRoot,
      gcRootTarget,
      exists: false,
      forced: false,
      reason: '',
      generationAtPin: null,
    };
  }
  return {
    storePath: rec.storePath,
    generation: generationOf(listGenerations(deps.paths.systemProfile), rec.storePath),
    pinnedAt: rec.pinnedAt,
    source: rec.source,
    gcRootIntact: gcRootIntact(deps, rec.storePath),
    gcRoot: deps.paths.goldenRoot,
    gcRootTarget,
    exists: existsSync(rec.storePath),
    forced: rec.forced,
    reason: rec.reason,
    generationAtPin: rec.generation,
  };
}

/**
 * Make the GC root match the recorded golden. No command when it already does
 * (so a healthy boot runs nothing here). Returns what it did.
 */
export async function ensureGoldenRoot(
  deps: Deps,
  rec: GoldenRecord | null,
): Promise<'none' | 'intact' | 'repaired' | 'missing'> {
  if (rec === null) return 'none';
  if (gcRootIntact(deps, rec.storePath)) return 'intact';
  if (!existsSync(rec.storePath)) {
    deps.log.error('the golden store path no longer exists; it cannot be rooted', { storePath: rec.storePath });
    return 'missing';
  }
  deps.log.warn('golden GC root missing or stale; repairing it', {
    root: deps.paths.goldenRoot,
    storePath: rec.storePath,
  });
  await addGcRoot(deps, deps.paths.goldenRoot, rec.storePath);
  return 'repaired';
}

export type PinDecision =
  | { kind: 'pin'; storePath: string; forced: boolean; reason: string }
  | { kind: 'already'; storePath: string }
  | { kind: 'refuse'; message: string };

/** Pure: may `target` be pinned by hand? */
export function decidePin(i: {
  target: string;
  isSystem: boolean;
  hasOk: boolean;
  badCommit: string | null;
  force: boolean;
  currentGolden: string | null;
}): PinDecision {
  if (!i.isSystem) {
    return {
      kind: 'refuse',
      message: `${i.target} is not a NixOS system (no bin/switch-to-configuration); pin a system toplevel`,
    };
  }
  if (i.currentGolden === i.target) return { kind: 'already', storePath: i.target };
  if (i.badCommit !== null && !i.force) {
    return {
      kind: 'refuse',
      message: `${i.target} was rolled back after failed boots${i.badCommit === 'unknown' ? '' : ` (commit ${i.badCommit.slice(0, 12)} is marked bad)`}; pinning it as the rollback target is almost certainly wrong: pass --force if you really mean it`,
    };
  }
  if (!i.hasOk && !i.force) {
    return {
      kind: 'refuse',
      message: `${i.target} has no ok boot verdict (it never passed gitopsd boot validate), so it is not known to be good; boot it and let validation pin it, or pass --force to pin it anyway`,
    };
  }
  const reason = i.force
    ? i.hasOk
      ? 'pinned by hand with --force'
      : 'pinned by hand with --force, without an ok boot verdict'
    : 'pinned by hand (has an ok boot verdict)';
  return { kind: 'pin', storePath: i.target, forced: i.force && !i.hasOk, reason };
}

export interface PinRequest {
  storePath?: string | undefined;
  generation?: number | undefined;
  force: boolean;
}

/** Resolve what `golden pin` was asked to pin: a store path, a generation, or the booted system. */
export function resolvePinTarget(deps: Pick<Deps, 'paths'>, req: PinRequest): { target: string; how: string } {
  if (req.storePath !== undefined) {
    const t = realpathOrNull(req.storePath);
    if (t === null)
      throw storePathMissing(req.storePath, {
        cwd: process.cwd(),
        bootedSystem: realpathOrNull(deps.paths.bootedSystem),
      });
    return { target: t, how: `--store-path ${req.storePath}` };
  }
  if (req.generation !== undefined) {
    const gens = listGenerations(deps.paths.systemProfile);
    const g = gens.find((x) => x.number === req.generation);
    if (g === undefined) {
      const have = gens.map((x) => x.number).join(', ') || 'none';
      throw new GitopsdError(
        'usage',
        `generation ${req.generation} does not exist in ${deps.paths.systemProfile} (generations: ${have}); pick one of those or use --store-path`,
      );
    }
    return { target: g.storePath, how: `generation ${g.number}` };
  }
  const booted = realpathOrNull(deps.paths.bootedSystem);
  if (booted === null) {
    throw new GitopsdError(
      'failed',
      `cannot read the booted system ${deps.paths.bootedSystem}; pass --store-path or --generation`,
    );
  }
  return { target: booted, how: 'the booted system' };
}

function badCommitFor(doc: StateDoc, storePath: string): string | null {
  const d = DeploymentsSection.parse(doc['deployments'] ?? {});
  for (const b of Object.values(d.badCommits)) if (b.storePath === storePath) return b.commit;
  const bp = bootOf(doc).badPaths[storePath];
  return bp ? (bp.commit ?? 'unknown') : null;
}

export interface PinResult {
  decision: PinDecision;
  how: string;
  info: GoldenInfo;
  root: 'none' | 'intact' | 'repaired' | 'missing' | 'set';
}

/** `golden pin` (manual). Run under the host lock. */
export async function pinGoldenManually(deps: Deps, req: PinRequest): Promise<PinResult> {
  const { target, how } = resolvePinTarget(deps, req);
  const doc = deps.state.read();
  const golden = goldenOf(doc);
  const decision = decidePin({
    target,
    isSystem: isSystemPath(target),
    hasOk: hasOkVerdict(bootOf(doc), target),
    badCommit: badCommitFor(doc, target),
    force: req.force,
    currentGolden: golden.current?.storePath ?? null,
  });
  switch (decision.kind) {
    case 'refuse':
      throw new GitopsdError('refused', decision.message);
    case 'already': {
      const root = await ensureGoldenRoot(deps, golden.current);
      return { decision, how, info: goldenInfo(deps, readGolden(deps.state).current), root };
    }
    case 'pin': {
      if (!(await isValidStorePath(deps, target))) {
        throw new GitopsdError('refused', `${target} is not a valid path in the Nix store; pin a system store path`);
      }
      const rec: GoldenRecord = {
        storePath: target,
        generation: generationOf(listGenerations(deps.paths.systemProfile), target),
        pinnedAt: deps.clock.now().toISOString(),
        source: 'manual',
        forced: decision.forced,
        reason: decision.reason,
      };
      // State first, root second (see the contract above).
      writeSections(deps.state, (d) => ({ [GOLDEN_KEY]: withPinned(goldenOf(d), rec).section }));
      await addGcRoot(deps, deps.paths.goldenRoot, target);
      deps.log.info('golden pinned', { storePath: target, source: 'manual', forced: decision.forced });
      return { decision, how, info: goldenInfo(deps, readGolden(deps.state).current), root: 'set' };
    }
  }
}

/**
 * Pure: the state change that opens a rollback: lastRollback "started" and
 * the left system's commit (when gitopsd deployed it) marked bad, so upgrade
 * never redeploys or rebuilds it.
 */
export function withRollbackStarted(
  doc: StateDoc,
  r: {
    at: string;
    from: string;
    to: string;
    reason: string;
    source: 'auto' | 'manual';
    targetSource: 'golden' | 'last-ok';
  },
): { sections: Record<string, unknown>; rollback: Rollback } {
  const deployments = DeploymentsSection.parse(doc['deployments'] ?? {});
  const commit = r.from === r.to ? null : commitForStorePath(deployments, r.from);
  const rollback: Rollback = { ...r, status: 'started', commit };
  let boot: BootSection = withRollback(bootOf(doc), rollback);
  if (r.from !== r.to) {
    boot = { ...boot, badPaths: { ...boot.badPaths, [r.from]: { at: r.at, commit, reason: r.reason } } };
  }
  const sections: Record<string, unknown> = { [BOOT_KEY]: boot };
  if (commit !== null) {
    let next = withBadCommit(deployments, {
      commit,
      reason: 'boot-rollback',
      at: r.at,
      message: `${r.source === 'auto' ? 'rolled back after failed boots' : 'rolled back by hand'}: ${r.reason}`,
      storePath: r.from,
      logTail: '',
    });
    // The host now runs (or boots into) the target: when gitopsd knows which
    // commit built it, that commit is the deployed one again, so `status`
    // and upgrade's force-push check speak of what really runs. When it does
    // not know (a golden older than gitopsd's records), the record keeps the
    // bad commit: upgrade skips it as known bad either way.
    const targetCommit = commitForStorePath(deployments, r.to);
    if (targetCommit !== null) {
      next = {
        ...next,
        current: {
          commit: targetCommit,
          storePath: r.to,
          // The rollback adds a new generation link for the target; its number
          // is not known until nix-env ran, and it is information only.
          generation: null,
          at: r.at,
          operation: 'boot',
        },
      };
    }
    sections['deployments'] = next;
  }
  return { sections, rollback };
}

/**
 * The rollback's system steps, each safe to repeat: point the profile at the
 * target (skipped when it already does: no extra generation), then
 * `<target>/bin/switch-to-configuration <action>`. Any exit but 0 (4, "some
 * units failed", included), a timeout or a signal throws CommandFailed
 * (src/host/system.ts switchFailed): the rollback is then recorded as failed.
 */
export async function applyRollbackSteps(
  deps: Deps,
  target: string,
  action: 'boot' | 'switch',
): Promise<{ profileSet: boolean }> {
  let profileSet = false;
  if (profileSystem(deps) !== target) {
    await setSystemProfile(deps, target);
    profileSet = true;
  }
  const r = await switchToConfiguration(deps, target, action);
  if (r.exitCode !== 0) throw switchFailed(target, action, r);
  return { profileSet };
}

export interface ManualRollbackPlan {
  target: string;
  from: string | null;
  golden: GoldenRecord;
  /** An earlier manual rollback to the same golden that never finished (killed): finish it instead of starting anew. */
  resume: Rollback | null;
  /**
   * The golden's init-interface-version differs from the running system's:
   * switch-to-configuration cannot switch to it live (exit 100, main.rs
   * do_system_switch), only `--reboot` starts it. Null when it can.
   */
  liveRefusal: { running: string; golden: string } | null;
}

/** Observe + check: what `golden rollback` would do, or a one-line refusal. */
export function planManualRollback(deps: Deps): ManualRollbackPlan {
  const golden = readGolden(deps.state).current;
  if (golden === null) {
    throw new GitopsdError(
      'refused',
      'no golden generation is pinned, so there is nothing to roll back to; pin one with gitopsd golden pin (see gitopsd golden show)',
    );
  }
  if (!isSystemPath(golden.storePath)) {
    throw new GitopsdError(
      'failed',
      `the golden ${golden.storePath} is missing from the store (or is not a system); pin another one with gitopsd golden pin`,
    );
  }
  const last = readBoot(deps.state).lastRollback;
  const resume =
    last !== null && last.source === 'manual' && last.status === 'started' && last.to === golden.storePath
      ? last
      : null;
  // When resuming, the system we left is the one recorded then: the running
  // system may already be the golden (the kill came after the switch).
  const running = initInterfaceOf(deps.paths.currentSystem);
  const target = initInterfaceOf(golden.storePath);
  return {
    target: golden.storePath,
    from: resume !== null ? resume.from : realpathOrNull(deps.paths.currentSystem),
    golden,
    resume,
    liveRefusal:
      target !== null && initInterfaceChanged(running, target)
        ? { running: running ?? '(none)', golden: target }
        : null,
  };
}

export interface ManualRollbackResult {
  target: string;
  from: string | null;
  mode: 'now' | 'reboot';
  profileSet: boolean;
  markedBad: string | null;
  alreadyThere: boolean;
}

/** `golden rollback` after confirmation. Run under the host lock. */
export async function rollbackToGolden(
  deps: Deps,
  plan: ManualRollbackPlan,
  mode: 'now' | 'reboot',
): Promise<ManualRollbackResult> {
  const at = deps.clock.now().toISOString();
  const from = plan.from ?? plan.target;
  const reason = mode === 'now' ? 'manual: gitopsd golden rollback --now' : 'manual: gitopsd golden rollback --reboot';
  let rollback: Rollback | null = plan.resume;
  // Already running the golden: nothing is left behind, so there is no
  // rollback to record (and the last real one stays visible); the steps
  // below still make sure the profile and boot default are the golden.
  const alreadyThere = rollback === null && from === plan.target;
  if (rollback === null && !alreadyThere) {
    writeSections(deps.state, (doc) => {
      const r = withRollbackStarted(doc, {
        at,
        from,
        to: plan.target,
        reason,
        source: 'manual',
        targetSource: 'golden',
      });
      rollback = r.rollback;
      return r.sections;
    });
  } else if (plan.resume !== null) {
    deps.log.warn('finishing an earlier golden rollback that did not complete', {
      from: plan.resume.from,
      at: plan.resume.at,
    });
  }
  const started: Rollback | null = rollback;
  const finish = (status: 'done' | 'failed'): void => {
    if (started === null) return;
    writeSections(deps.state, (doc) => ({ [BOOT_KEY]: withRollback(bootOf(doc), { ...started, status }) }));
  };
  let steps: { profileSet: boolean };
  try {
    steps = await applyRollbackSteps(deps, plan.target, mode === 'now' ? 'switch' : 'boot');
  } catch (err) {
    finish('failed');
    throw err;
  }
  finish('done');
  if (mode === 'reboot') await requestReboot(deps);
  return {
    target: plan.target,
    from: plan.from,
    mode,
    profileSet: steps.profileSet,
    markedBad: started?.commit ?? null,
    alreadyThere,
  };
}
