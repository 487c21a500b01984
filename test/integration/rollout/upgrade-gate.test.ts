/**
 * The rollout gate in a real `gitopsd upgrade` (the CLI, real git and nix,
 * the clock injected with GITOPSD_TEST_NOW): two simulated hosts publish
 * their statuses to one status remote; the canary c0 is wave 0, w1 is wave 1
 * with a 60-minute soak. w1 stays gated (exit 0, nothing built) until c0 has
 * published healthy on the commit for the soak, then deploys; a commit that
 * breaks sshd on the canary is reverted there and halts w1 (exit 3).
 * `gitopsd cycle` asks the same gate as `gitopsd upgrade`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { configureHost, createStatusRemote, remoteRefs } from '../fleet/fixture.js';
import type { FleetView } from '../../../src/fleet/schema.js';

const T0 = Date.parse('2026-12-01T04:00:00Z');
const at = (min: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(T0 + min * 60_000).toISOString(),
  TZ: 'UTC',
});
const POLICY = `${JSON.stringify(
  {
    v: 1,
    waves: [
      { name: 'canary', hosts: ['c0'] },
      { name: 'rest', hosts: ['w1'], soakMinutes: 60 },
    ],
  },
  null,
  2,
)}\n`;

interface UpgradeJson {
  kind: string;
  exitCode: number;
  commit: string | null;
  message: string;
  gate?: string;
}

let fleet: Fleet;
let c0: FleetHost;
let w1: FleetHost;
let remote: string;

async function upgrade(h: FleetHost, min: number): Promise<UpgradeJson & { code: number; stderr: string }> {
  const r = await h.gitopsd(['upgrade', '--json'], { env: at(min) });
  let out: UpgradeJson;
  try {
    out = JSON.parse(r.stdout) as UpgradeJson;
  } catch {
    throw new Error(`upgrade on ${h.name} printed no JSON (exit ${r.exitCode}): ${r.stdout}${r.stderr}`);
  }
  return { ...out, code: r.exitCode, stderr: r.stderr };
}

type RolloutJson = { commit: string | null; note: string | null; progress: { on: number; total: number } | null };

async function fleetView(h: FleetHost, min: number): Promise<FleetView & { rollout: RolloutJson }> {
  const r = await h.gitopsd(['fleet', 'status', '--json'], { env: at(min) });
  return JSON.parse(r.stdout) as FleetView & { rollout: RolloutJson };
}

beforeAll(async () => {
  await requireTools();
  const dir = await tempDir('gitopsd-rollout-upgrade');
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['c0', 'w1'] });
  [c0, w1] = fleet.hosts as [FleetHost, FleetHost];
  remote = await createStatusRemote(join(dir, 'remotes'));
  for (const h of fleet.hosts) {
    // No dotfiles: the cycle's sync step is skipped, which keeps this test's CPU time low.
    await configureHost(h, {
      fleet: { enable: true, statusRemote: remote, heartbeatSec: 3600 },
      dotfiles: { enable: false },
    });
  }
});
afterAll(removeTempDirs);

describe('gitopsd upgrade behind the rollout gate', () => {
  let v2: string;

  it('no policy in the commit: every host deploys at once, and publishes', async () => {
    for (const h of [c0, w1]) {
      const r = await upgrade(h, 0);
      expect(r.code, r.stderr).toBe(0);
      expect(r.kind).toBe('deployed');
    }
    expect(Object.keys(await remoteRefs(remote)).sort()).toEqual(['refs/gitopsd/status/c0', 'refs/gitopsd/status/w1']);
  });

  it('wave 1 is gated (exit 0, nothing built) until the canary has been healthy on the commit for the soak', async () => {
    await fleet.nixConfig.commitGeneration(
      { c0: { version: 'v2', kernelVersion: '6.6.1' }, w1: { version: 'v2', kernelVersion: '6.6.1' } },
      'fleet: v2',
      { push: false },
    );
    v2 = await fleet.nixConfig.commitFiles({ 'gitopsd-rollout.json': POLICY }, 'rollout: waves');
    const c = v2.slice(0, 8);
    const gens = (await w1.sim.generations()).length;

    // gitopsd cycle (and so the daemon, which runs the same steps) asks the same gate.
    const cycle = await w1.gitopsd(['cycle'], { env: at(9) });
    expect(cycle.exitCode, cycle.stderr).toBe(0);
    expect(cycle.stdout).toContain(`upgrade: ok: waiting: 0 of 1 canary hosts healthy on ${c} for 0 of 60 min`);
    expect((await w1.sim.generations()).length).toBe(gens);

    const first = await upgrade(w1, 10);
    expect(first.code, first.stderr).toBe(0);
    expect(first).toMatchObject({ kind: 'gated', commit: v2 });
    expect(first.message).toBe(`waiting: 0 of 1 canary hosts healthy on ${c} for 0 of 60 min`);
    expect((await w1.sim.generations()).length).toBe(gens);

    const canary = await upgrade(c0, 10);
    expect(canary.code, canary.stderr).toBe(0);
    expect(canary).toMatchObject({ kind: 'deployed', commit: v2 });

    // The canary is healthy on v2, but has attested 30 minutes only when it publishes again.
    const second = await upgrade(w1, 40);
    expect(second.code, second.stderr).toBe(0);
    expect(second.message).toBe(`waiting: 1 of 1 canary hosts healthy on ${c} for 0 of 60 min`);
    // A gated host is not a failed one in the fleet view.
    const view = await fleetView(w1, 40);
    const row = view.hosts.find((h) => h.host === 'w1');
    expect(row?.status?.lastUpgrade).toMatchObject({ result: 'gated', commit: v2 });
    expect(['healthy', 'warning']).toContain(row?.state);
    // gitopsd status shows the gate's line.
    const st = await w1.gitopsd(['status'], { env: at(40) });
    expect(st.stdout).toMatch(new RegExp(`rollout\\s+waiting: 1 of 1 canary hosts healthy on ${c} for 0 of 60 min`));
    // fleet status shows the rollout, wave by wave, as the gate decides it.
    expect(view.rollout).toMatchObject({ commit: v2, note: null, progress: { on: 1, total: 2 } });
    const text = await w1.gitopsd(['fleet', 'status'], { env: at(40) });
    expect(text.stdout.split('\n').slice(-3)).toEqual([
      `rollout of ${c} (gitopsd-rollout.json at ${v2.slice(0, 12)}): 1/2 hosts on it`,
      `  wave 0 (canary): 1/1 hosts on ${c}, 1 healthy; done`,
      `  wave 1 (rest): 0/1 hosts on ${c}, 0 healthy, 1 gated; waiting: 1 of 1 canary hosts healthy on ${c} for 0 of 60 min`,
    ]);

    // The canary's heartbeat (at most 60 min after its last publish) attests the soak.
    const beat = await c0.gitopsd(['fleet', 'publish'], { env: at(75) });
    expect(beat.exitCode, beat.stderr).toBe(0);
    expect(beat.stdout).toMatch(/^published .*\(heartbeat/);

    const third = await upgrade(w1, 76);
    expect(third.code, third.stderr).toBe(0);
    expect(third).toMatchObject({ kind: 'deployed', commit: v2 });
    expect((await w1.sim.generations()).length).toBe(gens + 1);
  });

  it('a commit that breaks sshd on the canary is reverted there and halts wave 1 (exit 3, nothing built)', async () => {
    const v3 = await fleet.nixConfig.commitGeneration(
      {
        c0: { version: 'v3', kernelVersion: '6.6.1', failingServices: ['sshd.service'] },
        w1: { version: 'v3', kernelVersion: '6.6.1', failingServices: ['sshd.service'] },
      },
      'fleet: v3 breaks sshd',
    );
    const gens = (await w1.sim.generations()).length;
    const canary = await upgrade(c0, 90);
    expect(canary.code, canary.stderr).toBe(4);
    expect(canary.kind).toBe('reverted');

    const r = await upgrade(w1, 200);
    expect(r.code, r.stderr).toBe(3);
    expect(r).toMatchObject({ kind: 'halted', commit: v3 });
    expect(r.message).toMatch(new RegExp(`^halted: ${v3.slice(0, 8)} is known bad on c0 `));
    expect((await w1.sim.generations()).length).toBe(gens);
    const status = await w1.json<{ lastUpgrade: { result: string } | null }>(['status']);
    expect(status.lastUpgrade?.result).toBe('halted');
  });
});
