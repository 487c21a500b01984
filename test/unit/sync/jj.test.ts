/**
 * The jj client's parsers (src/sync/jj.ts), on jj 0.46's real output:
 * templates, the snapshot warning, push failures, a same-second collision.
 */
import { GitopsdError } from '../../../src/core/errors.js';
import { describe, expect, it } from 'vitest';
import {
  classifyPushFailure,
  fetchChangedNothing,
  filesetExcept,
  filesetOf,
  isSameSecondCollision,
  bookmarksFromRefs,
  flaggedTemplate,
  parseBookmarks,
  parseCommits,
  parseCommittedParent,
  parseCreatedCommit,
  parseCreatedSummary,
  parseFlaggedCommits,
  parseOps,
  parseSnapshotRefusals,
  pushFailureReason,
} from '../../../src/sync/jj.js';

describe('jj output parsing', () => {
  it('parses the commit template', () => {
    const line = ['abc', 'xyz', 'p1,p2', '1', '0', '1', JSON.stringify('msg\n')].join('\x1f');
    expect(parseCommits(`${line}\n`)).toEqual([
      {
        commitId: 'abc',
        changeId: 'xyz',
        parents: ['p1', 'p2'],
        conflict: true,
        empty: false,
        workingCopy: true,
        description: 'msg\n',
      },
    ]);
  });
  it('parses bookmarks, conflicted and deleted', () => {
    expect(parseBookmarks('main\x1f\x1f1\x1fa,b\x1f0\nsync/h\x1forigin\x1f0\x1f\x1f1\n')).toEqual([
      { name: 'main', remote: '', conflict: true, targets: ['a', 'b'], tracked: false },
      { name: 'sync/h', remote: 'origin', conflict: false, targets: [], tracked: true },
    ]);
  });
  it('rejects a bookmark line of another shape (the template without tracked)', () => {
    expect(() => parseBookmarks('main\x1f\x1f0\x1fa\n')).toThrow(/unexpected jj bookmark line/);
  });
  it('takes the change id from "Created new commit"', () => {
    expect(parseCreatedCommit('Created new commit prlmlmpx a1216b67 (empty) test\n')).toBe('prlmlmpx');
    expect(parseCreatedCommit('something else')).toBeNull();
  });
  it('quotes paths in filesets', () => {
    expect(filesetOf(['dot_a', 'we"ird\\name'])).toBe('root-file:"dot_a" | root-file:"we\\"ird\\\\name"');
    expect(filesetExcept([])).toBe('all()');
    expect(filesetExcept(['dot_a'])).toBe('~(root-file:"dot_a")');
  });
});

describe('parseOps (OP_TEMPLATE)', () => {
  it('reads id, user and the snapshot flag, newest first', () => {
    // The shape `jj op log --no-graph -T OP_TEMPLATE` printed in the test bed
    // (jj 0.46) for a rebase whose command first snapshotted an edit.
    const out = 'f3fe\x1fgitopsd-sync@vm\x1f0\nbe69\x1fgitopsd-sync@vm\x1f1\n7224\x1fgitopsd-sync@vm\x1f0\n';
    expect(parseOps(out)).toEqual([
      { id: 'f3fe', user: 'gitopsd-sync@vm', snapshot: false },
      { id: 'be69', user: 'gitopsd-sync@vm', snapshot: true },
      { id: '7224', user: 'gitopsd-sync@vm', snapshot: false },
    ]);
  });
});

describe('classifyPushFailure', () => {
  it.each([
    [
      'Warning: The following references unexpectedly moved on the remote:\n  refs/heads/main (reason: stale info)\nError: Failed to push some bookmarks',
      'stale',
    ],
    [
      // jj 0.46 when another push lands between the ref advertisement and the update.
      "remote: error: cannot lock ref 'refs/heads/main': is at d96dc3ca but expected 0279a449\nWarning: The remote rejected the following updates:\n  refs/heads/main (reason: incorrect old value provided)\nHint: Try checking if you have permission to push to all the bookmarks.\nError: Failed to push some bookmarks",
      'stale',
    ],
    [
      'Warning: The remote rejected the following updates:\n  refs/heads/main (reason: pre-receive hook declined)\nError: Failed to push some bookmarks',
      'refused',
    ],
    ["Error: Could not find repository at '/nonexistent'", 'offline'],
    ['fatal: Could not read from remote repository.', 'offline'],
    ["Error: Won't push commit abc since it has conflicts", 'refused'],
  ] as const)('%s → %s', (stderr, want) => {
    expect(classifyPushFailure(stderr)).toBe(want);
  });
});

describe('pushFailureReason', () => {
  it.each([
    [
      'remote: no pushes today\nWarning: The remote rejected the following updates:\n  refs/heads/main (reason: pre-receive hook declined)\nHint: Try checking if you have permission to push to all the bookmarks.\nError: Failed to push some bookmarks\n',
      'refs/heads/main (reason: pre-receive hook declined); remote says: no pushes today',
    ],
    ['Error: Failed to push some bookmarks\n', 'Error: Failed to push some bookmarks'],
    ['', 'no output'],
  ])('%j → %s', (stderr, want) => {
    expect(pushFailureReason(stderr)).toBe(want);
  });
});

