import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { removeTempDirs } from '../../harness/temp.js';
import {
  chezmoiArgs,
  makeHost,
  makeRemote,
  makeUserHost,
  readHome,
  remoteHistoryText,
  remoteTree,
  syncExpect,
  syncStoppedAt,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

describe('offline and back', () => {
  it('keeps the local commit while the remote is unreachable (75) and pushes it when it returns', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\n' });
    const a = await makeHost(remote, 'hosta');
    const b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-offline\n');
    const away = `${remote.url}.away`;
    await rename(remote.url, away);
    const r = await syncExpect(a, 75);
    expect(r.json?.['kind']).toBe('offline');
    // A second offline run neither loses nor duplicates the commit.
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-offline\nA3-offline\n');
    await syncExpect(a, 75);
    await rename(away, remote.url);
    const back = await syncExpect(a, 0);
    expect(back.json?.['pushed']).toEqual(['main']);
    expect((await remoteTree(remote)).get('dot_alpha')).toBe('a1\nA2-offline\nA3-offline\n');
    await syncExpect(b, 0);
    expect(await readHome(b, '.alpha')).toBe('a1\nA2-offline\nA3-offline\n');
  });
});

describe('templates, secrets, deletions and what re-add cannot capture', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;
  let secretFile: string;

  it('renders a template that includes a secret; the secret never enters the repository', async () => {
    remote = await makeRemote({ dot_alpha: 'a1\n', dot_beta: 'b1\n', dot_gamma: 'g1\n' });
    // The same path on every host, like /run/secrets/x from sops-nix.
    await mkdir(join(remote.dir, 'run-secrets'), { recursive: true });
    secretFile = join(remote.dir, 'run-secrets', 'token');
    await writeFile(secretFile, 's3cr3t-value');
    const seed = join(remote.dir, 'seed');
    await writeFile(join(seed, 'dot_secretrc.tmpl'), `token={{ include "${secretFile}" }}\n`);
    await run('git', ['-C', seed, 'add', '-A']);
    await run('git', ['-C', seed, '-c', 'user.name=s', '-c', 'user.email=s@s', 'commit', '-qm', 'template']);
    await run('git', ['-C', seed, 'push', '-q', remote.url, 'main']);
    a = await makeHost(remote, 'hosta');
    b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    expect(await readHome(a, '.secretrc')).toBe('token=s3cr3t-value\n');
    await writeFile(join(a.home, '.alpha'), 'a1\nA2\n');
    await syncExpect(a, 0);
    expect(await remoteHistoryText(remote)).not.toContain('s3cr3t-value');
  });

  it('reports an edit to a rendered template and a deletion in $HOME as waiting (exit 1), and leaves both alone', async () => {
    await writeFile(join(a.home, '.secretrc'), 'token=s3cr3t-value\nedited-by-hand\n');
    await rm(join(a.home, '.gamma'));
    // Issue 14: an edit that cannot reach the remote is never an exit 0.
    const r = await syncExpect(a, 1);
    expect(r.json?.['kind']).toBe('edits-waiting');
    expect(String(r.json?.['message'])).toContain('.gamma, .secretrc');
    const unc = r.json?.['uncapturable'] as { target: string; code: string; why: string }[];
    expect(unc.map((u) => `${u.code} ${u.target}`).sort()).toEqual(['D .gamma', 'M .secretrc']);
    expect(unc.find((u) => u.target === '.secretrc')?.why).toContain('rendered from the template dot_secretrc.tmpl');
    expect(unc.find((u) => u.target === '.secretrc')?.why).toContain('chezmoi edit ~/.secretrc');
    expect(await readHome(a, '.secretrc')).toBe('token=s3cr3t-value\nedited-by-hand\n');
    expect(await readHome(a, '.gamma')).toBeNull();
    expect(await remoteHistoryText(remote)).not.toContain('s3cr3t-value');
    expect(await remoteHistoryText(remote)).not.toContain('edited-by-hand');
    expect((await remoteTree(remote)).get('dot_gamma')).toBe('g1\n');
    // The person takes both back; the sync is clean again.
    await writeFile(join(a.home, '.secretrc'), 'token=s3cr3t-value\n');
    await writeFile(join(a.home, '.gamma'), 'g1\n');
    const clean = await syncExpect(a, 0);
    expect(clean.json?.['uncapturable']).toEqual([]);
  });

  it('propagates a deletion made with chezmoi destroy to the other hosts', async () => {
    await run('chezmoi', [...chezmoiArgs(b), 'destroy', '--force', join(b.home, '.beta')]);
    await syncExpect(b, 0);
    expect((await remoteTree(remote)).has('dot_beta')).toBe(false);
    expect(await readHome(a, '.beta')).toBe('b1\n');
    await syncExpect(a, 0);
    expect(await readHome(a, '.beta')).toBeNull();
  });

  it('a file deleted on another host and edited here while the sync integrates keeps the edit and waits for the person (review 13b, D2, W1)', async () => {
    const r = await makeRemote({ dot_alpha: 'a1\n', dot_gamma: 'g1\n' });
    const h1 = await makeHost(r, 'h1');
    const h2 = await makeHost(r, 'h2');
    await syncExpect(h1, 0);
    await syncExpect(h2, 0);
    await run('chezmoi', [...chezmoiArgs(h1), 'destroy', '--force', join(h1.home, '.gamma')]);
    await syncExpect(h1, 0);
    // After h2's capture, before its snapshot of the files $HOME agrees on:
    // the edit was hashed as agreeing and apply deleted it, exit 0 (D2).
    const res = await syncStoppedAt(h2, 'cmd:chezmoi managed', () =>
      writeFile(join(h2.home, '.gamma'), 'g1\nedited-on-h2\n'),
    );
    expect(await readHome(h2, '.gamma')).toBe('g1\nedited-on-h2\n');
    // Kept, but no longer managed: it waits, reported, on this sync and the
    // next (W1: exit 0 and `uncapturable: []` both times).
    const waiting = (out: string): unknown => (JSON.parse(out) as { uncapturable: unknown }).uncapturable;
    const orphan = [{ target: '.gamma', code: 'O', why: expect.stringContaining('chezmoi add ~/.gamma') as unknown }];
    expect(res.exitCode, res.stderr).toBe(1);
    expect(waiting(res.stdout)).toEqual(orphan);
    const again = await syncExpect(h2, 1);
    expect(again.json?.['kind']).toBe('edits-waiting');
    expect(again.json?.['uncapturable']).toEqual(orphan);
    // The advice works: the edit reaches the remote and the wait ends.
    await run('chezmoi', [...chezmoiArgs(h2), 'add', join(h2.home, '.gamma')]);
    expect((await syncExpect(h2, 0)).json?.['uncapturable']).toEqual([]);
    expect((await remoteTree(r)).get('dot_gamma')).toBe('g1\nedited-on-h2\n');
  }, 600_000);

  it('a new file added with chezmoi add reaches the other host', async () => {
    await writeFile(join(a.home, '.delta'), 'd1\n');
    await run('chezmoi', [...chezmoiArgs(a), 'add', join(a.home, '.delta')]);
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    expect(await readHome(b, '.delta')).toBe('d1\n');
  });
});

describe('privileges', () => {
  it("run as root for a dotfiles user, every file in $HOME, the source dir and the sync dir stays the user's", async () => {
    const user = 'gitopsd-dot';
    const remote = await makeRemote({ dot_alpha: 'a1\n' });
    const h = await makeUserHost(remote, 'hostu', user);
    const home = h.home;
    await syncExpect(h, 0);
    await writeFile(join(home, '.alpha'), 'a1\nA2-user\n');
    await syncExpect(h, 0);
    expect((await remoteTree(remote)).get('dot_alpha')).toBe('a1\nA2-user\n');
    const rootOwned = await run('find', [home, join(h.stateDir, 'sync'), '-uid', '0']);
    const inSyncDir = rootOwned.stdout.split('\n').filter((l) => l !== '' && !l.startsWith(home));
    // The sync dir itself is the user's; files root writes there (state,
    // lock) are replaced by the user's atomic writes, so only the dir matters.
    expect(rootOwned.stdout.split('\n').filter((l) => l.startsWith(home))).toEqual([]);
    expect(inSyncDir).not.toContain(join(h.stateDir, 'sync'));
  });
});
