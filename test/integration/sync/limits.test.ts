/**
 * Issue 14, inputs 4, 5 and 6: jj's and chezmoi's own limits and semantics.
 * - A new file over jj's snapshot.max-new-file-size was silently left out
 *   (exit 0, "pushed main"): now the limit comes from dotfiles.maxNewFileSize
 *   (default 16 MiB), and a file over it is listed as waiting (exit 1).
 * - A target that became ignored (.chezmoiignore) was deleted from $HOME on
 *   the other hosts as "deleted on another host": chezmoi leaves ignored
 *   targets alone, and so does the sync.
 * - An unreachable .chezmoiexternal failed every `chezmoi status`, so no
 *   edit was captured: now externals apply on their own, after everything
 *   else, and a failure is reported with exit 75.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import { chezmoiArgs, makeHost, makeRemote, readHome, remoteTree, syncExpect } from './fixture.js';

afterAll(removeTempDirs);

describe('file size limit of new files', () => {
  it('a 1.5 MiB file syncs under the default limit; one over a lower limit is reported with its size', async () => {
    const remote = await makeRemote({ dot_plain: 'p1\n' });
    const a = await makeHost(remote, 'h1');
    const b = await makeHost(remote, 'h2', { extra: { maxNewFileSize: 100_000 } });
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    // Over jj's own 1 MiB default, under the sync's default of 16 MiB.
    const big = randomBytes(1_500_000).toString('base64');
    await writeFile(join(a.home, '.big'), big);
    await run('chezmoi', [...chezmoiArgs(a), 'add', join(a.home, '.big')]);
    const ok = await syncExpect(a, 0);
    expect(ok.json?.['pushed']).toEqual(['main']);
    expect((await remoteTree(remote)).get('dot_big')).toBe(big);
    // h2 allows 100,000 bytes for new files: its own new file waits, loudly.
    const huge = randomBytes(150_000).toString('base64');
    await writeFile(join(b.home, '.huge'), huge);
    await run('chezmoi', [...chezmoiArgs(b), 'add', join(b.home, '.huge')]);
    await writeFile(join(b.home, '.plain'), 'p1\np2-from-h2\n');
    const r = await syncExpect(b, 1);
    expect(r.json?.['kind']).toBe('edits-waiting');
    const unc = r.json?.['uncapturable'] as { target: string; code: string; why: string }[];
    expect(unc).toHaveLength(1);
    expect(unc[0]).toMatchObject({ target: '.huge', code: 'L' });
    expect(unc[0]?.why).toContain(`dot_huge is ${huge.length} bytes, over the 100000-byte limit`);
    expect(unc[0]?.why).toContain('dotfiles.maxNewFileSize');
    // Everything else went through, including the large file from h1.
    expect((await remoteTree(remote)).get('dot_plain')).toBe('p1\np2-from-h2\n');
    expect((await remoteTree(remote)).has('dot_huge')).toBe(false);
    expect(await readHome(b, '.big')).toBe(big);
    const st = await runCli(['sync', 'status', '--config', b.config]);
    expect(st.stdout).toContain('not captured: .huge (L): dot_huge is');
  }, 600_000);
});

describe('.chezmoiignore', () => {
  it('a target that becomes ignored is never deleted on the other hosts', async () => {
    const remote = await makeRemote({ dot_plain: 'p1\n', dot_hostnote: 'note\n' });
    const a = await makeHost(remote, 'h1');
    const b = await makeHost(remote, 'h2');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    expect(await readHome(b, '.hostnote')).toBe('note\n');
    await writeFile(join(a.src, '.chezmoiignore'), '.hostnote\n');
    await syncExpect(a, 0);
    expect((await remoteTree(remote)).get('.chezmoiignore')).toBe('.hostnote\n');
    const r = await syncExpect(b, 0);
    expect(r.json?.['removed']).toEqual([]);
    expect(await readHome(b, '.hostnote')).toBe('note\n');
    expect(await readHome(a, '.hostnote')).toBe('note\n');
  }, 600_000);
});

describe('.chezmoiexternal', () => {
  it('an unreachable external is reported with 75 and blocks no capture', async () => {
    const remote = await makeRemote({
      dot_plain: 'p1\n',
      // Port 9 (discard) on loopback: nothing listens, the connection is refused.
      '.chezmoiexternal.toml': '[".ext"]\n  type = "file"\n  url = "http://127.0.0.1:9/ext"\n',
    });
    const a = await makeHost(remote, 'h1');
    const b = await makeHost(remote, 'h2');
    const first = await syncExpect(a, 75);
    expect(first.json?.['kind']).toBe('externals-unreachable');
    expect(String(first.json?.['message'])).toContain('connection refused');
    expect(await readHome(a, '.plain')).toBe('p1\n');
    await writeFile(join(a.home, '.plain'), 'p1\np2-from-h1\n');
    const r = await syncExpect(a, 75);
    expect(r.json?.['pushed']).toEqual(['main']);
    expect((await remoteTree(remote)).get('dot_plain')).toBe('p1\np2-from-h1\n');
    await syncExpect(b, 75);
    expect(await readHome(b, '.plain')).toBe('p1\np2-from-h1\n');
  }, 600_000);
});
