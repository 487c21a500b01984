/**
 * Issue 14, input 2: a host must never pause itself on a state it made. A
 * refused push (a pre-receive hook here; a permission error on the remote
 * is the same to jj) used to leave the rewritten commits and a moved `main`
 * behind: the next fetch turned `main` into `main??` and a `chezmoi add`
 * made the rewritten line look like a working copy a person had moved, so
 * every later sync exited 1 "sync paused" and nothing left or reached h1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import {
  chezmoiArgs,
  jjIn,
  makeHost,
  makeRemote,
  readHome,
  refusePushes,
  remoteTree,
  snapshotDirs,
  sync,
  syncExpect,
  traceCheckpoints,
} from './fixture.js';

afterAll(removeTempDirs);

describe('a refused push', () => {
  it('is reported with the remote reason, leaves no unpushed rewrite, and the next sync that can push pushes', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\na2\n', dot_beta: 'b1\n' });
    const a = await makeHost(remote, 'h1');
    const b = await makeHost(remote, 'h2');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    // h2 moves main first, so h1's integration really rewrites its commit.
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-h2\n');
    await syncExpect(b, 0);
    const counter = await refusePushes(remote, 1);
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-h1\n');
    const refused = await syncExpect(a, 1);
    expect(refused.json?.['kind']).toBe('push-failed');
    expect(String(refused.json?.['message'])).toContain('pre-receive hook declined');
    expect(String(refused.json?.['message'])).toContain('closed for maintenance');
    expect((await readFile(counter, 'utf8')).trim()).toBe('0');
    // No moved local main is left to conflict with the remote later.
    expect(await jjIn(a, ['bookmark', 'list', 'main', '-T', 'name ++ if(conflict, "??", "") ++ "\\n"'])).toBe('main\n');
    // The person adds a file; h2 pushes again meanwhile.
    await writeFile(join(a.home, '.newrc'), 'new1\n');
    await run('chezmoi', [...chezmoiArgs(a), 'add', join(a.home, '.newrc')]);
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-h2\nB3-from-h2\n');
    await syncExpect(b, 0);
    const back = await syncExpect(a, 0);
    expect(back.json?.['pushed']).toEqual(['main']);
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-from-h1\n');
    expect(main.get('dot_newrc')).toBe('new1\n');
    expect(main.get('dot_beta')).toBe('b1\nB2-from-h2\nB3-from-h2\n');
    expect(await readHome(a, '.beta')).toBe('b1\nB2-from-h2\nB3-from-h2\n');
    await syncExpect(b, 0);
    expect(await readHome(b, '.newrc')).toBe('new1\n');
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-from-h1\n');
  }, 600_000);

  it('cut off right after the refusal, the state it leaves is repaired by the next sync, not paused on', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\na2\n', dot_beta: 'b1\n' });
    const a = await makeHost(remote, 'h1');
    const b = await makeHost(remote, 'h2');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-h2\n');
    await syncExpect(b, 0);
    await refusePushes(remote, 1);
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-h1\n');
    const put = await snapshotDirs([remote.dir, a.root]);
    const trace = join(a.root, '..', `${a.name}-refused-trace.jsonl`);
    await syncExpect(a, 1, { GITOPSD_TRACE: trace });
    const points = await traceCheckpoints(trace);
    const push = points.find((p) => p.cmd === 'jj' && p.args?.includes('push'));
    expect(push).toBeDefined();
    await put();
    // Killed at the step after the refused push: the rewritten commits and
    // the moved main stay, as an earlier version left them.
    const killed = await sync(a, { env: { GITOPSD_FAULT_KILL_AT: String((push?.n ?? 0) + 1) } });
    expect(killed.exitCode).toBe(-1);
    const moved = await jjIn(a, ['log', '--no-graph', '-r', 'main', '-T', 'description.first_line()']);
    expect(moved).toMatch(/^sync\(h1\)/);
    await writeFile(join(a.home, '.newrc'), 'new1\n');
    await run('chezmoi', [...chezmoiArgs(a), 'add', join(a.home, '.newrc')]);
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-h2\nB3-from-h2\n');
    await syncExpect(b, 0);
    const back = await syncExpect(a, 0);
    expect(back.json?.['pushed']).toEqual(['main']);
    const main = await remoteTree(remote);
    expect(main.get('dot_alpha')).toBe('a1\nA2-from-h1\n');
    expect(main.get('dot_newrc')).toBe('new1\n');
    expect(main.get('dot_beta')).toBe('b1\nB2-from-h2\nB3-from-h2\n');
    expect(await readHome(a, '.beta')).toBe('b1\nB2-from-h2\nB3-from-h2\n');
    expect(await readHome(a, '.alpha')).toBe('a1\nA2-from-h1\n');
    expect(await jjIn(a, ['log', '--no-graph', '-r', 'conflicts() | divergent()', '-T', 'change_id'])).toBe('');
  }, 600_000);

  it('a conflicted main a person made still pauses the sync', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\n' });
    const a = await makeHost(remote, 'h1');
    const b = await makeHost(remote, 'h2');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    // The person moves main by hand on h1 while h2 pushes.
    await jjIn(a, ['new', 'main', '-m', 'by hand']);
    await writeFile(join(a.src, 'dot_hand'), 'hand\n');
    await jjIn(a, ['bookmark', 'set', 'main', '-r', '@']);
    await writeFile(join(b.home, '.alpha'), 'a1\nA2-from-h2\n');
    await syncExpect(b, 0);
    await jjIn(a, ['git', 'fetch']);
    const r = await syncExpect(a, 1);
    expect(r.json?.['kind']).toBe('needs-human');
    expect(String(r.json?.['message'])).toContain('conflicted bookmarks main');
  }, 600_000);
});
