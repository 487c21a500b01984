/**
 * `gitopsd config check --rollout X`: the rollout policy validated from a
 * commit of the real nix-config checkout (git), a directory or a file. A bad
 * policy is one line on stderr and exit 78.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';

const ENV = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t.invalid',
};

const GOOD = {
  v: 1,
  waves: [
    { name: 'canary', hosts: ['a0', 'a1'] },
    { hosts: ['b0'], requireHealthy: '50%', soakMinutes: 30, maxFailures: 1 },
    { hosts: [] },
  ],
};

let dir: string;
let checkout: string;
let config: string;
const commits: Record<string, string> = {};

async function commitPolicy(name: string, text: string | null): Promise<void> {
  const f = join(checkout, 'gitopsd-rollout.json');
  if (text === null) await run('git', ['-C', checkout, 'rm', '-q', '--ignore-unmatch', 'gitopsd-rollout.json']);
  else {
    await writeFile(f, text);
    await run('git', ['-C', checkout, 'add', 'gitopsd-rollout.json']);
  }
  await run('git', ['-C', checkout, 'commit', '-q', '--allow-empty', '-m', name], { env: ENV });
  commits[name] = (await run('git', ['-C', checkout, 'rev-parse', 'HEAD'])).stdout.trim();
}

beforeAll(async () => {
  dir = await tempDir('gitopsd-rollout-check');
  checkout = join(dir, 'nix-config');
  await mkdir(checkout);
  await run('git', ['init', '-q', '-b', 'main', checkout]);
  await commitPolicy('none', null);
  await commitPolicy('good', JSON.stringify(GOOD));
  await commitPolicy('malformed', '{"v": 1, "waves": [ {"hosts": ["a0"]}, ]}');
  await commitPolicy('twice', JSON.stringify({ v: 1, waves: [{ hosts: ['a0'] }, { hosts: ['a0'] }] }));
  config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ hostname: 'a0', nixConfig: { path: checkout } }));
});
afterAll(removeTempDirs);

describe('config check --rollout', () => {
  it('a commit without the file: no waves', async () => {
    const r = await runCli(['config', 'check', '--config', config, '--rollout', commits['none'] ?? '']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/rollout: no gitopsd-rollout.json in gitopsd-rollout.json at [0-9a-f]{12}: no waves/);
  });

  it('a good policy at a commit: the waves, with defaults', async () => {
    const r = await runCli(['config', 'check', '--config', config, '--rollout', commits['good'] ?? '', '--json']);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { rollout: { policy: { waves: { soakMinutes: number; name: string }[] } } };
    expect(out.rollout.policy.waves.map((w) => [w.name, w.soakMinutes])).toEqual([
      ['canary', 0],
      ['wave 1', 30],
      ['wave 2', 60],
    ]);
  });

  it('a revision name works too (HEAD~2)', async () => {
    const r = await runCli(['config', 'check', '--config', config, '--rollout', 'HEAD~2']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /canary: a0, a1; halts above 0 failure\(s\)\n {2}wave 1: b0; after 50% of wave 0 healthy for 30 min; halts above 1/,
    );
  });

  it.each([
    ['malformed', /gitopsd-rollout.json at [0-9a-f]{12} is not valid JSON .*; fix the file in nix-config/],
    ['twice', /is malformed: waves\.1\.hosts\.0 host "a0" is already in wave 0/],
  ])('%s: exit 78, one line', async (name, re) => {
    const r = await runCli(['config', 'check', '--config', config, '--rollout', commits[name] ?? '']);
    expect(r.exitCode).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(re);
  });

  it('the working tree (a directory) and a file', async () => {
    // HEAD has the "twice" policy in its tree.
    const d = await runCli(['config', 'check', '--config', config, '--rollout', checkout]);
    expect(d.exitCode).toBe(78);
    expect(d.stderr).toMatch(/nix-config\/gitopsd-rollout.json is malformed/);
    const f = join(dir, 'draft.json');
    await writeFile(f, JSON.stringify(GOOD));
    const g = await runCli(['config', 'check', '--config', config, '--rollout', f]);
    expect(g.exitCode).toBe(0);
    expect(g.stdout).toContain(`rollout: ${f} is valid`);
  });

  it('neither a path nor a commit: a usage error (exit 64), one line', async () => {
    const r = await runCli(['config', 'check', '--config', config, '--rollout', 'no-such-rev']);
    expect(r.exitCode).toBe(64);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /--rollout no-such-rev is neither a file, a directory, nor a commit .*; see gitopsd config check --help$/m,
    );
  });
});
