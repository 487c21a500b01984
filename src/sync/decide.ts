/**
 * Pure decisions of dotfile sync: parsing tool output and choosing the next
 * step from observations. Nothing here runs a command, reads a file or the
 * clock; src/sync/index.ts observes, calls these, and acts. The parsers of
 * jj's and chezmoi's output are in jj.ts and chezmoi.ts.
 */
import { OP_USER, type JjCommit, type OpEntry } from './jj.js';
import { targetOfSource, type StatusEntry } from './chezmoi.js';

/** Marker of the local-only commit that keeps parked paths at their local content. */
export const KEEP_MARKER = 'gitopsd-sync: local side of a parked conflict';

export interface Uncapturable {
  target: string;
  /** What chezmoi reports: A(dded), D(eleted), M(odified), R(un script). */
  code: string;
  why: string;
}

/**
 * After `chezmoi re-add`, an entry whose X column is not a space is a change
 * in $HOME that re-add could not copy into the source dir: a template, a
 * modify_/create_ entry, a symlink, a script, a deletion, or an edit that
 * conflicts with a source change not yet applied here. It must be reported
 * (with the reason for its kind, from its source name: `sources`, target →
 * source path relative to the source dir), and apply must not touch it
 * (apply would overwrite the person's edit).
 * `unmerged`: targets the three-way merge with the unapplied source change
 * left alone, and why: the same lines changed on both sides, or an
 * `encrypted_` entry (ciphertext cannot be merged line by line).
 */
export function findUncapturable(
  entries: readonly StatusEntry[],
  sources: ReadonlyMap<string, string> = new Map(),
  unmerged: ReadonlyMap<string, Unmerged> = new Map(),
): Uncapturable[] {
  return entries
    .filter((e) => e.x !== ' ')
    .map((e) => {
      const t = `~/${e.target}`;
      const src = sources.get(e.target) ?? 'its source';
      const left = unmerged.get(e.target);
      const why =
        left === 'same-lines'
          ? `edited in $HOME on the same lines as a change to ${src} that is not applied here yet; see both with "chezmoi diff ${t}", merge the other side into ${t} by hand (or run "chezmoi merge ${t}"), and the next sync captures it`
          : left === 'encrypted'
            ? `encrypted (${src}), edited here and changed on another host: the sync cannot merge ciphertext line by line, and editing again does not help; see the other side decrypted with "chezmoi diff ${t}", merge it into ${t} by hand, then run "chezmoi re-add ${t}" (it re-encrypts), and the next sync pushes the merge`
            : whyNotCaptured(e.target, e.x, sources.get(e.target));
      return { target: e.target, code: e.x, why };
    });
}

/** Why capture's three-way merge left an edited target alone (see mergeIntoHome). */
export type Unmerged = 'same-lines' | 'encrypted';

/** Whether a source path's own name carries chezmoi's `encrypted_` attribute. */
export function isEncrypted(srcRel: string): boolean {
  return /^(?:(?:create|modify|private|readonly|empty|executable)_)*encrypted_/.test(
    srcRel.slice(srcRel.lastIndexOf('/') + 1),
  );
}

/**
 * A $HOME file whose source entry another host deleted, kept because it is
 * not what chezmoi wrote (an edit made here): it is no longer managed, so
 * nothing would carry it anywhere. Waiting until the person chooses. Code
 * `O`: orphaned (not one of chezmoi's status letters).
 */
export function orphanedEdit(target: string): Uncapturable {
  const t = `~/${target}`;
  return {
    target,
    code: 'O',
    why: `deleted on another host, edited here: its source entry is gone, so ${t} is kept but no longer managed or synced; run "chezmoi add ${t}" to keep it (the next sync pushes it to every host), or remove it`,
  };
}

/**
 * The deletion step's write-ahead record (sync state `pendingRemovals`):
 * what apply needs to remove a file another host deleted, or keep and
 * report it, persisted before the integration changes the source, so a
 * kill -9 between that change and the state write after apply loses
 * nothing (the next run finishes it: finishPendingRemovals in index.ts).
 */
export interface PendingRemovals {
  /** The commit $HOME reflected before the integration: still has the entries (a kept one's held base). */
  base: string | null;
  /** Target → sha256 of the $HOME file when it agreed with the source: removed only while it still hashes so. */
  files: Record<string, string>;
  /** Targets changed in $HOME at the snapshot: never removed, reported if their entry goes (orphanedEdit). */
  edited: string[];
}

