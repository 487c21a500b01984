/**
 * Update branches, the pure part: name patterns, the eligibility of a branch,
 * the merge decision (the --sha pin), and the input changes of flake.lock.
 */
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/core/config-schema.js';
import {
  decideMerge,
  decideUpdate,
  DEFAULT_UPDATE_PATTERNS,
  formatChange,
  lockChanges,
  matchesUpdatePattern,
  updateRefspecs,
  type UpdateFacts,
} from '../../../src/fleet/updates/decide.js';
import type { SignatureStatus } from '../../../src/upgrade/decide.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('branch patterns', () => {
  it('the config default is DEFAULT_UPDATE_PATTERNS', () => {
    const c = ConfigSchema.parse({ hostname: 'h', nixConfig: { path: '/etc/nixos' } }) as {
      updates: { branchPatterns: string[] };
    };
    expect(c.updates.branchPatterns).toEqual([...DEFAULT_UPDATE_PATTERNS]);
  });

  it.each<[string, boolean]>([
    ['update/flake-lock', true],
    ['update/nixpkgs/2026-03-10', true],
    ['update/', false],
    ['updates/x', false],
    ['update_flake_lock_action', true],
    ['update_flake_lock_action2', false],
    ['renovate/lock-file-maintenance', true],
    ['renovate/nixpkgs-24.x', false],
    ['main', false],
  ])('%s matches the defaults: %s', (branch, expected) => {
    expect(matchesUpdatePattern(branch, DEFAULT_UPDATE_PATTERNS)).toBe(expected);
  });

  it('one refspec per pattern, into refs/gitopsd/updates/', () => {
    expect(updateRefspecs(['update/*', 'x'])).toEqual([
      '+refs/heads/update/*:refs/gitopsd/updates/update/*',
      '+refs/heads/x*:refs/gitopsd/updates/x*', // a glob: an exact missing name would fail the fetch
    ]);
  });

  it.each([['update/**'], ['a b'], ['/update'], ['update/../x']])('the config refuses the pattern %s', (p) => {
    expect(
      ConfigSchema.safeParse({ hostname: 'h', nixConfig: { path: '/etc/nixos' }, updates: { branchPatterns: [p] } })
        .success,
    ).toBe(false);
  });
});

const facts = (o: Partial<UpdateFacts>): UpdateFacts => ({
  branch: 'update/lock',
  sha: B,
  mainBranch: 'main',
  mainSha: A,
  fastForwards: true,
  changedPaths: ['flake.lock'],
  signature: { kind: 'not-required' },
  ...o,
});
const good: SignatureStatus = { kind: 'good', signer: 'alice' };

describe('decideUpdate', () => {
  it.each<[string, Partial<UpdateFacts>, string, RegExp | null]>([
    ['a lock-only fast-forward, no signers', {}, 'eligible', null],
    ['signed by an allowed signer', { signature: good }, 'eligible', null],
    ['not a fast-forward', { fastForwards: false }, 'not-fast-forward', /does not fast-forward main: rebase it/],
    [
      'touches flake.nix too',
      { changedPaths: ['flake.lock', 'flake.nix'] },
      'touches-more',
      /more than flake.lock \(flake.nix\)/,
    ],
    ['touches only other files', { changedPaths: ['hosts/a.nix'] }, 'touches-more', /hosts\/a.nix/],
    ['changes nothing', { changedPaths: [] }, 'no-change', /changes nothing/],
    ['unsigned where signers are configured', { signature: { kind: 'unsigned' } }, 'unsigned', /is not signed/],
    [
      'signed by someone else',
      { signature: { kind: 'untrusted', detail: 'No principal matched' } },
      'untrusted',
      /No principal matched/,
    ],
    [
      'not a fast-forward beats unsigned',
      { fastForwards: false, signature: { kind: 'unsigned' } },
      'not-fast-forward',
      null,
    ],
  ])('%s', (_n, o, expected, line) => {
    const v = decideUpdate(facts(o));
    if (expected === 'eligible') {
      expect(v).toEqual({ kind: 'eligible' });
      return;
    }
    expect(v).toMatchObject({ kind: 'refused', reason: expected });
    if (v.kind === 'refused') {
      expect(v.line).not.toContain('\n');
      if (line !== null) expect(v.line).toMatch(line);
    }
  });
});

