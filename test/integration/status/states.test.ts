/**
 * `gitopsd status` and `status --json` in every interesting state, on a
 * simulated two-host fleet with the real gitopsd, git, jj, chezmoi and nix:
 * fresh install, deployed, behind, build-failed, reboot-pending, rolled-back,
 * degraded, sync-conflict. The tests pin the JSON fields each state sets.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { tempDir } from '../../harness/temp.js';
import { run } from '../../harness/exec.js';
import type { StatusReport } from '../../../src/status/index.js';

let fleet: Fleet;
let a: FleetHost;
let b: FleetHost;
const commits: Record<string, string> = {};

// A fixed time outside the default reboot window (01:00-05:00), in UTC.
const NOON = { GITOPSD_TEST_NOW: '2026-11-22T12:00:00Z', TZ: 'UTC' };

async function status(h: FleetHost): Promise<{ json: StatusReport; text: string }> {
  const j = await h.gitopsd(['status', '--json']);
  expect(j.exitCode, j.stderr).toBe(0);
  const t = await h.gitopsd(['status']);
  expect(t.exitCode, t.stderr).toBe(0);
  return { json: JSON.parse(j.stdout) as StatusReport, text: t.stdout };
}

async function gitopsd(h: FleetHost, args: string[], code: number, env: Record<string, string> = {}): Promise<void> {
  const r = await h.gitopsd(args, { env });
  expect(r.exitCode, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`).toBe(code);
}

const spec = (version: string, extra: Record<string, unknown> = {}) => ({
  sa: { version, kernelVersion: '6.6.1', ...extra },
  sb: { version, kernelVersion: '6.6.1' },
});

beforeAll(async () => {
  fleet = await createFleet({
    dir: join(await tempDir('gitopsd-states-'), 'fleet'),
    names: ['sa', 'sb'],
    overrides: { validation: { services: ['sshd.service'], timeoutSec: 5 }, reboot: { allow: true } },
  });
  [a, b] = fleet.hosts as [FleetHost, FleetHost];
});

describe('status in every state', () => {
  it('fresh install: nothing deployed, no golden, no runs', async () => {
    const { json, text } = await status(a);
    expect(json).toMatchObject({
      hostname: 'sa',
      git: { relation: 'up-to-date', ahead: 0, behind: 0, deployed: null },
      system: { current: a.installed, booted: a.installed, deployed: null, rebootNeeded: false },
      boot: { verdict: 'none', failures: 0, degraded: false, lastRollback: null },
      golden: { storePath: null, gcRootIntact: false, ageSec: null },
      dotfiles: { enabled: true, lastSync: null, parked: null },
      lastUpgrade: null,
      knownBadCommits: [],
      runs: {},
    });
    expect(json.schedule.cron).toBe('0 4 * * *');
    expect(Date.parse(json.schedule.nextRun ?? '')).toBeGreaterThan(Date.parse(json.generatedAt));
    expect(text).toContain('nothing deployed by gitopsd yet');
    expect(text).toContain('none pinned yet');
  });

  it('deployed: the new commit runs, golden pinned after a validated boot', async () => {
    await gitopsd(a, ['cycle'], 0);
    await gitopsd(b, ['cycle'], 0);
    commits['v2'] = await fleet.nixConfig.commitGeneration(spec('v2'), 'fleet: v2');
    await gitopsd(a, ['upgrade'], 0);
    await a.sim.boot();
    await gitopsd(a, ['boot', 'validate'], 0);
    const { json, text } = await status(a);
    expect(json.lastUpgrade).toMatchObject({ commit: commits['v2'], result: 'deployed', generation: 2 });
    expect(json.git).toMatchObject({
      relation: 'up-to-date',
      deployed: { commit: commits['v2'], subject: 'fleet: v2' },
    });
    expect(json.system).toMatchObject({ runningIsDeployed: true, deployedGeneration: 2, activationPending: false });
    expect(json.boot).toMatchObject({ verdict: 'ok', failures: 0 });
    expect(json.golden).toMatchObject({ storePath: json.system.current, source: 'auto', gcRootIntact: true });
    expect(json.runs['upgrade']).toMatchObject({ ok: true, exitCode: 0, result: 'deployed' });
    expect(json.runs['cycle']).toMatchObject({ ok: true });
    expect(json.dotfiles.lastSync).toMatchObject({ result: 'ok', exitCode: 0 });
    expect(text).toMatch(/running\s+the deployed generation/);
    expect(text).toMatch(/gc root\s+intact/);
    // --check-drift evaluates the checkout (real nix eval): it builds the running system.
    const drift = await a.gitopsd(['status', '--check-drift', '--json']);
    expect(drift.exitCode, drift.stderr).toBe(0);
    expect((JSON.parse(drift.stdout) as { drift: unknown }).drift).toEqual({
      expected: json.system.current,
      matches: true,
      error: null,
    });
    expect((await a.gitopsd(['status', '--check-drift'])).stdout).toMatch(/the checkout builds the running system/);
  });

  it('behind: the checkout has fetched a newer commit that is not deployed', async () => {
    commits['v3'] = await fleet.nixConfig.commitGeneration(
      spec('v3', { breakage: 'failing-derivation' }),
      'fleet: v3 (does not build)',
    );
    await run('git', ['-C', a.sim.paths.nixConfigDir, 'fetch', '-q', 'origin']);
    const { json, text } = await status(a);
    expect(json.git).toMatchObject({ relation: 'behind', behind: 1, ahead: 0, remoteTip: commits['v3'] });
    expect(json.git.lastFetch).not.toBeNull();
    expect(text).toMatch(/behind 1/);
    // A local change to the checkout makes the drift check report another system.
    await run('git', ['-C', a.sim.paths.nixConfigDir, 'checkout', '-q', commits['v3']]);
    const drift = await a.gitopsd(['status', '--check-drift', '--json']);
    const d = (JSON.parse(drift.stdout) as { drift: { matches: boolean | null; error: string | null } }).drift;
    // v3's derivation fails to build but still evaluates: another out path.
    expect(d).toMatchObject({ matches: false, error: null });
    await run('git', ['-C', a.sim.paths.nixConfigDir, 'checkout', '-q', commits['v2'] ?? '']);
  });

  it('build-failed: the commit is known bad, nothing changed on the system', async () => {
    const before = (await status(a)).json.system.current;
    await gitopsd(a, ['upgrade'], 3);
    const { json, text } = await status(a);
    expect(json.lastUpgrade).toMatchObject({ commit: commits['v3'], result: 'build-failed' });
    expect(json.knownBadCommits).toEqual([expect.objectContaining({ commit: commits['v3'], reason: 'build-failed' })]);
    expect(json.system.current).toBe(before);
    expect(json.git).toMatchObject({ relation: 'behind', head: commits['v2'] });
    expect(json.runs['upgrade']).toMatchObject({ ok: false, exitCode: 3 });
    expect(text).toMatch(/last upgrade .*build-failed/);
    expect(text).toMatch(/known bad .*\(build-failed: build-error\); gitopsd bad list/);
  });

  it('reboot-pending: a new kernel outside the reboot window waits', async () => {
    commits['v4'] = await fleet.nixConfig.commitGeneration(
      spec('v4', { kernelVersion: '6.6.2', failingServices: ['sshd.service'] }),
      'fleet: v4 (new kernel, sshd will fail)',
    );
    await gitopsd(a, ['upgrade'], 0, NOON);
    const { json, text } = await status(a);
    expect(json.lastUpgrade).toMatchObject({ commit: commits['v4'], result: 'reboot-pending' });
    expect(json.system).toMatchObject({ rebootNeeded: true, activationPending: true, runningIsDeployed: false });
    expect(json.system.rebootReasons).toEqual(['kernel', 'initrd', 'kernel-modules']);
    expect(text).toMatch(/reboot\s+needed \(kernel, initrd, kernel-modules changed\)/);
    expect(text).toMatch(/activation\s+pending/);
  });

  it('rolled-back: two failed boots of v4, back on the golden', async () => {
    const golden = (await status(a)).json.golden.storePath;
    for (let i = 0; i < 2; i++) {
      await a.sim.boot();
      await gitopsd(a, ['boot', 'validate'], 5);
    }
    await a.sim.boot();
    await gitopsd(a, ['boot', 'validate'], 0);
    const { json, text } = await status(a);
    expect(json.system.current).toBe(golden);
    expect(json.boot.lastRollback).toMatchObject({ to: golden });
    expect(json.knownBadCommits).toContainEqual(
      expect.objectContaining({ commit: commits['v4'], reason: 'boot-rollback' }),
    );
    expect(json.git.deployed?.commit).toBe(commits['v2']);
    expect(json.system).toMatchObject({ rebootNeeded: false, runningIsDeployed: true });
    expect(text).toMatch(/last rollback .* to .*sa-v2/);
  });

  it('degraded: the golden itself fails validation', async () => {
    await a.sim.boot();
    await a.sim.setUnitState('sshd.service', 'failed');
    await gitopsd(a, ['boot', 'validate'], 5);
    const { json, text } = await status(a);
    expect(json.boot).toMatchObject({ verdict: 'failed', degraded: true });
    expect(text).toContain('DEGRADED');
    expect(await a.sim.rebootRequests()).toEqual([]);
  });

  it('sync-conflict: the same line edited on both hosts', async () => {
    const cfg = (await a.readHome('.gitconfig')) ?? '';
    await a.editHome('.gitconfig', cfg.replace('Fleet User', 'User on sa'));
    await b.editHome('.gitconfig', cfg.replace('Fleet User', 'User on sb'));
    await gitopsd(a, ['sync'], 0);
    await gitopsd(b, ['sync'], 1);
    const { json, text } = await status(b);
    expect(json.dotfiles).toMatchObject({
      enabled: true,
      parked: { bookmark: 'sync/sb', paths: ['dot_gitconfig'] },
      lastSync: { exitCode: 1 },
    });
    expect(text).toMatch(/conflict\s+dot_gitconfig parked on sync\/sb/);
    const clean = await status(a);
    expect(clean.json.dotfiles.parked).toBeNull();
  });
});
