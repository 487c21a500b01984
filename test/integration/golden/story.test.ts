/**
 * The whole story of issue 4 on the simulated host, with real nix profiles,
 * a real GC root and the real `gitopsd upgrade`:
 *   1. G1 is validated (and auto-pinned);
 *   2. upgrade (operation boot) deploys a commit whose generation breaks sshd;
 *   3. boot: validation fails, exit 5, a reboot is requested;
 *   4. boot: fails again; rollback makes G1 the boot default, reboot requested;
 *   5. boot: G1 validates, the golden is unchanged, boot status tells it all;
 *   6. upgrade with the bad commit still at the tip: nothing rebuilt or
 *      redeployed; a newer good commit is deployed again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { createFixture, createHost, type Fixture, type Host } from './fixture.js';
import type { BootStatus } from '../../../src/boot-validate/index.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let h: Host;
let g1: string;
let c2: string;
let bad: string;
let g1PinnedAt: string;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('story');
  g1 = await fx.build('g1');
  h = await createHost('story', { nixConfig: { url: fx.repo.remoteUrl, operation: 'boot' } });
  await h.sim.install(g1);
});
afterAll(removeTempDirs);

/** Commands (argv[0] basenames) run by one gitopsd call, from its trace. */
async function traced(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; cmds: string[] }> {
  const trace = join(fx.base, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(trace, '');
  const r = await h.gitopsd(args, { env: { GITOPSD_TRACE: trace } });
  const cmds = (await readFile(trace, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event: string; cmd?: string; args?: string[] })
    .filter((e) => e.event === 'start' && e.cmd !== undefined)
    .map((e) => [e.cmd, ...(e.args ?? [])].join(' '));
  return { ...r, cmds };
}

describe('the six-step story', () => {
  it('1. G1 validates and is pinned as golden with a real GC root', async () => {
    const r = await h.gitopsd(['boot', 'validate']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`boot of ${g1} validated`);
    const g = await h.json<GoldenInfo>(['golden', 'show']);
    expect(g).toMatchObject({ storePath: g1, generation: 1, source: 'auto', gcRootIntact: true });
    g1PinnedAt = g.pinnedAt ?? '';
    expect(Number.isNaN(Date.parse(g1PinnedAt))).toBe(false);
  });

  it('2. upgrade (operation boot) deploys a commit whose generation breaks sshd.service', async () => {
    c2 = await fx.repo.commitGeneration(
      { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
      'break sshd',
    );
    const r = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(r.exitCode, r.stderr).toBe(0);
    bad = (await h.sim.profileSystem()) ?? '';
    expect(bad).not.toBe(g1);
    expect(await h.sim.bootDefault()).toBe(bad);
    // operation boot: the running system is still G1 until the reboot.
    expect(await h.sim.currentSystem()).toBe(g1);
    expect((await h.state()).deployments.current).toMatchObject({ commit: c2, storePath: bad });
  });

  it('3. boot: validation fails at once (sshd failed), exit 5, a reboot is requested', async () => {
    await h.sim.boot();
    expect(await h.sim.bootedSystem()).toBe(bad);
    const r = await h.gitopsd(['boot', 'validate']);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('rebooting to retry');
    expect(r.stdout).toMatch(/FAIL sshd\.service: failed/);
    expect(await h.sim.rebootRequests()).toHaveLength(1);
    const s = await h.json<BootStatus>(['boot', 'status']);
    expect(s).toMatchObject({ bootedSystem: bad, verdict: 'failed', attempts: 1, failures: 1, lastRollback: null });
    expect(s.golden.storePath).toBe(g1);
  });

  it('4. boot: fails again; rollback sets G1 as the boot default and requests a reboot', async () => {
    const rec = await h.sim.boot();
    expect(rec.rebootRequests).toHaveLength(1);
    expect(await h.sim.bootedSystem()).toBe(bad);
    const gensBefore = await h.sim.generations();
    const r = await traced(['boot', 'validate']);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('rolling back to the golden');
    expect(await h.sim.bootDefault()).toBe(g1);
    expect(await h.sim.profileSystem()).toBe(g1);
    const gens = await h.sim.generations();
    expect(gens).toHaveLength(gensBefore.length + 1);
    expect(gens.at(-1)).toMatchObject({ storePath: g1, current: true });
    expect(await h.sim.rebootRequests()).toHaveLength(1);
    // The exact commands, in order: the profile, the boot loader, the reboot.
    const sys = r.cmds.filter((c) => !c.startsWith('systemctl show'));
    expect(sys).toEqual([
      `nix-env -p ${h.sim.paths.systemProfile} --set ${g1}`,
      `${g1}/bin/switch-to-configuration boot`,
      'systemctl reboot',
    ]);
    const st = await h.state();
    expect(st.deployments.badCommits[c2]).toMatchObject({ reason: 'boot-rollback', storePath: bad });
    expect(st.boot.lastRollback).toMatchObject({ from: bad, to: g1, source: 'auto', status: 'done', commit: c2 });
  });

  it('5. boot: G1 validates; the golden is unchanged; boot status tells the story', async () => {
    await h.sim.boot();
    expect(await h.sim.bootedSystem()).toBe(g1);
    const r = await h.gitopsd(['boot', 'validate']);
    expect(r.exitCode).toBe(0);
    const g = await h.json<GoldenInfo>(['golden', 'show']);
    expect(g).toMatchObject({ storePath: g1, pinnedAt: g1PinnedAt, source: 'auto', gcRootIntact: true });
    const s = await h.json<BootStatus>(['boot', 'status']);
    expect(s).toMatchObject({
      bootedSystem: g1,
      verdict: 'ok',
      attempts: 2,
      failures: 0,
      golden: { storePath: g1, pinnedAt: g1PinnedAt, source: 'auto', gcRootIntact: true },
      lastRollback: { from: bad, to: g1, source: 'auto' },
      checks: [
        { name: 'sshd.service', ok: true, detail: 'active' },
        { name: 'nginx.service', ok: true, detail: 'active' },
      ],
    });
    expect(s.lastRollback?.reason).toMatch(/2 failed boot\(s\).*sshd\.service: failed/);
    expect(Date.parse(s.lastRollback?.at ?? '')).not.toBeNaN();
    expect(s.generation).toBe((await h.sim.generations()).at(-1)?.number);
    expect(s.badCommits).toEqual([expect.objectContaining({ commit: c2, storePath: bad })]);
    expect(s.history.map((a) => [a.storePath, a.verdict, a.action])).toEqual([
      [g1, 'ok', 'pin'],
      [bad, 'failed', 'reboot'],
      [bad, 'failed', 'rollback'],
      [g1, 'ok', 'pin'],
    ]);
    const text = await h.gitopsd(['boot', 'status']);
    expect(text.stdout).toContain(`last rollback: `);
    expect(text.stdout).toContain(`${bad} -> ${g1}`);
    expect(text.stdout).toContain(`never redeployed: commit ${c2.slice(0, 12)}`);
    // The alias prints the same report.
    const alias = await h.gitopsd([], { bin: 'show-boot-status' });
    expect(alias.exitCode).toBe(0);
    expect(alias.stdout).toBe(text.stdout);
  });

  it('6. upgrade with the bad commit at the tip rebuilds and redeploys nothing; a newer good commit deploys', async () => {
    const gens = await h.sim.generations();
    const skipped = await traced(['upgrade', '--operation', 'boot']);
    expect(skipped.exitCode, skipped.stderr).toBe(3);
    expect(skipped.cmds.filter((c) => /^(nh|nix |nix-env|nix-store|.*switch-to-configuration)/.test(c))).toEqual([]);
    expect(await h.sim.generations()).toEqual(gens);
    expect(await h.sim.bootDefault()).toBe(g1);

    const c3 = await fx.repo.commitGeneration(
      { hosta: { version: `good-${fx.nonce}`, kernelVersion: '6.6.1' } },
      'fix sshd',
    );
    const r = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(r.exitCode, r.stderr).toBe(0);
    const good = await h.sim.profileSystem();
    expect(good).not.toBe(g1);
    expect(good).not.toBe(bad);
    expect(await h.sim.bootDefault()).toBe(good);
    expect((await h.state()).deployments.current).toMatchObject({ commit: c3, storePath: good });
    await h.sim.boot();
    const v = await h.gitopsd(['boot', 'validate']);
    expect(v.exitCode).toBe(0);
    // The newly validated system becomes the golden (the booted path, auto).
    expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({
      storePath: good,
      source: 'auto',
      gcRootIntact: true,
    });
  });
});
