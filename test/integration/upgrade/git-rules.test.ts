/**
 * The git-side rules of upgrade with real git and real SSH signatures:
 * cloning a missing checkout, allowedSignersFile (signed, unsigned,
 * untrusted), a force-pushed branch, and a dirty checkout with and without
 * commitLocalChanges.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNixConfigRepo, GIT_ENV, type NixConfigRepo } from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import {
  checkoutHead,
  gitOut,
  makeHost,
  nixCommands,
  readState,
  storePathOf,
  upgrade,
  type TestHost,
} from './fixture.js';

const gen = (version: string): { hosta: { version: string; kernelVersion: string } } => ({
  hosta: { version, kernelVersion: '6.6.1' },
});

beforeAll(requireTools);
afterAll(removeTempDirs);

describe('signatures (allowedSignersFile), and cloning a missing checkout', () => {
  let base: string;
  let repo: NixConfigRepo;
  let t: TestHost;
  let alice: string;
  let mallory: string;

  /** Re-sign the work clone's HEAD with `key` (git's own SSH signing) and push. */
  const signHeadAndPush = async (key: string, force = false): Promise<string> => {
    await run(
      'git',
      ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`, 'commit', '--quiet', '--amend', '--no-edit', '-S'],
      {
        cwd: repo.workDir,
        env: GIT_ENV,
      },
    );
    await repo.push({ force });
    return repo.head();
  };

  beforeAll(async () => {
    base = await tempDir('upgrade-sig');
    for (const who of ['alice', 'mallory']) {
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', join(base, who)]);
    }
    alice = join(base, 'alice');
    mallory = join(base, 'mallory');
    const signers = join(base, 'allowed_signers');
    await writeFile(signers, `alice@example.org namespaces="git" ${(await readFile(`${alice}.pub`, 'utf8')).trim()}\n`);
    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
    await signHeadAndPush(alice, true);
    t = await makeHost(repo, {
      name: 'hosta',
      label: 'sig',
      clone: false,
      overrides: { nixConfig: { allowedSignersFile: signers } },
    });
  });

  it('clones the missing checkout from nixConfig.url, then deploys like any other run', async () => {
    expect(existsSync(t.host.paths.nixConfigDir)).toBe(false);
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.commands.some((c) => c[0] === 'git' && c.includes('clone'))).toBe(true);
    expect(await checkoutHead(t)).toBe(await repo.remoteHead());
    expect((await readState(t)).deployments?.current?.commit).toBe(await repo.remoteHead());
  });

  it('a commit signed by an allowed signer is deployed', async () => {
    await repo.commitGeneration(gen('v2'), 'v2 (signed)', { push: false });
    const signed = await signHeadAndPush(alice);
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(signed);
    expect(await t.host.currentSystem()).toBe(await storePathOf(repo, 'hosta', join(base, 'v2')));
  });

  it('an unsigned commit is refused (exit 6), recorded, and nothing is built', async () => {
    const unsigned = await repo.commitGeneration(gen('v3'), 'v3 (unsigned)');
    const gens = await t.host.generations();
    const r = await upgrade(t);
    expect(r.exitCode).toBe(6);
    expect(r.stdout).toMatch(/is not signed.*allowedSignersFile/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect(await t.host.generations()).toEqual(gens);
    const s = await readState(t);
    expect(s.upgrade?.lastRun).toMatchObject({ result: 'refused', commit: unsigned, exitCode: 6 });
    expect(s.deployments?.badCommits[unsigned]?.reason).toBe('signature');
  });

  it('a commit signed by a key that is not allowed is refused too', async () => {
    await repo.commitGeneration(gen('v4'), 'v4 (signed by mallory)', { push: false });
    const untrusted = await signHeadAndPush(mallory);
    const r = await upgrade(t);
    expect(r.exitCode).toBe(6);
    expect(r.stdout).toMatch(/not good or not from an allowed signer/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect((await readState(t)).deployments?.badCommits[untrusted]?.reason).toBe('signature');
  });
});

describe('force-push and local changes', () => {
  let base: string;
  let repo: NixConfigRepo;
  let t: TestHost;

  beforeAll(async () => {
    base = await tempDir('upgrade-git');
    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
    t = await makeHost(repo, { name: 'hosta', label: 'git' });
    expect((await upgrade(t)).exitCode).toBe(0);
    await repo.commitGeneration(gen('v2'), 'v2');
    expect((await upgrade(t)).exitCode).toBe(0);
  });

  it('a force-pushed branch that drops the deployed commit is refused, and nothing is built', async () => {
    const deployed = await checkoutHead(t);
    await run('git', ['reset', '--quiet', '--hard', 'HEAD~1'], { cwd: repo.workDir, env: GIT_ENV });
    const rewritten = await repo.commitGeneration(gen('v3'), 'v3 on rewritten history', { push: false });
    await repo.push({ force: true });
    const r = await upgrade(t);
    expect(r.exitCode).toBe(6);
    expect(r.stdout).toMatch(/does not contain the deployed commit.*allowForcePush/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect(await checkoutHead(t)).toBe(deployed);
    // Refused again on the next run: the refusal does not wear off.
    expect((await upgrade(t)).exitCode).toBe(6);

    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl, allowForcePush: true } });
    const ok = await upgrade(t);
    expect(ok.exitCode, ok.stderr + ok.stdout).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(rewritten);
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl } });
  });

  it('a dirty checkout without commitLocalChanges is refused with the files listed, and kept', async () => {
    const deployed = await checkoutHead(t);
    await writeFile(join(t.host.paths.nixConfigDir, 'local-notes.txt'), 'edited on the host\n');
    await writeFile(
      join(t.host.paths.nixConfigDir, 'hosts.json'),
      (await readFile(join(t.host.paths.nixConfigDir, 'hosts.json'), 'utf8')) + '\n',
    );
    // Nothing new: a no-op that does not look for them (one git process);
    // nothing is checked out, built or discarded.
    const idle = await upgrade(t);
    expect(idle.exitCode, idle.stderr + idle.stdout).toBe(0);
    expect(idle.commands).toEqual([expect.arrayContaining(['git', 'fetch'])]);
    expect(await readFile(join(t.host.paths.nixConfigDir, 'local-notes.txt'), 'utf8')).toBe('edited on the host\n');
    // A new tip: they are looked for before anything changes, and refused.
    await repo.commitGeneration(gen('v4'), 'v4');
    const r = await upgrade(t);
    expect(r.exitCode).toBe(6);
    expect(r.stdout).toMatch(/local changes that gitopsd will not discard: .*hosts\.json.*local-notes\.txt/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect(await checkoutHead(t)).toBe(deployed);
    expect(await readFile(join(t.host.paths.nixConfigDir, 'local-notes.txt'), 'utf8')).toBe('edited on the host\n');
  });

  it('with commitLocalChanges: committed under the host name, rebased, activated, then pushed', async () => {
    const tip = await repo.remoteHead();
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl, commitLocalChanges: true } });
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/pushed our commits/);
    const remote = await repo.remoteHead();
    expect(remote).not.toBe(tip);
    expect(await gitOut(repo.remoteDir, ['log', '-1', '--format=%s', remote])).toBe(
      'hosta: local changes (committed by gitopsd)',
    );
    expect(await gitOut(repo.remoteDir, ['rev-parse', `${remote}^`])).toBe(tip);
    expect(await gitOut(repo.remoteDir, ['show', `${remote}:local-notes.txt`])).toBe('edited on the host');
    const s = await readState(t);
    expect(s.deployments?.current?.commit).toBe(remote);
    expect(s.upgrade?.deployedBase).toEqual({ commit: remote, base: tip });
    expect(await gitOut(t.host.paths.nixConfigDir, ['status', '--porcelain'])).toBe('');
    expect(await t.host.currentSystem()).toBe(await storePathOf(repo, 'hosta', join(base, 'v4')));

    // The pushed commit is now the remote tip: a no-op.
    const again = await upgrade(t);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/up to date/);
    expect(nixCommands(again.commands)).toEqual([]);
  });
});
