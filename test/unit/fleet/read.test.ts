/**
 * The fleet reader's pure steps that replaced work of a read of 1,000 hosts
 * (docs/benchmarks.md B8): the refs of the reader's repository read from the
 * fetch's own porcelain output instead of a `git for-each-ref` after it
 * (`viewRefsOf`), and the order of the rows by code unit instead of the
 * locale's collation (`compareHostNames`). The real fetch, prune included, is
 * test/integration/fleet/publish.test.ts ("bad input").
 */
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';
import { parseFetchPorcelain } from '../../../src/core/fetch-porcelain.js';
import { decideStaleLocks, refFormatUnsupported, viewLocked, viewRefsOf } from '../../../src/fleet/git.js';
import { compareHostNames, fleetExitCode, missingHosts, summarize } from '../../../src/fleet/read.js';
import type { FleetRow } from '../../../src/fleet/schema.js';

const Z = '0'.repeat(40);
const A = 'a2da1f146b9f3634a9fd82827f2e716957acadd7';
const B = '7fd5c59c9447298da9c3e4e5e318c58d879d76b9';

describe('viewRefsOf: the refs after `git fetch --porcelain --verbose --prune`', () => {
  // The output of git 2.55 in the test bed for the reader's two refspecs:
  // an unchanged ref ('='), a fast-forward (' '), a forced update ('+'), a
  // new ref ('*') and a pruned one ('-'), in git's order (not by name).
  const out = [
    `- ${A} ${Z} refs/fleet/refs/gone`,
    `= ${A} ${A} refs/fleet/refs/same`,
    `  ${A} ${B} refs/fleet/refs/moved`,
    `* ${Z} ${B} refs/fleet/refs/new`,
    `+ ${B} ${A} refs/fleet/heads/forced`,
    `* ${Z} ${A} refs/fleet/refs/-bad`,
    '',
  ].join('\n');

  it('every ref but the pruned ones, at its new commit, by ref name as for-each-ref lists them', () => {
    expect(viewRefsOf(parseFetchPorcelain(out))).toEqual([
      { ref: 'refs/fleet/heads/forced', commit: A },
      { ref: 'refs/fleet/refs/-bad', commit: A },
      { ref: 'refs/fleet/refs/moved', commit: B },
      { ref: 'refs/fleet/refs/new', commit: B },
      { ref: 'refs/fleet/refs/same', commit: A },
    ]);
  });

  it('a fetch that pruned everything (an empty remote) leaves no ref; a ref outside refs/fleet/ is not a host', () => {
    expect(viewRefsOf(parseFetchPorcelain(`- ${A} ${Z} refs/fleet/refs/a\n- ${B} ${Z} refs/fleet/heads/b\n`))).toEqual(
      [],
    );
    expect(viewRefsOf(parseFetchPorcelain(`* ${Z} ${A} refs/remotes/origin/main\n`))).toEqual([]);
  });
});

describe('refFormatUnsupported: a git without reftable', () => {
  // What Debian 12's git 2.39.5 printed for `git init --bare --quiet
  // --ref-format=reftable DIR` (exit 129), first lines; the usage follows.
  const GIT_2_39 =
    "error: unknown option `ref-format=reftable'\nusage: git init [-q | --quiet] [--bare] [--template=<template-directory>]\n";
  it.each([
    [129, GIT_2_39, true],
    // Any other failure is a failure, never a reason to fall back to files.
    [128, 'fatal: cannot mkdir /x: Permission denied\n', false],
    [129, "error: unknown option `bare-ish'\n", false],
    [0, '', false],
  ])('exit %s, %j: %s', (code, stderr, want) => {
    expect(refFormatUnsupported(code, stderr)).toBe(want);
  });
});

describe('a locked reader repository', () => {
  it.each([
    // git 2.55, reftable, a tables.list.lock in place (exit 251).
    ['error: cannot lock references\n', true],
    // git's lockfile.c, files backend.
    [
      "error: cannot lock ref 'refs/fleet/refs/h0001': Unable to create '/s/fleet/view.git/refs/fleet/refs/h0001.lock': File exists.\n",
      true,
    ],
    ["fatal: '/nowhere' does not appear to be a git repository\n", false],
  ])('viewLocked(%j) = %s', (stderr, want) => {
    expect(viewLocked(stderr)).toBe(want);
  });

  it('decideStaleLocks keeps the locks not older than the timeout', () => {
    const locks = [
      { file: 'a.lock', mtimeMs: 1_000 },
      { file: 'b.lock', mtimeMs: 600_000 },
      { file: 'at-the-limit.lock', mtimeMs: 700_000 },
      { file: 'c.lock', mtimeMs: 1_000_000 },
    ];
    expect(decideStaleLocks(locks, 1_000_000, 300_000)).toEqual(['a.lock', 'b.lock']);
    expect(decideStaleLocks(locks, 1_000_000, 999_000)).toEqual([]);
  });
});

