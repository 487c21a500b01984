import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import {
  jjIn,
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
    const trace = join(a.root, 'edit.trace');
    const r = await syncExpect(a, 0, { GITOPSD_TRACE: trace });
    expect(r.json?.['pushed']).toEqual(['main']);
    // Issue 19: the processes of a sync with one $HOME edit and a remote
    // that has not moved (benchmark B3's case), pinned. No bookmark list
    // (the guard's jj log lists the bookmarks); no `jj log -r @` before the
    // commit (@ was empty at the guard's look and re-add wrote a source
    // file); no integration jj log (the fetch changed nothing: the guard's
    // look plus the new commit); no `jj op log` (the journal's and the
    // record's operation ids are read from jj's operation heads); no rebase
    // (the new commit already sits on main@origin). Capture's `chezmoi
    // status` starts first and runs beside the guard's `jj log`.
    expect(await tracedCommands(trace)).toEqual([
      'chezmoi status',
      'jj log',
      'chezmoi re-add',
      'chezmoi status',
      'jj commit',
      'jj git fetch',
      'jj bookmark set main',
      'jj git push',
    ]);
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
    const trace = join(a.root, 'no-change.trace');
    const r = await syncExpect(a, 0, { GITOPSD_TRACE: trace });
    expect(r.json?.['pushed']).toEqual([]);
    expect(await remoteRefs(remote)).toBe(before);
    expect(opsBefore).not.toBe('');
    // Issue 19: the processes of a sync with nothing to do, pinned. The
    // guard's questions, the bookmark list and integration's questions are
    // one jj log (the fetch's "Nothing changed." keeps what it saw); the
    // operation the run ends at is read from jj's operation heads, not
    // `jj op log`; no commit, no push, no apply, no getent (the sync runs as
    // its user), no externals apply. `chezmoi status` runs beside the jj log.
    expect(await tracedCommands(trace)).toEqual(['chezmoi status', 'jj log', 'jj git fetch']);
    // Beside it, not after it: jj log starts before chezmoi status has ended.
    const events = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { event: string; cmd?: string });
    const jjStart = events.findIndex((e) => e.event === 'start' && e.cmd === 'jj');
    const chezmoiEnd = events.findIndex((e) => e.event === 'end' && e.cmd === 'chezmoi');
    expect(jjStart).toBeGreaterThan(-1);
    expect(chezmoiEnd).toBeGreaterThan(jjStart);
    // That operation id is the one jj itself names.
    const st = JSON.parse(await readFile(join(a.stateDir, 'sync', 'state.json'), 'utf8')) as {
      sync?: { lastOp?: unknown };
    };
    const jjOp = (await jjIn(a, ['--ignore-working-copy', 'op', 'log', '--no-graph', '-n', '1', '-T', 'id'])).trim();
    expect(jjOp).toMatch(/^[0-9a-f]{128}$/);
    expect(st.sync?.lastOp).toBe(jjOp);
  });
});

/**
 * Each command a GITOPSD_TRACE file records starting, as the program and its
 * subcommand words: the global options before them (and the values of
 * -R, -S, -D, -c, --config) are dropped, and so is everything from the
 * first option after them.
 */
async function tracedCommands(trace: string): Promise<string[]> {
  const withValue = new Set(['-R', '-S', '-D', '-c', '--config']);
  return (await readFile(trace, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { event: string; cmd?: string; args?: string[] })
    .filter((e) => e.event === 'start' && e.cmd !== undefined)
    .map((e) => {
      const args = e.args ?? [];
      let i = 0;
      while (i < args.length && (args[i] ?? '').startsWith('-')) i += withValue.has(args[i] ?? '') ? 2 : 1;
      const words: string[] = [];
      while (i < args.length && !(args[i] ?? '').startsWith('-')) words.push(args[i++] ?? '');
      return [e.cmd, ...words].join(' ');
    });
}