/**
 * The managed targets (target → source path, `chezmoi managed -p all`)
 * whose source entry the remote's side deletes (`removed`, from the fork
 * point to the remote's tip; jj.ts remoteRemovals), except a target the
 * remote still provides under another name (`present`: an attribute change
 * such as dot_x → private_dot_x is a rename to jj, not a deletion).
 *
 * This is how a deletion that came from the remote is told from one the
 * person made here: the set comes from the remote's commits alone, fixed
 * before the integration. A `chezmoi forget` the person runs here (before
 * the sync: sealed before the snapshot, so not managed in it; during it or
 * after a crash: in the working copy, not in the remote's commits) never
 * adds a target, so it never causes a removal.
 */
export function remoteDeletedTargets(
  managed: ReadonlyMap<string, string | null>,
  diff: { removed: readonly string[]; present: readonly string[] },
): string[] {
  const removed = new Set(diff.removed);
  const stillThere = new Set(diff.present.map(targetOfSource).filter((t) => t !== null));
  const out: string[] = [];
  for (const [target, src] of managed) {
    if (src === null || !removed.has(src)) continue;
    const t = targetOfSource(src);
    if (t !== null && stillThere.has(t)) continue;
    out.push(target);
  }
  return out.sort();
}

/**
 * The record for `deleted` (remoteDeletedTargets) from the snapshot's
 * hashes and edited set: only those targets, so it is bounded by what the
 * remote deletes, not by what is managed. Null when there is nothing to
 * record (no state write). A deleted target in neither set (not a regular
 * file in $HOME at the snapshot: missing, a symlink) is left out: there is
 * nothing of chezmoi's to remove.
 */
export function planPendingRemovals(
  snapshot: { files: ReadonlyMap<string, string>; edited: ReadonlySet<string> },
  deleted: readonly string[],
  base: string | null,
): PendingRemovals | null {
  const files: Record<string, string> = {};
  const edited: string[] = [];
  for (const t of deleted) {
    const h = snapshot.files.get(t);
    if (h !== undefined) files[t] = h;
    else if (snapshot.edited.has(t)) edited.push(t);
  }
  if (Object.keys(files).length === 0 && edited.length === 0) return null;
  return { base, files, edited };
}

/**
 * What the deletion step does with a record, given what the source keeps
 * now (managed or ignored): a recorded file no longer kept is removed if it
 * still has its hash (the user-side child checks, no-follow); an edited one
 * no longer kept is a candidate orphan (kept, reported if still there). A
 * target the source keeps again (the person's `chezmoi add`, or an
 * integration that was undone) is dropped. A target that is not a plain
 * relative path (the state file is the dotfiles user's to write) is dropped.
 */
export function decideRemovals(
  p: PendingRemovals,
  kept: { has(t: string): boolean },
): { remove: { target: string; sha256: string }[]; editedGone: string[] } {
  const remove = Object.entries(p.files)
    .filter(([t]) => isPlainTarget(t) && !kept.has(t))
    .map(([target, sha256]) => ({ target, sha256 }));
  const editedGone = p.edited.filter((t) => isPlainTarget(t) && !kept.has(t));
  return { remove, editedGone };
}

