/**
 * The deletion step's write-ahead record: which targets the remote deletes
 * (from jj's diff and chezmoi's managed list, both as the real tools print
 * them), what is recorded, and what a run does with a record.
 */
import { describe, expect, it } from 'vitest';
import { decideRemovals, isPlainTarget, planPendingRemovals, remoteDeletedTargets } from '../../../src/sync/decide.js';
import { parseDiffEntries } from '../../../src/sync/jj.js';
import { parseManagedAll } from '../../../src/sync/chezmoi.js';

describe('parseDiffEntries', () => {
  it('reads jj 0.46 diff entries (status, source, target, NUL-terminated)', () => {
    // As `jj diff -T DIFF_ENTRY_TEMPLATE` printed them in the test bed.
    const out =
      'modified\0dot_config/app/literal_dot_c\0dot_config/app/literal_dot_c\0' +
      'renamed\0dot_alpha\0executable_dot_alpha\0' +
      'removed\0private_dot_beta\0private_dot_beta\0' +
      'added\0dot_new\0dot_new\0' +
      'removed\0dot_tab\tand\nnewline\0dot_tab\tand\nnewline\0';
    expect(parseDiffEntries(out)).toEqual({
      removed: ['dot_alpha', 'private_dot_beta', 'dot_tab\tand\nnewline'],
      present: ['dot_config/app/literal_dot_c', 'executable_dot_alpha', 'dot_new'],
    });
    expect(parseDiffEntries('')).toEqual({ removed: [], present: [] });
  });

  it.each([['removed\0dot_a\0'], ['removed\0dot_a\0dot_a'], ['gone\0dot_a\0dot_a\0']])('fails loudly on %j', (out) => {
    expect(() => parseDiffEntries(out)).toThrow(/please report/);
  });
});

describe('parseManagedAll', () => {
  it('maps each target to its source path in the repository', () => {
    // `chezmoi managed -i files -p all -f json` (chezmoi 2.73.3).
    const out = JSON.stringify({
      '.alpha': { absolute: '/h/.alpha', sourceAbsolute: '/s/dot_alpha', sourceRelative: 'dot_alpha' },
      '.config/app/dot_c': {
        absolute: '/h/.config/app/dot_c',
        sourceAbsolute: '/s/dot_config/app/literal_dot_c',
        sourceRelative: 'dot_config/app/literal_dot_c',
      },
      '.elsewhere': { absolute: '/h/.elsewhere', sourceAbsolute: '/other/x' },
    });
    expect([...parseManagedAll(out, '/s')]).toEqual([
      ['.alpha', 'dot_alpha'],
      ['.config/app/dot_c', 'dot_config/app/literal_dot_c'],
      ['.elsewhere', null],
    ]);
    expect(parseManagedAll('', '/s').size).toBe(0);
    expect(() => parseManagedAll('.alpha\n', '/s')).toThrow(/not supported/);
  });
});

describe('remoteDeletedTargets', () => {
  const managed = new Map<string, string | null>([
    ['.gamma', 'dot_gamma'],
    ['.tool', 'dot_tool'],
    ['.kept', 'dot_kept'],
    ['.ext', null],
  ]);
  it.each([
    // Removed by the remote: a candidate.
    [['dot_gamma'], [], ['.gamma']],
    // An attribute change (dot_tool → executable_dot_tool) is a rename, not a deletion.
    [['dot_gamma', 'dot_tool'], ['executable_dot_tool'], ['.gamma']],
    // A path the remote did not remove, or no source path known.
    [['dot_unmanaged'], [], []],
    [[], ['dot_kept'], []],
  ])('removed %j, present %j → %j', (removed, present, want) => {
    expect(remoteDeletedTargets(managed, { removed, present })).toEqual(want);
  });
});

describe('planPendingRemovals', () => {
  const snapshot = {
    files: new Map([
      ['.gamma', 'h-gamma'],
      ['.alpha', 'h-alpha'],
    ]),
    edited: new Set(['.delta']),
  };
  it('records only the deleted targets, with their hash or as edited', () => {
    expect(planPendingRemovals(snapshot, ['.gamma', '.delta', '.notafile'], 'c1')).toEqual({
      base: 'c1',
      files: { '.gamma': 'h-gamma' },
      edited: ['.delta'],
    });
  });
  it('records nothing (no state write) when the remote deletes no managed file', () => {
    expect(planPendingRemovals(snapshot, [], 'c1')).toBeNull();
    expect(planPendingRemovals(snapshot, ['.notafile'], 'c1')).toBeNull();
  });
});

describe('decideRemovals', () => {
  const pending = {
    base: 'c1',
    files: { '.gamma': 'h-gamma', '.readded': 'h-r', '../outside': 'h-o', '/abs': 'h-a' },
    edited: ['.delta', '.ignored-now', 'a/../../b'],
  };
  it('removes (if unchanged) what the source no longer keeps, drops what it keeps and what is no plain path', () => {
    const kept = new Set(['.readded', '.ignored-now']);
    expect(decideRemovals(pending, kept)).toEqual({
      remove: [{ target: '.gamma', sha256: 'h-gamma' }],
      editedGone: ['.delta'],
    });
  });
  it('after a crash before the source changed (all still kept): nothing to do', () => {
    const all = new Set(['.gamma', '.readded', '.delta', '.ignored-now']);
    expect(decideRemovals({ ...pending, files: { '.gamma': 'h' }, edited: ['.delta'] }, all)).toEqual({
      remove: [],
      editedGone: [],
    });
  });
  it.each([
    ['.gamma', true],
    ['.config/app/x', true],
    ['', false],
    ['/etc/passwd', false],
    ['../x', false],
    ['a/./b', false],
    ['a//b', false],
    ['a/b/', false],
  ])('isPlainTarget(%j) is %j', (t, want) => {
    expect(isPlainTarget(t)).toBe(want);
  });
});
