/**
 * The manual commands, tried as a new user would: golden show / pin /
 * rollback (and their aliases), boot status, boot reset; the refusals
 * without --force, without --yes (no terminal), and a "no" at the prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { repoRoot } from '../../helpers/cli.js';
import { copyHost, createFixture, createHost, type Fixture, type Host } from './fixture.js';
import type { BootStatus } from '../../../src/boot-validate/index.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let g1: string;
let bad: string;
let h: Host;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('manual');
  g1 = await fx.build('g1');
  await fx.repo.commitGeneration(
    { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
    'break sshd',
  );
  bad = await fx.build('bad');
  h = await createHost('manual', { validation: { autoPinGolden: false } });
  await h.sim.install(g1);
});
afterAll(removeTempDirs);

describe('golden show before anything is pinned', () => {
  it('says how a golden gets pinned; --json has the contract keys with nulls', async () => {
    const r = await h.gitopsd(['golden', 'show']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('no golden generation pinned yet');
    const j = await h.json<GoldenInfo>(['golden', 'show']);
    expect(j).toMatchObject({ storePath: null, generation: null, pinnedAt: null, source: null, gcRootIntact: false });
  });
});

describe('golden pin', () => {
  it('refuses a system without an ok boot verdict, says why, and names --force', async () => {
    const r = await h.gitopsd(['golden', 'pin']);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toContain(`${g1} has no ok boot verdict`);
    expect(r.stderr).toContain('--force');
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBeNull();
  });

  it('rejects a generation that does not exist, listing the ones that do', async () => {
    const r = await h.gitopsd(['golden', 'pin', '--generation', '7'], { bin: 'gitopsd' });
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('generation 7 does not exist');
    expect(r.stderr).toContain('generations: 1');
  });

  it('rejects a missing path, a store path that is not a system, and both options at once', async () => {
    const missing = await h.gitopsd(['golden', 'pin', '--store-path', '/nonexistent/system']);
    expect(missing.exitCode).toBe(64);
    const kernel = await h.gitopsd(['golden', 'pin', '--store-path', join(g1, 'kernel'), '--force']);
    expect(kernel.exitCode).toBe(6);
    expect(kernel.stderr).toContain('is not a NixOS system');
    const both = await h.gitopsd(['golden', 'pin', '--store-path', g1, '--generation', '1']);
    expect(both.exitCode).toBe(64);
  });

  it('pins with --force (manual, forced) through the pin-golden alias; pinning it again changes nothing', async () => {
    const r = await runAlias('pin-golden', ['--force']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pinned ${g1} (the booted system) as golden`);
    const j = await h.json<GoldenInfo & { forced: boolean }>(['golden', 'show']);
    expect(j).toMatchObject({ storePath: g1, generation: 1, source: 'manual', forced: true, gcRootIntact: true });
    const again = await h.gitopsd(['golden', 'pin', '--generation', '1']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('is already the golden; nothing changed');
    expect((await h.json<GoldenInfo>(['golden', 'show'])).pinnedAt).toBe(j.pinnedAt);
    // show-golden is the same report.
    const alias = await runAlias('show-golden', []);
    expect(alias.stdout).toBe((await h.gitopsd(['golden', 'show'])).stdout);
  });
});

/** Run an alias bin (pin-golden, show-golden, ...) against the host. */
function runAlias(bin: string, args: string[]): ReturnType<Host['gitopsd']> {
  return h.gitopsd(args, { bin });
}

