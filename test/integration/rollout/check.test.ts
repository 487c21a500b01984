/**
 * checkGate on a real git checkout: the policy is read from the commit being
 * deployed; the fleet's statuses and the markers are passed in as values
 * (the composition root passes the real readers).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDeps, type Deps } from '../../../src/core/deps.js';
import { loadConfig } from '../../../src/core/config.js';
import { checkGate, type GateSources } from '../../../src/fleet/rollout/check.js';
import type { GateRow } from '../../../src/fleet/rollout/gate.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';

const ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
const NOW = '2026-03-02T06:00:00.000Z';
let dir: string;
let checkout: string;
const commits: Record<string, string> = {};
const depsFor = async (host: string): Promise<Deps> => {
  const f = join(dir, `${host}.json`);
  await writeFile(f, JSON.stringify({ hostname: host, stateDir: join(dir, host), nixConfig: { path: checkout } }));
  return buildDeps({ configPath: f, config: loadConfig(f, host), env: { GITOPSD_TEST_NOW: NOW } });
};

async function commit(name: string, policy: string | null): Promise<void> {
  if (policy === null) await run('git', ['-C', checkout, 'rm', '-q', '--ignore-unmatch', 'gitopsd-rollout.json']);
  else {
    await writeFile(join(checkout, 'gitopsd-rollout.json'), policy);
    await run('git', ['-C', checkout, 'add', 'gitopsd-rollout.json']);
  }
  await run('git', ['-C', checkout, 'commit', '-q', '--allow-empty', '-m', name], { env: ENV });
  commits[name] = (await run('git', ['-C', checkout, 'rev-parse', 'HEAD'])).stdout.trim();
}

const POLICY = JSON.stringify({ v: 1, waves: [{ hosts: ['a0'] }, { hosts: ['b0'], soakMinutes: 30 }] });
const row = (host: string, on: string, healthyMin: number, stale = false): GateRow => ({
  host,
  state: stale ? 'stale' : 'healthy',
  stale,
  status: {
    publishedAt: NOW,
    healthySince: new Date(Date.parse(NOW) - healthyMin * 60000).toISOString(),
    deployed: { commit: on },
    system: { rebootNeeded: false, runningIsDeployed: true },
    boot: { verdict: 'ok' },
    lastUpgrade: null,
    knownBadCommits: [],
  },
});
const src = (rows: GateRow[]): GateSources => ({
  readRows: () => Promise.resolve(rows),
  readMarkers: () => Promise.resolve({ markers: [], ignored: [] }),
});

beforeAll(async () => {
  dir = await tempDir('gitopsd-gate-check');
  checkout = join(dir, 'nix-config');
  await mkdir(checkout);
  await run('git', ['init', '-q', '-b', 'main', checkout]);
  await commit('none', null);
  await commit('good', POLICY);
  await commit('malformed', '{"v": 1}');
  await commit('unknown', JSON.stringify({ v: 1, waves: [{ hosts: ['a0', 'typo0'] }, { hosts: ['b0'] }] }));
});
afterAll(removeTempDirs);

describe('checkGate', () => {
  it('no policy in the commit: pass', async () => {
    const c = commits['none'] ?? '';
    const v = await checkGate(await depsFor('b0'), { commit: c, checkout }, src([]));
    expect(v.kind).toBe('pass');
    expect(v.line).toMatch(/^no gitopsd-rollout.json at [0-9a-f]{12}: no waves/);
  });

  it('a malformed policy: refuse, one line', async () => {
    const c = commits['malformed'] ?? '';
    const v = await checkGate(await depsFor('a0'), { commit: c, checkout }, src([]));
    expect(v.kind).toBe('refuse');
    expect(v.line).toMatch(/^not deploying [0-9a-f]{8}: gitopsd-rollout.json at [0-9a-f]{12} is malformed: waves/);
  });

  it('a wave naming an unknown host: refuse', async () => {
    const c = commits['unknown'] ?? '';
    const v = await checkGate(await depsFor('a0'), { commit: c, checkout }, src([row('a0', c, 0), row('b0', c, 0)]));
    expect(v.kind).toBe('refuse');
    expect(v.line).toMatch(/names a host with no published status: "typo0" \(wave 0\)/);
  });

  it('statuses unreadable: paused, never pass (even wave 0)', async () => {
    const c = commits['good'] ?? '';
    const v = await checkGate(
      await depsFor('a0'),
      { commit: c, checkout },
      {
        readRows: () => Promise.reject(new Error('cannot read the status remote /x')),
        readMarkers: () => Promise.resolve({ markers: [], ignored: [] }),
      },
    );
    expect(v.kind).toBe('wait');
    expect(v.line).toMatch(/^paused: the fleet's statuses cannot be read \(cannot read the status remote \/x\)/);
  });

  it('wave 1 waits for the soak, then passes (the clock injected through GITOPSD_TEST_NOW)', async () => {
    const c = commits['good'] ?? '';
    const deps = await depsFor('b0');
    const w = await checkGate(deps, { commit: c, checkout }, src([row('a0', c, 20), row('b0', 'f'.repeat(40), 600)]));
    expect(w).toMatchObject({
      kind: 'wait',
      line: `waiting: 1 of 1 wave 0 hosts healthy on ${c.slice(0, 8)} for 20 of 30 min`,
    });
    const p = await checkGate(deps, { commit: c, checkout }, src([row('a0', c, 31), row('b0', 'f'.repeat(40), 600)]));
    expect(p.kind).toBe('pass');
    const s = await checkGate(
      deps,
      { commit: c, checkout },
      src([row('a0', c, 31, true), row('b0', 'f'.repeat(40), 600)]),
    );
    expect(s.kind).toBe('wait');
    expect(s.line).toMatch(/^paused: .*a0 \(stale\)/);
  });
});
