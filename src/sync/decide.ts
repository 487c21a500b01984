/**
 * Pure decisions of dotfile sync: parsing tool output and choosing the next
 * step from observations. Nothing here runs a command, reads a file or the
 * clock; src/sync/index.ts observes, calls these, and acts.
 */

/** Marker of the local-only commit that keeps parked paths at their local content. */
export const KEEP_MARKER = 'gitopsd-sync: local side of a parked conflict';
/** The operation user our jj calls record (`--config operation.username=...`). */
export const OP_USER = 'gitopsd-sync';

// ---------------------------------------------------------------- chezmoi status

export interface StatusEntry {
  /** Last written vs actual: a non-space means $HOME changed since chezmoi wrote it. */
  x: string;
  /** Actual vs target: a non-space means apply would change $HOME. */
  y: string;
  /** Target path relative to the destination dir. */
  target: string;
}

/** Parse `chezmoi status` ("XY path" per line, see tools.md §2). */
export function parseChezmoiStatus(stdout: string): StatusEntry[] {
  const out: StatusEntry[] = [];
  for (const line of stdout.split('\n')) {
    if (line.length < 4) continue;
    const x = line.charAt(0);
    const y = line.charAt(1);
    if (line.charAt(2) !== ' ') throw new Error(`unexpected chezmoi status line ${JSON.stringify(line)}`);
    out.push({ x, y, target: line.slice(3) });
  }
  return out;
}

export interface Uncapturable {
  target: string;
  /** What chezmoi reports: A(dded), D(eleted), M(odified), R(un script). */
  code: string;
  why: string;
}

/**
 * After `chezmoi re-add`, an entry whose X column is not a space is a change
 * in $HOME that re-add could not copy into the source dir: a template, a
 * modify_/create_ entry, a script, or a deletion. It must be reported, and
 * apply must not touch it (apply would overwrite the person's edit).
 */
export function findUncapturable(entries: readonly StatusEntry[]): Uncapturable[] {
  return entries
    .filter((e) => e.x !== ' ')
    .map((e) => ({
      target: e.target,
      code: e.x,
      why:
        e.x === 'D'
          ? 'deleted in $HOME; re-add does not propagate deletions (run "chezmoi forget" or "chezmoi destroy" to delete it everywhere)'
          : 'changed in $HOME but re-add cannot capture it (template, modify_/create_ entry or script); edit the source with "chezmoi edit"',
    }));
}

/**
 * The targets apply may write: those it would change (Y) that $HOME has not
 * changed since chezmoi last wrote them (X). Anything edited in $HOME is left
 * alone; the next sync captures it.
 */
export function planApply(entries: readonly StatusEntry[]): string[] {
  return entries.filter((e) => e.x === ' ' && e.y !== ' ').map((e) => e.target);
}

// ---------------------------------------------------------------- jj output

export interface JjCommit {
  commitId: string;
  changeId: string;
  parents: string[];
  conflict: boolean;
  empty: boolean;
  workingCopy: boolean;
  description: string;
}

/** The template that matches parseCommits. Fields separated by \x1f. */
export const COMMIT_TEMPLATE =
  'commit_id ++ "\\x1f" ++ change_id ++ "\\x1f" ++ parents.map(|c| c.commit_id()).join(",") ++ "\\x1f" ++ ' +
  'if(conflict, "1", "0") ++ "\\x1f" ++ if(empty, "1", "0") ++ "\\x1f" ++ if(current_working_copy, "1", "0") ++ ' +
  '"\\x1f" ++ json(description) ++ "\\n"';

export function parseCommits(stdout: string): JjCommit[] {
  const out: JjCommit[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('\x1f');
    if (f.length !== 7) throw new Error(`unexpected jj log line ${JSON.stringify(line)}`);
    const [commitId, changeId, parents, conflict, empty, wc, desc] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    out.push({
      commitId,
      changeId,
      parents: parents === '' ? [] : parents.split(','),
      conflict: conflict === '1',
      empty: empty === '1',
      workingCopy: wc === '1',
      description: JSON.parse(desc) as string,
    });
  }
  return out;
}

export interface JjBookmark {
  name: string;
  /** '' for the local bookmark. */
  remote: string;
  conflict: boolean;
  /** Targets (one unless conflicted; none when deleted). */
  targets: string[];
}

export const BOOKMARK_TEMPLATE =
  'name ++ "\\x1f" ++ remote ++ "\\x1f" ++ if(conflict, "1", "0") ++ "\\x1f" ++ ' +
  'added_targets.map(|c| c.commit_id()).join(",") ++ "\\n"';

export function parseBookmarks(stdout: string): JjBookmark[] {
  const out: JjBookmark[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('\x1f');
    if (f.length !== 4) throw new Error(`unexpected jj bookmark line ${JSON.stringify(line)}`);
    const [name, remote, conflict, targets] = f as [string, string, string, string];
    out.push({ name, remote, conflict: conflict === '1', targets: targets === '' ? [] : targets.split(',') });
  }
  return out;
}

/** Quote a string for a jj revset/fileset string literal. */
export function jjString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A fileset naming exactly these repo-relative paths. */
export function filesetOf(paths: readonly string[]): string {
  if (paths.length === 0) return 'none()';
  return paths.map((p) => `root-file:${jjString(p)}`).join(' | ');
}

