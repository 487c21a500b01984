/**
 * Promote and halt markers with the real git and ssh-keygen: a marker signed
 * by an allowed signer counts; a forged one (unsigned, another key, a
 * marker.json that names another commit) is ignored with its reason.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDeps, type Deps } from '../../../src/core/deps.js';
import { loadConfig } from '../../../src/core/config.js';
import { readMarkers, writeMarker } from '../../../src/fleet/rollout/markers.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';

const C = '1'.repeat(40);
const D = '2'.repeat(40);
let dir: string;
let remote: string;
let signers: string;
let deps: Deps;
const key = (n: string): string => join(dir, `${n}_ed25519`);

beforeAll(async () => {
  dir = await tempDir('gitopsd-markers');
  for (const n of ['alice', 'mallory'])
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', n, '-f', key(n)]);
  signers = join(dir, 'allowed_signers');
  const pub = (await readFile(`${key('alice')}.pub`, 'utf8')).trim();
  await writeFile(signers, `alice namespaces="git" ${pub}\n`);
  remote = join(dir, 'status.git');
  await run('git', ['init', '-q', '--bare', remote]);
  const config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({ hostname: 'a0', stateDir: join(dir, 'state'), nixConfig: { path: join(dir, 'nc') } }),
  );
  deps = buildDeps({ configPath: config, config: loadConfig(config, 'a0'), env: {} });
});
afterAll(removeTempDirs);

const t = { timeoutMs: 60_000 };

describe('rollout markers', () => {
  it('a promote signed by an allowed key counts; a halt signed by another key is ignored', async () => {
    const at = new Date('2026-03-02T05:00:00Z');
    const p = await writeMarker(deps, {
      ...t,
      remote,
      action: 'promote',
      commit: C,
      reason: 'tested by hand',
      at,
      signingKey: key('alice'),
      who: 'alice',
    });
    expect(p.ref).toBe(`refs/gitopsd/rollout/promote/${C}`);
    await writeMarker(deps, {
      ...t,
      remote,
      action: 'halt',
      commit: C,
      reason: 'forged',
      at,
      signingKey: key('mallory'),
      who: 'mallory',
    });
    const r = await readMarkers(deps, { ...t, remote, allowedSignersFile: signers });
    expect(r.markers).toEqual([{ action: 'promote', commit: C, signer: 'alice', at: at.toISOString() }]);
    expect(r.ignored).toEqual([
      { ref: `refs/gitopsd/rollout/halt/${C}`, why: 'signed by a key that is not in the allowed signers file' },
    ]);
  });

  it('an unsigned marker, or one whose marker.json names another commit, is ignored', async () => {
    // Forged by hand with plain git: an unsigned commit, and a signed one under another commit's ref.
    const work = join(dir, 'forge');
    await run('git', ['init', '-q', work]);
    await writeFile(
      join(work, 'marker.json'),
      JSON.stringify({ v: 1, action: 'promote', commit: D, at: '2026-03-02T05:00:00Z' }),
    );
    await run('git', ['-C', work, 'add', 'marker.json']);
    const env = { GIT_AUTHOR_NAME: 'm', GIT_AUTHOR_EMAIL: 'm@x', GIT_COMMITTER_NAME: 'm', GIT_COMMITTER_EMAIL: 'm@x' };
    await run('git', ['-C', work, 'commit', '-q', '-m', 'forged'], { env });
    await run('git', ['-C', work, 'push', '-q', remote, `HEAD:refs/gitopsd/rollout/promote/${D}`]);
    await run(
      'git',
      [
        '-C',
        work,
        '-c',
        'gpg.format=ssh',
        '-c',
        `user.signingKey=${key('alice')}`,
        'commit',
        '-q',
        '-S',
        '--amend',
        '-m',
        'resigned',
      ],
      { env },
    );
    await run('git', ['-C', work, 'push', '-q', remote, `HEAD:refs/gitopsd/rollout/halt/${D}`]);
    const r = await readMarkers(deps, { ...t, remote, allowedSignersFile: signers });
    expect(r.markers.map((m) => `${m.action} ${m.commit}`)).toEqual([`promote ${C}`]);
    expect(r.ignored).toContainEqual({ ref: `refs/gitopsd/rollout/promote/${D}`, why: 'not signed' });
    expect(r.ignored).toContainEqual({
      ref: `refs/gitopsd/rollout/halt/${D}`,
      why: `marker.json says promote ${D.slice(0, 12)}, its ref says halt ${D.slice(0, 12)}`,
    });
  });

  it('with no allowed signers configured no marker counts', async () => {
    const r = await readMarkers(deps, { ...t, remote, allowedSignersFile: null });
    expect(r.markers).toEqual([]);
    expect(r.ignored.every((x) => /no allowed signers configured/.test(x.why))).toBe(true);
  });

  it('an unreadable remote is temporary (75)', async () => {
    await expect(
      readMarkers(deps, { ...t, remote: join(dir, 'nope.git'), allowedSignersFile: signers }),
    ).rejects.toMatchObject({
      kind: 'temporary',
    });
  });
});
