/**
 * The loop guards and the reboot bound, on the simulated host:
 * - the golden itself fails: no rollback, no reboot, degraded, failure hook;
 * - no golden yet: fall back to the newest generation with an ok verdict;
 *   none at all: degraded, no reboot;
 * - a boot loader that keeps booting the bad system: at most
 *   maxBootFailures + 1 automatic reboots for it, whatever happens;
 * - onFirstFailure: wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { createFixture, createHost, type Fixture, type Host } from '../golden/fixture.js';
import type { BootStatus } from '../../../src/boot-validate/index.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let g1: string;
let bad: string;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('guards');
  g1 = await fx.build('g1');
  await fx.repo.commitGeneration(
    { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
    'break sshd',
  );
  bad = await fx.build('bad');
});
afterAll(removeTempDirs);

/** Make `system` the profile and boot default, as an upgrade with operation boot does. */
async function setDefault(h: Host, system: string): Promise<void> {
  await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', system], { env: h.sim.env });
  await run(join(system, 'bin/switch-to-configuration'), ['boot'], { env: h.sim.env });
}

async function validate(h: Host): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return h.gitopsd(['boot', 'validate']);
}

describe('loop guard: the golden itself fails', () => {
  it('does not roll back or reboot, marks the host degraded and runs the failure hook', async () => {
    const hookOut = join(fx.base, 'hook-golden.txt');
    const h = await createHost('golden-fails', {
      hooks: { onFailure: ['sh', '-c', `echo "$GITOPSD_STEP $GITOPSD_RESULT $GITOPSD_EXIT_CODE" >> ${hookOut}`] },
    });
    await h.sim.install(g1);
    expect((await validate(h)).exitCode).toBe(0);
    const gens = await h.sim.generations();
    // Next boot of the golden: sshd fails this time (a broken disk, a bad secret...).
    await h.sim.boot();
    await h.sim.setUnitState('sshd.service', 'failed');
    const r = await validate(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('golden system');
    expect(r.stdout).toContain('itself failed');
    expect(await h.sim.rebootRequests()).toEqual([]);
    expect(await h.sim.generations()).toEqual(gens);
    expect(await h.sim.bootDefault()).toBe(g1);
    const s = await h.json<BootStatus>(['boot', 'status']);
    expect(s).toMatchObject({
      verdict: 'failed',
      failures: 1,
      degraded: { reason: 'golden-failed', storePath: g1 },
      lastRollback: null,
    });
    expect(await readFile(hookOut, 'utf8')).toBe('boot-validate degraded-golden-failed 5\n');
    // It stays put on the next boot too (no loop), and the golden is still the golden.
    await h.sim.boot();
    await h.sim.setUnitState('sshd.service', 'failed');
    expect((await validate(h)).exitCode).toBe(5);
    expect(await h.sim.rebootRequests()).toEqual([]);
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBe(g1);
    // Once it validates again, the degraded flag clears.
    await h.sim.boot();
    expect((await validate(h)).exitCode).toBe(0);
    expect(await h.json<BootStatus>(['boot', 'status'])).toMatchObject({ degraded: null, failures: 0 });
  });
});

describe('loop guard: no golden yet', () => {
  it('falls back to the newest generation with an ok verdict', async () => {
    const h = await createHost('no-golden', { validation: { autoPinGolden: false } });
    await h.sim.install(g1);
    expect((await validate(h)).exitCode).toBe(0);
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBeNull();
    await setDefault(h, bad);
    await h.sim.boot();
    expect((await validate(h)).exitCode).toBe(5);
    await h.sim.boot();
    const r = await validate(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain(`rolling back to the newest ok generation ${g1}`);
    expect(await h.sim.bootDefault()).toBe(g1);
    expect((await h.json<BootStatus>(['boot', 'status'])).lastRollback).toMatchObject({
      from: bad,
      to: g1,
      targetSource: 'last-ok',
    });
    await h.sim.boot();
    expect((await validate(h)).exitCode).toBe(0);
  });

  it('with no ok generation at all: degraded, no reboot', async () => {
    const h = await createHost('nothing-ok');
    await h.sim.install(bad);
    expect((await validate(h)).exitCode).toBe(5);
    expect(await h.sim.rebootRequests()).toHaveLength(1);
    await h.sim.boot();
    const r = await validate(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('no golden and no other generation with an ok verdict');
    expect(await h.sim.rebootRequests()).toEqual([]);
    expect(await h.sim.bootDefault()).toBe(bad);
    expect(await h.json<BootStatus>(['boot', 'status'])).toMatchObject({
      failures: 2,
      degraded: { reason: 'no-target' },
    });
  });
});

describe('the reboot bound', () => {
  it('requests at most maxBootFailures + 1 automatic reboots for one store path, whatever happens', async () => {
    const h = await createHost('bound');
    await h.sim.install(g1);
    expect((await validate(h)).exitCode).toBe(0);
    await setDefault(h, bad);
    const outcomes: string[] = [];
    // A boot loader that ignores the new default: it keeps booting the bad system.
    for (let i = 0; i < 6; i++) {
      await run(join(bad, 'bin/switch-to-configuration'), ['boot'], { env: h.sim.env });
      await h.sim.boot();
      expect(await h.sim.bootedSystem()).toBe(bad);
      const r = await validate(h);
      expect(r.exitCode).toBe(5);
      outcomes.push(`${(await h.sim.rebootRequests()).length}`);
    }
    // Reboots: retry, rollback, rollback again (= 3 = maxBootFailures + 1), then never again.
    expect(outcomes).toEqual(['1', '1', '1', '0', '0', '0']);
    const s = await h.json<BootStatus>(['boot', 'status']);
    expect(s).toMatchObject({ failures: 6, reboots: 3, rebootLimit: 3, degraded: { reason: 'reboot-bound' } });
    // The rollback itself was not repeated harmfully: one generation for it.
    expect((await h.sim.generations()).filter((g) => g.storePath === g1).map((g) => g.number)).toEqual([1, 3]);
  });
});

describe('onFirstFailure: wait', () => {
  it('counts the failure without rebooting, and rolls back at the limit', async () => {
    const h = await createHost('wait', { validation: { onFirstFailure: 'wait' } });
    await h.sim.install(g1);
    expect((await validate(h)).exitCode).toBe(0);
    await setDefault(h, bad);
    await h.sim.boot();
    const r = await validate(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('waiting for the next boot');
    expect(await h.sim.rebootRequests()).toEqual([]);
    await h.sim.boot();
    expect((await validate(h)).exitCode).toBe(5);
    expect(await h.sim.rebootRequests()).toHaveLength(1);
    expect(await h.sim.bootDefault()).toBe(g1);
  });
});
