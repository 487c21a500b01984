/**
 * Issue 14, inputs 4, 5, 6 and 7: jj's and chezmoi's own limits and semantics.
 * - A new file over jj's snapshot.max-new-file-size was silently left out
 *   (exit 0, "pushed main"): now the limit comes from dotfiles.maxNewFileSize
 *   (default 16 MiB), and a file over it is listed as waiting (exit 1).
 * - A target that became ignored (.chezmoiignore) was deleted from $HOME on
 *   the other hosts as "deleted on another host": chezmoi leaves ignored
 *   targets alone, and so does the sync.
 * - An unreachable .chezmoiexternal failed every `chezmoi status`, so no
 *   edit was captured: now externals apply on their own, after everything
 *   else, and a failure is reported with exit 75.
 * - With chezmoi's own git.autoCommit/autoPush on, every captured edit first
 *   cost a failed run ("chezmoi: git: exit status 128"): the sync's re-add
 *   now runs with them off.
 * - A retargeted symlink was reported as a template: it now says to record
 *   the new target with chezmoi add, which then syncs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import { chezmoiArgs, makeHost, makeRemote, readHome, remoteTree, syncExpect } from './fixture.js';

afterAll(removeTempDirs);

describe('file size limit of new files', () => {
  it('a new file over dotfiles.maxNewFileSize waits with its size and the limit; raising the limit syncs it', async () => {
    // A 64 KiB limit, far under jj's own 1 MiB default: a refusal proves the
    // configured value reaches jj (snapshot.max-new-file-size), and nothing
    // large is written (the default, 16 MiB, is a config default).
    const limit = 64 * 1024;
    const remote = await makeRemote({ dot_plain: 'p1\n' });
    const a = await makeHost(remote, 'h1', { extra: { maxNewFileSize: limit } });
    await syncExpect(a, 0);
    // 52,500 random bytes in base64: 70,000 bytes, just over the limit.
    const huge = randomBytes(52_500).toString('base64');
    expect(huge.length).toBe(70_000);
    await writeFile(join(a.home, '.huge'), huge);
    await run('chezmoi', [...chezmoiArgs(a), 'add', join(a.home, '.huge')]);
    await writeFile(join(a.home, '.plain'), 'p1\np2-from-h1\n');
    const r = await syncExpect(a, 1);
    expect(r.json?.['kind']).toBe('edits-waiting');
    expect(String(r.json?.['message'])).toContain('did not reach origin/main (.huge)');
    const unc = r.json?.['uncapturable'] as { target: string; code: string; why: string }[];
    expect(unc).toHaveLength(1);
    expect(unc[0]).toMatchObject({ target: '.huge', code: 'L' });
    expect(unc[0]?.why).toContain(`dot_huge is 70000 bytes, over the ${limit}-byte limit`);
    expect(unc[0]?.why).toContain('dotfiles.maxNewFileSize');
    // Everything else went through; the remote does not have the file.
    const tree = await remoteTree(remote);
    expect(tree.get('dot_plain')).toBe('p1\np2-from-h1\n');
    expect(tree.has('dot_huge')).toBe(false);
    const st = await runCli(['sync', 'status', '--config', a.config]);
    expect(st.stdout).toContain('not captured: .huge (L): dot_huge is 70000 bytes');
    // The fix the message gives: raise the limit. The next sync takes the file.
    const cfg = JSON.parse(await readFile(a.config, 'utf8')) as { dotfiles: Record<string, unknown> };
    cfg.dotfiles['maxNewFileSize'] = 2 * limit;
    await writeFile(a.config, JSON.stringify(cfg));
    const ok = await syncExpect(a, 0);
    expect(ok.json?.['pushed']).toEqual(['main']);
    expect(ok.json?.['uncapturable']).toEqual([]);
    expect((await remoteTree(remote)).get('dot_huge')).toBe(huge);
    // Another host with the default limit receives it.
    const b = await makeHost(remote, 'h2');
    await syncExpect(b, 0);
    expect(await readHome(b, '.huge')).toBe(huge);
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

describe("chezmoi's git.autoCommit and autoPush", () => {
  it("are off for the sync's own re-add: the first sync after an edit pushes it, with the user's chezmoi state", async () => {
    const remote = await makeRemote({ dot_plain: 'p1\n' });
    const a = await makeHost(remote, 'h1');
    const userConfig = '[git]\n  autoCommit = true\n  autoPush = true\n[data]\n  n = 3\n';
    await writeFile(a.chezmoiConfig, userConfig);
    await syncExpect(a, 0);
    await writeFile(join(a.home, '.plain'), 'p1\np2-from-h1\n');
    const r = await syncExpect(a, 0);
    expect(r.json?.['pushed']).toEqual(['main']);
    expect((await remoteTree(remote)).get('dot_plain')).toBe('p1\np2-from-h1\n');
    // Only the sync's commit on top of the seed: chezmoi committed nothing of its own ("Update .plain").
    const log = await run('git', ['--git-dir', remote.url, 'log', '--format=%s', 'main']);
    expect(log.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^sync\(h1\): /), 'seed']);
    // re-add kept the user's own persistent state: chezmoi, with the user's config, sees nothing to do.
    expect((await run('chezmoi', [...chezmoiArgs(a), 'status'])).stdout).toBe('');
    expect(await readFile(a.chezmoiConfig, 'utf8')).toBe(userConfig);
  }, 600_000);
});

describe('a retargeted symlink', () => {
  it('waits with the command that records it (chezmoi add), and that command makes it sync', async () => {
    const remote = await makeRemote({ symlink_dot_lnk: '.a\n', dot_a: 'A\n', dot_b: 'B\n' });
    const a = await makeHost(remote, 'h1');
    await syncExpect(a, 0);
    const lnk = join(a.home, '.lnk');
    expect(await readlink(lnk)).toBe('.a');
    await rm(lnk);
    await symlink('.b', lnk);
    const r = await syncExpect(a, 1);
    expect(r.json?.['kind']).toBe('edits-waiting');
    const unc = r.json?.['uncapturable'] as { target: string; code: string; why: string }[];
    expect(unc).toEqual([
      {
        target: '.lnk',
        code: 'M',
        why: expect.stringContaining('record the new target with "chezmoi add ~/.lnk"') as unknown,
      },
    ]);
    // Neither pushed nor undone by apply.
    expect((await remoteTree(remote)).get('symlink_dot_lnk')).toBe('.a\n');
    expect(await readlink(lnk)).toBe('.b');
    // The advice works: chezmoi add, and the next sync pushes the new target.
    await run('chezmoi', [...chezmoiArgs(a), 'add', lnk]);
    const ok = await syncExpect(a, 0);
    expect(ok.json?.['pushed']).toEqual(['main']);
    expect((await remoteTree(remote)).get('symlink_dot_lnk')).toBe('.b\n');
    const b = await makeHost(remote, 'h2');
    await syncExpect(b, 0);
    expect(await readlink(join(b.home, '.lnk'))).toBe('.b');
  }, 600_000);
});