describe('isSameSecondCollision', () => {
  // The message jj 0.46 prints when a rewrite undone by `jj op restore` is
  // redone within the same second (reproduced with the real jj).
  const real =
    'Internal error: Unexpected error from backend\nCaused by: Newly-created commit 697a84b06072360709ad39c72234d89ab9829671 already exists\n';
  it.each([
    [255, real, true],
    [1, real, false],
    [255, 'Internal error: Unexpected error from backend\nCaused by: disk full\n', false],
    [undefined, real, false],
  ])('exit %s -> %s', (code, stderr, want) => {
    expect(isSameSecondCollision(code, stderr)).toBe(want === true);
  });
});

describe('parseSnapshotRefusals', () => {
  it('reads jj 0.46 "Refused to snapshot some files"', () => {
    const stderr = [
      'Warning: Refused to snapshot some files:',
      '  big: 1.1MiB (1200000 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)',
      '  dot_dir/huge file: 2.0MiB (2097152 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)',
      'Hint: This is to prevent large files from being added by accident. To fix this:',
      '  * Add the file(s) to `.gitignore`',
    ].join('\n');
    expect(parseSnapshotRefusals(stderr)).toEqual([
      { path: 'big', bytes: 1200000, limit: 1048576 },
      { path: 'dot_dir/huge file', bytes: 2097152, limit: 1048576 },
    ]);
  });
  it('finds nothing in other output', () => {
    expect(parseSnapshotRefusals('Working copy changes:\nA big\n')).toEqual([]);
  });
});

