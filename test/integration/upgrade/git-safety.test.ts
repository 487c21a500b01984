/**
 * git as root, with real git, gpg and ssh-keygen (issue 11; docs/security.md):
 * - only SSH signatures from allowed signers verify: an OpenPGP-signed tip
 *   from a key that root's GnuPG fully trusts is refused, and so are X.509
 *   and unknown signature formats, before any verification program runs;
 * - repo-local config in the nix-config checkout (core.fsmonitor,
 *   core.hooksPath and $GIT_DIR/hooks, the upload-pack, receive-pack and
 *   verification programs) never runs during an upgrade that fetches,
 *   commits, rebases, checks out and pushes, and the upgrade still works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNixConfigRepo, GIT_ENV, type NixConfigRepo } from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run, tryRun } from '../../harness/exec.js';
import { runCli } from '../../helpers/cli.js';
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

/** A shell script at `path` that records its own run as the file `markers/<name>`. */
async function markerScript(path: string, markers: string, name: string, then = ''): Promise<void> {
  await writeFile(path, `#!/bin/sh\ntouch '${join(markers, name)}'\n${then}`);
  await chmod(path, 0o755);
}

describe('signatures: SSH from an allowed signer, and nothing else', () => {
  let base: string;
  let repo: NixConfigRepo;
  let t: TestHost;
  let signers: string;
  /** A GnuPG home whose own key is ultimately trusted (gpg --quick-gen-key does that). */
  let gnupgHome: string;
  let pgpKey: string;
  let markers: string;

  /** Sets `key` in the host's checkout to a program that leaves a marker. */
  const plantPrograms = async (keys: readonly string[]): Promise<void> => {
    for (const key of keys) {
      const script = join(base, key);
      await markerScript(script, markers, key, 'exit 0\n');
      await run('git', ['-C', t.host.paths.nixConfigDir, 'config', key, script], { env: GIT_ENV });
    }
  };

  const pushHead = async (): Promise<string> => {
    await repo.push();
    return repo.head();
  };

  /** Commits generation `version`, SSH-signed with `who`'s key, committer date `date` (default now); pushes. */
  const signAs = async (who: string, version: string, date?: string): Promise<string> => {
    await repo.commitGeneration(gen(version), `${version} (signed by ${who})`, { push: false });
    await run(
      'git',
      [
        '-c',
        'gpg.format=ssh',
        '-c',
        `user.signingkey=${join(base, who)}`,
        'commit',
        '-q',
        '--amend',
        '--no-edit',
        '-S',
      ],
      { cwd: repo.workDir, env: { ...GIT_ENV, ...(date === undefined ? {} : { GIT_COMMITTER_DATE: date }) } },
    );
    return pushHead();
  };

  beforeAll(async () => {
    base = await tempDir('upgrade-sigfmt');
    for (const who of ['alice', 'carol']) {
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', join(base, who)]);
    }
    signers = join(base, 'allowed_signers');
    const pub = async (who: string): Promise<string> => (await readFile(join(base, `${who}.pub`), 'utf8')).trim();
    // carol's key was retired at the start of 2020 (ssh-keygen(1), ALLOWED SIGNERS).
    await writeFile(
      signers,
      `alice@example.org namespaces="git" ${await pub('alice')}\n` +
        `carol@example.org namespaces="git",valid-before="20200101Z" ${await pub('carol')}\n`,
    );
    gnupgHome = join(base, 'gnupg');
    await mkdir(gnupgHome, { mode: 0o700 });
    await run(
      'gpg',
      [
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--quick-gen-key',
        'Mallory <mallory@example.org>',
        'ed25519',
        'sign',
        'never',
      ],
      { env: { GNUPGHOME: gnupgHome } },
    );
    const keys = await run('gpg', ['--list-secret-keys', '--with-colons'], { env: { GNUPGHOME: gnupgHome } });
    pgpKey = /^fpr:+([0-9A-F]{40}):/m.exec(keys.stdout)?.[1] ?? '';
    expect(pgpKey).toMatch(/^[0-9A-F]{40}$/);

    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
    await run(
      'git',
      [
        '-c',
        'gpg.format=ssh',
        '-c',
        `user.signingkey=${join(base, 'alice')}`,
        'commit',
        '-q',
        '--amend',
        '--no-edit',
        '-S',
      ],
      { cwd: repo.workDir, env: GIT_ENV },
    );
    await repo.push({ force: true });
    t = await makeHost(repo, {
      name: 'hosta',
      label: 'sigfmt',
      overrides: { nixConfig: { allowedSignersFile: signers } },
    });
    const first = await upgrade(t);
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);

    // The checkout's own config names the X.509 and SSH verification
    // programs; neither may ever run. (The OpenPGP ones are planted after the
    // OpenPGP test: there, gpg itself must be the program git would run.)
    markers = join(base, 'markers');
    await mkdir(markers);
    await plantPrograms(['gpg.x509.program', 'gpg.ssh.program']);
  });

  it("an OpenPGP-signed tip is refused (exit 6) although root's GnuPG trusts the key, and nothing is built", async () => {
    await repo.commitGeneration(gen('v2'), 'v2 (signed with OpenPGP)', { push: false });
    await run(
      'git',
      ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${pgpKey}`, 'commit', '-q', '--amend', '--no-edit', '-S'],
      { cwd: repo.workDir, env: { ...GIT_ENV, GNUPGHOME: gnupgHome } },
    );
    const tip = await pushHead();
    expect(await gitOut(repo.workDir, ['cat-file', 'commit', tip])).toMatch(/^gpgsig -----BEGIN PGP SIGNATURE-----$/m);
    // The control: git on its own, with root's GnuPG home, accepts this
    // signature (gpg's backend is chosen from the signature, whatever
    // gpg.ssh.allowedSignersFile says). This is what gitopsd must not do.
    const plain = await tryRun(
      'git',
      ['-C', repo.workDir, '-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', tip],
      { env: { ...GIT_ENV, GNUPGHOME: gnupgHome } },
    );
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/Good signature from "Mallory <mallory@example.org>" \[ultimate\]/);

    const deployed = await checkoutHead(t);
    const gens = await t.host.generations();
    const r = await upgrade(t, [], { GNUPGHOME: gnupgHome });
    expect(r.exitCode, r.stderr + r.stdout).toBe(6);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `the signature of the remote tip ${tip.slice(0, 12)} is not good or not from an allowed signer (it is an OpenPGP signature, and only SSH signatures are accepted); push a commit signed by a key in nixConfig.allowedSignersFile`,
    );
    expect(nixCommands(r.commands)).toEqual([]);
    // No verification ran at all: the format check refused first.
    expect(r.commands.filter((c) => c.includes('verify-commit'))).toEqual([]);
    expect(await readdir(markers)).toEqual([]);
    expect(await t.host.generations()).toEqual(gens);
    expect(await checkoutHead(t)).toBe(deployed);
    const s = await readState(t);
    expect(s.upgrade?.lastRun).toMatchObject({ result: 'refused', commit: tip, exitCode: 6 });
    expect(s.deployments?.badCommits[tip]?.reason).toBe('signature');
  });

  it.each([
    ['an X.509', '-----BEGIN SIGNED MESSAGE-----', 'an X.509 signature'],
    ['an unknown', '-----BEGIN FANCY SIGNATURE-----', 'a signature of unknown format'],
  ])('%s signature format is refused the same way, before any program looks at it', async (_what, armour, named) => {
    // A commit object with that signature header, written by hand
    // (gitformat-signature(5)): git itself would only make one with gpgsm.
    await repo.commitGeneration(gen(`v-${named.length}`), `signed with ${named}`, { push: false });
    const raw = await gitOut(repo.workDir, ['cat-file', 'commit', 'HEAD']);
    const sig = `gpgsig ${armour}\n \n AAAA\n ${armour.replace('BEGIN', 'END')}`;
    const signed = raw.replace(/^(committer .*)$/m, `$1\n${sig}`) + '\n';
    const id = (
      await run('git', ['-C', repo.workDir, 'hash-object', '-t', 'commit', '-w', '--stdin'], {
        env: GIT_ENV,
        input: signed,
      })
    ).stdout.trim();
    await run('git', ['-C', repo.workDir, 'reset', '-q', '--hard', id], { env: GIT_ENV });
    const tip = await pushHead();
    expect(tip).toBe(id);

    const r = await upgrade(t, [], { GNUPGHOME: gnupgHome });
    expect(r.exitCode, r.stderr + r.stdout).toBe(6);
    expect(r.stdout.trim()).toBe(
      `the signature of the remote tip ${tip.slice(0, 12)} is not good or not from an allowed signer (it is ${named}, and only SSH signatures are accepted); push a commit signed by a key in nixConfig.allowedSignersFile`,
    );
    expect(nixCommands(r.commands)).toEqual([]);
    expect(await readdir(markers)).toEqual([]);
    expect((await readState(t)).deployments?.badCommits[tip]?.reason).toBe('signature');
  });

  it("an SSH-signed tip from the allowed signer on top is deployed, verified by ssh-keygen, not by the repo's program", async () => {
    await plantPrograms(['gpg.program', 'gpg.openpgp.program']);
    await repo.commitGeneration(gen('v9'), 'v9 (signed by alice)', { push: false });
    await run(
      'git',
      [
        '-c',
        'gpg.format=ssh',
        '-c',
        `user.signingkey=${join(base, 'alice')}`,
        'commit',
        '-q',
        '--amend',
        '--no-edit',
        '-S',
      ],
      { cwd: repo.workDir, env: GIT_ENV },
    );
    const tip = await pushHead();
    const r = await upgrade(t, [], { GNUPGHOME: gnupgHome });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(tip);
    expect(await t.host.currentSystem()).toBe(await storePathOf(repo, 'hosta', join(base, 'v9')));
    expect(await readdir(markers)).toEqual([]);
  });

  it('valid-before is judged against the committer date, which the signer writes (docs/upgrade.md)', async () => {
    // Dated today: after carol's valid-before, refused.
    const today = await signAs('carol', 'carol-now');
    const refused = await upgrade(t);
    expect(refused.exitCode, refused.stderr + refused.stdout).toBe(6);
    expect(refused.stdout).toMatch(/is not good or not from an allowed signer/);
    expect((await readState(t)).deployments?.badCommits[today]?.reason).toBe('signature');
    // The same key, the commit dated 2019: verifies, and is deployed. Only
    // removing the key from the file (or a revocation file) stops it.
    const backdated = await signAs('carol', 'carol-old', '2019-06-01T12:00:00Z');
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(backdated);
  });

  it("a key in gpg.ssh.revocationFile of root's git config is refused, backdated or not", async () => {
    const revoked = join(base, 'revoked_keys');
    await writeFile(revoked, `${(await readFile(join(base, 'carol.pub'), 'utf8')).trim()}\n`);
    const rootConfig = join(base, 'root.gitconfig');
    await writeFile(rootConfig, `[gpg "ssh"]\n\trevocationFile = ${revoked}\n`);
    const backdated = await signAs('carol', 'carol-revoked', '2019-07-01T12:00:00Z');
    const r = await upgrade(t, [], { GIT_CONFIG_GLOBAL: rootConfig });
    expect(r.exitCode, r.stderr + r.stdout).toBe(6);
    expect(r.stdout).toMatch(/is not good or not from an allowed signer/);
    expect((await readState(t)).deployments?.badCommits[backdated]?.reason).toBe('signature');
  });
});

describe('repo-local config in the nix-config checkout never runs as root', () => {
  let base: string;
  let repo: NixConfigRepo;
  let t: TestHost;
  let markers: string;

  beforeAll(async () => {
    base = await tempDir('upgrade-repocfg');
    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
    t = await makeHost(repo, { name: 'hosta', label: 'repocfg' });
    const first = await upgrade(t);
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);

    markers = join(base, 'markers');
    await mkdir(markers);
    const dir = t.host.paths.nixConfigDir;
    const cfg = async (key: string, value: string): Promise<void> => {
      await run('git', ['-C', dir, 'config', key, value], { env: GIT_ENV });
    };
    // core.fsmonitor: a hook program git runs to refresh the index.
    await markerScript(join(base, 'fsmonitor'), markers, 'fsmonitor');
    await cfg('core.fsmonitor', join(base, 'fsmonitor'));
    // Hooks, both in $GIT_DIR/hooks and in a repo-local core.hooksPath (set
    // in the control below, after $GIT_DIR/hooks was shown to run).
    const hookNames = [
      'post-checkout',
      'reference-transaction',
      'post-commit',
      'pre-commit',
      'prepare-commit-msg',
      'post-rewrite',
      'pre-rebase',
      'pre-push',
      'post-index-change',
    ];
    await mkdir(join(base, 'hooks'));
    await mkdir(join(dir, '.git', 'hooks'), { recursive: true });
    for (const h of hookNames) {
      await markerScript(join(base, 'hooks', h), markers, `hooksPath-${h}`);
      await markerScript(join(dir, '.git', 'hooks', h), markers, `gitdir-${h}`);
    }
    // The programs git runs for a local remote, through the shell.
    await markerScript(join(base, 'upload-pack'), markers, 'upload-pack', 'exec git-upload-pack "$@"\n');
    await markerScript(join(base, 'receive-pack'), markers, 'receive-pack', 'exec git-receive-pack "$@"\n');
    await cfg('remote.origin.uploadpack', join(base, 'upload-pack'));
    await cfg('remote.origin.receivepack', join(base, 'receive-pack'));
    // And a protocol that runs a command, allowed by the repository.
    await cfg('protocol.ext.allow', 'always');
  });

  it("the planted config is live: git without gitopsd's settings runs it", async () => {
    const dir = t.host.paths.nixConfigDir;
    // A control, so the assertions below can fail: plain git in this checkout
    // runs the fsmonitor program and the hooks of $GIT_DIR/hooks, then,
    // once core.hooksPath names a directory, that directory's hooks.
    const probe = async (): Promise<void> => {
      await run('git', ['-C', dir, 'status', '--porcelain'], { env: GIT_ENV });
      await run('git', ['-C', dir, 'update-ref', 'refs/gitopsd-probe', 'HEAD'], { env: GIT_ENV });
      await run('git', ['-C', dir, 'update-ref', '-d', 'refs/gitopsd-probe'], { env: GIT_ENV });
    };
    await probe();
    await run('git', ['-C', dir, 'config', 'core.hooksPath', join(base, 'hooks')], { env: GIT_ENV });
    await probe();
    const ran = await readdir(markers);
    expect(ran).toEqual(
      expect.arrayContaining(['fsmonitor', 'gitdir-reference-transaction', 'hooksPath-reference-transaction']),
    );
    for (const m of ran) await run('rm', ['-f', join(markers, m)]);
    expect(await readdir(markers)).toEqual([]);
  });

  it('an upgrade that fetches, commits, rebases, checks out and pushes runs none of it, and deploys', async () => {
    const dir = t.host.paths.nixConfigDir;
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl, commitLocalChanges: true } });
    await writeFile(join(dir, 'local-notes.txt'), 'edited on the host\n');
    const tip = await repo.commitGeneration(gen('v2'), 'v2');
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/pushed our commits/);
    expect(await readdir(markers)).toEqual([]);
    // Every git process got the settings, before its subcommand.
    const git = r.commands.filter((c) => c[0] === 'git');
    expect(git.length).toBeGreaterThan(5);
    for (const c of git) {
      expect(c.slice(1, 5)).toEqual(['-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null']);
    }
    const subcommands = ['status', 'fetch', 'add', 'commit', 'rebase', 'push'];
    expect(git.map((c) => c.find((a) => subcommands.includes(a)))).toEqual(expect.arrayContaining(subcommands));
    const remote = await repo.remoteHead();
    expect(await gitOut(repo.remoteDir, ['rev-parse', `${remote}^`])).toBe(tip);
    expect((await readState(t)).deployments?.current?.commit).toBe(remote);
    expect(await t.host.currentSystem()).toBe(await storePathOf(repo, 'hosta', join(base, 'v2')));

    // `gitopsd status` reads the same checkout with git: nothing runs either.
    const st = await runCli(['status', '--config', t.config], { env: { ...t.host.env, TZ: 'UTC' } });
    expect(st.exitCode, st.stderr).toBe(0);
    expect(await readdir(markers)).toEqual([]);
  });
});
