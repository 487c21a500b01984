import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import {
  makeHost,
  makeRemote,
  readHome,
  remoteRefs,
  remoteTree,
  syncExpect,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

describe('sync between two hosts', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;

  it('bootstraps each host from the url and applies the dotfiles', async () => {
    remote = await makeRemote({ dot_alpha: 'a1\na2\na3\na4\n', dot_beta: 'b1\nb2\n' });
    a = await makeHost(remote, 'hosta');
    b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    expect(await readHome(a, '.alpha')).toBe('a1\na2\na3\na4\n');
    expect(await readHome(b, '.beta')).toBe('b1\nb2\n');
  });

  it('captures an edit on one host and brings it to the other', async () => {
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-a\na3\na4\n');
    const r = await syncExpect(a, 0);
    expect(r.json?.['pushed']).toEqual(['main']);
    expect((await remoteTree(remote)).get('dot_alpha')).toBe('a1\nA2-from-a\na3\na4\n');
    await syncExpect(b, 0);
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-from-a\na3\na4\n');
  });

  it('merges edits to different lines of one file made on both hosts', async () => {
    await writeFile(join(a.home, '.alpha'), 'A1-from-a\nA2-from-a\na3\na4\n');
    await writeFile(join(b.home, '.alpha'), 'a1\nA2-from-a\na3\nA4-from-b\n');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    await syncExpect(a, 0);
    const want = 'A1-from-a\nA2-from-a\na3\nA4-from-b\n';
    expect((await remoteTree(remote)).get('dot_alpha')).toBe(want);
    expect(await readHome(a, '.alpha')).toBe(want);
    expect(await readHome(b, '.alpha')).toBe(want);
  });

  it('a sync with nothing new creates no commit and leaves the remote refs unchanged', async () => {
    const before = await remoteRefs(remote);
    const opsBefore = await readFile(join(a.stateDir, 'sync', 'state.json'), 'utf8');
    const r = await syncExpect(a, 0);
    expect(r.json?.['pushed']).toEqual([]);
    expect(await remoteRefs(remote)).toBe(before);
    expect(opsBefore).not.toBe('');
  });
});
