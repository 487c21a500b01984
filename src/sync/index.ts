/**
 * Dotfile sync: keep one user's chezmoi source dir (a jj repo colocated with
 * git) in step with a shared remote, so every host converges, no edit is
 * lost, and a conflict never blocks the automation.
 *
 * Contract
 * - Inputs: config.dotfiles (user, sourceDir, destDir, url, remote,
 *   bookmark, chezmoiConfig, maxPushRetries), the sync state
 *   (<stateDir>/sync/state.json), the clock. The caller holds the sync lock
 *   (withSyncLock); jj's own op log takes care of concurrent jj calls.
 * - Side effects: runs jj and chezmoi as dotfiles.user (via getent + the
 *   runner's RunAs when started as root), so every file in the source dir and
 *   $HOME stays the user's. Commits in the source dir, pushes the main
 *   bookmark and the parked bookmark `sync/<host>`, writes $HOME with
 *   `chezmoi apply`, deletes $HOME files whose source entry another host
 *   removed (only when unchanged since chezmoi wrote them; an edited one is
 *   kept, held and reported as waiting until the person adds or removes
 *   it), writes the state.
 * - Order: recover → guard → capture (re-add, status) → seal (commit) →
 *   fetch → integrate (rebase, or split and park) → publish (push) → apply →
 *   record. Capture comes before integration: the other order (fetch, rebase,
 *   re-add) copies the whole $HOME file over the remote's hunks and silently
 *   reverts them (tools.md §3).
 * - Failure modes: remote unreachable → `offline` (75), local commits kept;
 *   same lines changed elsewhere → the conflicting paths are parked on
 *   `sync/<host>` and pushed, everything else is integrated → `conflict-parked`
 *   (1); a person mid-resolution → `needs-human` (1), nothing rewritten;
 *   a conflicted working-copy commit @ at apply → `needs-human` (1), $HOME
 *   not written (jj would hand chezmoi its conflict markers);
 *   apply could not write a target → `apply-failed` (1).
 * - Crash at any point: before integration, the next run redoes capture and
 *   seal (both idempotent). During integration the state holds a journal
 *   with the operation id from before it; the next run restores that
 *   operation (only if every later operation is ours) and starts over;
 *   nothing was pushed yet, so no rewritten commit exists twice. During
 *   publish, the local graph is final; the next run pushes again (a push of
 *   an already pushed bookmark is "Nothing changed"). After publish, the next
 *   run finds nothing to do and applies. Deletions another host made are the
 *   one part of apply that the source alone cannot redo (chezmoi apply never
 *   removes a target whose entry is gone): their targets and hashes are
 *   written ahead into the state (pendingRemovals) before the source
 *   changes, and a run killed before the state write after apply leaves
 *   them for the next run, which finishes them before its capture
 *   (finishPendingRemovals).
 */
import { basename, dirname, join } from 'node:path';
import { userInfo } from 'node:os';
import type { Deps } from '../core/deps.js';
import type { RunAs, RunResult } from '../core/runner.js';
import { ConfigError, GitopsdError } from '../core/errors.js';
import { StateStore } from '../core/state.js';
import { fileRefsGitDir, readRefFromFiles } from '../core/git-refs.js';
import {
  KEEP_MARKER,
  decideGuard,
  decideIntegration,
  decideRestore,
  restorePoint,
  decideRetry,
  exitCodeFor,
  findUncapturable,
  bringsRemoteChanges,
  mergeStatus,
  parkSettled,
  planApply,
  planHeldBases,
  sameTargetPaths,
  stackOnRemote,
  type GuardDecision,
  type GuardObservation,
  type IntegrateDecision,
  type IntegrateObservation,
  type ParkedInfo,
  orphanedEdit,
  unlistedHeld,
  decideRemovals,
  planPendingRemovals,
  remoteDeletedTargets,
  type PendingRemovals,
  type SyncResultKind,
  type Uncapturable,
  type Unmerged,
} from './decide.js';
import {
  bookmarks,
  bookmarksFromRefs,
  changedPaths,
  classifyPushFailure,
  commits,
  commitWorkingCopy,
  conflictedFiles,
  currentOp,
  fetchChangedNothing,
  filesetExcept,
  filesetOf,
  flaggedCommits,
  jj,
  jjString,
  lastOperation,
  newCommit,
  NO_SNAPSHOT,
  one,
  OP_TEMPLATE,
  opLog,
  parseOps,
  pushFailureReason,
  remoteRemovals,
  restore,
  type Committed,
  type JjBookmark,
  type JjCommit,
  type JjCtx,
} from './jj.js';
import {
  chezmoi,
  keptTargets,
  managedSources,
  parseChezmoiStatus,
  sourcePathMap,
  sourcePaths,
  sourceWriteConfig,
  statusOrExplain,
  type ChezmoiCtx,
  type StatusEntry,
} from './chezmoi.js';
import { mergeIntoHome, refusal, type MergeCtx, type Refusal } from './merge.js';
import { lastLine } from './text.js';
import { readSync, updateSync, type SyncSection } from './state.js';
import { ensureSyncDir, userTree } from './fs-boundary.js';

export type { SyncResultKind } from './decide.js';
export type { Refusal } from './merge.js';

export interface SyncResult {
  kind: SyncResultKind;
  exitCode: 0 | 1 | 75;
  /** One line for people. */
  message: string;
  /** Bookmarks pushed by this run. */
  pushed: string[];
  parked: ParkedInfo | null;
  uncapturable: Uncapturable[];
  /** Targets apply left alone (edited in $HOME during the sync). */
  deferred: string[];
  /** $HOME files removed because another host deleted their source entry. */
  removed: string[];
  /** $HOME files the sync would have written or removed but did not (a symlink, no permission). */
  refused: Refusal[];
}

/** One sync's context: what each client needs (jj.ts, chezmoi.ts, merge.ts), and the flow's own. */
interface Ctx extends JjCtx, ChezmoiCtx, MergeCtx {
  host: string;
  url: string | null;
  remote: string;
  bookmark: string;
  park: string;
  maxPushRetries: number;
  store: StateStore;
}

// ---------------------------------------------------------------- setup

/** Resolve the dotfiles user and make the sync dir theirs. Call before taking the sync lock. */
export async function prepareSync(deps: Deps): Promise<{ runAs: RunAs | undefined }> {
  const d = deps.config.dotfiles;
  if (d.user === null) {
    throw new ConfigError('dotfiles.user is not set; set it to the user whose dotfiles are synced');
  }
  const runAs = await resolveUser(deps, d.user);
  // The NixOS module creates it owned by the user; when we create it as
  // root, hand it over so the user's own gitopsd-sync.service can write.
  ensureSyncDir(deps.paths.syncDir, runAs);
  return { runAs };
}

async function resolveUser(deps: Deps, user: string): Promise<RunAs | undefined> {
  // The sync runs as dotfiles.user itself (its own gitopsd-sync.service, or
  // root syncing root's dotfiles): nothing to switch to, and no getent
  // process. userInfo() is getpwuid_r(3) of our own uid, through NSS as getent.
  if (ownUserName() === user) return undefined;
  const r = await deps.runner.run('getent', ['passwd', user], { allowFailure: true });
  const fields = r.stdout.trim().split(':');
  if (r.exitCode !== 0 || fields.length < 7) {
    throw new ConfigError(
      `dotfiles.user "${user}" does not exist on this host (getent passwd found nothing); create it or fix the config`,
    );
  }
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  const home = fields[5] ?? '';
  const me = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (deps.isRoot) return uid === 0 ? undefined : { name: user, uid, gid, home };
  if (me !== uid) {
    throw new GitopsdError(
      'refused',
      `sync must run as root or as dotfiles.user "${user}" (uid ${uid}), not as uid ${me}; run it from that user's gitopsd-sync.service`,
    );
  }
  return undefined;
}