describe('compareHostNames: the order of the rows', () => {
  const sorted = (names: string[]): string[] =>
    names
      .map((host) => ({ host }))
      .sort(compareHostNames)
      .map((r) => r.host);

  it('a fleet of lower-case names is in the same order as before (localeCompare in English)', () => {
    // The names of the tests' and benchmarks' fleets, and every pair of
    // characters a lower-case host name starts with.
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
    const names = [
      ...alphabet.flatMap((a) => alphabet.map((b) => `${a}${b}`)),
      ...Array.from({ length: 120 }, (_, i) => `h${String(i + 1).padStart(4, '0')}`),
      ...Array.from({ length: 20 }, (_, i) => `h${String(i + 1).padStart(2, '0')}`),
      'pa',
      'pb',
      'alpha',
      'alpha2',
      'alpha10',
      'beta',
    ];
    const shuffled = [...names].reverse();
    expect(sorted(shuffled)).toEqual([...names].sort((a, b) => a.localeCompare(b, 'en')));
  });

  it('names with capitals or punctuation sort by code unit, whatever the locale', () => {
    expect(sorted(['b', 'a_1', 'A', 'a-1', 'a.1', 'a', 'B', '0'])).toEqual([
      '0',
      'A',
      'B',
      'a',
      'a-1',
      'a.1',
      'a_1',
      'b',
    ]);
  });
});

describe('what `fleet status` loads', () => {
  it('no node:http (nor the undici its ESM facade loads): `fleet serve` requires it only when it serves', async () => {
    // The lean bundle of `fleet status` holds src/fleet/serve.ts too
    // (dist/bundle/lean-fleet-status.cjs, a CommonJS script: src/cli/code-cache.ts);
    // an import of node:http there cost about 12 ms of every read
    // (docs/benchmarks.md B8, eighth session).
    const bundle = join(repoRoot, 'dist', 'bundle', 'lean-fleet-status.cjs');
    const { stdout: loaded } = await execa(
      process.execPath,
      [
        '-e',
        `const m = require(${JSON.stringify(bundle)});
         console.log(JSON.stringify({ runLean: typeof m.runLean, modules: process.moduleLoadList }))`,
      ],
      { stdin: 'ignore' },
    );
    const { runLean, modules } = JSON.parse(loaded) as { runLean: string; modules: string[] };
    expect(runLean).toBe('function');
    expect(modules.filter((m) => /\bhttp\b|http2|undici/.test(m))).toEqual([]);
  });
});

describe('summarize: the age of the newest status', () => {
  const now = new Date('2026-12-01T12:00:00.000Z');
  const row = (ageSec: number | null) => ({ ageSec, stale: false, state: 'healthy' }) as unknown as FleetRow;
  it.each([
    ['the youngest known age', [600, 60, 7200], 60],
    ['a status up to 300 s ahead counts as 0', [600, -240], 0],
    ['a status dated further ahead is left out (its age is unknown)', [600, -3900], 600],
    ['no status with a known age: null', [null, -86400], null],
  ])('%s', (_what, ages, want) => {
    const view = summarize({
      rows: ages.map(row),
      now,
      remote: '/r.git',
      signersConfigured: false,
      newestVersion: null,
    });
    expect(view.newestAgeSec).toBe(want);
  });
});

describe('missingHosts: the expected hosts with no row', () => {
  const rows = [{ host: 'a' }, { host: 'c' }];
  it.each([
    ['no list', null, []],
    ['an empty list', [], []],
    ['every expected host has a row', ['a', 'c'], []],
    ['in the order given, each once', ['z', 'b', 'a', 'b'], ['z', 'b']],
  ])('%s', (_what, expected, want) => {
    expect(missingHosts(expected, rows)).toEqual(want);
  });

  it('a missing host makes the view unhealthy (exit 1) though every row is healthy', () => {
    const row = { host: 'a', ageSec: 60, stale: false, state: 'healthy' } as unknown as FleetRow;
    const view = (expected: string[] | null) =>
      summarize({
        rows: [row],
        now: new Date(),
        remote: '/r.git',
        signersConfigured: false,
        newestVersion: null,
        expected,
      });
    expect([view(null).missingHosts, fleetExitCode(view(null))]).toEqual([[], 0]);
    expect([view(['a', 'b']).missingHosts, fleetExitCode(view(['a', 'b']))]).toEqual([['b'], 1]);
  });
});