/** A fileset of every path except these. */
export function filesetExcept(paths: readonly string[]): string {
  if (paths.length === 0) return 'all()';
  return `~(${filesetOf(paths)})`;
}

/**
 * The new commit's change id (prefix) from `jj new`'s "Created new commit
 * <change> <commit>" line. The change id, not the commit id: every later
 * restore or rebase rewrites the commit, and naming the old commit id would
 * resurrect the hidden version as a divergent twin.
 */
export function parseCreatedCommit(stderr: string): string | null {
  const m = /Created new commit ([k-z]+) ([0-9a-f]+)/.exec(stderr);
  return m?.[1] ?? null;
}

export interface OpEntry {
  id: string;
  user: string;
}

export const OP_TEMPLATE = 'id ++ "\\x1f" ++ user ++ "\\n"';

export function parseOps(stdout: string): OpEntry[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, user] = l.split('\x1f') as [string, string | undefined];
      return { id, user: user ?? '' };
    });
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

// ---------------------------------------------------------------- push

export type PushFailure = 'stale' | 'offline' | 'refused';

/** Why `jj git push` failed: the lease (remote moved), the network, or a refusal. */
export function classifyPushFailure(stderr: string): PushFailure {
  // Two forms of the same race. jj's lease check finds the remote ref moved
  // since our fetch ("unexpectedly moved", git's "stale info"); or another
  // push lands after the remote advertised its refs but before it updates
  // them, and receive-pack refuses ours ("cannot lock ref ... but expected",
  // reported by jj 0.46 as "remote rejected ... incorrect old value provided").
  if (
    /unexpectedly moved on the remote|stale info|reason: stale|incorrect old value provided|cannot lock ref .* but expected/i.test(
      stderr,
    )
  )
    return 'stale';
  if (
    /Could not read from remote|Could not find repository|unable to access|Connection|resolve host|timed out|does not appear to be a git repository|No such file or directory/i.test(
      stderr,
    )
  )
    return 'offline';
  return 'refused';
}

// ---------------------------------------------------------------- guard

export interface GuardObservation {
  /** Mutable commits with conflicts or divergence (change ids). */
  troubled: readonly string[];
  /** Conflicted local bookmarks (names). */
  conflictedBookmarks: readonly string[];
  /** The working-copy commit. */
  workingCopy: JjCommit;
  /** The commit whose tree $HOME reflects after the last sync (null: unknown). */
  wcBase: string | null;
  /** Whether wcBase is an ancestor of @ (or @ itself). */
  wcBaseIsAncestor: boolean;
  /** Whether wcBase is still a visible commit. */
  wcBaseVisible: boolean;
}

export type GuardDecision =
  | { kind: 'proceed' }
  /** A person moved the working copy (e.g. after resolving); it is empty: go back to wcBase. */
  | { kind: 'return-to-base'; base: string }
  | { kind: 'needs-human'; why: string };

/**
 * Is the repo in a state a person is working on? Checked before capture:
 * re-add writes $HOME over the source files, which would destroy a
 * resolution in progress.
 */
export function decideGuard(o: GuardObservation): GuardDecision {
  if (o.troubled.length > 0) {
    return {
      kind: 'needs-human',
      why: `unresolved conflicts or divergent changes in ${o.troubled.join(', ')}; finish or abandon that work (jj log -r 'mutable() & (conflicts() | divergent())')`,
    };
  }
  if (o.conflictedBookmarks.length > 0) {
    return {
      kind: 'needs-human',
      why: `conflicted bookmarks ${o.conflictedBookmarks.join(', ')}; resolve them with "jj bookmark set NAME -r REV"`,
    };
  }
  if (o.wcBase === null || o.wcBaseIsAncestor) return { kind: 'proceed' };
  if (!o.workingCopy.empty) {
    return {
      kind: 'needs-human',
      why: `the working copy (${o.workingCopy.changeId.slice(0, 12)}) was moved off the sync line and has changes; commit them on the bookmark you mean and run "jj new main@origin", or abandon them`,
    };
  }
  if (!o.wcBaseVisible) {
    // The line $HOME reflects is gone (abandoned by hand): the empty working
    // copy is as good a base as any; re-add then captures $HOME against it.
    return { kind: 'proceed' };
  }
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
    case 'rebase': {
      let parent = o.remoteMain;
      for (const c of o.stack) {
        if (c.parents.length !== 1 || c.parents[0] !== parent) return true;
        parent = c.commitId;
      }
      return false;
    }
  }
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
  'ok' | 'conflict-parked' | 'offline' | 'needs-human' | 'apply-failed' | 'push-failed' | 'disabled';

/** Exit code per result (issue 5 §6): 0 integrated, 1 parked or failed, 75 offline. */
export function exitCodeFor(kind: SyncResultKind): 0 | 1 | 75 {
  switch (kind) {
    case 'ok':
    case 'disabled':
      return 0;
    case 'offline':
      return 75;
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

/**
 * jj's "Newly-created commit <id> already exists" (exit 255): a rewrite
 * redone within the same second as an undone one produced the same commit
 * id. Nothing was changed; the same command succeeds a second later.
 */
export function isSameSecondCollision(exitCode: number | undefined, stderr: string): boolean {
  return exitCode === 255 && /Newly-created commit [0-9a-f]+ already exists/.test(stderr);
}
