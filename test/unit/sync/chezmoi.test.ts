/**
 * The chezmoi client's parsers (src/sync/chezmoi.ts): status lines, source
 * names and their targets, the "inconsistent state" error, ignored targets.
 */
import { describe, expect, it } from 'vitest';
import {
  isIgnored,
  parseChezmoiStatus,
  parseInconsistentState,
  cannotSetAutoGit,
  planNoAutoGit,
  targetOfSource,
} from '../../../src/sync/chezmoi.js';

describe('chezmoi status', () => {
  const entries = parseChezmoiStatus('MM .edited\n M .remote-ahead\nDA .deleted\nMM .t\n R .script\n');
  it('parses XY and the target', () => {
    expect(entries[0]).toEqual({ x: 'M', y: 'M', target: '.edited' });
    expect(entries[1]).toEqual({ x: ' ', y: 'M', target: '.remote-ahead' });
  });
  it('rejects a line it does not understand', () => {
    expect(() => parseChezmoiStatus('MMX.a\n')).toThrow(/unexpected/);
  });
});

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

describe('planNoAutoGit (chezmoi dump-config JSON without git.autoAdd/autoCommit/autoPush)', () => {
  // The git section as chezmoi 2.73.3's `dump-config --format json` prints it (json tags in lower case).
  const git = (over: Record<string, unknown>): Record<string, unknown> => ({
    command: 'git',
    autoadd: false,
    autocommit: false,
    autopush: false,
    commitMessageTemplate: '',
    lfs: false,
    ...over,
  });
  it.each([
    ['all off', { git: git({}), persistentState: '' }, null],
    ['no git section', { data: {} }, null],
    [
      'autocommit on',
      { git: git({ autocommit: true }), persistentState: '', data: { n: 3 } },
      { config: { git: git({}), persistentState: '', data: { n: 3 } }, persistentState: null },
    ],
    [
      'autopush on, a state file of its own',
      { git: git({ autopush: true }), persistentState: '/h/.state.boltdb' },
      { config: { git: git({}), persistentState: '/h/.state.boltdb' }, persistentState: '/h/.state.boltdb' },
    ],
    [
      'another spelling of the key',
      { git: { autoCommit: true, command: 'git' } },
      { config: { git: { autoCommit: false, command: 'git' } }, persistentState: null },
    ],
  ])('%s', (_name, dump, want) => {
    expect(planNoAutoGit(dump)).toEqual(want);
  });
  it('refuses output that is no JSON object', () => {
    expect(() => planNoAutoGit([1])).toThrow(/dump-config printed no JSON object/);
  });
});

describe('cannotSetAutoGit (skip chezmoi dump-config when the config text cannot turn git.auto* on)', () => {
  it.each([
    ['an empty config', '', true],
    ['age settings only', 'encryption = "age"\n[age]\n    identity = "/k"\n', true],
    ['TOML autoCommit', '[git]\nautoCommit = true\n', false],
    ['YAML autopush, any case', 'git:\n  AUTOPUSH: false\n', false],
    ['JSON autoAdd', '{"git": {"autoAdd": true}}', false],
    ['an escaped key could hide the word', '["git"]\n"\\u0061utoCommit" = true\n', false],
    ['an unreadable file', null, false],
  ])('%s', (_name, text, want) => {
    expect(cannotSetAutoGit(text)).toBe(want);
  });
});
