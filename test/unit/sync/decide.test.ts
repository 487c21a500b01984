import { describe, expect, it } from 'vitest';
import {
  KEEP_MARKER,
  bringsRemoteChanges,
  decideGuard,
  decideIntegration,
  decideRestore,
  restorePoint,
  decideRetry,
  exitCodeFor,
  findUncapturable,
  mergeStatus,
  planApply,
  type IntegrateObservation,
} from '../../../src/sync/decide.js';
import { parseChezmoiStatus } from '../../../src/sync/chezmoi.js';
import { modeAttrsChange } from '../../../src/sync/decide.js';
import { withModeAttrs } from '../../../src/sync/fs-boundary.js';
import type { JjCommit } from '../../../src/sync/jj.js';

const c = (id: string, over: Partial<JjCommit> = {}): JjCommit => ({
  commitId: id,
  changeId: `ch${id}`,
  parents: ['p'],
  conflict: false,
  empty: false,
  workingCopy: false,
  description: 'sync(h): t\n',
  ...over,
});

describe('what a chezmoi status leads to', () => {
  const entries = parseChezmoiStatus('MM .edited\n M .remote-ahead\nDA .deleted\nMM .t\n R .script\n');
  it('never applies a target changed in $HOME since chezmoi wrote it', () => {
    expect(planApply(entries)).toEqual(['.remote-ahead', '.script']);
  });
  it.each([
    ['.edited', 'M', /did not capture/],
    ['.deleted', 'D', /deletions/],
  ])('reports %s (%s) as uncapturable', (target, code, why) => {
    const u = findUncapturable(entries).find((e) => e.target === target);
    expect(u?.code).toBe(code);
    expect(u?.why).toMatch(why);
  });
});

describe('decideRestore: undo a half-done integration only when nothing after it is foreign', () => {
  it.each([
    ['the op is current', [{ id: 'o1', user: 'gitopsd-sync@h', snapshot: false }], 'already-there'],
    [
      'only our ops since',
      [
        { id: 'o3', user: 'gitopsd-sync@h', snapshot: false },
        { id: 'o2', user: 'gitopsd-sync@h', snapshot: false },
        { id: 'o1', user: 'x', snapshot: false },
      ],
      'restore',
    ],
    [
      'a person snapshot since',
      [
        { id: 'o3', user: 'alice@h', snapshot: false },
        { id: 'o2', user: 'gitopsd-sync@h', snapshot: false },
        { id: 'o1', user: 'x', snapshot: false },
      ],
      'foreign',
    ],
    ['the op is not in the log', [{ id: 'o9', user: 'gitopsd-sync@h', snapshot: false }], 'foreign'],
  ] as const)('%s → %s', (_n, ops, want) => {
    expect(decideRestore(ops, 'o1')).toBe(want);
  });
});

describe('restorePoint: the journal operation, past the snapshots recorded right after it (review 6, D1)', () => {
  const op = (id: string, user: string, snapshot: boolean) => ({ id, user, snapshot });
  it.each([
    ['nothing after it', [op('o1', 'x', false)], 'o1'],
    [
      'our rebase first: the journal op',
      [op('o3', 'gitopsd-sync@h', false), op('o2', 'gitopsd-sync@h', false), op('o1', 'x', false)],
      'o1',
    ],
    [
      "our rebase's snapshot of an edit made before it: that snapshot",
      [op('o3', 'gitopsd-sync@h', false), op('o2', 'gitopsd-sync@h', true), op('o1', 'x', false)],
      'o2',
    ],
    [
      "a person's jj command snapshotted first: their snapshot",
      [op('o3', 'gitopsd-sync@h', false), op('o2', 'alice@h', true), op('o1', 'x', false)],
      'o2',
    ],
    [
      'two snapshots in a row, then ours: the later one',
      [
        op('o4', 'gitopsd-sync@h', false),
        op('o3', 'gitopsd-sync@h', true),
        op('o2', 'alice@h', true),
        op('o1', 'x', false),
      ],
      'o3',
    ],
    [
      'a snapshot after our first operation is not passed over',
      [
        op('o4', 'gitopsd-sync@h', true),
        op('o3', 'gitopsd-sync@h', false),
        op('o2', 'gitopsd-sync@h', true),
        op('o1', 'x', false),
      ],
      'o2',
    ],
    [
      'only snapshots since: the newest (nothing to undo)',
      [op('o2', 'gitopsd-sync@h', true), op('o1', 'x', false)],
      'o2',
    ],
    ['not in the log: the journal op (decideRestore says foreign)', [op('o9', 'gitopsd-sync@h', true)], 'o1'],
  ] as const)('%s → %s', (_n, ops, want) => {
    expect(restorePoint(ops, 'o1')).toBe(want);
  });

  it("with decideRestore: an edit our rebase snapshotted is kept, a person's later operation still stops the restore", () => {
    const kept = [op('o3', 'gitopsd-sync@h', false), op('o2', 'gitopsd-sync@h', true), op('o1', 'x', false)];
    expect(decideRestore(kept, restorePoint(kept, 'o1'))).toBe('restore');
    const person = [
      op('o4', 'alice@h', false),
      op('o3', 'gitopsd-sync@h', false),
      op('o2', 'gitopsd-sync@h', true),
      op('o1', 'x', false),
    ];
    expect(decideRestore(person, restorePoint(person, 'o1'))).toBe('foreign');
    const none = [op('o2', 'alice@h', true), op('o1', 'x', false)];
    expect(decideRestore(none, restorePoint(none, 'o1'))).toBe('already-there');
  });
});