/** A target path relative to $HOME that stays inside it: no empty, `.` or `..` part, not absolute. */
export function isPlainTarget(t: string): boolean {
  return t !== '' && !t.includes('\0') && t.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * Held targets (see planHeldBases) that chezmoi's status no longer lists:
 * clean again, or no longer managed at all (a kept orphan, orphanedEdit).
 * Only these need a look at the managed set.
 */
export function unlistedHeld(heldBases: Readonly<Record<string, string>>, status: readonly StatusEntry[]): string[] {
  const listed = new Set(status.map((e) => e.target));
  return Object.keys(heldBases)
    .filter((t) => !listed.has(t))
    .sort();
}

/**
 * Why re-add left this $HOME edit behind, and what works instead, from the
 * source entry's attributes (chezmoi docs, reference/source-state-attributes.md;
 * re-add skips all but plain files, internal/cmd/readdcmd.go).
 */
export function whyNotCaptured(target: string, code: string, srcRel: string | undefined): string {
  if (code === 'D') {
    return 'deleted in $HOME; re-add does not propagate deletions (run "chezmoi forget" or "chezmoi destroy" to delete it everywhere)';
  }
  const name = srcRel?.split('/').at(-1) ?? '';
  const t = `~/${target}`;
  if (name.endsWith('.tmpl')) {
    return `rendered from the template ${srcRel ?? ''}, which re-add cannot write back; put the change into the template with "chezmoi edit ${t}" (or see it with "chezmoi diff ${t}")`;
  }
  if (name.startsWith('symlink_')) {
    return `a symlink chezmoi manages (${srcRel ?? ''}); re-add does not follow a retarget: record the new target with "chezmoi add ${t}"`;
  }
  if (name.startsWith('modify_') || name.startsWith('create_')) {
    return `managed by the ${name.startsWith('modify_') ? 'modify_ script' : 'create_ entry'} ${srcRel ?? ''}, which re-add cannot capture; change the source with "chezmoi edit ${t}"`;
  }
  if (name.startsWith('run_')) {
    return `a script (${srcRel ?? ''}); change it with "chezmoi edit" in the source dir`;
  }
  return `changed in $HOME but re-add did not capture it (${srcRel ?? 'no source entry found'}); see it with "chezmoi diff ${t}" and change the source with "chezmoi edit ${t}"`;
}

/**
 * The merge base of each target $HOME does not fully reflect after a sync
 * (left unapplied: deferred, failed, or an edit waiting). Every other
 * target now reflects the new wcBase, so what is left behind holds back only
 * itself (issue 14): a target keeps the base it already had, else `base`
 * (what $HOME reflected before this run); targets no longer left are dropped.
 */
export function planHeldBases(
  previous: Readonly<Record<string, string>>,
  base: string | null,
  left: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of [...new Set(left)].sort()) {
    const b = previous[t] ?? base;
    if (b !== null) out[t] = b;
  }
  return out;
}

/**
 * The targets apply may write: those it would change (Y) that $HOME has not
 * changed since chezmoi last wrote them (X). Anything edited in $HOME is left
 * alone; the next sync captures it.
 */
export function planApply(entries: readonly StatusEntry[]): string[] {
  return entries.filter((e) => e.x === ' ' && e.y !== ' ').map((e) => e.target);
}

/** Whether two source paths stand for one target (an attribute change is a rename to jj). */
export function sameTarget(a: string, b: string): boolean {
  const t = targetOfSource(a);
  return t !== null && t === targetOfSource(b);
}

/**
 * The paths to hold with `held` so a target is never split across its
 * source entries: every changed path (`changed`, either side) with the
 * same target as a held path. Parking `dot_tool` while `executable_dot_tool`
 * goes to main would leave two entries for `.tool`, and chezmoi then fails
 * on every host ("inconsistent state").
 */
export function sameTargetPaths(held: readonly string[], changed: readonly string[]): string[] {
  const targets = new Set(held.map(targetOfSource).filter((t) => t !== null));
  const have = new Set(held);
  return [...new Set(changed)].filter((p) => !have.has(p) && targets.has(targetOfSource(p) ?? '\0')).sort();
}

/**
 * The mode attributes (chezmoi's `private_`, `executable_`, `readonly_` on
 * the file's own name) that differ between the source path a target had
 * (`from`) and the one it has now (`to`): true gained, false lost. Empty
 * when they agree. Another host's `chmod` reaches the source as such a
 * rename; a merge written into `$HOME` must carry it, or the re-add that
 * follows renames the entry back (review 13b, D1).
 */
export type ModeAttrs = { [K in 'private' | 'executable' | 'readonly']?: boolean | undefined };

export function modeAttrsChange(from: string, to: string): ModeAttrs {
  const attrs = (rel: string): Set<string> => {
    const out = new Set<string>();
    let name = rel.slice(rel.lastIndexOf('/') + 1);
    for (let again = true; again;) {
      again = false;
      for (const a of ['encrypted', 'private', 'readonly', 'empty', 'executable'] as const) {
        if (name.startsWith(`${a}_`)) {
          out.add(a);
          name = name.slice(a.length + 1);
          again = true;
        }
      }
    }
    return out;
  };
  const a = attrs(from);
  const b = attrs(to);
  const out: ModeAttrs = {};
  for (const k of ['private', 'executable', 'readonly'] as const) if (a.has(k) !== b.has(k)) out[k] = b.has(k);
  return out;
}

