/**
 * `gitopsd fleet promote|halt <commit>` through the built CLI with the real
 * git and ssh-keygen: the signed marker lands at the status remote and
 * counts for the hosts (readMarkers, as the gate reads it); the refusals
 * (no signing key, an unknown commit, a key the hosts do not trust) are one
 * line with their exit code, and push nothing.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDeps } from '../../../src/core/deps.js';
import { loadConfig } from '../../../src/core/config.js';
import { readMarkers } from '../../../src/fleet/rollout/markers.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';
import { remoteRefs } from '../fleet/fixture.js';

const ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
const NOW = '2026-12-01T05:00:00.000Z';
let dir: string;
let config: string;
let remote: string;
let signers: string;
let commit: string;
const key = (n: string): string => join(dir, `${n}_ed25519`);
const gitopsd = (args: string[]) =>
  runCli([...args, '--config', config], { env: { GITOPSD_TEST_NOW: NOW, USER: 'alice' } });

beforeAll(async () => {
  dir = await tempDir('gitopsd-promote-halt');
  for (const n of ['alice', 'mallory'])
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', n, '-f', key(n)]);
  signers = join(dir, 'allowed_signers');
  const pub = (await readFile(`${key('alice')}.pub`, 'utf8')).trim();
  await writeFile(signers, `alice namespaces="git" ${pub}\n`);
  remote = join(dir, 'status.git');
  await run('git', ['init', '-q', '--bare', remote]);
  const checkout = join(dir, 'nix-config');
  await mkdir(checkout);
  await run('git', ['init', '-q', '-b', 'main', checkout]);
  await run('git', ['-C', checkout, 'commit', '-q', '--allow-empty', '-m', 'v2'], { env: ENV });
  commit = (await run('git', ['-C', checkout, 'rev-parse', 'HEAD'])).stdout.trim();
  config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      hostname: 'ops',
      stateDir: join(dir, 'state'),
      nixConfig: { path: checkout, allowedSignersFile: signers },
      fleet: { statusRemote: remote },
    }),
  );
});
afterAll(removeTempDirs);

describe('gitopsd fleet promote / halt', () => {
  it('no --signing-key: exit 64, one line, nothing pushed', async () => {
    const r = await gitopsd(['fleet', 'halt', commit.slice(0, 10)]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr.trim().split('\n')).toEqual([
      "gitopsd: no signing key: pass --signing-key PATH, a private SSH key whose public key is in the hosts' nixConfig.allowedSignersFile; see gitopsd fleet halt --help",
    ]);
    expect(await remoteRefs(remote)).toEqual({});
  });

  it('a commit the nix-config checkout does not have: exit 64, one line, nothing pushed', async () => {
    const r = await gitopsd(['fleet', 'promote', 'deadbeef12', '--signing-key', key('alice')]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^gitopsd: unknown commit deadbeef12: it is not a commit of the nix-config checkout /);
    expect(await remoteRefs(remote)).toEqual({});
  });

  it('an --allowed-signers file that cannot be read: exit 64, one line, nothing pushed (it said "a key the hosts do not trust", 6)', async () => {
    const none = join(dir, 'none');
    const r = await gitopsd(['fleet', 'halt', commit, '--signing-key', key('alice'), '--allowed-signers', none]);
    expect([r.exitCode, r.stderr.trim().split('\n')]).toEqual([
      64,
      [
        `gitopsd: --allowed-signers ${none} cannot be read (ENOENT); pass the path of a readable allowed-signers file (ssh-keygen(1) "ALLOWED SIGNERS": <principal> namespaces="git" ssh-ed25519 AAAA…); see gitopsd fleet halt --help`,
      ],
    ]);
    expect(await remoteRefs(remote)).toEqual({});
  });

  it('a key the hosts do not trust: exit 6, nothing pushed', async () => {
    const r = await gitopsd(['fleet', 'halt', commit, '--signing-key', key('mallory')]);
    expect(r.exitCode).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^gitopsd: not pushing the halt marker: the hosts would ignore it \(signed by a key that is not in the allowed signers file;/,
    );
    expect(await remoteRefs(remote)).toEqual({});
  });

  it('promote and halt signed by an allowed key: pushed, and both count as the gate reads them', async () => {
    const p = await gitopsd([
      'fleet',
      'promote',
      commit.slice(0, 12),
      '--signing-key',
      key('alice'),
      '--reason',
      'tested by hand',
      '--json',
    ]);
    expect(p.exitCode, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({
      ok: true,
      action: 'promote',
      commit,
      ref: `refs/gitopsd/rollout/promote/${commit}`,
      signer: 'alice',
      reason: 'tested by hand',
    });
    const h = await gitopsd(['fleet', 'halt', commit.slice(0, 12), '--signing-key', key('alice')]);
    expect(h.exitCode, h.stderr).toBe(0);
    expect(h.stdout).toMatch(
      new RegExp(`^halted ${commit.slice(0, 12)}: refs/gitopsd/rollout/halt/${commit} at .* \\(signed by alice\\);`),
    );
    expect(Object.keys(await remoteRefs(remote)).sort()).toEqual([
      `refs/gitopsd/rollout/halt/${commit}`,
      `refs/gitopsd/rollout/promote/${commit}`,
    ]);
    const deps = buildDeps({ configPath: config, config: loadConfig(config, 'ops'), env: {} });
    const m = await readMarkers(deps, { remote, allowedSignersFile: signers, timeoutMs: 60_000 });
    expect(m.ignored).toEqual([]);
    // GITOPSD_TEST_NOW starts the clock at NOW; it runs on from there.
    expect(m.markers.map((x) => [x.action, x.commit, x.signer]).sort()).toEqual([
      ['halt', commit, 'alice'],
      ['promote', commit, 'alice'],
    ]);
    for (const x of m.markers) expect(Date.parse(x.at) - Date.parse(NOW)).toBeLessThan(60_000);
  });

  it('no allowed signers file here: pushed unchecked, and the line does not promise what hosts without one ignore', async () => {
    const bare = join(dir, 'no-signers.json');
    const cfg = JSON.parse(await readFile(config, 'utf8')) as { nixConfig: Record<string, unknown> };
    cfg.nixConfig['allowedSignersFile'] = null;
    await writeFile(bare, JSON.stringify(cfg));
    const other = join(dir, 'status-unchecked.git');
    await run('git', ['init', '-q', '--bare', other]);
    const r = await runCli([
      'fleet',
      'halt',
      commit,
      '--signing-key',
      key('mallory'),
      '--remote',
      other,
      '--config',
      bare,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('(signature not checked: no allowed signers file here');
    expect(r.stdout).toContain(
      'it counts only on hosts whose nixConfig.allowedSignersFile lists this key (a host without one ignores every marker); there, no host deploys it',
    );
    // The fleet trigger (gitopsd trigger --fleet) says the same of hosts without a trigger signers file.
    const t = await runCli([
      'trigger',
      '--fleet',
      '--signing-key',
      key('mallory'),
      '--remote',
      other,
      '--config',
      bare,
    ]);
    expect(t.exitCode, t.stderr).toBe(0);
    expect(t.stdout).toContain(
      'it counts only on hosts whose trigger signers file (daemon.triggerSignersFile, else nixConfig.allowedSignersFile) lists this key (a host with neither ignores every fleet trigger); there, hosts in poll mode',
    );
  });
});
