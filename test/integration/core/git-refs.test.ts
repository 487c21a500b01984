/**
 * src/core/git-refs.ts against git itself: every answer read from the ref
 * files must equal `git rev-parse`, and every layout the reader does not
 * model (reftable, a worktree's `.git` file, a symbolic ref below refs/)
 * must answer null, so that the caller asks git.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { fileRefsGitDir, readHeadFromFiles, readRefFromFiles } from '../../../src/core/git-refs.js';

const ident = ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false'];
const git = (dir: string, ...args: string[]) => run('git', ['-C', dir, ...ident, ...args]);
const revParse = async (dir: string, rev: string): Promise<string> =>
  (await git(dir, 'rev-parse', '--verify', rev)).stdout.trim();

let base: string;
let remote: string;
let work: string;

async function commit(dir: string, msg: string): Promise<void> {
  await writeFile(join(dir, 'f'), msg);
  await git(dir, 'add', 'f');
  await git(dir, 'commit', '-q', '-m', msg);
}

beforeAll(async () => {
  base = await tempDir('git-refs');
  remote = join(base, 'remote.git');
  work = join(base, 'work');
  await run('git', ['init', '-q', '--bare', '-b', 'main', remote]);
  await run('git', ['init', '-q', '-b', 'main', work]);
  await commit(work, 'one');
  await git(work, 'remote', 'add', 'origin', remote);
  await git(work, 'push', '-q', 'origin', 'main');
  await git(work, 'fetch', '-q', 'origin');
  await git(work, 'tag', '-a', '-m', 'annotated', 'v1');
});
afterAll(removeTempDirs);

describe('ref files agree with git rev-parse', () => {
  it('loose refs: HEAD through refs/heads/main, and the remote-tracking ref', async () => {
    const gd = fileRefsGitDir(work);
    expect(gd).toBe(join(work, '.git'));
    expect(readHeadFromFiles(gd!)).toBe(await revParse(work, 'HEAD'));
    expect(readRefFromFiles(gd!, 'refs/remotes/origin/main')).toBe(await revParse(work, 'refs/remotes/origin/main'));
  });

  it('packed refs (git pack-refs --all), with a peeled annotated tag, and a loose ref winning over a packed one', async () => {
    await git(work, 'pack-refs', '--all');
    const gd = fileRefsGitDir(work)!;
    expect(readHeadFromFiles(gd)).toBe(await revParse(work, 'HEAD'));
    expect(readRefFromFiles(gd, 'refs/remotes/origin/main')).toBe(await revParse(work, 'refs/remotes/origin/main'));
    expect(readRefFromFiles(gd, 'refs/tags/v1')).toBe(await revParse(work, 'refs/tags/v1'));
    await commit(work, 'two'); // refs/heads/main is loose again, packed-refs still holds the old one
    expect(readHeadFromFiles(gd)).toBe(await revParse(work, 'HEAD'));
    expect(readRefFromFiles(gd, 'refs/heads/main')).toBe(await revParse(work, 'refs/heads/main'));
  });

  it('a detached HEAD', async () => {
    await git(work, 'checkout', '-q', '--detach', 'HEAD~1');
    expect(readHeadFromFiles(fileRefsGitDir(work)!)).toBe(await revParse(work, 'HEAD'));
    await git(work, 'checkout', '-q', 'main');
  });

  it('a ref that does not exist is null (git agrees it does not exist)', async () => {
    const gd = fileRefsGitDir(work)!;
    expect(readRefFromFiles(gd, 'refs/remotes/origin/nope')).toBeNull();
    expect(
      (await tryRun('git', ['-C', work, 'rev-parse', '--verify', '-q', 'refs/remotes/origin/nope'])).exitCode,
    ).not.toBe(0);
  });

  it('a SHA-256 repository', async () => {
    const d = join(base, 'sha256');
    await run('git', ['init', '-q', '--object-format=sha256', '-b', 'main', d]);
    await commit(d, 'one');
    const head = readHeadFromFiles(fileRefsGitDir(d)!);
    expect(head).toHaveLength(64);
    expect(head).toBe(await revParse(d, 'HEAD'));
  });
});

describe('layouts the reader leaves to git', () => {
  it('a reftable repository has no file-readable refs', async () => {
    const d = join(base, 'reftable');
    await run('git', ['init', '-q', '--ref-format=reftable', '-b', 'main', d]);
    await commit(d, 'one');
    expect(fileRefsGitDir(d)).toBeNull();
  });

  it('a worktree, whose .git is a file', async () => {
    const d = join(base, 'wt');
    await git(work, 'worktree', 'add', '-q', '--detach', d);
    expect(fileRefsGitDir(d)).toBeNull();
  });

  it('a checkout owned by another user (git refuses it: safe.directory), so git must be asked', async () => {
    const d = join(base, 'foreign');
    await run('git', ['init', '-q', '-b', 'main', d]);
    await commit(d, 'one');
    expect(fileRefsGitDir(d)).toBe(join(d, '.git'));
    await run('chown', ['-R', '65534:65534', d]);
    expect(fileRefsGitDir(d)).toBeNull();
    // What git then says, through gitopsd's runner: upgrade/blame.test.ts (7).
  });

  it('no checkout at all', () => {
    expect(fileRefsGitDir(join(base, 'absent'))).toBeNull();
  });

  it('a symbolic ref below refs/ and a malformed ref file are null, never a guess', async () => {
    const gd = fileRefsGitDir(work)!;
    await git(work, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main');
    expect(readRefFromFiles(gd, 'refs/heads/alias')).toBeNull();
    await mkdir(join(gd, 'refs', 'heads'), { recursive: true });
    await writeFile(join(gd, 'refs', 'heads', 'broken'), 'not an object name\n');
    expect(readRefFromFiles(gd, 'refs/heads/broken')).toBeNull();
    expect(readRefFromFiles(gd, 'refs/heads/../../config')).toBeNull();
  });
});