/** Our own user name, or null when our uid has no passwd entry (userInfo throws then). */
function ownUserName(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

/** Run fn under the per-user sync lock (<stateDir>/sync/sync.lock). */
export async function withSyncLock<T>(deps: Deps, fn: () => Promise<T>): Promise<T> {
  const held = deps.lockAt(deps.paths.syncLockFile, 'sync');
  try {
    return await fn();
  } finally {
    held.release();
  }
}

export function syncStore(deps: Deps): StateStore {
  return new StateStore({
    file: deps.paths.syncStateFile,
    log: deps.log,
    now: () => deps.clock.now(),
    checkpoint: deps.tracer.checkpoint,
  });
}

export function makeCtx(deps: Deps, runAs: RunAs | undefined): Ctx {
  const d = deps.config.dotfiles;
  if (d.user === null || d.sourceDir === null || d.destDir === null) {
    throw new ConfigError('dotfiles.user, dotfiles.sourceDir and dotfiles.destDir must be set for sync');
  }
  const host = deps.config.hostname;
  return {
    deps,
    log: deps.log.child({ module: 'sync' }),
    host,
    user: d.user,
    src: d.sourceDir,
    dest: d.destDir,
    url: d.url,
    remote: d.remote,
    bookmark: d.bookmark,
    park: `sync/${host}`,
    chezmoiConfig: d.chezmoiConfig,
    maxPushRetries: d.maxPushRetries,
    maxNewFileSize: d.maxNewFileSize,
    snapshotRefusals: new Map(),
    runAs,
    store: syncStore(deps),
    tree: userTree({ runner: deps.runner, runAs }),
    env: {
      // No user or system jj config: the sync must behave the same on every
      // host whatever the person configured (repo config still loads).
      JJ_CONFIG: '',
      JJ_USER: `${d.user} (gitopsd sync on ${host})`,
      JJ_EMAIL: `${d.user}@${host}`,
      // A stray editor call fails instead of hanging an unattended run.
      JJ_EDITOR: 'false',
      EDITOR: 'false',
      VISUAL: 'false',
      NO_COLOR: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
    },
  };
}

/** Read-only queries for `sync status`: never snapshots or changes the repo. */
export function makeCtxForReport(
  deps: Deps,
  runAs: RunAs | undefined,
): { unpushed(): Promise<{ commits: string[]; error: string | null }> } {
  const ctx = makeCtx(deps, runAs);
  return {
    async unpushed() {
      const [jjDir] = await ctx.tree.kinds([join(ctx.src, '.jj')]);
      if (jjDir !== 'dir') return { commits: [], error: 'the source dir is not a jj repository yet' };
      const revset = `(${ctx.bookmark}@${ctx.remote}..@-) ~ description(substring:${jjString(KEEP_MARKER)})`;
      const r = await jj(
        ctx,
        [
          '--ignore-working-copy',
          'log',
          '--no-graph',
          '-r',
          revset,
          '-T',
          'change_id.short() ++ " " ++ description.first_line() ++ "\\n"',
        ],
        { allowFailure: true },
      );
      if (r.exitCode !== 0) return { commits: [], error: lastLine(r.stderr) };
      return { commits: r.stdout.split('\n').filter((l) => l !== ''), error: null };
    },
  };
}

// ---------------------------------------------------------------- main entry

/**
 * The whole sync for callers outside the CLI (`gitopsd cycle`): resolve the
 * user, take the sync lock, run. A disabled sync returns `disabled` (exit 0).
 */
export async function syncOnce(deps: Deps): Promise<SyncResult> {
  if (!deps.config.dotfiles.enable) return runSync(deps, undefined);
  const { runAs } = await prepareSync(deps);
  return withSyncLock(deps, () => runSync(deps, runAs));
}

/** One sync. The caller holds the sync lock (see withSyncLock). */
export async function runSync(deps: Deps, runAs: RunAs | undefined): Promise<SyncResult> {
  if (!deps.config.dotfiles.enable) {
    return result('disabled', 'dotfiles.enable is false; nothing to sync', emptyExtras());
  }
  const ctx = makeCtx(deps, runAs);
  const extras = emptyExtras();
  const bootstrapped = await bootstrap(ctx);
  if (bootstrapped) ctx.log.info('source dir bootstrapped', { src: ctx.src });

  let st = readSync(ctx.store);
  if (st.journal !== null) {
    const rec = await recoverJournal(ctx, st);
    if (rec !== null) return record(ctx, result('needs-human', rec, extras));
    st = readSync(ctx.store);
  }
  // Capture's `chezmoi status` runs beside the guard's jj log: both only
  // read $HOME and the source files (jj's snapshot writes under .jj and
  // .git, which chezmoi ignores in a source dir), so on two cores the status
  // costs no wall time of its own (docs/benchmarks.md, B3). Its answer is
  // used only when the guard lets the run proceed untouched; otherwise it is
  // waited for (no chezmoi left reading while jj changes the working copy)
  // and dropped, and capture asks again. Its failure is capture's, as before.
  let early: Promise<RunResult> | null = statusOrExplain(ctx);
  void early.catch(() => undefined);
  const dropEarly = async (): Promise<void> => {
    const e = early;
    early = null;
    await e?.catch(() => undefined);
  };
  // Guard: never capture over a person's work in progress. Its one jj log
  // also lists the bookmarks, for the tracking check (asked again only when
  // tracking changed them: tracking moves no file).
  let looked: GuardLook;
  try {
    looked = await observeGuard(ctx, st);
    if (await ensureTracked(ctx, looked.bms)) looked = await observeGuard(ctx, st);
  } catch (err) {
    await dropEarly();
    throw err;
  }
  const { obs: guardObs, bms, basis } = looked;
  const guard = decideGuard(guardObs);
  if (guard.kind !== 'proceed') await dropEarly();
  switch (guard.kind) {
    case 'needs-human':
      return record(ctx, await pushParkOnly(ctx, st, guard.why, extras));
    case 'return-to-base':
      ctx.log.info('working copy was moved by hand; returning to the synced line', { base: guard.base });
      await jj(ctx, ['new', guard.base]);
      break;
    case 'repair':
      await repairOwnState(ctx, guard);
      break;
    case 'proceed':
      break;
  }

  // A deletion a killed run brought in but did not apply: its write-ahead
  // record is the only memory of it. Finished before capture, so this run's
  // own snapshot cannot replace it (finishPendingRemovals).
  const finished = await finishPendingRemovals(ctx);
  extras.removed.push(...finished.removed);
  extras.refused.push(...finished.refused);

  // Capture: $HOME → source dir, then report what re-add cannot take.
  const stBefore = readSync(ctx.store);
  const wcBaseBefore = stBefore.wcBase;
  // When the guard changed nothing, what it saw still holds: @'s parent is
  // the head capture merges against, and whether wcBase is an ancestor.
  const seen = guardObs.workingCopy.parents;
  const known =
    guard.kind === 'proceed' && seen.length === 1 && seen[0] !== undefined
      ? { head: seen[0], wcBaseIsAncestor: guardObs.wcBaseIsAncestor }
      : null;
  const captured = await capture(ctx, {
    status: early,
    wcBase: wcBaseBefore,
    wcMoved: guard.kind === 'repair' && guard.wcMoved,
    heldBases: stBefore.heldBases,
    known,
  });
  extras.refused.push(...captured.refused);
  // Only the re-added targets can have changed: status just those.
  const afterCapture = captured.reAdded
    ? mergeStatus(
        captured.status,
        captured.targets,
        parseChezmoiStatus(
          (await chezmoi(ctx, ['status', '--', ...captured.targets.map((t) => join(ctx.dest, t))])).stdout,
        ),
      )
    : captured.status;
  const waiting = afterCapture.filter((e) => e.x !== ' ').map((e) => e.target);
  extras.uncapturable = findUncapturable(afterCapture, await sourcePathMap(ctx, waiting), captured.unmerged);
  // Files an earlier run kept because another host deleted their entry
  // while they were edited here: they wait while they are there and the
  // source does not manage them again (held, unlisted, unmanaged, present).
  const orphans = await stillOrphaned(ctx, unlistedHeld(stBefore.heldBases, afterCapture));
  extras.uncapturable.push(...orphans.map(orphanedEdit));
  for (const u of extras.uncapturable) ctx.log.warn('edit in $HOME that re-add cannot capture', { ...u });
  // The managed files $HOME agrees on, for deletions made on another host.
  // Taken only when integration is about to bring in remote changes (else
  // no source entry can disappear), right before it changes the source.
  // Of it, the targets whose entry the remote deletes are written ahead
  // (pendingRemovals) before the source changes: a kill -9 from then until
  // the state write after apply leaves the record, and the next run
  // finishes the deletion. Nothing is written when the remote deletes no
  // managed file. Asked again on a retry (the remote moved), the hashes kept.
  const snapshot: { before: ManagedSnapshot | null; pending: PendingRemovals | null } = {
    before: null,
    pending: null,
  };
  const takeSnapshot = async (obs: IntegrateObservation): Promise<void> => {
    snapshot.before ??= await managedSnapshot(ctx);
    const deleted =
      snapshot.before.sources.size === 0
        ? []
        : remoteDeletedTargets(snapshot.before.sources, await remoteRemovals(ctx, obs.wcParent, obs.remoteMain));
    const pending = planPendingRemovals(snapshot.before, deleted, baseBeforeIntegration);
    if (JSON.stringify(pending) !== JSON.stringify(snapshot.pending)) {
      updateSync(ctx.store, (s) => ({ ...s, pendingRemovals: pending }));
    }
    snapshot.pending = pending;
  };

  // Seal: a non-empty working-copy change becomes a commit naming host and time.
  const sealedBy = await seal(ctx, {
    message: `sync(${ctx.host}): ${deps.clock.now().toISOString()}`,
    // Nothing changed the repo since the guard's look but re-add: @ is
    // what the guard saw (our status and merges write nothing into the
    // source dir), plus what re-add wrote.
    seenAt: known !== null ? guardObs.workingCopy : null,
    reAdded: captured.reAdded,
    // A re-added target with no status line left: re-add wrote its source
    // (and took the $HOME edit). Every other re-added target is still
    // listed: a template, a symlink or an edit already equal to the source
    // makes re-add write nothing.
    wroteSource: captured.targets.some((t) => !afterCapture.some((e) => e.target === t)),
  });
  // Nothing committed: @- is still the head capture saw. Integration's
  // first observation uses it too (a fetch moves no local commit).
  const sealed = sealedBy?.commitId ?? captured.head;
  if (!captured.sourceAhead && sealed !== wcBaseBefore) {
    // $HOME reflected the old head and now the sealed one too: later
    // captures (for example while offline) merge against the new head.
    updateSync(ctx.store, (s) => ({ ...s, wcBase: sealed }));
  }

  // What $HOME reflected before integration moves the source: the base
  // of the targets this run leaves unapplied.
  const baseBeforeIntegration = readSync(ctx.store).wcBase;
  extras.uncapturable.push(...(await refusedBySnapshot(ctx)));
  // Integrate, retrying when the remote moves between fetch and push.
  let outcome: IntegrateOutcome | null = null;
  // Whether any tree integration looked at declares .chezmoiexternal targets.
  const integrated = { externals: false };
  for (let attempt = 1; ; attempt++) {
    const fetched = await jj(ctx, ['git', 'fetch', '--remote', ctx.remote], { allowFailure: true, network: true });
    if (fetched.exitCode !== 0) {
      const why = lastLine(fetched.stderr);
      return record(
        ctx,
        result(
          'offline',
          `cannot fetch from ${ctx.remote} (${why}); local commits are kept and pushed by the next sync`,
          extras,
        ),
      );
    }
    // After a stale push the integration was undone (or, if a person ran jj
    // meanwhile, not): look at @- again.
    // A fetch that changed nothing leaves the bookmarks as the guard listed
    // them, unless the guard moved one (repair) or this is a retry.
    // The guard's list lacks a deleted local bookmark whose remote one
    // remains (bookmarksFromRefs); only a parked conflict's steps tell that
    // from no bookmark, so with a parked record it is listed anew.
    const stNow = readSync(ctx.store);
    // "Nothing changed" describes this fetch only: a person's `git fetch` or
    // `jj git fetch` between the guard and it may have moved main@origin
    // already, so the colocated remote-tracking ref must still be where the
    // guard saw it (review 6, D0: else main is pushed sideways).
    const sameBookmarks =
      attempt === 1 &&
      guard.kind === 'proceed' &&
      stNow.parked === null &&
      fetchChangedNothing(fetched) &&
      basis !== null &&
      remoteTipUnmoved(ctx, basis.remoteMain)
        ? bms
        : null;
    // And with nothing fetched, integration's questions are the guard's
    // answers plus the sealed commit: no second jj log.
    const observed =
      sameBookmarks !== null && known !== null && basis !== null
        ? observedFromGuard(
            ctx,
            stNow,
            basis,
            sameBookmarks,
            sealed,
            sealedBy === null ? [] : [{ ...sealedBy, parents: [captured.head], workingCopy: false }],
          )
        : null;
    outcome = await integrate(ctx, stNow, takeSnapshot, {
      wcParentKnown: attempt === 1 ? sealed : null,
      bookmarksKnown: sameBookmarks,
      observed,
      seen: integrated,
    });
    if (outcome.kind !== 'stale') break;
    if (decideRetry(attempt, ctx.maxPushRetries) === 'give-up') {
      return record(
        ctx,
        result(
          'push-failed',
          `${ctx.remote} kept moving during ${attempt} push attempts; local commits are kept and pushed by the next sync`,
          extras,
        ),
      );
    }
    ctx.log.info('remote moved between fetch and push; fetching again', { attempt });
  }
  switch (outcome.kind) {
    case 'offline':
      return record(ctx, result('offline', outcome.message, extras));
    case 'refused':
      return record(ctx, result('push-failed', outcome.message, extras));
    case 'needs-human':
      return record(ctx, result('needs-human', outcome.message, extras));
    case 'done':
      break;
  }
  extras.pushed = outcome.pushed;
  extras.parked = outcome.parked;

  // Apply: bring $HOME up to date without overwriting anything edited meanwhile.
  // With no remote change and nothing the source was already ahead on, the
  // source is what $HOME was captured from: apply would find nothing to do.
  const nothingToApply = snapshot.before === null && afterCapture.every((e) => e.y === ' ');
  // Never write $HOME from a conflicted source dir: jj materializes a
  // conflict as markers in the file, and chezmoi would copy them into $HOME
  // (review 7, D1-a: an edit made in the source dir during integration and
  // moved with @). Split seals such an edit; this is the check behind it
  // (the fast-forward moves @ as it is). The same `jj log -r @` gives @-,
  // which was asked for after apply: no process more. Its snapshot also
  // takes in any edit made in the source dir up to here.
  const wcBefore = nothingToApply ? null : await one(ctx, '@');
  if (wcBefore?.conflict === true) {
    const files = await conflictedFiles(ctx, '@');
    return record(
      ctx,
      result(
        'needs-human',
        `$HOME not written: the working-copy commit @ (${wcBefore.changeId.slice(0, 12)}) in ${ctx.src} has conflicts in ${files.join(', ') || 'its tree'} (a source-dir edit made during the sync met a remote change); resolve them there ("jj resolve --list", edit, or "jj restore --from @- <file>" to drop the edit) and run the sync again`,
        extras,
      ),
    );
  }
  const applied = nothingToApply
    ? { deferred: [], failed: [], removed: [], refused: [], orphaned: [], error: '' }
    : await apply(ctx, snapshot.pending);
  // A waiting edit whose entry is now gone (a template edited here, say)
  // waits for the new reason: the old one names a source that is no more.
  const newOrphans = applied.orphaned.filter((t) => !orphans.includes(t));
  extras.uncapturable = extras.uncapturable.filter((u) => !newOrphans.includes(u.target));
  for (const t of newOrphans) {
    const u = orphanedEdit(t);
    ctx.log.warn('edit in $HOME whose source entry another host deleted', { ...u });
    extras.uncapturable.push(u);
  }
  extras.deferred = applied.deferred;
  extras.removed.push(...applied.removed);
  extras.refused.push(...applied.refused);
  // No .chezmoiexternal file in the trees integration saw: `apply -i
  // externals` would read the whole source state to do nothing.
  const externals = integrated.externals ? await applyExternals(ctx) : null;
  // Nothing applied and the source was not ahead: the seal step already set
  // wcBase to @-, which integration did not move.
  if (!(nothingToApply && !captured.sourceAhead)) {
    // $HOME now reflects @- except for the targets left behind, which keep
    // their own merge base: what is left unapplied holds back only itself.
    const parent = wcBefore?.parents.length === 1 ? wcBefore.parents[0] : undefined;
    const wcBase = parent ?? (await one(ctx, '@-')).commitId;
    // An orphan keeps its base too: that held base is how the next syncs
    // know the file was managed (stillOrphaned), in the same atomic write as
    // wcBase, which moves past the entry's deletion.
    const left = [
      ...applied.deferred,
      ...applied.failed,
      ...applied.orphaned,
      ...orphans,
      ...afterCapture.filter((e) => e.x !== ' ' && e.y !== ' ').map((e) => e.target),
    ];
    // The deletion step is done: its record goes in the same write.
    updateSync(ctx.store, (s) => ({
      ...s,
      wcBase,
      heldBases: planHeldBases(s.heldBases, baseBeforeIntegration, left),
      pendingRemovals: null,
    }));
  } else {
    // Held targets that are clean again (no status line) need no base;
    // orphans still waiting keep theirs.
    const listed = new Set([...afterCapture.map((e) => e.target), ...orphans]);
    updateSync(ctx.store, (s) => ({
      ...s,
      heldBases: Object.fromEntries(Object.entries(s.heldBases).filter(([t]) => listed.has(t))),
    }));
  }

  if (applied.failed.length > 0) {
    return record(
      ctx,
      result(
        'apply-failed',
        `chezmoi apply could not write ${applied.failed.join(', ')} (${applied.error}); fix the cause (a missing secret or a broken template) and run the sync again`,
        extras,
      ),
    );
  }
  if (outcome.parked !== null) {
    const p = outcome.parked;
    return record(
      ctx,
      result(
        'conflict-parked',
        `conflict in ${p.paths.join(', ')}: the local side is parked on ${p.bookmark} and pushed; other edits were integrated; resolve it as "gitopsd sync conflicts" shows`,
        extras,
      ),
    );
  }
  const pushedText = outcome.pushed.length > 0 ? `pushed ${outcome.pushed.join(', ')}` : 'nothing to push';
  const externalsText = externals === null ? '' : `; externals not applied: ${externals}`;
  if (extras.uncapturable.length > 0) {
    // Never exit 0 with an edit left in $HOME (issue 14): each is listed with its reason.
    const n = extras.uncapturable.length;
    return record(
      ctx,
      result(
        'edits-waiting',
        `${n} edit${n === 1 ? '' : 's'} in $HOME did not reach ${ctx.remote}/${ctx.bookmark} (${extras.uncapturable.map((u) => u.target).join(', ')}); everything else is in sync (${pushedText}); each line below says why and what to do${externalsText}`,
        extras,
      ),
    );
  }
  if (externals !== null) {
    return record(
      ctx,
      result(
        'externals-unreachable',
        `dotfiles in sync with ${ctx.remote}/${ctx.bookmark} (${pushedText}), but .chezmoiexternal downloads failed (${externals}); the next sync retries them`,
        extras,
      ),
    );
  }
  return record(ctx, result('ok', `dotfiles in sync with ${ctx.remote}/${ctx.bookmark} (${pushedText})`, extras));
}

type Extras = Omit<SyncResult, 'kind' | 'exitCode' | 'message'>;

function emptyExtras(): Extras {
  return { pushed: [], parked: null, uncapturable: [], deferred: [], removed: [], refused: [] };
}

function result(kind: SyncResultKind, message: string, extras: Extras): SyncResult {
  return { kind, exitCode: exitCodeFor(kind), message, ...extras };
}

async function record(ctx: Ctx, r: SyncResult): Promise<SyncResult> {
  const at = ctx.deps.clock.now().toISOString();
  // The operation this run ends at: the next run's guard tells a state only
  // gitopsd's operations made (its own to repair) from a person's.
  // Read from jj's operation heads when it can be (no process).
  const lastOp = await lastOperation(ctx);
  updateSync(ctx.store, (s) => ({
    ...s,
    lastOp,
    lastRun: { at, result: r.kind, exitCode: r.exitCode, message: r.message },
    lastOkAt: r.kind === 'ok' ? at : s.lastOkAt,
    uncapturable: r.uncapturable,
    deferred: r.deferred,
    refused: r.refused,
    ...(r.kind === 'ok' || r.kind === 'conflict-parked' ? { parked: r.parked } : {}),
  }));
  const level = r.exitCode === 0 ? 'info' : 'warn';
  ctx.log[level]('sync finished', { result: r.kind, exitCode: r.exitCode, message: r.message });
  return r;
}

// ---------------------------------------------------------------- bootstrap

async function bootstrap(ctx: Ctx): Promise<boolean> {
  const parent = dirname(ctx.src);
  const tmp = join(parent, `.${basename(ctx.src)}.gitopsd-clone`);
  // Looked at (lstat) and changed only as the dotfiles user: the source dir
  // and its parent are theirs.
  const [jjDir, gitDir, srcKind, tmpKind] = await ctx.tree.kinds([
    join(ctx.src, '.jj'),
    join(ctx.src, '.git'),
    ctx.src,
    tmp,
  ]);
  if (jjDir !== 'missing') return false;
  if (gitDir !== 'missing') {
    // A plain git clone (chezmoi's default): colocate jj in place, keeping history.
    await jj(ctx, ['git', 'init', '--colocate', ctx.src], { cwd: ctx.src });
    await ensureTracked(ctx);
    return true;
  }
  if (srcKind !== 'missing') {
    throw new GitopsdError(
      'failed',
      `dotfiles.sourceDir ${ctx.src} exists but is neither a jj nor a git repository; move it aside or make it a clone of ${ctx.url ?? 'the dotfiles remote'}`,
    );
  }
  if (ctx.url === null) {
    throw new ConfigError(
      `dotfiles.sourceDir ${ctx.src} does not exist and dotfiles.url is not set; set the url or create the source dir`,
    );
  }
  // Clone next to the target and rename: a crash mid-clone never leaves a
  // half-made source dir that looks like a repository.
  if (tmpKind !== 'missing') await ctx.tree.removeTree(tmp);
  await ctx.deps.runner.run('mkdir', ['-p', parent], { ...(ctx.runAs ? { user: ctx.runAs } : {}) });
  await jj(ctx, ['git', 'clone', '--colocate', '--remote', ctx.remote, '-b', ctx.bookmark, ctx.url, tmp], {
    cwd: parent,
    network: true,
  });
  await ctx.tree.rename(tmp, ctx.src);
  await ensureTracked(ctx);
  return true;
}

/**
 * The local bookmark follows the remote one (a clone of a bare repo with no
 * HEAD does not track). `known`: a bookmark list just taken. Returns whether
 * it started tracking (the bookmark list changed).
 */
async function ensureTracked(ctx: Ctx, known?: readonly JjBookmark[]): Promise<boolean> {
  const bms = known ?? (await bookmarks(ctx));
  const remote = bms.find((b) => b.name === ctx.bookmark && b.remote === ctx.remote);
  if (remote === undefined || remote.tracked) return false;
  await jj(ctx, ['bookmark', 'track', ctx.bookmark, '--remote', ctx.remote]);
  return true;
}

// ---------------------------------------------------------------- recovery and guard

/** Undo or finish a step a crash interrupted. Returns a needs-human reason, or null. */
async function recoverJournal(ctx: Ctx, st: SyncSection): Promise<string | null> {
  const j = st.journal;
  if (j === null) return null;
  if (j.phase === 'integrate') {
    const ops = parseOps((await jj(ctx, ['op', 'log', '--no-graph', '-n', '500', '-T', OP_TEMPLATE])).stdout);
    // Past the snapshots right after the journal's operation: a source-dir
    // edit made before the integration's first jj command stays (D1).
    const target = restorePoint(ops, j.op);
    const d = decideRestore(ops, target);
    switch (d) {
      case 'foreign':
        return `an interrupted sync left operation ${target.slice(0, 12)} to undo, but someone else changed the repo since; inspect "jj op log" and run "jj op restore ${target.slice(0, 12)}" if nothing there is yours`;
      case 'restore':
        ctx.log.warn('undoing an integration a crash interrupted', { op: target, journal: j.op });
        await jj(ctx, ['op', 'restore', target]);
        break;
      case 'already-there':
        break;
    }
  }
  // publish: the local graph is final; the normal flow pushes what is ahead.
  updateSync(ctx.store, (s) => ({ ...s, journal: null }));
  return null;
}

/**
 * The guard's questions in one `jj log` (they were three, and a bookmark
 * list): the troubled commits, the working copy, and where wcBase stands,
 * each a flag (`contained_in`) on the union of the commits they are about,
 * and the bookmarks at each commit of `bookmarks() | remote_bookmarks()`
 * (bookmarksFromRefs). A hidden wcBase (rewritten by our own rebase) is
 * still named by its id and shown, in neither `::@` nor
 * `::visible_heads()`; a missing one is not shown.
 */
async function observeGuard(ctx: Ctx, st: SyncSection): Promise<GuardLook> {
  const TROUBLED = 'mutable() & (conflicts() | divergent())';
  const wcBaseRev = st.wcBase === null ? '' : ` | present(${st.wcBase})`;
  const remoteRef = `present(${ctx.bookmark}@${ctx.remote})`;
  // The stack, bounded: without the remote bookmark `none()..@-` is the
  // whole history (integration then stops with its one-line error).
  const stackRev = `(${remoteRef}..@-) & ancestors(@-, ${STACK_DEPTH})`;
  const seen = await flaggedCommits(
    ctx,
    `@ | @- | (${TROUBLED}) | bookmarks() | remote_bookmarks() | ${stackRev}${wcBaseRev}`,
    [TROUBLED, '::@', '::visible_heads()', remoteRef, stackRev, '@-'],
    // A tree jj cannot read (a file name that is not UTF-8) must not stop
    // the guard: main@origin may be a stale tip the fetch is about to
    // replace. Its externals are then unknown, and integration asks itself
    // (and stops with its one-line error if the tree is still there).
    { refs: true, reversed: true, filesFlag: EXTERNALS_FILESET, filesErrorsUnknown: true },
  );
  const bms = bookmarksFromRefs(seen);
  const troubled = seen.filter((c) => c.in[0] === true).map((c) => c.changeId.slice(0, 12));
  const wcs = seen.filter((c) => c.workingCopy);
  const workingCopy = wcs[0];
  if (workingCopy === undefined || wcs.length !== 1) {
    throw new GitopsdError(
      'failed',
      `jj revset @ names ${wcs.length} commits, expected 1; inspect the repo with "jj log"`,
    );
  }
  const base = st.wcBase === null ? undefined : seen.find((c) => c.commitId === st.wcBase);
  const wcBaseIsAncestor = st.wcBase === null || base?.in[1] === true;
  const wcBaseVisible = st.wcBase === null || base?.in[2] === true;
  const conflictedBookmarks = bms.filter((b) => b.remote === '' && b.conflict).map((b) => b.name);
  // Who made an odd state: read the op log only when there is one. The
  // query above snapshots the working copy as our operation (a file a person
  // added with "chezmoi add" is theirs in content, not a jj operation).
  let ownSinceLastRun = false;
  if (conflictedBookmarks.length > 0 || !wcBaseIsAncestor) ownSinceLastRun = await ownOpsSince(ctx, st.lastOp);
  // Integration's questions before the fetch: answered here, they spare
  // its own jj log when the fetch changes nothing (IntegrationBasis).
  const remoteMain = seen.find((c) => c.in[3] === true)?.commitId ?? null;
  const stack = seen.filter((c) => c.in[4] === true);
  const looked = seen.filter((c) => c.in[3] === true || c.in[5] === true || c.workingCopy);
  const externals = looked.some((c) => c.hasFiles === true);
  const externalsKnown = looked.every((c) => c.hasFiles !== null);
  return {
    obs: {
      troubled,
      conflictedBookmarks,
      syncBookmark: ctx.bookmark,
      workingCopy,
      wcBase: st.wcBase,
      wcBaseIsAncestor,
      wcBaseVisible,
      ownSinceLastRun,
    },
    bms,
    basis:
      remoteMain !== null && externalsKnown && stack.length < STACK_DEPTH / 2 ? { remoteMain, stack, externals } : null,
  };
}

/**
 * The generations of @-'s ancestry the guard looks through for the local
 * stack. A stack of k commits lies within k generations of @- (every commit
 * between a stack commit and @- is in the stack too), so a stack found
 * shorter than half this bound is the whole stack; a longer one is asked
 * for again by integration.
 */
const STACK_DEPTH = 100;

/** What the guard's one jj log saw. */
interface GuardLook {
  obs: GuardObservation;
  /** The bookmark list (bookmarksFromRefs). */
  bms: JjBookmark[];
  /** Integration's observation as of the guard's look; null when main@origin is missing or the stack is long. */
  basis: IntegrationBasis | null;
}

/**
 * main@origin, the stack on it (oldest first) and whether main@origin, @-
 * or @ has .chezmoiexternal files, as the guard saw them before the fetch.
 */
interface IntegrationBasis {
  remoteMain: string;
  stack: JjCommit[];
  externals: boolean;
}

/** Every jj operation after `op` was recorded by gitopsd (false when op is null or no longer in the op log). */
async function ownOpsSince(ctx: Ctx, op: string | null): Promise<boolean> {
  if (op === null) return false;
  return decideRestore(await opLog(ctx), op) !== 'foreign';
}

/**
 * Repair a state gitopsd made itself (decideGuard's 'repair'): the sync
 * bookmark conflicted between the remote and our unpushed rewrite goes back
 * to the remote's target (our commits are in @'s ancestry and integrate
 * again); an empty working copy off the line returns to it.
 */
async function repairOwnState(ctx: Ctx, g: Extract<GuardDecision, { kind: 'repair' }>): Promise<void> {
  ctx.log.warn('repairing a repo state an earlier sync of this host left', { why: g.why });
  if (g.resetBookmark) {
    await jj(ctx, ['bookmark', 'set', ctx.bookmark, '-r', `${ctx.bookmark}@${ctx.remote}`, '--allow-backwards']);
  }
  if (g.returnTo !== null) await jj(ctx, ['new', g.returnTo]);
}

/** A person is mid-resolution: do not capture or rewrite; only publish the parked side. */
async function pushParkOnly(ctx: Ctx, st: SyncSection, why: string, extras: Extras): Promise<SyncResult> {
  const fetched = await jj(ctx, ['git', 'fetch', '--remote', ctx.remote], { allowFailure: true, network: true });
  if (fetched.exitCode === 0) {
    const bms = await bookmarks(ctx);
    const local = bms.find((b) => b.name === ctx.park && b.remote === '');
    const remote = bms.find((b) => b.name === ctx.park && b.remote === ctx.remote);
    if (local !== undefined && !local.conflict && local.targets[0] !== remote?.targets[0]) {
      const p = await jj(ctx, ['git', 'push', '--remote', ctx.remote, '-b', ctx.park], {
        allowFailure: true,
        network: true,
      });
      if (p.exitCode === 0) extras.pushed.push(ctx.park);
    }
  }
  extras.parked = st.parked;
  return result('needs-human', `sync paused: ${why}; $HOME edits stay in $HOME until then`, extras);
}

// ---------------------------------------------------------------- integrate

type IntegrateOutcome =
  | { kind: 'done'; pushed: string[]; parked: ParkedInfo | null }
  | { kind: 'stale' }
  | { kind: 'offline'; message: string }
  | { kind: 'refused'; message: string }
  | { kind: 'needs-human'; message: string };

/**
 * What integration decides on, and the bookmark list it was taken from
 * (nothing before the pushes moves a bookmark of the parked line, so the
 * later steps reuse it). `wcParent`: @- when the caller knows it.
 */
async function observeIntegrate(
  ctx: Ctx,
  st: SyncSection,
  wcParentKnown: string | null,
  bookmarksKnown: JjBookmark[] | null,
): Promise<{ obs: IntegrateObservation; bms: JjBookmark[]; externals: boolean }> {
  // One `jj log` for the remote's tip, the local stack on it, @- and whether
  // the parked tip is merged (they were up to four). present(): a remote
  // without the bookmark gets the one-line error below, not jj's.
  const remoteRef = `present(${ctx.bookmark}@${ctx.remote})`;
  const parkedTip = st.parked === null ? null : `present(${st.parked.tip})`;
  const seen = await flaggedCommits(
    ctx,
    [remoteRef, `${remoteRef}..@-`, '@-', '@', ...(parkedTip === null ? [] : [parkedTip])].join(' | '),
    [remoteRef, `${remoteRef}..@-`, '@-', parkedTip === null ? 'none()' : `${parkedTip} & ::${remoteRef}`],
    // .chezmoiexternal files anywhere in these trees (docs
    // reference/special-files/chezmoiexternal-format.md, and the
    // .chezmoiexternals directory): integration can only bring in paths
    // that the remote's tip or the local side has, so with none there is
    // nothing for `apply -i externals` to do.
    { reversed: true, filesFlag: EXTERNALS_FILESET },
  );
  const remoteMain = seen.find((c) => c.in[0] === true);
  if (remoteMain === undefined) {
    throw new GitopsdError(
      'failed',
      `the remote ${ctx.remote} has no bookmark ${ctx.bookmark}; push an initial commit to it (git push ${ctx.remote} HEAD:${ctx.bookmark}) and retry`,
    );
  }
  const stack = seen.filter((c) => c.in[1] === true);
  const parents = seen.filter((c) => c.in[2] === true);
  const wcParent = wcParentKnown ?? parents[0]?.commitId;
  if (wcParent === undefined || (wcParentKnown === null && parents.length !== 1)) {
    throw new GitopsdError(
      'failed',
      `jj revset @- names ${parents.length} commits, expected 1; inspect the repo with "jj log"`,
    );
  }
  const parkMerged = seen.some((c) => c.in[3] === true);
  const externals = seen.some((c) => c.hasFiles === true && (c.in[0] === true || c.in[2] === true || c.workingCopy));
  const bms = bookmarksKnown ?? (await bookmarks(ctx));
  const parkOnRemote = bms.some((b) => b.name === ctx.park && b.remote === ctx.remote && b.targets.length > 0);
  const parkLocal = bms.some((b) => b.name === ctx.park && b.remote === '' && b.targets.length > 0);
  return {
    obs: { remoteMain: remoteMain.commitId, stack, wcParent, parked: st.parked, parkMerged, parkOnRemote, parkLocal },
    bms,
    externals,
  };
}

type Observed = Awaited<ReturnType<typeof observeIntegrate>>;

/**
 * Whether `<bookmark>@<remote>` is still at `seen`, read from the colocated
 * git's remote-tracking ref `refs/remotes/<remote>/<bookmark>` (jj exports
 * it there, and a person's `git fetch` writes it), without a process. False
 * whenever the ref cannot be read from files (another user's checkout, which
 * root does not even look at; reftable; src/core/git-refs.ts): the caller
 * then asks jj.
 */
function remoteTipUnmoved(ctx: Ctx, seen: string): boolean {
  // Root reads no file of another user's repository (docs/design.md, "Root
  // and the user's files"): the lstat of <src>/.git below would follow the
  // user's symlinks on the way, and fileRefsGitDir refuses the user's
  // checkout only after it. jj answers, as the user (review 16).
  if (ctx.runAs !== undefined) return false;
  const gitDir = fileRefsGitDir(ctx.src);
  if (gitDir === null) return false;
  return readRefFromFiles(gitDir, `refs/remotes/${ctx.remote}/${ctx.bookmark}`) === seen;
}

/**
 * Integration's observation without a jj process, for a run whose fetch
 * changed nothing, whose guard changed nothing and with no parked record
 * (the caller checks): main@origin is where the guard saw it, the stack is
 * the guard's plus the commit the seal made (`sealedCommits`, on the head
 * the guard saw), @- is `sealed`. The trees with .chezmoiexternal files
 * are the guard's: the seal committed @'s tree plus what re-add wrote, and
 * re-add writes only targets' source files.
 */
function observedFromGuard(
  ctx: Ctx,
  st: SyncSection,
  basis: IntegrationBasis,
  bms: JjBookmark[],
  sealed: string,
  sealedCommits: JjCommit[],
): Observed {
  const parkOnRemote = bms.some((b) => b.name === ctx.park && b.remote === ctx.remote && b.targets.length > 0);
  const parkLocal = bms.some((b) => b.name === ctx.park && b.remote === '' && b.targets.length > 0);
  return {
    obs: {
      remoteMain: basis.remoteMain,
      stack: [...basis.stack, ...sealedCommits],
      wcParent: sealed,
      parked: st.parked,
      parkMerged: false,
      parkOnRemote,
      parkLocal,
    },
    bms,
    externals: basis.externals,
  };
}

/** The source files that declare externals: `.chezmoiexternal.<format>[.tmpl]` and `.chezmoiexternals/`, in any directory. */
const EXTERNALS_FILESET = 'glob:"**/.chezmoiexternal*" | glob:"**/.chezmoiexternal*/**"';

async function integrate(
  ctx: Ctx,
  st: SyncSection,
  beforeSourceChange: (obs: IntegrateObservation) => Promise<void>,
  o: {
    /** @- when the caller knows it. */
    wcParentKnown: string | null;
    /** The bookmark list when the caller knows it is still current. */
    bookmarksKnown: JjBookmark[] | null;
    /** The whole observation when the caller knows it (observedFromGuard). */
    observed: Observed | null;
    /** Set when a tree integration looked at declares .chezmoiexternal targets. */
    seen: { externals: boolean };
  },
): Promise<IntegrateOutcome> {
  const { obs, bms, externals } = o.observed ?? (await observeIntegrate(ctx, st, o.wcParentKnown, o.bookmarksKnown));
  if (externals) o.seen.externals = true;
  const d = decideIntegration(obs);
  if (bringsRemoteChanges(obs, d)) await beforeSourceChange(obs);
  ctx.log.debug('integration decision', { decision: d.kind, stack: obs.stack.length });
  const remoteRef = `${ctx.bookmark}@${ctx.remote}`;
  switch (d.kind) {
    case 'needs-human':
      return { kind: 'needs-human', message: `sync paused: ${d.why}` };
    case 'up-to-date':
      return finishSettled(ctx, obs, bms, []);
    case 'fast-forward':
      // Only the empty working copy moves: no commit, no push.
      await jj(ctx, ['rebase', '-b', '@', '-o', remoteRef]);
      return finishSettled(ctx, obs, bms, []);
    case 'parked-idle':
      return publish(ctx, { op: null, pushMain: false, pushPark: parkAhead(ctx, bms), parked: st.parked });
    case 'rebase':
      return rebaseOrSplit(ctx, obs, bms);
    case 'split': {
      const op = await beginIntegration(ctx);
      return split(ctx, obs, bms, d, op, await sealWindowEdit(ctx, obs.wcParent));
    }
  }
}

/**
 * Before split: commit an edit a person made in the source dir during this
 * run (the capture sealed @, so a non-empty @ holds only such an edit), so
 * that split integrates or parks it by path like any local change, as the
 * next sync would do with an edit made while no sync runs. Moved as @ (`jj
 * rebase -r @`), an edit overlapping a remote change became a conflicted @
 * whose markers apply copied into $HOME (review 7, D1-a). Returns the head
 * split works from: the new commit, or `head` (@- as observed) when @ is
 * empty. One `jj log -r @` (its snapshot takes the edit in), plus `jj
 * commit` when there is an edit; the message is the capture's.
 */
async function sealWindowEdit(ctx: Ctx, head: string): Promise<string> {
  const at = await one(ctx, '@');
  if (at.empty) return head;
  if (at.parents.length !== 1 || at.parents[0] !== head) {
    // A person moved @ during the run: not ours to commit; the guard of
    // the next run sees it. split then moves @ as it is.
    ctx.log.warn('the working copy moved during the sync; leaving it as it is', { wc: at.changeId.slice(0, 12) });
    return head;
  }
  const c = await commitWorkingCopy(ctx, `sync(${ctx.host}): ${ctx.deps.clock.now().toISOString()}`);
  ctx.log.info('sealed a source-dir edit made during the sync before splitting', { commit: c.commitId });
  return c.commitId;
}

async function beginIntegration(ctx: Ctx): Promise<string> {
  const op = await currentOp(ctx);
  const now = ctx.deps.clock.now().toISOString();
  updateSync(ctx.store, (s) => ({ ...s, journal: { phase: 'integrate', op, startedAt: now } }));
  return op;
}

/** After a settled park (merged by a person), drop the record and the bookmark. */
async function finishSettled(
  ctx: Ctx,
  obs: IntegrateObservation,
  bms: readonly JjBookmark[],
  pushed: string[],
): Promise<IntegrateOutcome> {
  if (parkSettled(obs)) await dropPark(ctx, bms, pushed);
  return { kind: 'done', pushed, parked: null };
}

/** `bms`: the bookmark list integration observed (the parked bookmark has not moved since). */
async function dropPark(ctx: Ctx, bms: readonly JjBookmark[], pushed: string[]): Promise<void> {
  if (bms.some((b) => b.name === ctx.park && b.remote === '')) {
    await jj(ctx, ['bookmark', 'delete', ctx.park]);
  }
  if (bms.some((b) => b.name === ctx.park && b.remote === ctx.remote && b.targets.length > 0)) {
    const r = await jj(ctx, ['git', 'push', '--remote', ctx.remote, '--deleted'], {
      allowFailure: true,
      network: true,
    });
    if (r.exitCode === 0) pushed.push(`${ctx.park} (deleted)`);
    else
      ctx.log.warn('could not delete the merged parked bookmark on the remote; the next sync retries', {
        stderr: lastLine(r.stderr),
      });
  }
  updateSync(ctx.store, (s) => ({ ...s, parked: null }));
}

/** The local parked bookmark points elsewhere than the remote one (it needs a push). */
function parkAhead(ctx: Ctx, bms: readonly JjBookmark[]): boolean {
  const local = bms.find((b) => b.name === ctx.park && b.remote === '');
  const remote = bms.find((b) => b.name === ctx.park && b.remote === ctx.remote);
  return local !== undefined && local.targets[0] !== remote?.targets[0];
}

async function rebaseOrSplit(
  ctx: Ctx,
  obs: IntegrateObservation,
  bms: readonly JjBookmark[],
): Promise<IntegrateOutcome> {
  const remoteRef = `${ctx.bookmark}@${ctx.remote}`;
  const op = await beginIntegration(ctx);
  // A stack already on main@origin: the rebase would change nothing.
  if (!stackOnRemote(obs)) await jj(ctx, ['rebase', '-b', '@', '-o', remoteRef]);
  // The bookmark moves to @- only if no rebased commit conflicts: the revset
  // drops @- when a conflicted commit of the stack is @- itself, below it, or
  // above it (@), and jj refuses an empty revset. One process where a
  // conflict query and the move were two; the query runs only on a refusal,
  // so no error text of jj's is parsed.
  const conflicts = `conflicts() & (${remoteRef}..@)`;
  const moved = await jj(
    ctx,
    // `& main@origin::`: main only ever moves to a descendant of where the
    // remote is now (jj imports git's refs before it evaluates the revset),
    // so a remote that moved after the observation fails the move instead
    // of pushing main sideways over other hosts' commits (review 6, D0).
    [
      'bookmark',
      'set',
      ctx.bookmark,
      '-r',
      `(@- ~ ((${conflicts}):: | ::(${conflicts}))) & ${remoteRef}::`,
      '--allow-backwards',
    ],
    { allowFailure: true },
  );
  const conflicted = moved.exitCode === 0 ? [] : await commits(ctx, conflicts);
  if (moved.exitCode !== 0 && conflicted.length === 0) {
    throw new GitopsdError(
      'failed',
      `jj bookmark set ${ctx.bookmark} failed after a clean rebase (${lastLine(moved.stderr)}); inspect the repo with "jj log" and "jj op log"`,
    );
  }
  if (conflicted.length === 0) {
    const out = await publish(ctx, { op, pushMain: true, pushPark: false, parked: null });
    if (out.kind === 'done' && parkSettled(obs)) await dropPark(ctx, bms, out.pushed);
    return out;
  }
  // The same lines changed on both sides: undo the rebase (the local commits
  // return, unconflicted, to their old base, matching $HOME) and split by path.
  ctx.log.info('local commits conflict with the remote; splitting by path', {
    commits: conflicted.map((c) => c.changeId.slice(0, 12)),
  });
  // To the journal's operation, or past the snapshot our rebase took first
  // of an edit made in the source dir since that operation (restorePoint):
  // the edit stays in @ on the old base (review 6, D1).
  await jj(ctx, ['op', 'restore', restorePoint(await opLog(ctx), op)]);
  // Such an edit is committed on the old stack and split by path with it
  // (sealWindowEdit, review 7, D1-a).
  const head = await sealWindowEdit(ctx, obs.wcParent);
  return split(ctx, obs, bms, { kind: 'split', held: [], resolved: false, keep: null }, op, head);
}

/**
 * Integrate every local change outside the held paths and park the rest.
 *
 * - X: one new commit with the local changes (relative to the fork point F)
 *   except the held paths, rebased onto main@origin. Paths that still
 *   conflict are restored to main@origin's content in X and join the held set.
 * - Park: a new commit on the parked bookmark (or on F the first time) with
 *   the local content of the held paths. Based on F, a person's merge of
 *   main@origin and the parked bookmark sees exactly both sides.
 * - Keep: a local-only commit on X (or main@origin) with the held paths at
 *   their local content, so the working copy keeps matching $HOME. Never
 *   pushed; rebuilt by every sync while the conflict is parked.
 * - The old local stack is abandoned: its content lives on in X, Park and Keep.
 */
async function split(
  ctx: Ctx,
  obs: IntegrateObservation,
  bms: readonly JjBookmark[],
  d: Extract<IntegrateDecision, { kind: 'split' }>,
  op: string,
  /** @- as integration observed it (a rebase since was undone by op restore), or the commit sealWindowEdit made on it. */
  headCommit: string,
): Promise<IntegrateOutcome> {
  const remoteRef = `${ctx.bookmark}@${ctx.remote}`;
  const head = { commitId: headCommit };
  const forks = await commits(ctx, `heads(::${head.commitId} & ::${remoteRef})`, NO_SNAPSHOT);
  const fork = forks[0];
  if (fork === undefined || forks.length !== 1) {
    return {
      kind: 'needs-human',
      message: `sync paused: the local commits have ${forks.length} fork points with ${remoteRef}; linearize them by hand`,
    };
  }
  const oldStack = (await commits(ctx, `${remoteRef}..${head.commitId}`, NO_SNAPSHOT)).map((c) => c.commitId);
  const stamp = ctx.deps.clock.now().toISOString();

  // The base of X: the fork point, except after a person resolved a parked
  // conflict, when the held paths' base is their content in the keep commit.
  let base = fork.commitId;
  let tempBase: string | null = null;
  if (d.resolved && d.keep !== null) {
    const keptPaths = await changedPaths(ctx, d.keep, NO_SNAPSHOT);
    if (keptPaths.length > 0) {
      tempBase = await newCommit(ctx, fork.commitId, 'gitopsd-sync: temporary merge base');
      await restore(ctx, d.keep, tempBase, filesetOf(keptPaths));
      base = tempBase;
    }
  }
  const x = await newCommit(ctx, base, `sync(${ctx.host}): ${stamp}`);
  await restore(ctx, head.commitId, x, filesetExcept(d.held));
  await jj(ctx, ['rebase', '-r', x, '-o', remoteRef]);
  const newConflicts = await conflictedFiles(ctx, x, NO_SNAPSHOT);
  if (newConflicts.length > 0) await restore(ctx, remoteRef, x, filesetOf(newConflicts));
  if (tempBase !== null) await jj(ctx, ['abandon', tempBase]);
  let held = [...new Set([...d.held, ...newConflicts])].sort();
  // An attribute rename (dot_tool → executable_dot_tool) on either side is
  // held with the conflicting path: at most one entry per target in main,
  // in the park and in the keep commit (issue 14, input 3).
  if (held.length > 0) {
    const changed = [
      ...(
        await jj(ctx, [...NO_SNAPSHOT, 'diff', '--from', fork.commitId, '--to', head.commitId, '--name-only'])
      ).stdout.split('\n'),
      ...(
        await jj(ctx, [...NO_SNAPSHOT, 'diff', '--from', fork.commitId, '--to', remoteRef, '--name-only'])
      ).stdout.split('\n'),
    ].filter((l) => l !== '');
    const unit = sameTargetPaths(held, changed);
    if (unit.length > 0) {
      await restore(ctx, remoteRef, x, filesetOf(unit));
      held = [...new Set([...held, ...unit])].sort();
    }
  }

  const xCommit = await one(ctx, x, NO_SNAPSHOT);
  let newMain: string | null = xCommit.commitId;
  if (xCommit.empty) {
    await jj(ctx, ['abandon', x]);
    newMain = null;
  }

  let parked: ParkedInfo | null = null;
  let pushPark = false;
  let wcTarget = newMain ?? remoteRef;
  if (held.length > 0) {
    const localPark = bms.find((b) => b.name === ctx.park && b.remote === '');
    const remotePark = bms.find((b) => b.name === ctx.park && b.remote === ctx.remote);
    const parkParent = localPark?.targets[0] ?? obs.parked?.tip ?? fork.commitId;
    const p = await newCommit(
      ctx,
      parkParent,
      `sync(${ctx.host}): parked local side of ${held.join(', ')} at ${stamp}`,
    );
    await restore(ctx, head.commitId, p, filesetOf(held));
    const parkCommit = await one(ctx, p, NO_SNAPSHOT);
    let tip = parkCommit.commitId;
    if (parkCommit.empty) {
      await jj(ctx, ['abandon', p]);
      tip = parkParent;
    }
    if (localPark?.targets[0] !== tip) {
      await jj(ctx, ['bookmark', 'set', ctx.park, '-r', tip, '--allow-backwards']);
    }
    pushPark = tip !== remotePark?.targets[0];
    const keep = await newCommit(ctx, wcTarget, `${KEEP_MARKER} (${held.join(', ')}); never pushed`);
    await restore(ctx, head.commitId, keep, filesetOf(held));
    wcTarget = (await one(ctx, keep, NO_SNAPSHOT)).commitId;
    parked = { bookmark: ctx.park, paths: held, tip, since: obs.parked?.since ?? stamp };
  }
  // @ moves onto the new line with its own changes: empty after the seal
  // and sealWindowEdit, unless a person edited the source dir after
  // sealWindowEdit's snapshot (or moved @). `jj new` would leave such an
  // edit behind in the old @, off disk (review 6, D1); moved, it can
  // conflict, and apply then refuses to write $HOME (review 7, D1-a).
  await jj(ctx, ['rebase', '-r', '@', '-o', wcTarget]);
  const stale = await commits(
    ctx,
    oldStack.length > 0 ? `present(${oldStack.join(') | present(')})` : 'none()',
    NO_SNAPSHOT,
  );
  // Keep the old stack's commits that are on the parked line (never on it
  // today, but abandoning a parked commit would lose the local side).
  const abandon = stale.map((c) => c.commitId);
  if (abandon.length > 0) await jj(ctx, ['abandon', ...abandon]);
  if (newMain !== null) await jj(ctx, ['bookmark', 'set', ctx.bookmark, '-r', newMain, '--allow-backwards']);

  const out = await publish(ctx, { op, pushMain: newMain !== null, pushPark, parked });
  if (out.kind === 'done' && parked === null && (d.resolved || parkSettled(obs))) await dropPark(ctx, bms, out.pushed);
  return out;
}

/**
 * `jj op restore <op>` to before our integration, only when every later
 * operation is ours (a person's jj work since must not be rolled back).
 * The journal is cleared either way: the local graph is then either the
 * one before the integration, or a person's (the guard sees it next run).
 */
async function undoIntegration(ctx: Ctx, op: string): Promise<void> {
  const ops = await opLog(ctx);
  // Past the snapshots right after the journal's operation (review 6, D1).
  const target = restorePoint(ops, op);
  const d = decideRestore(ops, target);
  switch (d) {
    case 'restore':
      await jj(ctx, ['op', 'restore', target]);
      break;
    case 'already-there':
      break;
    case 'foreign':
      ctx.log.warn('push failed but someone else changed the repo since the integration; not undoing it', { op });
      break;
  }
  updateSync(ctx.store, (s) => ({ ...s, journal: null }));
}

/**
 * Push the parked bookmark, then main. The journal moves to `publish` first
 * (with the parked record), so a crash from here on is finished by the next
 * run instead of undone. A stale lease undoes the local integration and asks
 * for another fetch.
 */
async function publish(
  ctx: Ctx,
  p: { op: string | null; pushMain: boolean; pushPark: boolean; parked: ParkedInfo | null },
): Promise<IntegrateOutcome> {
  const now = ctx.deps.clock.now().toISOString();
  if (p.op !== null) {
    const op = p.op;
    updateSync(ctx.store, (s) => ({ ...s, parked: p.parked, journal: { phase: 'publish', op, startedAt: now } }));
  }
  const pushed: string[] = [];
  const targets = [...(p.pushPark ? [ctx.park] : []), ...(p.pushMain ? [ctx.bookmark] : [])];
  for (const b of targets) {
    const r = await jj(ctx, ['git', 'push', '--remote', ctx.remote, '-b', b], { allowFailure: true, network: true });
    if (r.exitCode === 0) {
      pushed.push(b);
      continue;
    }
    const why = classifyPushFailure(r.stderr);
    // Whatever the reason, go back to before the integration: nothing
    // rewritten was pushed (a parked push only adds new commits), so this is
    // safe, and it leaves no unpushed rewrite behind. Kept, the moved
    // bookmark turns into a conflicted `main??` at the next fetch and the
    // rewritten wcBase looks like a working copy a person moved: the host
    // would pause itself forever (issue 14). The next sync integrates again.
    if (p.op !== null) await undoIntegration(ctx, p.op);
    switch (why) {
      case 'stale':
        return { kind: 'stale' };
      case 'offline':
        return {
          kind: 'offline',
          message: `cannot push ${b} to ${ctx.remote} (${pushFailureReason(r.stderr)}); commits are kept and pushed by the next sync`,
        };
      case 'refused':
        return {
          kind: 'refused',
          message: `${ctx.remote} refused the push of ${b} (${pushFailureReason(r.stderr)}); commits are kept and pushed by the next sync that is allowed to push; fix the remote's permissions or hooks`,
        };
    }
  }
  updateSync(ctx.store, (s) => ({ ...s, parked: p.parked, journal: null }));
  return { kind: 'done', pushed, parked: p.parked };
}

// ---------------------------------------------------------------- seal

/**
 * Commit the working copy when it has changes; returns the commit (null
 * when nothing was committed). `seenAt`: @ as the guard saw it when nothing
 * but re-add wrote into the source dir since (else null: @ is asked for).
 * - nothing re-added: the guard's @ says whether it is empty;
 * - re-added onto an empty @: re-add wrote a source file exactly when
 *   `wroteSource`; with none, @ is still empty. With one, `jj commit` runs
 *   without asking first, and its own output says whether the commit is
 *   empty (a source file jj does not track, such as a git-ignored one):
 *   such a commit is abandoned at once. A kill between the two leaves that
 *   empty commit, which the next sync pushes; nothing is lost.
 */
async function seal(
  ctx: Ctx,
  s: { message: string; seenAt: JjCommit | null; reAdded: boolean; wroteSource: boolean },
): Promise<Committed | null> {
  if (s.seenAt !== null && !s.reAdded) {
    return s.seenAt.empty ? null : commitWorkingCopy(ctx, s.message);
  }
  if (s.seenAt !== null && s.seenAt.empty) {
    if (!s.wroteSource) return null;
    const c = await commitWorkingCopy(ctx, s.message);
    if (!c.empty) return c;
    ctx.log.info('re-add changed no file jj tracks; dropping the empty commit', { commit: c.commitId });
    await jj(ctx, ['abandon', c.commitId]);
    return null;
  }
  const at = await one(ctx, '@');
  return at.empty ? null : commitWorkingCopy(ctx, s.message);
}

// ---------------------------------------------------------------- capture

/**
 * Copy $HOME edits into the source dir. Only targets $HOME changed since
 * chezmoi last wrote them (status X) are re-added: a plain `chezmoi re-add`
 * also copies files whose *source* is ahead (integrated but not yet applied,
 * after a crash or a deferred apply) and would silently revert them.
 *
 * A target changed on both sides (edited in $HOME, and its source changed
 * since $HOME last reflected it, at wcBase) is merged first with
 * `git merge-file` (base: its content at wcBase), and the merge is written
 * into $HOME in place, so re-add captures the edit on top of the new
 * content. A merge that conflicts is left alone and reported (deferred).
 */
async function capture(
  ctx: Ctx,
  c: {
    /** A `chezmoi status` already started while nothing has changed the working copy (runSync), or null to run one. */
    status: Promise<RunResult> | null;
    wcBase: string | null;
    /** Our own rebase rewrote wcBase (a repaired state). */
    wcMoved: boolean;
    heldBases: Readonly<Record<string, string>>;
    /** What the guard saw, when nothing changed the repo since: @- and whether wcBase is in ::@. */
    known: { head: string; wcBaseIsAncestor: boolean } | null;
  },
): Promise<{
  reAdded: boolean;
  status: StatusEntry[];
  sourceAhead: boolean;
  targets: string[];
  head: string;
  unmerged: Map<string, Unmerged>;
  refused: Refusal[];
}> {
  const status = parseChezmoiStatus((await (c.status ?? statusOrExplain(ctx))).stdout);
  const edited = status.filter((e) => e.x === 'M' || e.x === 'A').map((e) => e.target);
  const { wcBase, wcMoved, heldBases, known } = c;
  const head = known?.head ?? (await one(ctx, '@-')).commitId;
  // The source is ahead of $HOME when integration moved it past wcBase and
  // apply has not (fully) brought $HOME there yet (a crash, a deferred target).
  // wcMoved: our own rebase rewrote wcBase (a repaired state): not an
  // ancestor any more, but its tree is still what $HOME reflects.
  const sourceAhead =
    wcBase !== null &&
    wcBase !== head &&
    (wcMoved || (known?.wcBaseIsAncestor ?? (await commits(ctx, `present(${wcBase}) & ::@`)).length > 0));
  const unmerged = new Map<string, Unmerged>();
  const refused: Refusal[] = [];
  if (edited.length === 0) return { reAdded: false, status, sourceAhead, targets: [], head, unmerged, refused };
  // Each edited target merges against what $HOME last had of it: its own
  // held base if it was left unapplied, else wcBase while the source is ahead.
  const baseOf = (t: string): string | null => heldBases[t] ?? (sourceAhead ? wcBase : null);
  let capture = edited;
  if (edited.some((t) => baseOf(t) !== null)) {
    const aheadOf = new Map<string, Set<string>>();
    const sources = await sourcePaths(ctx, edited);
    capture = [];
    for (const [i, t] of edited.entries()) {
      const srcRel = sources[i];
      const base = baseOf(t);
      if (base === null || srcRel === undefined) {
        capture.push(t);
        continue;
      }
      let ahead = aheadOf.get(base);
      if (ahead === undefined) {
        ahead = new Set((await jj(ctx, ['diff', '--from', base, '--to', '@', '--name-only'])).stdout.split('\n'));
        aheadOf.set(base, ahead);
      }
      if (!ahead.has(srcRel)) {
        capture.push(t);
        continue;
      }
      const merged = await mergeIntoHome(ctx, { target: t, srcRel, base });
      if (merged === 'capture') capture.push(t);
      else if (merged === 'encrypted') unmerged.set(t, 'encrypted');
      else if (merged !== 'leave') refused.push(merged);
      else if (!srcRel.endsWith('.tmpl')) unmerged.set(t, 'same-lines');
    }
  }
  if (capture.length === 0) return { reAdded: false, status, sourceAhead, targets: [], head, unmerged, refused };
  // Never with chezmoi's own git.autoCommit/autoPush (see sourceWriteConfig).
  const write = await sourceWriteConfig(ctx);
  try {
    await chezmoi(ctx, ['re-add', '--', ...capture.map((t) => join(ctx.dest, t))], {
      ...(write.config !== null ? { config: write.config } : {}),
    });
  } finally {
    write.done();
  }
  return { reAdded: true, status, sourceAhead, targets: capture, head, unmerged, refused };
}

/**
 * New files jj would not snapshot (over snapshot.max-new-file-size) during
 * capture and seal: they are in neither the commit nor the remote, so each
 * is reported as an edit waiting, with its size and the limit.
 */
async function refusedBySnapshot(ctx: Ctx): Promise<Uncapturable[]> {
  const files = [...ctx.snapshotRefusals.values()];
  if (files.length === 0) return [];
  const r = await chezmoi(ctx, ['target-path', '--', ...files.map((f) => join(ctx.src, f.path))], {
    allowFailure: true,
  });
  const targets = r.exitCode === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
  return files.map((f, i) => {
    const abs = targets[i];
    const target = abs?.startsWith(`${ctx.dest}/`) ? abs.slice(ctx.dest.length + 1) : f.path;
    ctx.log.warn('jj refused to snapshot a new file over the size limit', { ...f });
    return {
      target,
      code: 'L',
      why: `${f.path} is ${f.bytes} bytes, over the ${f.limit}-byte limit for new files (dotfiles.maxNewFileSize, jj's snapshot.max-new-file-size), so it is not synced; raise dotfiles.maxNewFileSize, or add it to .chezmoiignore and remove it from the source dir`,
    };
  });
}

/**
 * Of the held targets chezmoi's status no longer lists, those still
 * orphaned: no longer kept by the source (managed or ignored) and still in
 * $HOME. Derived anew by every sync, so the person's `chezmoi add` or `rm`
 * ends the wait; costs `chezmoi managed`, `chezmoi ignored` and an lstat,
 * only when such a target exists.
 */
async function stillOrphaned(ctx: Ctx, unlisted: readonly string[]): Promise<string[]> {
  if (unlisted.length === 0) return [];
  // Every kind of entry: a held symlink the person recorded with `chezmoi
  // add` is managed again, though not among the files.
  const kept = await keptTargets(ctx, 'all');
  const unkept = unlisted.filter((t) => !kept.has(t));
  if (unkept.length === 0) return [];
  const kinds = await ctx.tree.kinds(unkept.map((t) => join(ctx.dest, t)));
  return unkept.filter((_, i) => kinds[i] !== 'missing');
}

// ---------------------------------------------------------------- apply

interface ManagedSnapshot {
  /** Every managed file (relative to dest) → its source path in the repository (null if chezmoi names none). */
  sources: Map<string, string | null>;
  /** Target (relative to dest) → sha256 of the $HOME file, for files $HOME and source agree on. */
  files: Map<string, string>;
  /**
   * Managed files the status listed as changed in $HOME (X column): never
   * removed, and reported if another host deleted their entry (orphanedEdit).
   */
  edited: Set<string>;
}

/**
 * Hashes of managed files unchanged in $HOME since chezmoi wrote them (so a
 * later removal may delete them); read as the user. The full status comes
 * *after* the hashes: a file edited before it is hashed is listed by that
 * status with an X column and left out, and one edited after no longer has
 * the hash, so the removal skips it. With the status first (the capture's,
 * or one just before `chezmoi managed`), a $HOME edit made in between was
 * hashed as agreeing, and when another host had deleted the file, apply
 * deleted the edit (review 13b, D2). A file listed with only a Y column
 * (the source changed, $HOME is still what chezmoi wrote: a template whose
 * data changed, a change integrated but not applied yet) is hashed too:
 * until now it was left out, so when another host deleted it, it stayed in
 * $HOME unmanaged and unreported.
 */
async function managedSnapshot(ctx: Ctx): Promise<ManagedSnapshot> {
  const sources = await managedSources(ctx);
  const managed = [...sources.keys()];
  const hashes = await ctx.tree.hashFiles(managed.map((t) => join(ctx.dest, t)));
  const status = parseChezmoiStatus((await statusOrExplain(ctx)).stdout);
  const changedHere = new Set(status.filter((e) => e.x !== ' ').map((e) => e.target));
  const files = new Map<string, string>();
  const edited = new Set<string>();
  for (const [i, t] of managed.entries()) {
    const h = hashes[i];
    if (changedHere.has(t)) edited.add(t);
    else if (h !== null && h !== undefined) files.set(t, h);
  }
  return { sources, files, edited };
}

/**
 * The deletion step, from its record: chezmoi apply never removes a file
 * that left the source state, so remove it here, but only while it still has
 * the content chezmoi wrote (anything else is a person's edit). Hashed and
 * unlinked by the user's own process, no-follow: a directory on the way
 * that the user replaced with a symlink leads only where the user may
 * delete. An edit kept here whose entry is gone is managed no more: nothing
 * would carry it anywhere, so it waits for the person, reported (review
 * 13b, W1; the same pair of edits made before the sync parks a
 * modify/delete conflict). Edited before the snapshot (listed by its
 * status), or after (its hash no longer matches). Costs `chezmoi managed`
 * and `chezmoi ignored`, and an lstat when an edited target is gone.
 */
async function removeGone(
  ctx: Ctx,
  pending: PendingRemovals,
): Promise<{ removed: string[]; orphaned: string[]; refused: Refusal[] }> {
  const d = decideRemovals(pending, await keptTargets(ctx));
  const rm = await ctx.tree.removeIfUnchanged(
    d.remove.map((f) => ({ path: join(ctx.dest, f.target), sha256: f.sha256 })),
  );
  const targetOf = new Map(d.remove.map((f) => [join(ctx.dest, f.target), f.target]));
  const removed = rm.removed.map((p) => targetOf.get(p) ?? p);
  const editedKinds = d.editedGone.length > 0 ? await ctx.tree.kinds(d.editedGone.map((t) => join(ctx.dest, t))) : [];
  const orphaned = [
    ...rm.kept.map((p) => targetOf.get(p) ?? p),
    ...d.editedGone.filter((_, i) => editedKinds[i] !== 'missing'),
  ];
  const refused = rm.failed.map((f) => {
    const t = targetOf.get(f.path) ?? f.path;
    return refusal(
      ctx,
      t,
      `$HOME/${t} was deleted on another host but ${ctx.user} cannot remove it here (${f.why}); it stays; check where $HOME/${dirname(t)} leads and remove it by hand if it is yours`,
    );
  });
  return { removed, orphaned, refused };
}

/**
 * Finish the deletion step of a run killed between its integration and the
 * state write after apply (the record outlives it; see PendingRemovals).
 * What the source keeps now decides: after a crash before the source
 * changed, or an integration undone (journal recovery, a failed push),
 * every target is still kept and the record is simply dropped; after the
 * change, each target is removed or kept exactly as apply would have done.
 * A kept edit gets its held base (the record's base, the commit that still
 * had its entry) in the same atomic write that drops the record, so this
 * run's stillOrphaned reports it and later runs keep doing so, as after an
 * uninterrupted sync. A kill before that write leaves the record: the next
 * run does it again (a removal already done finds the file missing).
 */
async function finishPendingRemovals(ctx: Ctx): Promise<{ removed: string[]; refused: Refusal[] }> {
  const pending = readSync(ctx.store).pendingRemovals;
  if (pending === null) return { removed: [], refused: [] };
  const done = await removeGone(ctx, pending);
  if (done.removed.length + done.orphaned.length + done.refused.length > 0) {
    ctx.log.warn('finished the removals of files another host deleted that an interrupted sync left', {
      removed: done.removed,
      orphaned: done.orphaned,
    });
  }
  updateSync(ctx.store, (s) => ({
    ...s,
    pendingRemovals: null,
    heldBases: planHeldBases(s.heldBases, pending.base, [...Object.keys(s.heldBases), ...done.orphaned]),
  }));
  return { removed: done.removed, refused: done.refused };
}

async function apply(
  ctx: Ctx,
  pending: PendingRemovals | null,
): Promise<{
  deferred: string[];
  failed: string[];
  removed: string[];
  refused: Refusal[];
  /** Kept $HOME files whose entry another host deleted: edited here (orphanedEdit). */
  orphaned: string[];
  error: string;
}> {
  // Deletions made on another host first (removeGone). No record: the
  // remote deleted no managed file.
  const { removed, orphaned, refused } =
    pending === null ? { removed: [], orphaned: [], refused: [] } : await removeGone(ctx, pending);
  const status = parseChezmoiStatus((await statusOrExplain(ctx)).stdout);
  const targets = planApply(status);
  const deferred = status.filter((e) => e.x !== ' ' && e.y !== ' ').map((e) => e.target);
  if (targets.length === 0) return { deferred, failed: [], removed, refused, orphaned, error: '' };
  // --error-on-conflict: a target edited between our status and the write is
  // refused, never overwritten; --keep-going applies the others anyway.
  const r = await chezmoi(
    ctx,
    ['apply', '--error-on-conflict', '--keep-going', '--', ...targets.map((t) => join(ctx.dest, t))],
    {
      allowFailure: true,
    },
  );
  if (r.exitCode === 0) return { deferred, failed: [], removed, refused, orphaned, error: '' };
  const after = parseChezmoiStatus((await chezmoi(ctx, ['status'], { allowFailure: true })).stdout);
  const left = new Map(after.map((e) => [e.target, e]));
  const failed: string[] = [];
  for (const t of targets) {
    const e = left.get(t);
    if (e === undefined || e.y === ' ') continue;
    if (e.x !== ' ') deferred.push(t);
    else failed.push(t);
  }
  return { deferred, failed, removed, refused, orphaned, error: lastLine(r.stderr) };
}

/**
 * Apply the .chezmoiexternal targets on their own (`apply -i externals`),
 * after everything else: an unreachable URL then costs only the externals.
 * --error-on-conflict keeps an external edited in $HOME. Returns chezmoi's
 * error line, or null when they applied (or there are none).
 */
async function applyExternals(ctx: Ctx): Promise<string | null> {
  const r = await chezmoi(ctx, ['apply', '-i', 'externals', '--error-on-conflict', '--keep-going'], {
    allowFailure: true,
  });
  if (r.exitCode === 0) return null;
  ctx.log.warn('chezmoi could not apply externals', { stderr: lastLine(r.stderr) });
  return lastLine(r.stderr);
}
