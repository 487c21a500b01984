/**
 * Garbage collection cannot take the golden: `nix-env --delete-generations
 * old` on the (real) fake profile deletes G1's generation link, and the
 * golden GC root alone keeps G1 in the (real) store; the rollback still
 * works and `golden show` reports the root intact.
 *
 * The store is shared by every test running in parallel, so this file never
 * runs a store-wide `nix-store --gc`: it asks the collector what it WOULD
 * delete (`--gc --print-dead`, read-only) and tries `nix-store --delete` on
 * G1 itself, which applies the same liveness rule as the collector and
 * refuses a live path. G1 has a version label unique to this run, so nothing
 * but this host refers to it. The full `nix-store --gc` is in
 * gc-full.alone.test.ts, which runs after every other test file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run, tryRun } from '../../harness/exec.js';
import { createFixture, createHost, validateThenBootInto, type Fixture, type Host } from './fixture.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let h: Host;
let g1: string;
let bad: string;

async function isDead(path: string): Promise<boolean> {
  const r = await run('nix-store', ['--gc', '--print-dead']);
  return r.stdout.split('\n').includes(path);
}

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('gc');
  g1 = await fx.build('g1');
  await fx.repo.commitGeneration(
    { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
    'break sshd',
  );
  bad = await fx.build('bad');
  // From here on only the host may keep G1 alive.
  await rm(join(fx.base, 'out', 'g1'));
  h = await createHost('gc');
  // As after an upgrade with operation boot to the bad system and a reboot:
  // the booted-system root points at the bad system, not at G1.
  await validateThenBootInto(h, g1, bad);
});
afterAll(removeTempDirs);

describe('GC and the golden', () => {
  it('deleting old generations removes G1 link; the golden root alone keeps G1 alive', async () => {
    expect((await h.sim.generations()).map((g) => g.storePath)).toEqual([g1, bad]);
    await run('nix-env', ['-p', h.sim.paths.systemProfile, '--delete-generations', 'old'], { env: h.sim.env });
    expect((await h.sim.generations()).map((g) => g.storePath)).toEqual([bad]);
    expect(await isDead(g1)).toBe(false);
    const refused = await tryRun('nix-store', ['--delete', g1]);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('still alive');
    await run('nix-store', ['--check-validity', g1]);
    const g = await h.json<GoldenInfo>(['golden', 'show']);
    expect(g).toMatchObject({ storePath: g1, generation: null, gcRootIntact: true, generationAtPin: 1 });
    expect((await h.gitopsd(['golden', 'show'])).stdout).toContain('kept by the GC root');
  });

  it('the root is what holds it: without it G1 would be collected; golden pin repairs it', async () => {
    await rm(h.sim.paths.gcRootsDir + '/gitopsd-golden');
    expect(await isDead(g1)).toBe(true);
    expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({ storePath: g1, gcRootIntact: false });
    const r = await h.gitopsd(['golden', 'pin', '--store-path', g1]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('GC root was repaired');
    expect(await isDead(g1)).toBe(false);
    expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({ storePath: g1, gcRootIntact: true });
  });

  it('the rollback still works without the generation link', async () => {
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    await h.sim.boot();
    const r = await h.gitopsd(['boot', 'validate']);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('rolling back to the golden');
    const gens = await h.sim.generations();
    expect(gens.map((g) => g.storePath)).toEqual([bad, g1]);
    expect(await h.sim.bootDefault()).toBe(g1);
    await h.sim.boot();
    expect(await h.sim.bootedSystem()).toBe(g1);
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({
      storePath: g1,
      generation: gens.at(-1)?.number,
      gcRootIntact: true,
    });
  });
});