describe('flagged commits: one jj log for a phase (issue 19)', () => {
  const id = 'a'.repeat(40);
  const fields = [id, 'xyz', 'p1', '0', '1', '1', JSON.stringify('')];
  it.each([
    ['no flags, no files', [...fields, '', '0', ''], 0, [], false],
    ['three flags', [...fields, '101', '0', ''], 3, [true, false, true], false],
    ['files matched', [...fields, '0', '1', ''], 1, [false], true],
  ])('%s', (_name, parts, n, flags, files) => {
    const [c] = parseFlaggedCommits(`${parts.join('\x1f')}\n`, n);
    expect(c).toMatchObject({ commitId: id, empty: true, workingCopy: true, in: flags, hasFiles: files, refs: [] });
  });
  it.each([
    ['too few flags', [...fields, '1', '0', ''], 2],
    ['no refs field', [...fields, '1', '0'], 1],
    ['no files field', [...fields, '1'], 1],
    ['a plain commit line', fields, 0],
    ['a ref of another form', [...fields, '1', '0', '"main"\x1enull\x1e0'], 1],
  ])('rejects %s', (_name, parts, n) => {
    expect(() => parseFlaggedCommits(`${parts.join('\x1f')}\n`, n)).toThrow(/unexpected jj log line/);
  });
  it.each([
    [
      'a tree jj cannot read (a file name that is not UTF-8, as jj 0.46 prints it)',
      '<Error: Invalid UTF-8 for object 349b3488a20f968946e94da18ab896902243b2ae of type tree: invalid utf-8 sequence of 1 bytes from index 4>',
      /^jj cannot read commit aaaaaaaaaaaa: Invalid UTF-8 .*; jj cannot represent a file name that is not UTF-8: rename or remove that file in the dotfiles remote with git, then sync again$/,
    ],
    [
      'any other template error',
      '<Error: Object not found>',
      /^jj cannot read commit aaaaaaaaaaaa: Object not found; inspect it with "jj log -r aaaaaaaaaaaa"/,
    ],
  ])('an error jj printed in place of a field (%s) fails in one line with exit 1', (_name, field, message) => {
    let err: unknown;
    try {
      parseFlaggedCommits(`${[...fields, '0', field, ''].join('\x1f')}\n`, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GitopsdError);
    expect((err as GitopsdError).kind).toBe('failed');
    expect((err as GitopsdError).message).toMatch(message);
    expect((err as GitopsdError).message).not.toContain('\n');
  });
  it('with filesErrorsUnknown, a tree jj cannot read leaves the files flag unknown (null) instead of failing', () => {
    const err = '<Error: Invalid UTF-8 for object 349b of type tree: invalid utf-8 sequence of 1 bytes from index 4>';
    const [c] = parseFlaggedCommits(`${[...fields, '1', err, ''].join('\x1f')}\n`, 1, true);
    expect(c).toMatchObject({ commitId: id, in: [true], hasFiles: null });
    expect(() => parseFlaggedCommits(`${[...fields, '1', err, ''].join('\x1f')}\n`, 1)).toThrow(
      /jj cannot read commit/,
    );
  });
  it('lists the bookmarks of `bookmarks() | remote_bookmarks()` from the refs at each commit', () => {
    // As jj 0.46 renders REF_FIELDS (checked in the test bed): a local
    // bookmark's remote is null; a conflicted one is shown at each added
    // target; the colocated repo's `git` remote is left out.
    const ref = (name: string, remote: string | null, conflict: string, tracked: string): string =>
      [JSON.stringify(name), JSON.stringify(remote), conflict, tracked].join('\x1e');
    const line = (commit: string, locals: string[], remotes: string[]): string =>
      [commit, 'xyz', 'p1', '0', '0', '0', '""', '', '0', `${locals.join('\x1d')}\x1d${remotes.join('\x1d')}`].join(
        '\x1f',
      );
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const seen = parseFlaggedCommits(
      [
        line(
          a,
          [ref('main', null, '0', '0'), ref('cb', null, '1', '0')],
          [ref('main', 'origin', '0', '1'), ref('main', 'git', '0', '1')],
        ),
        line(b, [ref('cb', null, '1', '0')], [ref('sync/h"x', 'origin', '0', '0')]),
        line('c'.repeat(40), [], []),
      ].join('\n'),
      0,
    );
    expect(seen[0]?.refs).toHaveLength(4);
    expect(bookmarksFromRefs(seen)).toEqual([
      { name: 'main', remote: '', conflict: false, targets: [a], tracked: false },
      { name: 'cb', remote: '', conflict: true, targets: [a, b], tracked: false },
      { name: 'main', remote: 'origin', conflict: false, targets: [a], tracked: true },
      { name: 'sync/h"x', remote: 'origin', conflict: false, targets: [b], tracked: false },
    ]);
  });
  it('quotes each flag revset and the fileset as template string literals', () => {
    const t = flaggedTemplate(['::@', 'description(substring:"x")'], 'glob:"**/.chezmoiexternal*"');
    expect(t).toContain(
      'if(self.contained_in("::@"), "1", "0") ++ if(self.contained_in("description(substring:\\"x\\")"), "1", "0")',
    );
    expect(t).toContain('if(self.files("glob:\\"**/.chezmoiexternal*\\""), "1", "0")');
    expect(t.endsWith('++ "\\n"')).toBe(true);
  });
});

describe('parseCommittedParent', () => {
  const id = '96f3771cad23b1107835bede0d401a158d1cab94';
  const change = 'xylnxvpnqnmqnsuzyzqtmomwsxqxwvky';
  const wc = `Working copy  (@) now at: gitopsd-commit ${'a'.repeat(40)} txyuqwmnmllkpmokqrlrpxypswtkuqyo 01 ""\n`;
  it.each([
    // jj 0.46 `jj commit -m 'sync(h): "x" 2026'` with COMMIT_SUMMARY (run in the test bed)
    [
      `${wc}Parent commit (@-)      : gitopsd-commit ${id} ${change} 00 "sync(h): \\"x\\" 2026\\n"\n`,
      { commitId: id, changeId: change, conflict: false, empty: false, description: 'sync(h): "x" 2026\n' },
    ],
    // An empty @ committed: the empty flag is set.
    [
      `${wc}Parent commit (@-)      : gitopsd-commit ${id} ${change} 01 "empty one\\n"\n`,
      { commitId: id, changeId: change, conflict: false, empty: true, description: 'empty one\n' },
    ],
    // Another form (the default summary): fall back to a query.
    [
      `Working copy  (@) now at: kxyz 1234abcd (empty) (no description set)\nParent commit (@-)      : qrst 9258735d one\n`,
      null,
    ],
    // The summary of an older gitopsd (the id alone): also a query.
    [`Parent commit (@-)      : gitopsd-commit ${id}\n`, null],
    ['', null],
  ])('%#', (stderr, want) => {
    expect(parseCommittedParent(stderr)).toEqual(want);
  });
});

describe('parseCreatedSummary', () => {
  it.each([
    // jj 0.46 `jj new --no-edit -r @-- -m "x msg"` with COMMIT_SUMMARY, stderr (run in the test bed)
    [
      'Created new commit gitopsd-commit 2976225260dfd5b21d86888a88a15a34fdc47464 uytwvqtwmmynwnoxusyllvmzlspouqqv 01 "x msg\\n"\n',
      {
        commitId: '2976225260dfd5b21d86888a88a15a34fdc47464',
        changeId: 'uytwvqtwmmynwnoxusyllvmzlspouqqv',
        conflict: false,
        empty: true,
        description: 'x msg\n',
      },
    ],
    // jj's default summary (a later jj that ignores the template): newCommit falls back to a query.
    ['Created new commit prlmlmpx a1216b67 (empty) test\n', null],
    // jj commit's line is not jj new's.
    [
      'Parent commit (@-)      : gitopsd-commit 2976225260dfd5b21d86888a88a15a34fdc47464 uytwvqtwmmynwnoxusyllvmzlspouqqv 00 "m"\n',
      null,
    ],
    ['', null],
  ])('%#', (stderr, want) => {
    expect(parseCreatedSummary(stderr)).toEqual(want);
  });
});

describe('fetchChangedNothing', () => {
  it.each([
    // jj 0.46 `jj git fetch`, stderr
    ['Nothing changed.\n', true],
    ['bookmark: main@origin [updated] tracked\n', false],
    ['bookmark: sync/h@origin [deleted] untracked\n', false],
    ['', false],
  ])('%j', (stderr, want) => {
    expect(fetchChangedNothing({ stdout: '', stderr })).toBe(want);
  });
});
