/**
 * Reboots take turns (docs/rollout.md "Reboots take turns"), in the real
 * `gitopsd upgrade` and `gitopsd boot validate` (real git and nix, the clock
 * injected with GITOPSD_TEST_NOW; the reboot itself is the sim host's boot()).
 * Three hosts get a new kernel (operation boot, reboot.allow, any time) with
 * reboot.maxConcurrent 1: the first to ask reboots, the others wait until its
 * boot validation passes; h2's new system breaks sshd at boot, and its failed
 * turn halts h3's until a person runs `gitopsd boot reset` on h2.
 * Last, h3 is down rebooting and its status ref is deleted at the status
 * remote (review 15, row 6): h1, with fleet.expectedHosts, counts h3 as
 * possibly down and waits; without the list it goes (the known limit).
 * After every step, at most one host has a reboot outstanding (asked and
 * not yet booted) or publishes "rebooting".
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { configureHost, createStatusRemote } from '../fleet/fixture.js';
import { run } from '../../harness/exec.js';
import type { FleetView } from '../../../src/fleet/schema.js';

const T0 = Date.parse('2026-12-01T04:00:00Z');
const at = (min: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(T0 + min * 60_000).toISOString(),
  TZ: 'UTC',
});

interface UpgradeJson {
  kind: string;
  reboot?: string;
  message: string;
}

let fleet: Fleet;
let h1: FleetHost;
let h2: FleetHost;
let h3: FleetHost;
let remote: string;

async function upgrade(h: FleetHost, min: number): Promise<UpgradeJson & { code: number }> {
  const r = await h.gitopsd(['upgrade', '--json'], { env: at(min) });
  try {
    return { ...(JSON.parse(r.stdout) as UpgradeJson), code: r.exitCode };
  } catch {
    throw new Error(`upgrade on ${h.name} printed no JSON (exit ${r.exitCode}): ${r.stdout}${r.stderr}`);
  }
}

async function published(min: number): Promise<Record<string, string | null>> {
  const r = await h1.gitopsd(['fleet', 'status', '--json'], { env: at(min) });
  const view = JSON.parse(r.stdout) as FleetView;
  return Object.fromEntries(view.hosts.map((h) => [h.host, h.status?.reboot?.state ?? null]));
}

/** The invariant: never more than maxConcurrent (1) hosts down, by their reboot requests and by what they publish. */
async function expectAtMostOneDown(min: number): Promise<Record<string, string | null>> {
  const asked: string[] = [];
  for (const h of fleet.hosts) if ((await h.sim.rebootRequests()).length > 0) asked.push(h.name);
  expect(asked.length, `hosts with a reboot outstanding: ${asked.join(', ')}`).toBeLessThanOrEqual(1);
  const states = await published(min);
  expect(Object.values(states).filter((s) => s === 'rebooting').length, JSON.stringify(states)).toBeLessThanOrEqual(1);
  return states;
}

beforeAll(async () => {
  await requireTools();
  const dir = await tempDir('gitopsd-reboot-turns');
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['h1', 'h2', 'h3'] });
  [h1, h2, h3] = fleet.hosts as [FleetHost, FleetHost, FleetHost];
  remote = await createStatusRemote(join(dir, 'remotes'));
  for (const h of fleet.hosts) {
    // No dotfiles (the sync is not what this shows, and it costs CPU).
    await configureHost(h, {
      fleet: { enable: true, statusRemote: remote, heartbeatSec: 3600 },
      dotfiles: { enable: false },
      nixConfig: { operation: 'boot' },
      reboot: { allow: true, window: null, maxConcurrent: 1 },
    });
  }
  await fleet.nixConfig.commitGeneration(
    {
      h1: { version: 'v2', kernelVersion: '6.7.0' },
      h2: { version: 'v2', kernelVersion: '6.7.0', failingServices: ['sshd.service'] },
      h3: { version: 'v2', kernelVersion: '6.7.0' },
    },
    'fleet: v2, a new kernel',
  );
});
afterAll(removeTempDirs);

