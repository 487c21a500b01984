/**
 * The reader keeps its status refs packed (src/fleet/git.ts,
 * PACK_LOOSE_REFS_AT): with 1,000 loose refs each fetch, even with nothing
 * new, read 1,000 ref files. With the real git: a read of 120 hosts packs
 * them; the read after it is one git process and shows the same rows; one
 * changed host leaves one loose ref (under the threshold: no pack); and a
 * pack that fails (a packed-refs.lock left by a git killed with -9) is a
 * warning, never a failed read.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
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

const N = 120;
let dir: string;
let remote: string;

beforeAll(async () => {
  dir = await tempDir('gitopsd-fleet-pack-refs');
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

const loose = async (view: string): Promise<string[]> => readdir(join(view, 'refs', 'fleet', 'refs')).catch(() => []);
const packed = async (view: string): Promise<number> =>
  (await readFile(join(view, 'packed-refs'), 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => / refs\/fleet\//.test(l)).length;

describe('the reader packs its status refs', () => {
  it('packs 120 new refs, reads them again in one git process, leaves one changed ref loose', async () => {
    const a = await reader('a');
    const first = await read(a.config);
    expect(first.rows).toHaveLength(N);
    expect({ loose: (await loose(a.view)).length, packed: await packed(a.view) }).toEqual({ loose: 0, packed: N });

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
    const ref = `${STATUS_PREFIX}${hostName(0)}`;
    const tree = (await git(['--git-dir', gd, 'rev-parse', `${ref}^{tree}`])).trim();
    const commit = (
      await git(['--git-dir', gd, 'commit-tree', tree, '-m', 'republished'], {
        env: {
          GIT_AUTHOR_NAME: 'gitopsd (h0001)',
          GIT_AUTHOR_EMAIL: 'gitopsd@h0001',
          GIT_COMMITTER_NAME: 'gitopsd (h0001)',
          GIT_COMMITTER_EMAIL: 'gitopsd@h0001',
          GIT_AUTHOR_DATE: '@1764500000 +0000',
          GIT_COMMITTER_DATE: '@1764500000 +0000',
        },
      })
    ).trim();
    await git(['--git-dir', gd, 'update-ref', ref, commit]);
    const changed = await read(a.config);
    expect(changed.rows.find((r) => r.host === hostName(0))?.commit).toBe(commit);
    expect(await loose(a.view)).toEqual([hostName(0)]);
  });

  it('a pack that fails (a stale packed-refs.lock) is a warning: the read is whole, the refs stay loose', async () => {
    const b = await reader('b');
    // The repository exists (as after an earlier read) with a lock that a
    // git killed with -9 would leave behind.
    await git(['init', '--bare', '--quiet', b.view]);
    await writeFile(join(b.view, 'packed-refs.lock'), '');
    const r = await read(b.config);
    expect(r.rows).toHaveLength(N);
    expect(r.stderr).toMatch(/status refs not packed: the next read tries again/);
    expect((await loose(b.view)).length).toBe(N);
  });
});
