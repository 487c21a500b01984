/**
 * A real, store-wide `nix-store --gc` after `nix-env --delete-generations
 * old` on the fake profile: G1 survives because of the golden GC root, and
 * the rollback to it works.
 *
 * A full collection deletes every dead path of the shared test-bed store, so
 * it must not run while other test files hold paths they have not rooted
 * yet (or have just unrooted on purpose). Files named *.alone.test.ts run in
 * their own group, after every other file has finished (vitest.config.ts,
 * sequence.groupOrder). Every path this file still needs is rooted: G1 by the
 * golden root, the bad system by the profile and booted-system root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { createFixture, createHost, validateThenBootInto, type Fixture, type Host } from './fixture.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let h: Host;
let g1: string;
let bad: string;
let unrooted: string;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('gc-full');
  g1 = await fx.build('g1');
  await fx.repo.commitGeneration(
    { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
    'break sshd',
  );
  bad = await fx.build('bad');
  // A control: a system nobody roots. The collector must take it, or this
  // test would prove nothing about G1.
  await fx.repo.commitGeneration({ hosta: { version: `unrooted-${fx.nonce}`, kernelVersion: '6.6.1' } }, 'unrooted');
  unrooted = await fx.build('unrooted');
  await rm(join(fx.base, 'out'), { recursive: true });
  h = await createHost('gc-full');
  // As after an upgrade with operation boot to the bad system and a reboot:
  // the booted-system root points at the bad system, not at G1.
  await validateThenBootInto(h, g1, bad);
});
afterAll(removeTempDirs);

describe('a real nix-store --gc', () => {
  it('deletes the unrooted system and G1 generation link, never G1; the rollback still works', async () => {
    await run('nix-env', ['-p', h.sim.paths.systemProfile, '--delete-generations', 'old'], { env: h.sim.env });
    expect((await h.sim.generations()).map((g) => g.storePath)).toEqual([bad]);
    await run('nix-store', ['--gc']);
    expect(existsSync(unrooted)).toBe(false);
    expect(existsSync(g1)).toBe(true);
    await run('nix-store', ['--check-validity', g1]);
    expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({
      storePath: g1,
      generation: null,
      gcRootIntact: true,
    });

    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    expect(await h.sim.bootDefault()).toBe(g1);
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({ storePath: g1, gcRootIntact: true });
  });
});
