/**
 * batchReadFiltered (src/fleet/git.ts) against the real git of the test bed:
 * one `cat-file --batch --filter=blob:limit=N` reads commits, trees and small
 * blobs, names the oversized blobs excluded and leaves out missing names,
 * each in its frame whatever the bytes are.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunner } from '../../../src/core/runner.js';
import { silentLogger } from '../../../src/core/log.js';
import { noopTracer } from '../../../src/core/faults.js';
import { batchReadFiltered } from '../../../src/fleet/git.js';

const runner = createRunner({ log: silentLogger, tracer: noopTracer, defaultTimeoutMs: 20_000 });
const git = async (dir: string, args: string[], input?: string): Promise<string> =>
  (
    await runner.run('git', ['--git-dir', dir, ...args], { timeoutMs: 20_000, ...(input ? { input } : {}) })
  ).stdout.trim();

describe('batchReadFiltered', () => {
  it('reads small objects in one process and names the blobs at or over the limit excluded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-catfilter-'));
    try {
      await runner.run('git', ['init', '-q', '--bare', dir], { timeoutMs: 20_000 });
      const small = await git(dir, ['hash-object', '-w', '--stdin'], 'a\nb\n\u00ff\n');
      const edge = await git(dir, ['hash-object', '-w', '--stdin'], 'x'.repeat(99));
      const big = await git(dir, ['hash-object', '-w', '--stdin'], 'y'.repeat(100));
      const tree = await git(dir, ['mktree'], `100644 blob ${small}\tstatus.json\n100644 blob ${big}\tbig\n`);
      const commit = await git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit-tree', tree, '-m', 'm']);
      // A submodule named status.json, its commit not in this repository (git: "<id> submodule").
      const withLink = await git(dir, ['mktree'], `160000 commit ${'1'.repeat(40)}\tstatus.json\n`);
      const linked = await git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit-tree', withLink, '-m', 'm']);
      const names = [
        `${commit}:status.json`,
        `${commit}:big`,
        big,
        commit,
        tree,
        edge,
        `${commit}:none`,
        `${linked}:status.json`,
      ];
      const r = await batchReadFiltered({ runner }, { dir, names, timeoutMs: 20_000, blobLimit: 100 });
      expect(r).not.toBeNull();
      expect([...(r?.excluded ?? [])]).toEqual([`${commit}:big`, big]);
      expect([...(r?.objects.keys() ?? [])]).toEqual([`${commit}:status.json`, commit, tree, edge]);
      expect(r?.objects.get(`${commit}:status.json`)).toEqual({ type: 'blob', bytes: Buffer.from('a\nb\n\u00ff\n') });
      expect(r?.objects.get(edge)?.bytes.length).toBe(99);
      expect(r?.objects.get(commit)?.type).toBe('commit');
      expect(r?.objects.get(commit)?.bytes.toString()).toContain(`tree ${tree}\n`);
      expect(r?.objects.get(tree)?.type).toBe('tree');
      expect([...(r?.submodules ?? [])]).toEqual([`${linked}:status.json`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('gives way to the two-step read (null) when a tree named status.json makes the answer over 64 MiB', async () => {
    // The filter leaves out blobs only: a hostile directory named status.json
    // is read whole, and over the runner's limit it failed every host's row (review 19).
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-catfilter-'));
    try {
      await runner.run('git', ['init', '-q', '--bare', dir], { timeoutMs: 20_000 });
      const blob = await git(dir, ['hash-object', '-w', '--stdin'], '{}');
      const names = Array.from(
        { length: 1100 },
        (_, i) => `100644 blob ${blob}\t${String(i).padStart(6, '0')}${'n'.repeat(61_000)}\n`,
      );
      const inner = await git(dir, ['mktree'], names.join(''));
      const tree = await git(dir, ['mktree'], `040000 tree ${inner}\tstatus.json\n`);
      const commit = await git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit-tree', tree, '-m', 'm']);
      const r = await batchReadFiltered(
        { runner },
        { dir, names: [commit, `${commit}:status.json`], timeoutMs: 20_000, blobLimit: 65_537 },
      );
      expect(r).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
