import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import {
  filesWithMarkers,
  jjIn,
  makeHost,
  sameLineConflict,
  readHome,
  remoteRefs,
  remoteTree,
  syncExpect,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

/** Every mutable commit: change id, commit id, flags, description. Equal before and after = nothing rewritten or abandoned. */
async function mutableCommits(h: Host): Promise<string> {
  return jjIn(h, [
    'log',
    '--no-graph',
    '-r',
    'mutable()',
    '-T',
    'change_id ++ " " ++ commit_id ++ " " ++ if(conflict, "conflict ", "") ++ if(divergent, "divergent ", "") ++ description.first_line() ++ "\\n"',
  ]);
}

// Issue 5 item 9: a repo a person is working on is never rewritten. The sync
// exits 1 (needs-human), says why, moves no remote main, and $HOME edits wait
// in $HOME until the person is done (see docs/sync.md, "Needs-human").
describe('a person mid-resolution', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;

  it('unresolved conflicts in a mutable commit: nothing rewritten, nothing abandoned, main not moved', async () => {
    ({ remote, a, b } = await sameLineConflict());
    expect((await syncExpect(b, 1)).json?.['kind']).toBe('conflict-parked');

    // The person starts resolving on b and stops halfway: the merge commit
    // still holds jj's conflict, markers in the source file.
    await jjIn(b, ['git', 'fetch']);
    await jjIn(b, ['new', 'main@origin', 'sync/hostb', '-m', 'resolving by hand']);
    const srcAlpha = await readFile(join(b.src, 'dot_alpha'), 'utf8');
    expect(srcAlpha).toMatch(/^<<<<<<< /m);
    const before = await mutableCommits(b);
    expect(before).toContain('conflict resolving by hand');

    // Meanwhile: another host moves main, and the person edits $HOME on b.
    await writeFile(join(a.home, '.beta'), 'b1\nB2-from-a\n');
    await syncExpect(a, 0);
    await writeFile(join(b.home, '.gamma'), 'g1\nG2-from-b-meanwhile\n');
    const refs = await remoteRefs(remote);

    const r = await syncExpect(b, 1);
    expect(r.json?.['kind']).toBe('needs-human');
    const msg = String(r.json?.['message']);
    expect(msg).toContain('sync paused');
    expect(msg).toContain('unresolved conflicts');
    expect(msg).toContain('$HOME edits stay in $HOME');
    expect(r.json?.['pushed']).toEqual([]);
    // The person's commits: same change ids, same commit ids, same content.
    expect(await mutableCommits(b)).toBe(before);
    expect(await readFile(join(b.src, 'dot_alpha'), 'utf8')).toBe(srcAlpha);
    // The remote is exactly as the other host left it.
    expect(await remoteRefs(remote)).toBe(refs);
    // $HOME: the edit is still there, and no marker ever reached it.
    expect(await readHome(b, '.gamma')).toBe('g1\nG2-from-b-meanwhile\n');
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-from-b\na3\n');
    expect(await filesWithMarkers(b.home, (p) => p.includes('/.local/share/chezmoi'))).toEqual([]);
    // A second run while the person is still away changes nothing either.
    await syncExpect(b, 1);
    expect(await mutableCommits(b)).toBe(before);
    expect(await remoteRefs(remote)).toBe(refs);
  }, 600_000); // about 95 s at load 2-5 (several syncs on two hosts)

  it('when the person finishes, the next sync captures the waiting $HOME edit and every host converges', async () => {
    await writeFile(join(b.src, 'dot_alpha'), 'a1\nA2-merged\na3\n');
    await jjIn(b, ['commit', '-m', 'resolve dot_alpha']);
    // main moved while they worked: put the merge on the new main first.
    await jjIn(b, ['rebase', '-s', '@-', '-o', 'main@origin', '-o', 'sync/hostb']);
    await jjIn(b, ['bookmark', 'set', 'main', '-r', '@-']);
    await jjIn(b, ['git', 'push', '-b', 'main']);
    const r = await syncExpect(b, 0);
    expect(r.json?.['parked']).toBeNull();
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-merged\na3\n');
    expect(main.get('dot_beta')).toBe('b1\nB2-from-a\n');
    expect(main.get('dot_gamma')).toBe('g1\nG2-from-b-meanwhile\n');
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-merged\na3\n');
    expect(await readHome(b, '.beta')).toBe('b1\nB2-from-a\n');
    await syncExpect(a, 0);
    expect(await readHome(a, '.gamma')).toBe('g1\nG2-from-b-meanwhile\n');
    expect(await readHome(a, '.alpha')).toBe('a1\nA2-merged\na3\n');
  }, 600_000); // about 95 s at load 2-5 (several syncs on two hosts)

  it('a conflicted bookmark (main?? after both sides moved): paused, nothing pushed', async () => {
    // The person on a moves main locally without pushing; b pushes meanwhile.
    await jjIn(a, ['new', 'main@origin', '-m', 'local work on main']);
    await writeFile(join(a.src, 'dot_beta'), 'b1\nB2-from-a\nperson-on-a\n');
    await jjIn(a, ['bookmark', 'set', 'main', '-r', '@']);
    await writeFile(join(b.home, '.gamma'), 'g1\nG2-from-b-meanwhile\nG3-from-b\n');
    await syncExpect(b, 0);
    await jjIn(a, ['git', 'fetch']);
    expect(await jjIn(a, ['bookmark', 'list', 'main'])).toContain('(conflicted)');
    const before = await mutableCommits(a);
    const refs = await remoteRefs(remote);
    const r = await syncExpect(a, 1);
    expect(r.json?.['kind']).toBe('needs-human');
    expect(String(r.json?.['message'])).toContain('conflicted bookmarks main');
    expect(await mutableCommits(a)).toBe(before);
    expect(await remoteRefs(remote)).toBe(refs);
    expect(await readFile(join(a.src, 'dot_beta'), 'utf8')).toBe('b1\nB2-from-a\nperson-on-a\n');
  });

  it('divergent changes: paused, both sides kept', async () => {
    const c = await makeHost(remote, 'hostc');
    await syncExpect(c, 0);
    await jjIn(c, ['new', '--no-edit', 'main@origin', '-m', 'draft']);
    const id = (await jjIn(c, ['log', '--no-graph', '-r', 'description(exact:"draft\\n")', '-T', 'change_id'])).trim();
    const op = (await jjIn(c, ['op', 'log', '--no-graph', '-n', '1', '-T', 'id'])).trim();
    await jjIn(c, ['describe', '-r', id, '-m', 'draft one']);
    await jjIn(c, ['--at-op', op, 'describe', '-r', id, '-m', 'draft two']);
    const before = await mutableCommits(c);
    expect(before.match(/divergent/g)).toHaveLength(2);
    const refs = await remoteRefs(remote);
    const r = await syncExpect(c, 1);
    expect(r.json?.['kind']).toBe('needs-human');
    expect(String(r.json?.['message'])).toContain('divergent');
    expect(await mutableCommits(c)).toBe(before);
    expect(await remoteRefs(remote)).toBe(refs);
  });
});
