/**
 * Reboot-needed detection and the reboot window (injected clock, a window
 * across midnight), and the producer role: one host updates flake.lock and
 * pushes it, a second host deploys that commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  createInputRepo,
  createNixConfigRepo,
  readToplevel,
  type InputRepo,
  type NixConfigRepo,
} from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { gitOut, makeHost, nixCommands, readState, storePathOf, upgrade, type TestHost } from './fixture.js';

beforeAll(requireTools);
afterAll(removeTempDirs);

describe('reboot if needed, inside the window', () => {
  let base: string;
  let repo: NixConfigRepo;
  let t: TestHost;
  const gen = (version: string, kernelVersion: string): { hosta: { version: string; kernelVersion: string } } => ({
    hosta: { version, kernelVersion },
  });
  const at = (iso: string): Record<string, string> => ({ GITOPSD_TEST_NOW: iso });
  const path = (label: string): Promise<string> => storePathOf(repo, 'hosta', join(base, label));
  const rebootOn = { reboot: { allow: true, window: { lower: '23:00', upper: '02:00' } } };

  beforeAll(async () => {
    base = await tempDir('upgrade-reboot');
    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1', '6.6.1') });
    t = await makeHost(repo, { name: 'hosta', label: 'reboot', overrides: rebootOn });
    expect((await upgrade(t, [], at('2026-03-01T12:00:00Z'))).exitCode).toBe(0);
  });

  it('a new kernel outside the window: set as the boot default only, reboot pending', async () => {
    const v1 = t.installed;
    await repo.commitGeneration(gen('v2', '6.7.0'), 'v2: new kernel');
    const r = await upgrade(t, [], at('2026-03-01T12:00:00Z'));
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      /reboot pending \(kernel, initrd, kernelModules changed; outside the reboot window 23:00-02:00\)/,
    );
    const v2 = await path('v2');
    expect(await t.host.bootDefault()).toBe(v2);
    expect(await t.host.profileSystem()).toBe(v2);
    expect(await t.host.currentSystem()).toBe(v1);
    expect(await t.host.rebootRequests()).toEqual([]);
    expect((await t.host.activations()).map((a) => a.action)).toEqual(['boot']);
    const s = await readState(t);
    expect(s.deployments?.current).toMatchObject({ storePath: v2, operation: 'boot' });
    expect(s.upgrade?.lastRun?.result).toBe('reboot-pending');
  });

  it('still outside at 22:59: pending, no nix, no reboot', async () => {
    const r = await upgrade(t, [], at('2026-03-01T22:59:00Z'));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/reboot pending/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect(await t.host.rebootRequests()).toEqual([]);
  });

  it('after midnight, inside the window that crosses it: systemctl reboot', async () => {
    const r = await upgrade(t, [], at('2026-03-02T00:30:00Z'));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/reboot requested/);
    expect(nixCommands(r.commands)).toEqual([]);
    expect(r.commands).toContainEqual(['systemctl', 'reboot']);
    expect(await t.host.rebootRequests()).toHaveLength(1);
    const boot = await t.host.boot();
    expect(boot.system).toBe(await path('v2'));
    const after = await upgrade(t, [], at('2026-03-02T00:40:00Z'));
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toMatch(/up to date/);
    expect(await t.host.rebootRequests()).toEqual([]);
  });

  it('a new kernel inside the window: boot default, then an immediate reboot', async () => {
    await repo.commitGeneration(gen('v3', '6.8.0'), 'v3: newer kernel');
    const r = await upgrade(t, [], at('2026-03-03T01:15:00Z'));
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/reboot due \(.*inside the reboot window\); rebooting now/);
    expect(await t.host.bootDefault()).toBe(await path('v3'));
    expect(await t.host.rebootRequests()).toHaveLength(1);
    expect((await readState(t)).upgrade?.lastRun?.result).toBe('reboot-pending');
    await t.host.boot();
  });

  it('same kernel: a live switch, no reboot, whatever the time', async () => {
    await repo.commitGeneration(gen('v4', '6.8.0'), 'v4: same kernel');
    const r = await upgrade(t, [], at('2026-03-03T12:00:00Z'));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/switched live$/);
    expect(await t.host.currentSystem()).toBe(await path('v4'));
    expect(await t.host.rebootRequests()).toEqual([]);
  });

  it('without reboot.allow: the configured switch runs, and the report says "reboot needed"', async () => {
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl }, reboot: { allow: false } });
    await repo.commitGeneration(gen('v5', '6.9.0'), 'v5: kernel, no reboots allowed');
    const r = await upgrade(t, [], at('2026-03-04T01:00:00Z'));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/switched live; reboot needed \(kernel, initrd, kernelModules changed\)/);
    expect(await t.host.currentSystem()).toBe(await path('v5'));
    expect(await t.host.rebootRequests()).toEqual([]);
    expect((await readState(t)).upgrade?.lastRun?.result).toBe('deployed');
  });

  it('--operation boot only sets the boot default', async () => {
    const v5 = await path('v5'); // the work clone is still at v5: path() builds its HEAD
    await repo.commitGeneration(gen('v6', '6.9.0'), 'v6');
    const r = await upgrade(t, ['--operation', 'boot'], at('2026-03-04T12:00:00Z'));
    expect(r.exitCode).toBe(0);
    expect(await t.host.bootDefault()).toBe(await path('v6'));
    expect(await t.host.currentSystem()).toBe(v5);
    expect((await readState(t)).deployments?.current?.operation).toBe('boot');
  });
});

describe('producer role (updateInputs)', () => {
  let base: string;
  let input: InputRepo;
  let repo: NixConfigRepo;
  let producer: TestHost;
  let consumer: TestHost;
  const v1 = { version: 'v1', kernelVersion: '6.6.1' };

  beforeAll(async () => {
    base = await tempDir('upgrade-producer');
    input = await createInputRepo({ dir: join(base, 'input'), value: 'input v1' });
    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: { hosta: v1, hostb: v1 }, input });
    producer = await makeHost(repo, {
      name: 'hosta',
      label: 'producer',
      overrides: { nixConfig: { updateInputs: true } },
    });
    consumer = await makeHost(repo, { name: 'hostb', label: 'consumer' });
    expect((await upgrade(producer)).exitCode).toBe(0);
    expect((await upgrade(consumer)).exitCode).toBe(0);
  });

  it('with no input update, a producer run is a no-op after `nix flake update`, without a build', async () => {
    const r = await upgrade(producer);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/flake inputs have no updates/);
    expect(nixCommands(r.commands).map((c) => c.slice(0, 3).join(' '))).toEqual(['nix flake update']);
  });

  it('the producer updates flake.lock, validates, commits, activates and pushes; a second host deploys it', async () => {
    const before = await repo.remoteHead();
    await input.commitValue('input v2');
    const r = await upgrade(producer);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/pushed our commits/);
    const pushed = await repo.remoteHead();
    expect(pushed).not.toBe(before);
    expect(await gitOut(repo.remoteDir, ['log', '-1', '--format=%s', pushed])).toBe('flake.lock: update (hosta)');
    expect(await gitOut(repo.remoteDir, ['diff', '--name-only', before, pushed])).toBe('flake.lock');
    expect((await readState(producer)).deployments?.current?.commit).toBe(pushed);
    const pSystem = await producer.host.currentSystem();
    expect(pSystem).not.toBeNull();
    expect((await readToplevel(pSystem ?? '')).inputValue).toBe('input v2');

    const c = await upgrade(consumer);
    expect(c.exitCode, c.stderr + c.stdout).toBe(0);
    expect((await readState(consumer)).deployments?.current?.commit).toBe(pushed);
    const cSystem = await consumer.host.currentSystem();
    expect((await readToplevel(cSystem ?? '')).inputValue).toBe('input v2');
    expect((await readToplevel(cSystem ?? '')).host).toBe('hostb');
  });
});
