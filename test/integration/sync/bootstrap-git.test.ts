import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import {
  GIT_ENV,
  jjIn,
  makeHost,
  makeRemote,
  readHome,
  remoteTree,
  syncExpect,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

// Issue 5 item 0: chezmoi's default layout is a plain `git clone` of the
// dotfiles repo; the first sync colocates jj in place, keeping the history.
describe('bootstrap from a plain git clone', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;
  let seedCommits: string;

  it('converts the clone in place, keeps its history and tracks the bookmark', async () => {
    remote = await makeRemote({ dot_alpha: 'a1\na2\na3\n' });
    // A second commit, so "history kept" means more than the tip.
    const seed = join(remote.dir, 'seed');
    await writeFile(join(seed, 'dot_beta'), 'b1\n');
    await run('git', ['-C', seed, 'add', '-A']);
    await run('git', ['-C', seed, 'commit', '-q', '-m', 'second'], { env: GIT_ENV });
    await run('git', ['-C', seed, 'push', '-q', remote.url, 'main']);
    seedCommits = (await run('git', ['--git-dir', remote.url, 'rev-list', 'main'])).stdout.trim();
    expect(seedCommits.split('\n')).toHaveLength(2);

    a = await makeHost(remote, 'hosta');
    b = await makeHost(remote, 'hostb');
    await run('git', ['clone', '-q', remote.url, a.src]);
    expect(existsSync(join(a.src, '.jj'))).toBe(false);

    const r = await syncExpect(a, 0);
    expect(r.json?.['kind']).toBe('ok');
    expect(existsSync(join(a.src, '.jj'))).toBe(true);
    // Colocated: the git dir stayed where chezmoi and the person expect it.
    expect(existsSync(join(a.src, '.git'))).toBe(true);
    // The history is the clone's: both seed commits, same ids.
    const log = await jjIn(a, ['log', '--no-graph', '-r', '::main', '-T', 'commit_id ++ "\\n"']);
    for (const c of seedCommits.split('\n')) expect(log).toContain(c);
    const tracked = await jjIn(a, [
      'bookmark',
      'list',
      '--all-remotes',
      'main',
      '-T',
      'name ++ "@" ++ remote ++ " " ++ if(tracked, "tracked", "untracked") ++ "\\n"',
    ]);
    expect(tracked).toContain('main@origin tracked');
    expect(await readHome(a, '.alpha')).toBe('a1\na2\na3\n');
    expect(await readHome(a, '.beta')).toBe('b1\n');
  });

  it('the next syncs push a local edit and bring a remote edit in', async () => {
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-a\na3\n');
    const pushed = await syncExpect(a, 0);
    expect(pushed.json?.['pushed']).toEqual(['main']);
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-from-a\na3\n');
    // The pushed commit sits on the clone's history, not beside it.
    const ancestry = (await run('git', ['--git-dir', remote.url, 'rev-list', 'main'])).stdout;
    for (const c of seedCommits.split('\n')) expect(ancestry).toContain(c);

    // b bootstraps from the url, edits another line, pushes; a receives it.
    await syncExpect(b, 0);
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-b\n');
    await syncExpect(b, 0);
    const r = await syncExpect(a, 0);
    expect(r.json?.['pushed']).toEqual([]);
    expect(await readHome(a, '.beta')).toBe('b1\nB2-from-b\n');
    expect(await readHome(a, '.alpha')).toBe('a1\nA2-from-a\na3\n');
    // The git side of the colocated repo follows: plain git sees the same main.
    const gitMain = (await run('git', ['-C', a.src, 'rev-parse', 'refs/remotes/origin/main'])).stdout.trim();
    const remoteMain = (await run('git', ['--git-dir', remote.url, 'rev-parse', 'main'])).stdout.trim();
    expect(gitMain).toBe(remoteMain);
  });
});