describe('reboots take turns (reboot.maxConcurrent 1)', () => {
  it('the first host to ask reboots; the others wait until its boot validation passes, then the next goes', async () => {
    const a = await upgrade(h1, 0);
    expect(a).toMatchObject({ code: 0, kind: 'deployed', reboot: 'requested' });
    expect(a.message).toContain('reboot turn 1 of at most 1 in group fleet: rebooting');
    expect(await h1.sim.rebootRequests()).toHaveLength(1);

    const b = await upgrade(h2, 1);
    expect(b).toMatchObject({ code: 0, kind: 'deployed', reboot: 'waiting-turn' });
    expect(b.message).toContain(
      'not rebooting yet: waiting for a reboot turn in group fleet: 1 host(s) ahead (h1), at most 1 at once',
    );
    // A host that waits never said it was rebooting.
    expect(b.message).not.toContain('rebooting now');
    const c = await upgrade(h3, 2);
    expect(c).toMatchObject({ code: 0, kind: 'deployed', reboot: 'waiting-turn' });
    expect(c.message).toContain('2 host(s) ahead (h1, h2)');
    expect(await expectAtMostOneDown(2)).toEqual({ h1: 'rebooting', h2: 'waiting', h3: 'waiting' });

    // Asking again while h1 is down changes nothing (and h2 is still second).
    const b2 = await upgrade(h2, 5);
    expect(b2).toMatchObject({ code: 0, kind: 'no-op', reboot: 'waiting-turn' });
    expect(await h2.sim.rebootRequests()).toEqual([]);
    const st = await h2.gitopsd(['status'], { env: at(5) });
    expect(st.stdout).toMatch(/reboot turn\s+waiting in group fleet/);

    // h1 comes back; its boot validation passes and gives the turn back.
    await h1.sim.boot();
    const v = await h1.gitopsd(['boot', 'validate'], { env: at(10) });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(await expectAtMostOneDown(10)).toEqual({ h1: null, h2: 'waiting', h3: 'waiting' });

    const b3 = await upgrade(h2, 11);
    expect(b3).toMatchObject({ code: 0, kind: 'no-op', reboot: 'requested' });
    expect(await h2.sim.rebootRequests()).toHaveLength(1);
    const c2 = await upgrade(h3, 12);
    expect(c2).toMatchObject({ code: 0, reboot: 'waiting-turn' });
    expect(c2.message).toContain('1 host(s) ahead (h2)');
    expect(await expectAtMostOneDown(12)).toEqual({ h1: null, h2: 'rebooting', h3: 'waiting' });
  });

  it("h2's boot fails: the turns halt (h3 does not reboot) until a person runs gitopsd boot reset on h2", async () => {
    await h2.sim.boot();
    const v = await h2.gitopsd(['boot', 'validate'], { env: at(20) });
    expect(v.exitCode, v.stdout).toBe(5);
    expect((await published(20))['h2']).toBe('failed');

    const c = await upgrade(h3, 21);
    expect(c).toMatchObject({ code: 0, kind: 'no-op', reboot: 'turns-halted' });
    expect(c.message).toContain(
      'reboot turns of group fleet halted: h2 did not come back well from a reboot; fix it first',
    );
    expect(await h3.sim.rebootRequests()).toEqual([]);
    await expectAtMostOneDown(21);

    const reset = await h2.gitopsd(['boot', 'reset'], { env: at(30) });
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('cleared the failed reboot turn');
    // h2's own retry reboot (boot validation's, not a turn) is still outstanding: boot it first.
    await h2.sim.boot();
    const c2 = await upgrade(h3, 31);
    expect(c2).toMatchObject({ code: 0, kind: 'no-op', reboot: 'requested' });
    expect(await expectAtMostOneDown(31)).toMatchObject({ h2: null, h3: 'rebooting' });
  });

  it('h3 is down and its status ref deleted: with fleet.expectedHosts h1 waits for it; without, h1 goes too', async () => {
    // h3 rebooting (the step before), h1 gets another kernel.
    expect(await h3.sim.rebootRequests()).toHaveLength(1);
    await fleet.nixConfig.commitGeneration({ h1: { version: 'v3', kernelVersion: '6.8.0' } }, 'h1: v3, another kernel');
    await run('git', ['--git-dir', remote, 'update-ref', '-d', 'refs/gitopsd/status/h3']);

    await configureHost(h1, { fleet: { expectedHosts: ['h1', 'h2', 'h3'] } });
    const a = await upgrade(h1, 40);
    expect(a).toMatchObject({ code: 0, kind: 'deployed', reboot: 'waiting-turn' });
    expect(a.message).toContain(
      'waiting for a reboot turn in group fleet: 1 host(s) ahead (h3), at most 1 at once; h3 of fleet.expectedHosts has no status at the status remote (never published, or its ref deleted) and may be down; if it was retired, remove it from fleet.expectedHosts',
    );
    expect(await h1.sim.rebootRequests()).toEqual([]);
    const st = await h1.gitopsd(['status'], { env: at(40) });
    expect(st.stdout).toMatch(/reboot turn\s+waiting in group fleet/);

    // Without the list, nothing tells h1 that h3 is down (docs/rollout.md: the known limit).
    await configureHost(h1, { fleet: { expectedHosts: null } });
    const b = await upgrade(h1, 41);
    expect(b).toMatchObject({ code: 0, kind: 'no-op', reboot: 'requested' });
    expect(await h1.sim.rebootRequests()).toHaveLength(1);
    expect(await h3.sim.rebootRequests()).toHaveLength(1);
  });
});