describe('decideGuard', () => {
  const base = {
    troubled: [] as string[],
    conflictedBookmarks: [] as string[],
    workingCopy: c('wc', { empty: true, workingCopy: true }),
    wcBase: 'b',
    wcBaseIsAncestor: true,
    wcBaseVisible: true,
    syncBookmark: 'main',
    ownSinceLastRun: false,
  };
  it.each([
    ['normal', {}, 'proceed'],
    ['a conflicted mutable commit', { troubled: ['abc'] }, 'needs-human'],
    ['a conflicted bookmark', { conflictedBookmarks: ['main'] }, 'needs-human'],
    ['working copy moved by a person, empty', { wcBaseIsAncestor: false }, 'return-to-base'],
    [
      'working copy moved with changes',
      { wcBaseIsAncestor: false, workingCopy: c('wc', { empty: false }) },
      'needs-human',
    ],
    ['the synced line was abandoned by hand', { wcBaseIsAncestor: false, wcBaseVisible: false }, 'proceed'],
    ['first run (no base recorded)', { wcBase: null, wcBaseIsAncestor: false }, 'proceed'],
    // Issue 14: a state only our own operations made is repaired, not paused on.
    ['main?? made by our own unpushed sync', { conflictedBookmarks: ['main'], ownSinceLastRun: true }, 'repair'],
    [
      'main?? plus another conflicted bookmark',
      { conflictedBookmarks: ['main', 'topic'], ownSinceLastRun: true },
      'needs-human',
    ],
    [
      'working copy with changes, off a line our own rebase rewrote',
      { wcBaseIsAncestor: false, wcBaseVisible: false, workingCopy: c('wc', { empty: false }), ownSinceLastRun: true },
      'repair',
    ],
    [
      'empty working copy, line rewritten by our own rebase',
      { wcBaseIsAncestor: false, wcBaseVisible: false, ownSinceLastRun: true },
      'repair',
    ],
  ] as const)('%s → %s', (_n, over, want) => {
    expect(decideGuard({ ...base, ...over }).kind).toBe(want);
  });

  it('repairs own main?? and a moved working copy together, merging against the old base', () => {
    expect(
      decideGuard({
        ...base,
        conflictedBookmarks: ['main'],
        wcBaseIsAncestor: false,
        wcBaseVisible: false,
        workingCopy: c('wc', { empty: false }),
        ownSinceLastRun: true,
      }),
    ).toMatchObject({ kind: 'repair', resetBookmark: true, wcMoved: true, returnTo: null });
    expect(
      decideGuard({ ...base, conflictedBookmarks: ['main'], wcBaseIsAncestor: false, ownSinceLastRun: true }),
    ).toMatchObject({ kind: 'repair', resetBookmark: true, wcMoved: false, returnTo: 'b' });
  });
});

describe('decideIntegration', () => {
  const parked = { bookmark: 'sync/h', paths: ['dot_a'], tip: 'pt', since: 't' };
  const keep = c('k', { parents: ['M'], description: `${KEEP_MARKER} (dot_a); never pushed\n` });
  const obs = (over: Partial<IntegrateObservation>): IntegrateObservation => ({
    remoteMain: 'M',
    stack: [],
    wcParent: 'M',
    parked: null,
    parkMerged: false,
    parkOnRemote: true,
    parkLocal: true,
    ...over,
  });
  it.each([
    ['nothing local, on main', obs({}), 'up-to-date'],
    ['nothing local, main moved', obs({ wcParent: 'old' }), 'fast-forward'],
    ['local commits', obs({ stack: [c('1')], wcParent: '1' }), 'rebase'],
    ['parked, nothing new', obs({ parked, stack: [keep], wcParent: 'k' }), 'parked-idle'],
    ['parked, new local edit', obs({ parked, stack: [keep, c('2', { parents: ['k'] })], wcParent: '2' }), 'split'],
    ['parked, main moved', obs({ parked, stack: [keep], wcParent: 'k', remoteMain: 'M2' }), 'split'],
    ['parked, merged by a person', obs({ parked, stack: [keep], wcParent: 'k', parkMerged: true }), 'split'],
    [
      'parked, bookmark deleted by a person, no keep left',
      obs({ parked, parkOnRemote: false, parkLocal: false }),
      'up-to-date',
    ],
    [
      'parked, never pushed (crash before the push)',
      obs({ parked, stack: [keep], wcParent: 'k', parkOnRemote: false }),
      'parked-idle',
    ],
    ['two keep commits', obs({ stack: [keep, { ...keep, commitId: 'k2' }] }), 'needs-human'],
  ] as const)('%s → %s', (_n, o, want) => {
    expect(decideIntegration(o).kind).toBe(want);
  });
  it('holds the parked paths while unresolved, none once resolved', () => {
    const open = decideIntegration(obs({ parked, stack: [keep, c('2')], wcParent: '2' }));
    expect(open).toEqual({ kind: 'split', held: ['dot_a'], resolved: false, keep: 'k' });
    const done = decideIntegration(obs({ parked, stack: [keep], wcParent: 'k', parkMerged: true }));
    expect(done).toEqual({ kind: 'split', held: [], resolved: true, keep: 'k' });
  });
});