/**
 * The operation to `jj op restore` to when undoing an integration that
 * began at `journal` (newest-first `ops`, as `jj op log` prints them): the
 * journal operation moved forward over the snapshot operations right after
 * it, by anyone. The journal operation is read from jj's op heads without a
 * snapshot (currentOp); an edit made in the source dir before the
 * integration's first jj command is recorded by that command as a snapshot
 * operation just before its own. Restoring to the operation before it would
 * put the edited file back on disk (review 6, D1); restoring to the
 * snapshot keeps the edit in the working copy and undoes only what came
 * after. `journal` itself when it is not in `ops` (decideRestore then says
 * 'foreign').
 */
export function restorePoint(ops: readonly OpEntry[], journal: string): string {
  const idx = ops.findIndex((o) => o.id === journal);
  if (idx < 0) return journal;
  let at = idx;
  while (at > 0 && ops[at - 1]?.snapshot === true) at--;
  return ops[at]?.id ?? journal;
}

/**
 * May a half-done step be undone with `jj op restore <target>`? Only when
 * every operation after it was ours: a person's work since then (a snapshot
 * of their edits, a resolution) must never be rolled back.
 * `ops` is newest first, as `jj op log` prints it.
 */
export function decideRestore(ops: readonly OpEntry[], target: string): 'restore' | 'already-there' | 'foreign' {
  const idx = ops.findIndex((o) => o.id === target);
  if (idx === 0) return 'already-there';
  if (idx < 0) return 'foreign';
  const after = ops.slice(0, idx);
  return after.every((o) => o.user.startsWith(`${OP_USER}@`)) ? 'restore' : 'foreign';
}

// ---------------------------------------------------------------- guard

export interface GuardObservation {
  /** Mutable commits with conflicts or divergence (change ids). */
  troubled: readonly string[];
  /** Conflicted local bookmarks (names). */
  conflictedBookmarks: readonly string[];
  /** The bookmark the sync publishes (dotfiles.bookmark). */
  syncBookmark: string;
  /** The working-copy commit. */
  workingCopy: JjCommit;
  /** The commit whose tree $HOME reflects after the last sync (null: unknown). */
  wcBase: string | null;
  /** Whether wcBase is an ancestor of @ (or @ itself). */
  wcBaseIsAncestor: boolean;
  /** Whether wcBase is still a visible commit. */
  wcBaseVisible: boolean;
  /**
   * Every jj operation since the one our last run ended at was recorded by
   * gitopsd (`operation.username`, see decideRestore); false when unknown
   * (no run recorded its last operation yet) or when a person ran jj since.
   * Only then can an odd state (a conflicted bookmark, a moved working
   * copy) be gitopsd's own doing.
   */
  ownSinceLastRun: boolean;
}

export type GuardDecision =
  | { kind: 'proceed' }
  /** A person moved the working copy (e.g. after resolving); it is empty: go back to wcBase. */
  | { kind: 'return-to-base'; base: string }
  /**
   * An odd state that only gitopsd's own operations made (a run cut off
   * after a refused push, or an earlier version that kept a refused
   * integration): no person is resolving anything.
   * - resetBookmark: the sync bookmark is conflicted (`main??`) between the
   *   remote's target and our unpushed rewrite; point it back at the
   *   remote's target (our commits stay in @'s ancestry and are integrated
   *   again).
   * - wcMoved: wcBase (what $HOME reflects) was rewritten by our own rebase,
   *   so the working copy is no longer on it. Capture must treat the source
   *   as ahead of $HOME (merging against wcBase, which jj still shows by id).
   * - returnTo: the working copy is empty and off the line: go back to it.
   */
  | { kind: 'repair'; resetBookmark: boolean; wcMoved: boolean; returnTo: string | null; why: string }
  | { kind: 'needs-human'; why: string };

/**
 * Is the repo in a state a person is working on? Checked before capture:
 * re-add writes $HOME over the source files, which would destroy a
 * resolution in progress. A state gitopsd made itself (ownSinceLastRun) is
 * repaired instead: pausing on it would block the host forever (issue 14).
 */
