/**
 * The reader's view repository uses git's reftable ref backend
 * (src/fleet/git.ts ensureViewRepo): with the files backend a fetch read
 * every one of 1,000 loose ref files on each run. With the real git 2.55: a
 * fresh reader's view is reftable and holds no loose refs; the read after it
 * is one git process with the same rows; a changed host is read; and a view
 * left by an earlier gitopsd (files backend, no marker) is made again as
 * reftable, with the same rows, while a marked files view (a git before
 * 2.45 made it) is kept.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFile, readdir, writeFile, mkdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import {
  createBareRemote,
  git,
  hostName,
  seedRemote,
  STATUS_PREFIX,
  templateStatus,
  urlPath,
} from '../../../bench/fleet-scale.js';
import { FILES_REFS_MARKER } from '../../../src/fleet/git.js';

const N = 120;
let dir: string;
let remote: string;

beforeAll(async () => {
  dir = await tempDir('gitopsd-fleet-view-repo');
  remote = await createBareRemote(join(dir, 'status.git'));
  // A real gitopsd document (one publish), copied under each host's name.
  const template = await templateStatus(dir);
  const hosts = Array.from({ length: N }, (_, i) => hostName(i));
  await seedRemote(remote, { hosts, template, main: true, at: new Date() });
});

async function reader(name: string): Promise<{ config: string; view: string }> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  const config = join(root, 'config.json');
  const stateDir = join(root, 'state');
  await writeFile(config, JSON.stringify({ hostname: 'reader', stateDir, nixConfig: { path: join(root, 'nc') } }));
  return { config, view: join(stateDir, 'fleet', 'view.git') };
}

async function read(config: string, env: Record<string, string> = {}) {
  const r = await runCli(['fleet', 'status', '--json', '--remote', remote, '--config', config], { env });
  expect([0, 1], r.stderr).toContain(r.exitCode);
  const view = JSON.parse(r.stdout) as { hosts: { host: string; state: string; commit: string }[] };
  return { ...r, rows: view.hosts.map(({ host, state, commit }) => ({ host, state, commit })) };
}

/** The view's ref storage: `git rev-parse --show-ref-format` (git >= 2.45) and the loose ref files. */
async function refStorage(view: string): Promise<{ format: string; loose: number }> {
  const format = (await git(['--git-dir', view, 'rev-parse', '--show-ref-format'])).trim();
  const loose = (await readdir(join(view, 'refs', 'fleet', 'refs')).catch(() => [])).length;
  return { format, loose };
}

/** Host `i` publishes again at `t` (Unix seconds): a new parentless commit of the same tree. */
async function republish(i: number, t: number): Promise<string> {
  const gd = urlPath(remote);
  const ref = `${STATUS_PREFIX}${hostName(i)}`;
  const tree = (await git(['--git-dir', gd, 'rev-parse', `${ref}^{tree}`])).trim();
  const who = { name: `gitopsd (${hostName(i)})`, email: `gitopsd@${hostName(i)}`, date: `@${t} +0000` };
  const commit = (
    await git(['--git-dir', gd, 'commit-tree', tree, '-m', 'republished'], {
      env: {
        GIT_AUTHOR_NAME: who.name,
        GIT_AUTHOR_EMAIL: who.email,
        GIT_AUTHOR_DATE: who.date,
        GIT_COMMITTER_NAME: who.name,
        GIT_COMMITTER_EMAIL: who.email,
        GIT_COMMITTER_DATE: who.date,
      },
    })
  ).trim();
  await git(['--git-dir', gd, 'update-ref', ref, commit]);
  return commit;
}