describe('golden rollback', () => {
  it('refuses without --yes when there is no terminal, and changes nothing', async () => {
    await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', bad], { env: h.sim.env });
    await run(join(bad, 'bin/switch-to-configuration'), ['switch'], { env: h.sim.env }).catch(() => undefined);
    expect(await h.sim.currentSystem()).toBe(bad);
    const gens = await h.sim.generations();
    const r = await runAlias('rollback-to-golden', []);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toContain('pass --yes to confirm');
    expect(await h.sim.generations()).toEqual(gens);
    expect(await h.sim.currentSystem()).toBe(bad);
    // No run either: a recorded failure would fail the host in fleet status (review 12).
    const runs = (await h.json<{ runs: Record<string, unknown> }>(['status'])).runs;
    expect(Object.keys(runs)).toContain('golden-pin');
    expect(Object.keys(runs)).not.toContain('golden-rollback');
  });

  it('asks on a terminal, and a "no" changes nothing', async () => {
    // A real pseudo-terminal (python3 pty), so gitopsd sees a TTY and prompts.
    const r = await execa(
      'python3',
      [
        '-c',
        'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)',
        'node',
        join(repoRoot, 'bin', 'gitopsd'),
        'golden',
        'rollback',
        '--config',
        h.config,
      ],
      { env: { ...h.sim.env, GITOPSD_CONFIG: undefined }, input: 'n\n', reject: false, timeout: 60_000 },
    );
    expect(r.stdout).toContain('Continue? [y/N]');
    expect(r.stdout).toContain('cancelled');
    expect(r.exitCode).toBe(6);
    expect(await h.sim.currentSystem()).toBe(bad);
  });

  it('rejects --now together with --reboot', async () => {
    const r = await h.gitopsd(['golden', 'rollback', '--now', '--reboot', '--yes']);
    expect(r.exitCode).toBe(64);
  });

  it('--yes (default --now) switches live to the golden and sets the boot default', async () => {
    const r = await h.gitopsd(['golden', 'rollback', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`rolled back: ${g1} is running now and is the boot default`);
    expect(await h.sim.currentSystem()).toBe(g1);
    expect(await h.sim.bootDefault()).toBe(g1);
    expect(await h.sim.profileSystem()).toBe(g1);
    expect(await h.sim.rebootRequests()).toEqual([]);
    const s = await h.json<BootStatus>(['boot', 'status']);
    expect(s.lastRollback).toMatchObject({ from: bad, to: g1, source: 'manual', status: 'done' });
    // Running it again is harmless: no new generation.
    const gens = await h.sim.generations();
    const again = await h.gitopsd(['golden', 'rollback', '--yes']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('already running the golden');
    expect(await h.sim.generations()).toEqual(gens);
  });

  it('--reboot sets the boot default and requests a reboot, leaving the running system alone', async () => {
    await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', bad], { env: h.sim.env });
    await run(join(bad, 'bin/switch-to-configuration'), ['switch'], { env: h.sim.env }).catch(() => undefined);
    const r = await h.gitopsd(['golden', 'rollback', '--reboot', '--yes']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await h.sim.bootDefault()).toBe(g1);
    expect(await h.sim.currentSystem()).toBe(bad);
    expect(await h.sim.rebootRequests()).toHaveLength(1);
    await h.sim.boot();
    expect(await h.sim.bootedSystem()).toBe(g1);
  });

  it('--now refuses, changing nothing, when the golden has another init interface than the running system (switch-to-configuration would exit 100); --reboot is the way', async () => {
    const c = await copyHost(h, 'init');
    await fx.repo.commitGeneration(
      { hosta: { version: `init3-${fx.nonce}`, kernelVersion: '6.6.1', initInterfaceVersion: 3 } },
      'systemd interface 3',
    );
    const init3 = await fx.build('init3');
    await run('nix-env', ['-p', c.sim.paths.systemProfile, '--set', init3], { env: c.sim.env });
    await run(join(init3, 'bin/switch-to-configuration'), ['boot'], { env: c.sim.env });
    await c.sim.boot();
    const gens = await c.sim.generations();
    const before = (await c.state()).boot.lastRollback;
    const r = await c.gitopsd(['golden', 'rollback', '--yes']);
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stderr).toContain(
      `its init-interface-version ("systemd 2") differs from the running system's ("systemd 3")`,
    );
    expect(r.stderr).toContain('nothing was changed; run gitopsd golden rollback --reboot');
    expect(await c.sim.currentSystem()).toBe(init3);
    expect(await c.sim.bootDefault()).toBe(init3);
    expect(await c.sim.generations()).toEqual(gens);
    expect((await c.state()).boot.lastRollback).toEqual(before);
    const rb = await c.gitopsd(['golden', 'rollback', '--reboot', '--yes']);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(await c.sim.bootDefault()).toBe(g1);
  });
});

describe('boot status and boot reset', () => {
  it('boot status reads well before any validation of this boot, and reset clears the counters (logged)', async () => {
    const s0 = await h.json<BootStatus>(['boot', 'status']);
    expect(s0).toMatchObject({ bootedSystem: g1, verdict: 'none' });
    // Two failed boots of the bad system, then reset them by hand.
    await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', bad], { env: h.sim.env });
    await run(join(bad, 'bin/switch-to-configuration'), ['boot'], { env: h.sim.env });
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    expect(await h.json<BootStatus>(['boot', 'status'])).toMatchObject({ bootedSystem: bad, failures: 1, reboots: 1 });
    const r = await h.gitopsd(['boot', 'reset']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`reset boot counters of ${bad}: failures 1 -> 0`);
    expect(r.stderr).toContain('boot failure counters reset');
    expect(await h.json<BootStatus>(['boot', 'status'])).toMatchObject({ failures: 0, reboots: 0, attempts: 1 });
    const st = await h.state();
    expect(st.boot.events.at(-1)).toMatchObject({ event: 'reset', storePath: bad });
    const unknown = await h.gitopsd(['boot', 'reset', '--store-path', '/nonexistent']);
    expect(unknown.exitCode).toBe(64);
  });
});
