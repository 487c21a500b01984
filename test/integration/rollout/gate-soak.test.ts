/**
 * The soak a canary attests is time it ran the commit (review 14), in the
 * real `gitopsd upgrade`, `boot validate` and `fleet publish` (real git and
 * nix; the reboot is the sim host's boot(); the clock injected with
 * GITOPSD_TEST_NOW). c0 is wave 0, w1 wave 1 with a 60-minute soak.
 *
 * c0 sets a new kernel as its boot default at 04:10 and reboots into it at
 * 05:50. A minute later it has run the commit for a minute: w1 must wait.
 * Before, healthySince was kept from the deploy (a host waiting for its
 * reboot is "warning", which counts as healthy), so c0 attested 101 minutes
 * of soak and w1 deployed at once.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { configureHost, createStatusRemote } from '../fleet/fixture.js';

const T0 = Date.parse('2026-12-01T04:00:00Z');
const at = (min: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(T0 + min * 60_000).toISOString(),
  TZ: 'UTC',
});
const POLICY = `${JSON.stringify({
  v: 1,
  waves: [
    { name: 'canary', hosts: ['c0'] },
    { name: 'rest', hosts: ['w1'], soakMinutes: 60 },
  ],
})}\n`;

let fleet: Fleet;
let c0: FleetHost;
let w1: FleetHost;

async function upgrade(
  h: FleetHost,
  min: number,
): Promise<{ code: number; kind: string; message: string; reboot?: string }> {
  const r = await h.gitopsd(['upgrade', '--json'], { env: at(min) });
  try {
    return { ...(JSON.parse(r.stdout) as { kind: string; message: string; reboot?: string }), code: r.exitCode };
  } catch {
    throw new Error(`upgrade on ${h.name} printed no JSON (exit ${r.exitCode}): ${r.stdout}${r.stderr}`);
  }
}

async function publish(h: FleetHost, min: number): Promise<void> {
  const r = await h.gitopsd(['fleet', 'publish', '--force'], { env: at(min) });
  expect(r.exitCode, r.stderr).toBe(0);
}

beforeAll(async () => {
  await requireTools();
  const dir = await tempDir('gitopsd-gate-soak');
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['c0', 'w1'] });
  [c0, w1] = fleet.hosts as [FleetHost, FleetHost];
  const remote = await createStatusRemote(join(dir, 'remotes'));
  for (const h of fleet.hosts) {
    // No dotfiles (the sync is not what this shows, and it costs CPU).
    await configureHost(h, {
      fleet: { enable: true, statusRemote: remote, heartbeatSec: 3600 },
      dotfiles: { enable: false },
      nixConfig: { operation: 'boot' },
      reboot: { allow: false },
    });
  }
});
afterAll(removeTempDirs);

describe('the soak counts only time a canary ran the commit', () => {
  it('the minutes a canary waited for its reboot are not soak', async () => {
    // Both hosts publish first: a policy naming a host with no status is refused (docs/rollout.md "Unknown hosts").
    for (const h of [c0, w1]) await publish(h, 0);
    await fleet.nixConfig.commitGeneration(
      { c0: { version: 'v2', kernelVersion: '6.7.0' }, w1: { version: 'v2', kernelVersion: '6.7.0' } },
      'fleet: v2, a new kernel',
      { push: false },
    );
    const v2 = await fleet.nixConfig.commitFiles({ 'gitopsd-rollout.json': POLICY }, 'rollout: waves');
    const c = v2.slice(0, 8);

    // The canary deploys v2 as the boot default and publishes; its reboot waits (reboot.allow false).
    expect(await upgrade(c0, 10)).toMatchObject({ code: 0, kind: 'deployed', reboot: 'needed' });

    // It reboots into v2 at 05:50; its first status after that starts the soak.
    await c0.sim.boot();
    const v = await c0.gitopsd(['boot', 'validate'], { env: at(110) });
    expect(v.exitCode, v.stderr).toBe(0);
    await publish(c0, 111);
    const gens = (await w1.sim.generations()).length;
    const early = await upgrade(w1, 112);
    expect(early.message).toBe(`waiting: 1 of 1 canary hosts healthy on ${c} for 0 of 60 min`);
    expect(early).toMatchObject({ code: 0, kind: 'gated' });
    expect((await w1.sim.generations()).length).toBe(gens);

    // An hour after that, the soak is done.
    await publish(c0, 171);
    expect(await upgrade(w1, 172)).toMatchObject({ code: 0, kind: 'deployed', commit: v2 });
  });
});