describe('bringsRemoteChanges (when the sync pays for the managed snapshot and a full apply)', () => {
  const obs = (over: Partial<IntegrateObservation>): IntegrateObservation => ({
    remoteMain: 'M',
    stack: [],
    wcParent: 'M',
    parked: null,
    parkMerged: false,
    parkOnRemote: false,
    parkLocal: false,
    ...over,
  });
  it.each<[string, Partial<IntegrateObservation>, boolean]>([
    ['nothing local, remote unmoved', {}, false],
    ['nothing local, remote moved', { wcParent: 'old' }, true],
    ['our commits already on main@origin', { stack: [c('1', { parents: ['M'] }), c('2', { parents: ['1'] })] }, false],
    ['our commit on an older main', { stack: [c('1', { parents: ['old'] })] }, true],
    ['a gap in the stack', { stack: [c('1', { parents: ['M'] }), c('2', { parents: ['x'] })] }, true],
    ['a merge in the stack', { stack: [c('1', { parents: ['M', 'x'] })] }, true],
  ])('%s → %s', (_what, over, want) => {
    const o = obs(over);
    expect(bringsRemoteChanges(o, decideIntegration(o))).toBe(want);
  });
  it('counts a split as a change and needs-human or parked-idle as none', () => {
    const o = obs({});
    expect(bringsRemoteChanges(o, { kind: 'split', held: [], resolved: true, keep: null })).toBe(true);
    expect(bringsRemoteChanges(o, { kind: 'needs-human', why: 'x' })).toBe(false);
    expect(bringsRemoteChanges(o, { kind: 'parked-idle' })).toBe(false);
  });
});

describe('mergeStatus (the status after re-adding some targets)', () => {
  const before = parseChezmoiStatus('MM .a\n M .b\nM  .c\nDA .d\n');
  it('replaces the re-added targets by their fresh lines and keeps the rest', () => {
    // .a captured (clean now, no line), .c captured but still differs (a template).
    const fresh = parseChezmoiStatus('MM .c\n');
    expect(mergeStatus(before, ['.a', '.c'], fresh)).toEqual([
      { x: ' ', y: 'M', target: '.b' },
      { x: 'M', y: 'M', target: '.c' },
      { x: 'D', y: 'A', target: '.d' },
    ]);
  });
  it('is the old status when nothing was re-added', () => {
    expect(mergeStatus(before, [], [])).toEqual(before);
  });
});

describe('exit codes and retries', () => {
  it.each([
    ['ok', 0],
    ['conflict-parked', 1],
    ['needs-human', 1],
    ['offline', 75],
    ['apply-failed', 1],
    ['push-failed', 1],
    ['disabled', 0],
  ] as const)('%s → %d', (kind, code) => {
    expect(exitCodeFor(kind)).toBe(code);
  });
  it('retries a bounded number of times', () => {
    expect(decideRetry(1, 3)).toBe('retry');
    expect(decideRetry(3, 3)).toBe('give-up');
  });
});

describe('modeAttrsChange and withModeAttrs (review 13b, D1)', () => {
  it('names the mode attributes a rename gained or lost, and the bits chezmoi reads them from', () => {
    expect(modeAttrsChange('dot_a', 'private_dot_a')).toEqual({ private: true });
    expect(modeAttrsChange('d/executable_dot_a', 'd/dot_a')).toEqual({ executable: false });
    expect(modeAttrsChange('private_readonly_dot_a', 'readonly_private_dot_a')).toEqual({});
    expect(modeAttrsChange('encrypted_dot_a.age', 'encrypted_private_executable_dot_a.age')).toEqual({
      private: true,
      executable: true,
    });
    expect(withModeAttrs(0o644, { private: true })).toBe(0o600);
    expect(withModeAttrs(0o600, { private: false })).toBe(0o644);
    expect(withModeAttrs(0o644, { executable: true })).toBe(0o755);
    expect(withModeAttrs(0o644, { executable: true, private: true })).toBe(0o700);
    expect(withModeAttrs(0o755, { executable: false })).toBe(0o644);
    expect(withModeAttrs(0o644, { readonly: true })).toBe(0o444);
    expect(withModeAttrs(0o444, { readonly: false })).toBe(0o644);
  });
});
