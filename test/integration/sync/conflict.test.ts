import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import { followSteps, printedSteps } from '../../../demo/resolve.js';
import {
  filesWithMarkers,
  jjIn,
  sameLineConflict,
  readHome,
  remoteRefs,
  remoteTree,
  sync,
  syncExpect,
  syncStoppedAt,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

describe('a real conflict is parked, never blocks, and a person resolves it', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;

  it('parks only the conflicting file and integrates the rest', async () => {
    ({ remote, a, b } = await sameLineConflict({ '.beta': 'b1\nB2-from-b\n' }));
    const r = await syncExpect(b, 1);
    expect(r.json?.['kind']).toBe('conflict-parked');
    expect(r.stderr + r.stdout).toContain('dot_alpha');
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-from-a\na3\n');
    expect(main.get('dot_beta')).toBe('b1\nB2-from-b\n');
    const parked = await remoteTree(remote, 'sync/hostb');
    expect(parked.get('dot_alpha')).toBe('a1\nA2-from-b\na3\n');
    // $HOME keeps the local side; no markers anywhere in $HOME or the source.
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-from-b\na3\n');
    expect(await filesWithMarkers(b.home, (p) => p.includes('/.jj') || p.endsWith('/.git'))).toEqual([]);
    await syncExpect(a, 0);
    expect(await readHome(a, '.beta')).toBe('b1\nB2-from-b\n');
  });

  it('keeps integrating other files and parking new edits of the parked file', async () => {
    await writeFile(join(b.home, '.gamma'), 'g1\nG2-from-b-while-parked\n');
    await writeFile(join(b.home, '.alpha'), 'a1\nA2-from-b\na3\nA4-from-b-while-parked\n');
    const r = await syncExpect(b, 1);
    expect(r.json?.['kind']).toBe('conflict-parked');
    expect((await remoteTree(remote)).get('dot_gamma')).toBe('g1\nG2-from-b-while-parked\n');
    expect((await remoteTree(remote, 'sync/hostb')).get('dot_alpha')).toBe(
      'a1\nA2-from-b\na3\nA4-from-b-while-parked\n',
    );
    // An edit on the other host to a non-conflicting file still reaches b.
    await writeFile(join(a.home, '.beta'), 'b1\nB2-from-b\nB3-from-a\n');
    await syncExpect(a, 0);
    await syncExpect(b, 1);
    expect(await readHome(b, '.beta')).toBe('b1\nB2-from-b\nB3-from-a\n');
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-from-b\na3\nA4-from-b-while-parked\n');
    await syncExpect(a, 0);
    expect(await readHome(a, '.gamma')).toBe('g1\nG2-from-b-while-parked\n');
  });

  it('a parked sync with nothing new pushes nothing', async () => {
    const before = await remoteRefs(remote);
    const r = await syncExpect(b, 1);
    expect(r.json?.['pushed']).toEqual([]);
    expect(await remoteRefs(remote)).toBe(before);
  });

  it('reports the conflict and how to resolve it', async () => {
    const st = await runCli(['sync', 'status', '--config', b.config]);
    expect(st.exitCode).toBe(0);
    expect(st.stdout).toContain('dot_alpha');
    const c = await runCli(['sync', 'conflicts', '--config', b.config, '--json']);
    expect(c.exitCode).toBe(0);
    const j = JSON.parse(c.stdout) as { ok: boolean; paths: string[]; steps: string[] };
    expect(j.ok).toBe(true);
    expect(j.paths).toEqual(['dot_alpha']);
    expect(j.steps.join('\n')).toContain('jj new main@origin sync/hostb');
    const alias = await runCli(['--config', b.config], { bin: 'chezmoi-show-conflicts' });
    expect(alias.stdout).toContain('dot_alpha');
  });

  it('after a person merges the parked side, every host returns to normal', async () => {
    // A person follows the printed steps line by line, as the demo does (demo/resolve.ts).
    const c = await runCli(['sync', 'conflicts', '--config', b.config]);
    const typed: string[] = [];
    await followSteps({
      steps: printedSteps(c.stdout),
      env: { JJ_CONFIG: '', JJ_USER: 'person', JJ_EMAIL: 'person@example.invalid', JJ_EDITOR: 'false' },
      merge: (src) => writeFile(join(src, 'dot_alpha'), 'a1\nA2-merged\na3\nA4-from-b-while-parked\n'),
      say: (l) => typed.push(l),
    });
    // cd, fetch, new, jj resolve --list before and after the edit, commit, bookmark set, push
    expect(typed.filter((l) => l.startsWith('  $ ')).length).toBe(8);
    expect((await remoteTree(remote)).get('dot_alpha')).toBe('a1\nA2-merged\na3\nA4-from-b-while-parked\n');
    const r = await syncExpect(b, 0);
    expect(r.json?.['parked']).toBeNull();
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-merged\na3\nA4-from-b-while-parked\n');
    expect(await remoteRefs(remote)).not.toContain('sync/hostb');
    await syncExpect(a, 0);
    expect(await readHome(a, '.alpha')).toBe('a1\nA2-merged\na3\nA4-from-b-while-parked\n');
    // Back to normal: a new edit on b flows to main and to a.
    await writeFile(join(b.home, '.alpha'), 'a1\nA2-merged\na3\nA4-from-b-while-parked\nA5-after\n');
    await syncExpect(b, 0);
    await syncExpect(a, 0);
    expect(await readHome(a, '.alpha')).toBe('a1\nA2-merged\na3\nA4-from-b-while-parked\nA5-after\n');
    const st = await sync(b, { args: ['status'] });
    expect(st.json).toMatchObject({ ok: true, parked: null });
  });

  // Review 6, D1: the operation integration undoes a conflicting rebase to is
  // read from jj's op heads, and between the sync's last jj command and that
  // read the sync runs `chezmoi status` and `chezmoi managed` (the snapshot
  // of what $HOME agrees on). A person's edit in the source dir then (as
  // `chezmoi edit` makes) was snapshotted by the rebase after that operation,
  // and the restore put the file back on disk.
  it('an edit made in the source dir while integration reads $HOME stays on disk and in @ after a conflict', async () => {
    // Both hosts are back to normal (the test before): a new same-line
    // conflict in .beta, hosta's side on main.
    await writeFile(join(a.home, '.beta'), 'b1\nB2-again-from-a\nB3-from-a\n');
    await syncExpect(a, 0);
    await writeFile(join(b.home, '.beta'), 'b1\nB2-again-from-b\nB3-from-a\n');
    const edit = 'g1\nG2-from-b-while-parked\nG3-person-in-the-source-dir\n';
    const r = await syncStoppedAt(b, 'cmd:chezmoi managed', () => writeFile(join(b.src, 'dot_gamma'), edit));
    expect(r.exitCode, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as { parked: { paths: string[] } }).parked.paths).toEqual(['dot_beta']);
    expect(await readFile(join(b.src, 'dot_gamma'), 'utf8')).toBe(edit);
    // In the working-copy commit as jj recorded it (no new snapshot here).
    expect(await jjIn(b, ['--ignore-working-copy', 'file', 'show', '-r', '@', 'dot_gamma'])).toBe(edit);
  });
});