describe('the reader’s view repository', () => {
  it('is reftable: no loose refs; the next read is one git process with the same rows; a change is read', async () => {
    const a = await reader('a');
    const first = await read(a.config);
    expect(first.rows).toHaveLength(N);
    expect(await refStorage(a.view)).toEqual({ format: 'reftable', loose: 0 });

    const trace = join(dir, 'again.jsonl');
    const again = await read(a.config, { GITOPSD_TRACE: trace });
    const started = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"event":"start"'))
      .map((l) => (JSON.parse(l) as { cmd: string }).cmd);
    expect(started).toEqual(['git']);
    expect(again.rows).toEqual(first.rows);

    // h0001 publishes again: a new parentless commit of the same tree.
    const gd = urlPath(remote);
    const commit = await republish(0, 1764500000);
    const changed = await read(a.config);
    expect(changed.rows.find((r) => r.host === hostName(0))?.commit).toBe(commit);
    expect(changed.rows.filter((r) => r.host !== hostName(0))).toEqual(
      first.rows.filter((r) => r.host !== hostName(0)),
    );
    // A host whose ref is deleted at the remote is pruned from the view.
    await git(['--git-dir', gd, 'update-ref', '-d', `${STATUS_PREFIX}${hostName(1)}`]);
    const pruned = await read(a.config);
    expect(pruned.rows.map((r) => r.host)).not.toContain(hostName(1));
    expect(pruned.rows).toHaveLength(N - 1);
    await git(['--git-dir', gd, 'update-ref', `${STATUS_PREFIX}${hostName(1)}`, first.rows[1]?.commit ?? '']);
  });

  it('a files view of an earlier gitopsd is made again as reftable; a marked one (an old git made it) is kept', async () => {
    const b = await reader('b');
    // As an earlier gitopsd left it: a files repository with the refs loose.
    await mkdir(join(b.view, '..'), { recursive: true });
    await git(['init', '--bare', '--quiet', b.view]);
    // (No auto-maintenance: it would pack the refs, which an earlier gitopsd never did.)
    const refspec = `+${STATUS_PREFIX}*:refs/fleet/refs/*`;
    await git(['--git-dir', b.view, 'fetch', '--quiet', '--no-tags', '--no-auto-gc', remote, refspec]);
    expect(await refStorage(b.view)).toEqual({ format: 'files', loose: N });
    const r = await read(b.config);
    expect(r.rows).toHaveLength(N);
    expect(await refStorage(b.view)).toEqual({ format: 'reftable', loose: 0 });

    const c = await reader('c');
    await git(['init', '--bare', '--quiet', c.view]);
    await writeFile(join(c.view, FILES_REFS_MARKER), 'test\n');
    const kept = await read(c.config);
    expect(kept.rows).toEqual(r.rows);
    expect((await refStorage(c.view)).format).toBe('files');
    expect((await stat(join(c.view, FILES_REFS_MARKER))).isFile()).toBe(true);
  });

  it('a corrupt object in the view: the view is made again and every status fetched anew, once; the rows are right', async () => {
    const e = await reader('e');
    await read(e.config);
    const commit = await republish(3, 1764600100);
    // Every object of the view's pack zeroed after its header: git then
    // names the corrupt object by its pack file under the view.
    const packDir = join(e.view, 'objects', 'pack');
    const packs = (await readdir(packDir)).filter((f) => f.endsWith('.pack'));
    expect(packs.length).toBeGreaterThan(0);
    for (const p of packs) {
      const bytes = await readFile(join(packDir, p));
      bytes.fill(0, 12, bytes.length - 20);
      await writeFile(join(packDir, p), bytes);
    }
    const r = await read(e.config);
    expect(r.stderr).toMatch(/the fleet reader repository is damaged: it is made again/);
    expect(r.stderr).toMatch(/is damaged \(error: .*view\.git\/objects\/pack\//);
    expect(r.rows).toHaveLength(N);
    expect(r.rows.find((x) => x.host === hostName(3))?.commit).toBe(commit);
    expect(r.rows.every((x) => x.state !== 'invalid')).toBe(true);
  });

  it('a lock a killed git left: a fresh one fails the read naming the repository (75), one older than timeouts.gitSec is removed', async () => {
    const d = await reader('d');
    await read(d.config);
    const commit = await republish(2, 1764600000);
    // git's reftable lock, as a git killed with -9 while it wrote would leave it.
    const lock = join(d.view, 'reftable', 'tables.list.lock');
    await writeFile(lock, '');
    const locked = await runCli(['fleet', 'status', '--json', '--remote', remote, '--config', d.config]);
    expect(locked.exitCode).toBe(75);
    expect(locked.stderr).toMatch(/the fleet reader's repository .*view\.git is locked \(.*cannot lock references\)/);
    expect(locked.stderr).not.toMatch(/check the URL/);
    // Older than timeouts.gitSec (the default, 300 s): no live read holds it.
    const old = new Date(Date.now() - 3600_000);
    await utimes(lock, old, old);
    const r = await read(d.config);
    expect(r.stderr).toMatch(/removed a lock file a killed git left/);
    expect(r.rows.find((x) => x.host === hostName(2))?.commit).toBe(commit);
    await expect(stat(lock)).rejects.toThrow(/ENOENT/);
  });
});