export function decideGuard(o: GuardObservation): GuardDecision {
  if (o.troubled.length > 0) {
    return {
      kind: 'needs-human',
      why: `unresolved conflicts or divergent changes in ${o.troubled.join(', ')}; finish or abandon that work (jj log -r 'mutable() & (conflicts() | divergent())')`,
    };
  }
  const resetBookmark =
    o.ownSinceLastRun && o.conflictedBookmarks.length === 1 && o.conflictedBookmarks[0] === o.syncBookmark;
  if (o.conflictedBookmarks.length > 0 && !resetBookmark) {
    return {
      kind: 'needs-human',
      why: `conflicted bookmarks ${o.conflictedBookmarks.join(', ')}; resolve them with "jj bookmark set NAME -r REV"`,
    };
  }
  const repair = (wcMoved: boolean, returnTo: string | null): GuardDecision => ({
    kind: 'repair',
    resetBookmark,
    wcMoved,
    returnTo,
    why: [
      ...(resetBookmark ? [`bookmark ${o.syncBookmark} conflicted by an unpushed sync of this host`] : []),
      ...(wcMoved ? ["working copy moved off the synced line by this host's own rebase"] : []),
      ...(returnTo !== null ? ['empty working copy off the synced line'] : []),
    ].join('; '),
  });
  if (o.wcBase === null || o.wcBaseIsAncestor) return resetBookmark ? repair(false, null) : { kind: 'proceed' };
  if (!o.workingCopy.empty) {
    if (o.ownSinceLastRun) return repair(true, null);
    return {
      kind: 'needs-human',
      why: `the working copy (${o.workingCopy.changeId.slice(0, 12)}) was moved off the sync line and has changes; commit them on the bookmark you mean and run "jj new main@origin", or abandon them`,
    };
  }
  if (!o.wcBaseVisible) {
    // The line $HOME reflects is gone (abandoned by hand, or rewritten by
    // our own rebase): the empty working copy is as good a base as any;
    // re-add then captures $HOME against it. After our own rewrite, the
    // source may hold remote changes $HOME lacks: merge against wcBase.
    if (o.ownSinceLastRun) return repair(true, null);
    return resetBookmark ? repair(false, null) : { kind: 'proceed' };
  }
  if (resetBookmark) return repair(false, o.wcBase);
  return { kind: 'return-to-base', base: o.wcBase };
}

// ---------------------------------------------------------------- integrate

export interface ParkedInfo {
  bookmark: string;
  /** Source-relative paths held back. */
  paths: string[];
  /** The tip of the parked bookmark we last set (commit id). */
  tip: string;
  since: string;
}

export interface IntegrateObservation {
  /** main@origin after the fetch. */
  remoteMain: string;
  /** Commits in main@origin..@- (oldest first). */
  stack: JjCommit[];
  /** The parent of @ (after sealing, @ is empty). */
  wcParent: string;
  parked: ParkedInfo | null;
  /** parked.tip is an ancestor of main@origin (a person merged it). */
  parkMerged: boolean;
  /** The parked bookmark exists on the remote. */
  parkOnRemote: boolean;
  /**
   * The parked bookmark exists locally. A fetch deletes the local bookmark
   * when a person deleted the remote one; a local bookmark the remote lacks
   * was never pushed (a crash or no network before the push), which is not
   * a resolution.
   */
  parkLocal: boolean;
}

export type IntegrateDecision =
  /** @ is already on main@origin and nothing is local. */
  | { kind: 'up-to-date' }
  /** Nothing local; main@origin moved: move the empty @ onto it. */
  | { kind: 'fast-forward' }
  /** Local commits, nothing parked: rebase them; on conflict, split. */
  | { kind: 'rebase' }
  /** A parked conflict, nothing new anywhere: touch nothing. */
  | { kind: 'parked-idle' }
  /**
   * Build one commit of local changes outside `held`, rebase it onto
   * main@origin, park `held` (and any new conflicts) on the parked bookmark.
   * `resolved`: a person resolved the parked conflict; the base of the
   * paths the keep commit holds is the keep commit itself (its content was
   * merged into main), not the fork point, so only newer local edits merge.
   */
  | { kind: 'split'; held: string[]; resolved: boolean; keep: string | null }
  | { kind: 'needs-human'; why: string };