describe('decideMerge', () => {
  const eligible = { kind: 'eligible' } as const;
  it.each<[string, Parameters<typeof decideMerge>[0], string]>([
    [
      'listed and unchanged',
      { branch: 'update/lock', sha: B, pinned: B.slice(0, 12), verdict: eligible, patterns: DEFAULT_UPDATE_PATTERNS },
      'merge',
    ],
    [
      'no pin',
      { branch: 'update/lock', sha: B, pinned: null, verdict: eligible, patterns: DEFAULT_UPDATE_PATTERNS },
      'merge',
    ],
    [
      'moved after listing',
      { branch: 'update/lock', sha: B, pinned: A.slice(0, 12), verdict: eligible, patterns: DEFAULT_UPDATE_PATTERNS },
      'moved',
    ],
    [
      'gone',
      { branch: 'update/lock', sha: null, pinned: null, verdict: null, patterns: DEFAULT_UPDATE_PATTERNS },
      'not-found',
    ],
    [
      'not an update branch',
      { branch: 'main', sha: A, pinned: null, verdict: eligible, patterns: DEFAULT_UPDATE_PATTERNS },
      'not-found',
    ],
    [
      'refused branch',
      {
        branch: 'update/lock',
        sha: B,
        pinned: null,
        verdict: { kind: 'refused', reason: 'unsigned', line: 'x' },
        patterns: DEFAULT_UPDATE_PATTERNS,
      },
      'unsigned',
    ],
  ])('%s', (_n, input, expected) => {
    const d = decideMerge(input);
    if (expected === 'merge') expect(d).toEqual({ kind: 'merge', sha: B });
    else expect(d).toMatchObject({ kind: 'refused', reason: expected });
  });
});

const lock = (nixpkgs: { rev: string; lastModified: number }, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    nodes: {
      nixpkgs: { locked: { ...nixpkgs, narHash: 'sha256-x', owner: 'NixOS', repo: 'nixpkgs', type: 'github' } },
      utils: { locked: { rev: 'c'.repeat(40), lastModified: 1700000000, type: 'github' } },
      home: { inputs: { nixpkgs: ['nixpkgs'] }, locked: { rev: 'd'.repeat(40), lastModified: 1700000000 } },
      root: { inputs: { nixpkgs: 'nixpkgs', utils: 'utils', home: 'home', ...extra } },
    },
    root: 'root',
    version: 7,
  });

describe('lockChanges', () => {
  it('lists each root input whose revision moved, with dates from lastModified', () => {
    const before = lock({ rev: A, lastModified: 1772323200 }); // 2026-03-01
    const after = lock({ rev: B, lastModified: 1773014400 }); // 2026-03-09
    const c = lockChanges(before, after);
    expect(c).toEqual([
      {
        input: 'nixpkgs',
        old: { rev: A, date: '2026-03-01T00:00:00.000Z' },
        new: { rev: B, date: '2026-03-09T00:00:00.000Z' },
      },
    ]);
    expect(formatChange(c[0]!)).toBe('nixpkgs: aaaaaaaaaaaa (2026-03-01) -> bbbbbbbbbbbb (2026-03-09)');
  });

  it('an added input has no old side; no flake.lock before means all are added', () => {
    expect(lockChanges(null, lock({ rev: A, lastModified: 1 })).map((c) => [c.input, c.old])).toEqual([
      ['home', null],
      ['nixpkgs', null],
      ['utils', null],
    ]);
  });

  it('a text that is not a flake.lock is a one-line error', () => {
    expect(() => lockChanges('{', lock({ rev: A, lastModified: 1 }))).toThrow(/the old flake.lock is not JSON/);
    expect(() => lockChanges('{"nodes": 3}', null)).toThrow(/the old flake.lock is not a flake.lock/);
  });
});
