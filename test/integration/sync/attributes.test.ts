/**
 * Issue 14, input 3: `chmod +x` on one host and a content edit of the same
 * file on another. re-add renames `dot_tool` to `executable_dot_tool`; to jj
 * that is a deletion and an addition. Parking only the conflicting
 * `dot_tool` while `executable_dot_tool` went to main left two entries for
 * `.tool`, and chezmoi then failed on every other host ("inconsistent
 * state"). Now the rename and the conflict are parked as one unit; a remote
 * that already holds two entries gets a one-line fix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import { GIT_ENV, makeHost, makeRemote, readHome, remoteTree, syncExpect, syncStoppedAt } from './fixture.js';

afterAll(removeTempDirs);

const toolEntries = (tree: Map<string, string>): string[] =>
  [...tree.keys()].filter((k) => k.endsWith('dot_tool')).sort();

describe('an attribute change and a content edit of one file on two hosts', () => {
  it.each([
    ['the content edit lands first', 'content-first'],
    ['the chmod lands first', 'chmod-first'],
  ])(
    '%s: main keeps one entry for .tool and every other host keeps syncing',
    async (_name, order) => {
      const remote = await makeRemote({ dot_tool: 't1\nt2\n', dot_plain: 'p1\n' });
      const h1 = await makeHost(remote, 'h1');
      const h2 = await makeHost(remote, 'h2');
      const h3 = await makeHost(remote, 'h3');
      for (const h of [h1, h2, h3]) await syncExpect(h, 0);
      await chmod(join(h1.home, '.tool'), 0o755);
      await writeFile(join(h2.home, '.tool'), 't1\nT2-from-h2\n');
      const [first, second] = order === 'content-first' ? [h2, h1] : [h1, h2];
      await syncExpect(first, 0);
      const r = await syncExpect(second, 1);
      expect(r.json?.['kind']).toBe('conflict-parked');
      const main = await remoteTree(remote);
      expect(toolEntries(main)).toHaveLength(1);
      const parked = await remoteTree(remote, `sync/${second.name}`);
      expect(toolEntries(parked)).toHaveLength(1);
      // The host that parked still works on its own source (one entry locally too).
      await writeFile(join(second.home, '.plain'), 'p1\np2-from-second\n');
      const again = await syncExpect(second, 1);
      expect(again.json?.['kind']).toBe('conflict-parked');
      expect((await remoteTree(remote)).get('dot_plain')).toBe('p1\np2-from-second\n');
      // h3 is not broken: it syncs, gets .plain, and .tool as main has it.
      await syncExpect(h3, 0);
      expect(await readHome(h3, '.plain')).toBe('p1\np2-from-second\n');
      const entry = toolEntries(await remoteTree(remote))[0] ?? '';
      expect(await readHome(h3, '.tool')).toBe((await remoteTree(remote)).get(entry));
      if (entry.startsWith('executable_')) expect((await stat(join(h3.home, '.tool'))).mode & 0o100).toBe(0o100);
    },
    600_000,
  );

  it('a remote that already holds two entries for one target: one line naming both and the fix', async () => {
    const remote = await makeRemote({ dot_tool: 't1\n' });
    const h1 = await makeHost(remote, 'h1');
    await syncExpect(h1, 0);
    const seed = join(remote.dir, 'seed');
    await writeFile(join(seed, 'executable_dot_tool'), 't1\n');
    await run('git', ['-C', seed, 'add', '-A']);
    await run('git', ['-C', seed, 'commit', '-qm', 'two entries'], { env: GIT_ENV });
    await run('git', ['-C', seed, 'push', '-q', remote.url, 'main']);
    await syncExpect(h1, 1);
    const r = await syncExpect(h1, 1);
    const text = `${r.stdout}\n${r.stderr}`;
    expect(text).toContain('the source state has 2 entries for ~/.tool');
    expect(text).toContain(`rm ${join(h1.src, 'dot_tool')}`);
    // The fix works: remove one entry in the source dir, sync again.
    await run('rm', [join(h1.src, 'dot_tool')]);
    await syncExpect(h1, 0);
    expect(toolEntries(await remoteTree(remote))).toEqual(['executable_dot_tool']);
  }, 600_000);

  it("a chmod from another host reaches a host whose edit of that file was deferred: both hosts' content and the mode are kept (review 13b, D1)", async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\na2\na3\n' });
    const h1 = await makeHost(remote, 'h1');
    const h2 = await makeHost(remote, 'h2');
    await syncExpect(h1, 0);
    await syncExpect(h2, 0);
    await chmod(join(h1.home, '.alpha'), 0o600);
    await writeFile(join(h1.home, '.alpha'), 'A1-from-h1\na2\na3\n');
    await syncExpect(h1, 0);
    // h2's edit lands while its sync integrates h1's rename: apply defers it.
    const r = await syncStoppedAt(h2, 'cmd:chezmoi managed', () =>
      writeFile(join(h2.home, '.alpha'), 'a1\na2\nA3-from-h2\n'),
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ exitCode: 0, deferred: ['.alpha'] });
    // Its merge base is dot_alpha, which the source no longer has. Before,
    // re-add copied the $HOME file over h1's line and mode, with exit 0.
    await syncExpect(h2, 0);
    const merged = 'A1-from-h1\na2\nA3-from-h2\n';
    expect([...(await remoteTree(remote)).entries()]).toEqual([['private_dot_alpha', merged]]);
    expect(await readHome(h2, '.alpha')).toBe(merged);
    expect((await stat(join(h2.home, '.alpha'))).mode & 0o777).toBe(0o600);
    await syncExpect(h1, 0);
    expect(await readHome(h1, '.alpha')).toBe(merged);
  }, 600_000);
});
