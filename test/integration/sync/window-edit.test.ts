// Review 7, D1-a: a person edits the source dir (as `chezmoi edit` does)
// while a sync is stopped inside integration (at `chezmoi managed`, after
// the journal's operation is read), and the edit changes a line the remote
// changed too. Moved with @ (`jj rebase`), such an edit became a conflicted
// @: jj wrote conflict markers into the source file and `chezmoi apply`
// copied them into $HOME. Each case here goes into split by another route;
// the edit must be sealed and parked by path like any local change, and no
// marker may reach $HOME. The last case is the fast-forward route, where the
// edit is not sealed: apply must refuse to write $HOME from a conflicted @.
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { type CliResult } from '../../helpers/cli.js';
import {
  filesWithMarkers,
  jjIn,
  makeHost,
  makeRemote,
  readHome,
  remoteTree,
  syncExpect,
  syncStoppedAt,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

const EDIT = 'G1-person-in-source\ng2\n';

/** hostb's sync, stopped at `chezmoi managed` while `during` runs. */
const stoppedSync = (b: Host, during: () => Promise<void>): Promise<CliResult> =>
  syncStoppedAt(b, 'cmd:chezmoi managed', during);

function markers(h: Host): Promise<string[]> {
  return filesWithMarkers(h.home, (p) => p.includes('/.jj') || p.endsWith('/.git') || p.includes('/.local/share/'));
}

function kindOf(r: CliResult): { kind: string; parked: { paths: string[] } | null } {
  return JSON.parse(r.stdout) as { kind: string; parked: { paths: string[] } | null };
}

/** Two hosts in sync on dot_alpha / dot_beta / dot_gamma = g1 g2; hosta then changes line 1 of dot_gamma on main. */
async function remoteChangedGamma(alpha?: { a: string; b: string }): Promise<{ a: Host; b: Host; remote: Remote }> {
  const remote = await makeRemote({ dot_alpha: 'a1\na2\na3\n', dot_beta: 'b1\n', dot_gamma: 'g1\ng2\n' });
  const a = await makeHost(remote, 'hosta');
  const b = await makeHost(remote, 'hostb');
  await syncExpect(a, 0);
  await syncExpect(b, 0);
  if (alpha !== undefined) {
    await writeFile(join(a.home, '.alpha'), alpha.a);
    await writeFile(join(b.home, '.alpha'), alpha.b);
  }
  await writeFile(join(a.home, '.gamma'), 'G1-from-a\ng2\n');
  await syncExpect(a, 0);
  return { a, b, remote };
}

/** The edit is parked by path: in the park on the remote, kept in $HOME and the source, no markers. */
async function expectEditParked(b: Host, remote: Remote, r: CliResult, paths: string[]): Promise<void> {
  expect(r.exitCode, r.stderr).toBe(1);
  const out = kindOf(r);
  expect(out.kind).toBe('conflict-parked');
  expect(out.parked?.paths).toEqual(paths);
  expect(await markers(b)).toEqual([]);
  expect(await readHome(b, '.gamma')).toBe(EDIT);
  expect(await readFile(join(b.src, 'dot_gamma'), 'utf8')).toBe(EDIT);
  expect((await remoteTree(remote, 'sync/hostb')).get('dot_gamma')).toBe(EDIT);
  expect((await remoteTree(remote)).get('dot_gamma')).toBe('G1-from-a\ng2\n');
  // @ is clean: the next sync is not paused by a conflict of ours.
  expect(
    await jjIn(b, ['--ignore-working-copy', 'log', '--no-graph', '-r', 'conflicts() & @', '-T', 'change_id']),
  ).toBe('');
}

describe('a source-dir edit made during integration that conflicts with the remote (review 7, D1-a)', () => {
  it('S1: the stack conflicts too (split after the restore): the edit is parked, no markers in $HOME', async () => {
    const { b, remote } = await remoteChangedGamma({ a: 'a1\nA2-from-a\na3\n', b: 'a1\nA2-from-b\na3\n' });
    const r = await stoppedSync(b, () => writeFile(join(b.src, 'dot_gamma'), EDIT));
    await expectEditParked(b, remote, r, ['dot_alpha', 'dot_gamma']);
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-from-b\na3\n');
  });

  // S4 continues from S2's state (dot_gamma parked): one setup less.
  let s2: { a: Host; b: Host; remote: Remote } | null = null;

  it('S2: only the edit conflicts (clean stack): the edit is parked, the stack integrated, never "ok" with markers', async () => {
    s2 = await remoteChangedGamma();
    const { b, remote } = s2;
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-b\n');
    const r = await stoppedSync(b, () => writeFile(join(b.src, 'dot_gamma'), EDIT));
    await expectEditParked(b, remote, r, ['dot_gamma']);
    expect((await remoteTree(remote)).get('dot_beta')).toBe('b1\nB2-from-b\n');
  });

  it('S4: a conflict is parked already (split entered directly): the edit is parked too', async () => {
    if (s2 === null) throw new Error('S2 did not run');
    const { a, b, remote } = s2;
    await syncExpect(a, 0); // takes hostb's .beta
    await writeFile(join(a.home, '.beta'), 'B1-from-a\nB2-from-b\n');
    await syncExpect(a, 0);
    const edit = 'B1-person-in-source\nB2-from-b\n';
    const r = await stoppedSync(b, () => writeFile(join(b.src, 'dot_beta'), edit));
    expect(r.exitCode, r.stderr).toBe(1);
    expect(kindOf(r).kind).toBe('conflict-parked');
    expect(kindOf(r).parked?.paths).toEqual(['dot_beta', 'dot_gamma']);
    expect(await markers(b)).toEqual([]);
    expect(await readHome(b, '.beta')).toBe(edit);
    expect(await readHome(b, '.gamma')).toBe(EDIT);
    expect((await remoteTree(remote, 'sync/hostb')).get('dot_beta')).toBe(edit);
    expect((await remoteTree(remote)).get('dot_beta')).toBe('B1-from-a\nB2-from-b\n');
  });

  it('fast-forward (no local change): apply refuses to write $HOME from a conflicted @, the edit stays in jj', async () => {
    const { b, remote } = await remoteChangedGamma();
    const r = await stoppedSync(b, () => writeFile(join(b.src, 'dot_gamma'), EDIT));
    expect(r.exitCode, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { kind: string; message: string };
    expect(out.kind).toBe('needs-human');
    expect(out.message).toContain('dot_gamma');
    expect(await markers(b)).toEqual([]);
    // $HOME is left as it was before the sync.
    expect(await readHome(b, '.gamma')).toBe('g1\ng2\n');
    // The edit is one side of @'s conflict, in jj.
    const wc = await jjIn(b, ['--ignore-working-copy', 'file', 'show', '-r', '@', 'dot_gamma']);
    expect(wc).toContain('G1-person-in-source');
    expect((await remoteTree(remote)).get('dot_gamma')).toBe('G1-from-a\ng2\n');
  });
});