export function decideIntegration(o: IntegrateObservation): IntegrateDecision {
  const keeps = o.stack.filter((c) => c.description.startsWith(KEEP_MARKER));
  if (keeps.length > 1) {
    return {
      kind: 'needs-human',
      why: `several "${KEEP_MARKER}" commits (${keeps.map((k) => k.changeId.slice(0, 12)).join(', ')}); abandon all but the newest`,
    };
  }
  const keep = keeps[0] ?? null;
  const parked = o.parked;
  const settled = parkSettled(o);
  if (keep !== null && (parked === null || settled)) {
    // Resolved by a person (their merge is on main, or they deleted the
    // parked bookmark), or the parked record was lost (state moved aside):
    // the keep commit's content is the local side that was merged; newer
    // local edits merge against it, so nothing reverts the other side.
    return { kind: 'split', held: [], resolved: true, keep: keep.commitId };
  }
  if (parked === null || settled) {
    if (o.stack.length === 0) return o.wcParent === o.remoteMain ? { kind: 'up-to-date' } : { kind: 'fast-forward' };
    return { kind: 'rebase' };
  }
  const onlyKeepOnMain =
    keep !== null && o.stack.length === 1 && keep.parents.length === 1 && keep.parents[0] === o.remoteMain;
  if (onlyKeepOnMain && o.wcParent === keep.commitId) return { kind: 'parked-idle' };
  return { kind: 'split', held: [...parked.paths], resolved: false, keep: keep?.commitId ?? null };
}

/**
 * Whether acting on `d` can change the source tree beyond our own commits
 * (which $HOME already holds: they were captured from it). Only then can a
 * source entry disappear (another host deleted it) or apply have new work,
 * so only then does the sync pay for the managed-files snapshot and a full
 * apply (benchmarks B3/B4, docs/benchmarks.md). Conservative: anything but
 * "nothing local or remote moved" and "our linear stack already sits on
 * main@origin" counts as a change.
 */
export function bringsRemoteChanges(o: IntegrateObservation, d: IntegrateDecision): boolean {
  switch (d.kind) {
    case 'up-to-date':
    case 'parked-idle':
    case 'needs-human':
      return false;
    case 'fast-forward':
    case 'split':
      return true;
    case 'rebase':
      return !stackOnRemote(o);
  }
}

/**
 * The local stack is one line of commits whose first parent is main@origin
 * (each commit has exactly one parent, the one before it). `jj rebase -b @
 * -o main@origin` then changes nothing ("Skipped rebase of N commits that
 * were already in place. Nothing changed.", jj 0.46, checked in the test
 * bed): the sync skips that process.
 */
export function stackOnRemote(o: Pick<IntegrateObservation, 'remoteMain' | 'stack'>): boolean {
  let parent = o.remoteMain;
  for (const c of o.stack) {
    if (c.parents.length !== 1 || c.parents[0] !== parent) return false;
    parent = c.commitId;
  }
  return true;
}

/**
 * The status after re-adding `captured` targets, from the status before it
 * and a `chezmoi status` of just those targets: re-add changes only their
 * source entries, so every other line stands (one full status of 1,000
 * files less per sync).
 */
export function mergeStatus(
  before: readonly StatusEntry[],
  captured: readonly string[],
  recheck: readonly StatusEntry[],
): StatusEntry[] {
  const redone = new Set(captured);
  const fresh = new Map(recheck.map((e) => [e.target, e]));
  const out: StatusEntry[] = [];
  for (const e of before) {
    if (!redone.has(e.target)) out.push(e);
    else {
      const n = fresh.get(e.target);
      if (n !== undefined) out.push(n);
      fresh.delete(e.target);
    }
  }
  return [...out, ...fresh.values()];
}

/** The parked record is settled: a person merged it or deleted the bookmark. */
export function parkSettled(o: IntegrateObservation): boolean {
  return o.parked !== null && (o.parkMerged || (!o.parkOnRemote && !o.parkLocal));
}

// ---------------------------------------------------------------- results

export type SyncResultKind =
  | 'ok'
  | 'edits-waiting'
  | 'conflict-parked'
  | 'offline'
  | 'needs-human'
  | 'apply-failed'
  | 'push-failed'
  | 'externals-unreachable'
  | 'disabled';

/** Exit code per result (issue 5 §6): 0 integrated, 1 parked or failed, 75 offline. */
export function exitCodeFor(kind: SyncResultKind): 0 | 1 | 75 {
  switch (kind) {
    case 'ok':
    case 'disabled':
      return 0;
    case 'offline':
    case 'externals-unreachable':
      return 75;
    case 'edits-waiting':
    case 'conflict-parked':
    case 'needs-human':
    case 'apply-failed':
    case 'push-failed':
      return 1;
  }
}

/** Bounded retries when the remote moves between fetch and push. */
export function decideRetry(attempt: number, max: number): 'retry' | 'give-up' {
  return attempt < max ? 'retry' : 'give-up';
}
