/**
 * Parsing and decisions added for issue 14 (what chezmoi and jj users really
 * do): tables of the real tools' output and source names.
 */
import { describe, expect, it } from 'vitest';
import {
  findUncapturable,
  isIgnored,
  parseInconsistentState,
  parseSnapshotRefusals,
  planHeldBases,
  sameTargetPaths,
  targetOfSource,
  whyNotCaptured,
} from '../../../src/sync/decide.js';
import { resolveSteps } from '../../../src/sync/cli.js';

describe('targetOfSource', () => {
  it.each([
    ['dot_tool', '.tool'],
    ['executable_dot_tool', '.tool'],
    ['private_readonly_executable_dot_tool', '.tool'],
    ['dot_tcfg.tmpl', '.tcfg'],
    ['encrypted_private_dot_token.age', '.token'],
    ['symlink_dot_lnk', '.lnk'],
    ['modify_dot_gitconfig', '.gitconfig'],
    ['exact_private_dot_config/nvim/init.lua', '.config/nvim/init.lua'],
    ['private_dot_ssh/config', '.ssh/config'],
    ['literal_dot_x', 'dot_x'],
    ['.chezmoiignore', null],
    ['run_onchange_setup.sh.tmpl', null],
  ])('%s → %s', (src, want) => {
    expect(targetOfSource(src)).toBe(want);
  });
});

describe('sameTargetPaths', () => {
  it.each([
    [['dot_tool'], ['executable_dot_tool', 'dot_plain'], ['executable_dot_tool']],
    [['executable_dot_tool'], ['dot_tool', 'executable_dot_tool'], ['dot_tool']],
    [['dot_plain'], ['dot_tool', 'executable_dot_tool'], []],
    [[], ['dot_tool'], []],
  ])('held %j, changed %j → %j', (held, changed, want) => {
    expect(sameTargetPaths(held, changed)).toEqual(want);
  });
});

describe('parseInconsistentState', () => {
  it('reads chezmoi 2.73 "inconsistent state" error', () => {
    expect(
      parseInconsistentState(
        'chezmoi: .tool: inconsistent state (/home/u/.local/share/chezmoi/dot_tool, /home/u/.local/share/chezmoi/executable_dot_tool)\n',
      ),
    ).toEqual({
      target: '.tool',
      sources: ['/home/u/.local/share/chezmoi/dot_tool', '/home/u/.local/share/chezmoi/executable_dot_tool'],
    });
  });
  it('is null for other errors', () => {
    expect(parseInconsistentState('chezmoi: .ext: Get "http://x": connection refused\n')).toBeNull();
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

describe('isIgnored', () => {
  const ignored = new Set(['.hostnote', '.d']);
  it.each([
    ['.hostnote', true],
    ['.d/f', true],
    ['.d', true],
    ['.dx', false],
    ['.plain', false],
  ])('%s → %s', (t, want) => {
    expect(isIgnored(t, ignored)).toBe(want);
  });
});

describe('planHeldBases', () => {
  it('keeps an existing base, gives new ones the old wcBase, drops what is no longer left', () => {
    expect(planHeldBases({ '.tcfg': 'c1', '.gone': 'c1' }, 'c2', ['.tcfg', 'setup.sh'])).toEqual({
      '.tcfg': 'c1',
      'setup.sh': 'c2',
    });
  });
  it('has no base to give on a first run', () => {
    expect(planHeldBases({}, null, ['.x'])).toEqual({});
  });
});

describe('why an edit was not captured', () => {
  it.each([
    ['.gamma', 'D', 'dot_gamma', 'chezmoi forget'],
    ['.tcfg', 'M', 'dot_tcfg.tmpl', 'chezmoi edit ~/.tcfg'],
    ['.lnk', 'M', 'symlink_dot_lnk', 'chezmoi add ~/.lnk'],
    ['.gitconfig', 'M', 'modify_dot_gitconfig', 'modify_ script'],
    ['.x', 'M', undefined, 'no source entry found'],
  ])('%s (%s, %s) mentions %s', (target, code, src, want) => {
    expect(whyNotCaptured(target, code, src)).toContain(want);
  });
  it('an edit on the lines of an unapplied change says how to merge it', () => {
    const [u] = findUncapturable(
      [{ x: 'M', y: 'M', target: '.plain' }],
      new Map([['.plain', 'dot_plain']]),
      new Set(['.plain']),
    );
    expect(u?.why).toContain('chezmoi merge ~/.plain');
    expect(u?.why).toContain('dot_plain');
  });
});

describe('resolution steps for a parked conflict in an encrypted file', () => {
  it('decrypts both sides and re-encrypts the merge instead of editing ciphertext', () => {
    const steps = resolveSteps({
      src: '/home/u/.local/share/chezmoi',
      bookmark: 'main',
      remote: 'origin',
      park: 'sync/h1',
      paths: ['encrypted_private_dot_token.age', 'dot_plain'],
    });
    expect(steps).toContain(
      'jj file show -r sync/h1 encrypted_private_dot_token.age | chezmoi decrypt > /tmp/local.txt',
    );
    expect(steps).toContain(
      'jj file show -r main@origin encrypted_private_dot_token.age | chezmoi decrypt > /tmp/remote.txt',
    );
    expect(steps.some((s) => s.startsWith('chezmoi encrypt /tmp/merged.txt > encrypted_private_dot_token.age'))).toBe(
      true,
    );
    // A plain file needs none of it.
    expect(
      resolveSteps({ src: '/s', bookmark: 'main', remote: 'origin', park: 'sync/h1', paths: ['dot_plain'] }),
    ).not.toContain(expect.stringContaining('chezmoi decrypt'));
  });
});
