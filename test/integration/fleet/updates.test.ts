/**
 * Update branches end to end with real git, nix and ssh-keygen signatures,
 * on one bare nix-config remote (one fixture for the whole file):
 * a producer proposes flake.lock updates on update branches, a person lists
 * them (each input's old -> new revision), merges one (built here with the
 * nh shim, then one atomic push with a lease: main fast-forwarded, branch
 * gone), and the refusals: more than flake.lock, not a fast-forward,
 * unsigned where signers are configured, moved after listing (--sha).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInputRepo,
  createNixConfigRepo,
  GIT_ENV,
  type InputRepo,
  type NixConfigRepo,
} from '../../harness/nix-config.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { runCli } from '../../helpers/cli.js';
import { gitOut, makeHost, traced, type TestHost } from '../upgrade/fixture.js';

let base: string;
let input: InputRepo;
let repo: NixConfigRepo;
let t: TestHost;
let producer: string;
let key: string;
let c1: string;
let c2: string;
const v = (version: string) => ({ hosta: { version, kernelVersion: '6.6.1' } });

/** git in the producer's clone; `sign` signs the commit with alice's SSH key. */
const pg = async (args: string[], sign = false): Promise<string> =>
  (
    await run(
      'git',
      [
        '-C',
        producer,
        ...(sign ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`, '-c', 'commit.gpgsign=true'] : []),
        ...args,
      ],
      { env: GIT_ENV },
    )
  ).stdout.trim();

/** In the producer's clone: start at `from`, run `nix flake update` (plus `extra` files), commit, push to `branch`. */
async function propose(
  branch: string,
  from: string,
  opts: { sign: boolean; extra?: Record<string, string> },
): Promise<string> {
  await pg(['checkout', '--quiet', '--detach', from]);
  await run('nix', ['flake', 'update', '--flake', producer], { cwd: producer });
  for (const [f, text] of Object.entries(opts.extra ?? {})) await writeFile(join(producer, f), text);
  await pg(['add', '--all']);
  await pg(['commit', '--quiet', '-m', `flake.lock: update (${branch})`], opts.sign);
  await pg(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`]);
  return pg(['rev-parse', 'HEAD']);
}

const remoteBranches = async (): Promise<string[]> =>
  (await gitOut(repo.remoteDir, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/'])).split('\n').sort();

interface Listing {
  mainSha: string;
  updates: Array<{
    branch: string;
    sha: string;
    verdict: { kind: string; reason?: string; line?: string };
    inputs: Array<{
      input: string;
      old: { rev: string; date: string } | null;
      new: { rev: string; date: string } | null;
    }>;
  }>;
}

let listing: Listing;
let proposed: Record<string, string> = {};

beforeAll(async () => {
  await requireTools();
  base = await tempDir('updates');
  input = await createInputRepo({ dir: join(base, 'input'), value: 'input v1' });
  repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: v('v1'), input });
  c1 = await repo.head();
  c2 = await repo.commitGeneration(v('v2'), 'v2');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice', '-f', join(base, 'alice')]);
  key = join(base, 'alice');
  const signers = join(base, 'allowed_signers');
  await writeFile(signers, `alice@example.org namespaces="git" ${(await readFile(`${key}.pub`, 'utf8')).trim()}\n`);
  t = await makeHost(repo, {
    name: 'hosta',
    label: 'updates',
    overrides: { nixConfig: { allowedSignersFile: signers } },
  });
  producer = join(base, 'producer');
  await run('git', ['clone', '--quiet', repo.remoteUrl, producer], { env: GIT_ENV });

  // The producer proposes: a new upstream input revision, then four branches.
  await input.commitValue('input v2');
  proposed = {
    'update/flake-lock': await propose('update/flake-lock', c2, { sign: true }),
    'update/touches-more': await propose('update/touches-more', c2, { sign: true, extra: { 'notes.txt': 'x\n' } }),
    'update/not-ff': await propose('update/not-ff', c1, { sign: true }),
    update_flake_lock_action: await propose('update_flake_lock_action', c2, { sign: false }),
  };
});
afterAll(removeTempDirs);

describe('gitopsd updates', () => {
  it('lists each update branch with its inputs old -> new and whether it can be merged', async () => {
    const r = await traced(t, ['updates', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    listing = JSON.parse(r.stdout) as Listing;
    expect(listing.mainSha).toBe(c2);
    const by = Object.fromEntries(listing.updates.map((u) => [u.branch, u]));
    expect(Object.keys(by).sort()).toEqual(Object.keys(proposed).sort());
    expect(by['update/flake-lock']).toMatchObject({
      sha: proposed['update/flake-lock'],
      verdict: { kind: 'eligible' },
    });
    expect(by['update/touches-more']?.verdict).toMatchObject({ kind: 'refused', reason: 'touches-more' });
    expect(by['update/not-ff']?.verdict).toMatchObject({ kind: 'refused', reason: 'not-fast-forward' });
    expect(by['update_flake_lock_action']?.verdict).toMatchObject({ kind: 'refused', reason: 'unsigned' });
    // The input that changes, from both flake.lock files: a git revision and a date each.
    const change = by['update/flake-lock']?.inputs;
    expect(change?.map((c) => c.input)).toEqual(['simInput']);
    expect(change?.[0]?.old?.rev).toMatch(/^[0-9a-f]{40}$/);
    expect(change?.[0]?.new?.rev).toMatch(/^[0-9a-f]{40}$/);
    expect(change?.[0]?.new?.rev).not.toBe(change?.[0]?.old?.rev);
    expect(change?.[0]?.new?.rev).toBe(await gitOut(input.dir, ['rev-parse', 'HEAD']));
    expect(change?.[0]?.new?.date).toMatch(/^\d{4}-\d\d-\d\dT/);
    // No nix and no build to list: git only.
    expect(r.commands.every((c) => c[0] === 'git')).toBe(true);

    const text = await runCli(['updates', '--config', t.config], { env: { ...t.host.env, TZ: 'UTC' } });
    expect(text.stdout).toMatch(/simInput: [0-9a-f]{12} \(\d{4}-\d\d-\d\d\) -> [0-9a-f]{12} \(\d{4}-\d\d-\d\d\)/);
    expect(text.stdout).toContain(
      `mergeable: gitopsd updates merge update/flake-lock --sha ${proposed['update/flake-lock']?.slice(0, 12)}`,
    );
  });

  it.each([
    ['update/touches-more', /changes more than flake\.lock \(notes\.txt\)/],
    ['update/not-ff', /does not fast-forward main/],
    ['update_flake_lock_action', /is not signed, and nixConfig\.allowedSignersFile requires signed commits/],
  ])('refuses to merge %s (exit 6, one line, nothing pushed or built)', async (branch, reason) => {
    const r = await traced(t, ['updates', 'merge', branch]);
    expect(r.exitCode, r.stdout).toBe(6);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(reason)]);
    expect(r.commands.filter((c) => c[0] !== 'git')).toEqual([]);
    expect(r.commands.filter((c) => c.includes('push'))).toEqual([]);
    expect(await repo.remoteHead()).toBe(c2);
  });

  it('refuses a branch that moved after it was listed (--sha pin), then merges the new tip: main fast-forwarded, branch gone', async () => {
    const listed = proposed['update/flake-lock'] ?? '';
    await input.commitValue('input v3');
    const moved = await propose('update/flake-lock', c2, { sign: true });
    const stale = await traced(t, ['updates', 'merge', 'update/flake-lock', '--sha', listed.slice(0, 12)]);
    expect(stale.exitCode).toBe(6);
    expect(stale.stderr).toMatch(/update\/flake-lock moved since it was listed/);
    expect(await repo.remoteHead()).toBe(c2);

    const r = await traced(t, ['updates', 'merge', 'update/flake-lock', '--sha', moved]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`merged update/flake-lock: main ${c2.slice(0, 12)} -> ${moved.slice(0, 12)}`);
    // Built here, exactly that commit, with the upgrade's build (nh os build).
    expect(r.commands.filter((c) => c[0]?.endsWith('nh')).map((c) => c.slice(1, 3))).toEqual([['os', 'build']]);
    // One atomic push with a lease that moves main and deletes the branch.
    const push = r.commands.filter((c) => c.includes('push'));
    expect(push).toHaveLength(1);
    expect(push[0]).toEqual(
      expect.arrayContaining([
        '--atomic',
        `--force-with-lease=refs/heads/main:${c2}`,
        `${moved}:refs/heads/main`,
        ':refs/heads/update/flake-lock',
      ]),
    );
    expect(await repo.remoteHead()).toBe(moved);
    expect(await remoteBranches()).not.toContain('update/flake-lock');
    expect(await remoteBranches()).toContain('update/touches-more');
  });

  it('fleet status shows "update pending" in the Lock column while an update branch exists', async () => {
    const statusRemote = join(base, 'status.git');
    await run('git', ['init', '--quiet', '--bare', statusRemote], { env: GIT_ENV });
    const r = await runCli(['fleet', 'status', '--json', '--remote', statusRemote, '--config', t.config], {
      env: { ...t.host.env, TZ: 'UTC' },
    });
    const out = JSON.parse(r.stdout) as { updates: { pending: Array<{ branch: string }>; note: string | null } };
    expect(out.updates.note).toBeNull();
    expect(out.updates.pending.map((p) => p.branch).sort()).toEqual([
      'update/not-ff',
      'update/touches-more',
      'update_flake_lock_action',
    ]);
  });
});
