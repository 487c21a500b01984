/**
 * GC roots on the simulated host behave as on NixOS (tools.md section 5): a
 * root made with `nix-store --add-root <gcRootsDir>/x --indirect -r P` keeps P
 * alive after its profile generation link is deleted.
 *
 * The store is shared by every test in the test bed, so this test never runs a
 * store-wide `nix-store --gc`: it asks the collector what it *would* delete
 * (`--gc --print-dead`, read-only) and deletes only its own path with
 * `nix-store --delete P`, which applies the same liveness rule and refuses a
 * live path. P is a toplevel with a version label unique to this run, so
 * nothing else refers to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { buildToplevel, createNixConfigRepo } from '../../harness/nix-config.js';
import { run, tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';

let host: SimHost;
let probe: string;
let other: string;

async function isDead(path: string): Promise<boolean> {
  const r = await run('nix-store', ['--gc', '--print-dead']);
  return r.stdout.split('\n').includes(path);
}

beforeAll(async () => {
  await requireTools();
  const base = await tempDir('gc-roots');
  const nonce = randomBytes(6).toString('hex');
  const repo = await createNixConfigRepo({
    dir: join(base, 'config'),
    hosts: { hosta: { version: `gcprobe-${nonce}`, kernelVersion: '6.6.1' } },
  });
  probe = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'probe') });
  await repo.commitGeneration({ hosta: { version: `gcother-${nonce}`, kernelVersion: '6.6.1' } }, 'other');
  other = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'other') });
  // Only the profile (below) may keep probe alive.
  await rm(join(base, 'probe'));
  host = await createSimHost({ dir: join(base, 'root'), name: 'hosta', services: [] });
  await run('nix-env', ['-p', host.paths.systemProfile, '--set', probe]);
  await run('nix-env', ['-p', host.paths.systemProfile, '--set', other]);
});
afterAll(removeTempDirs);

describe('GC roots', () => {
  it('a profile generation link in the fake root is a real GC root', async () => {
    expect(await isDead(probe)).toBe(false);
  });

  it('an --add-root --indirect root under gcRootsDir keeps a path alive after its generation is deleted', async () => {
    const golden = join(host.paths.gcRootsDir, 'gitopsd-golden');
    await run('nix-store', ['--add-root', golden, '--indirect', '--realise', probe]);
    expect(await readlink(golden)).toBe(probe);
    // The fake gcroots dir is not scanned by nix itself: the root counts because
    // nix registered the link in the real gcroots/auto.
    const auto = '/nix/var/nix/gcroots/auto';
    const registered = await Promise.all((await readdir(auto)).map((e) => readlink(join(auto, e)).catch(() => '')));
    expect(registered).toContain(golden);

    await run('nix-env', ['-p', host.paths.systemProfile, '--delete-generations', '1']);
    expect((await host.generations()).map((g) => g.number)).toEqual([2]);
    expect(await isDead(probe)).toBe(false);
    const refused = await tryRun('nix-store', ['--delete', probe]);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('still alive');
    await run('nix-store', ['--check-validity', probe]);

    // Without the golden root nothing holds it: the collector would take it.
    await rm(golden);
    expect(await isDead(probe)).toBe(true);
    await run('nix-store', ['--delete', probe]);
    expect((await tryRun('nix-store', ['--check-validity', probe])).exitCode).not.toBe(0);
    // The current generation was never at risk.
    expect(await isDead(other)).toBe(false);
  });
});
