/**
 * Issue 16's must-show fleet: 9 simulated hosts in 3 waves (a0-a2 the
 * canaries, b0-b2, c0-c2; each later wave needs all 3 hosts of the wave
 * before it healthy on the commit for a 60-minute soak), the real CLI with
 * real git and nix, the clock injected with GITOPSD_TEST_NOW.
 *
 * - a good commit reaches wave 0, then wave 1 after the soak, then wave 2;
 * - a canary whose status goes stale pauses wave 1 until it publishes again;
 * - a commit that breaks sshd is reverted on wave 0 and never reaches wave 1;
 * - a signed promote lets wave 2 deploy at once; a signed halt stops wave 0;
 * - a new kernel: the canaries' reboots take turns (reboot.maxConcurrent 1).
 *
 * Cost: every host builds the same nixosConfiguration ("node"), so nix builds
 * each commit once and the other hosts' builds are cache hits; dotfiles are
 * off (no sync step); heartbeats are `fleet publish` (no nix). Each scenario
 * runs only the host runs its point needs.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { runCli } from '../../helpers/cli.js';
import { configureHost, createStatusRemote } from '../fleet/fixture.js';
import type { FleetView } from '../../../src/fleet/schema.js';

const T0 = Date.parse('2026-12-01T04:00:00Z');
const at = (min: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(T0 + min * 60_000).toISOString(),
  TZ: 'UTC',
});
const NAMES = ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2'] as const;
type Name = (typeof NAMES)[number];
const POLICY = `${JSON.stringify({
  v: 1,
  waves: [
    { name: 'canary', hosts: ['a0', 'a1', 'a2'] },
    { name: 'early', hosts: ['b0', 'b1', 'b2'], soakMinutes: 60 },
    { name: 'rest', hosts: ['c0', 'c1', 'c2'], soakMinutes: 60 },
  ],
})}\n`;

interface UpgradeJson {
  kind: string;
  commit: string | null;
  reboot?: string;
  message: string;
}

let dir: string;
let fleet: Fleet;
let signingKey: string;
let opsConfig: string;
const host = (n: Name): FleetHost => fleet.host(n);

async function upgrade(n: Name, min: number): Promise<UpgradeJson & { code: number }> {
  const r = await host(n).gitopsd(['upgrade', '--json'], { env: at(min) });
  try {
    return { ...(JSON.parse(r.stdout) as UpgradeJson), code: r.exitCode };
  } catch {
    throw new Error(`upgrade on ${n} printed no JSON (exit ${r.exitCode}): ${r.stdout}${r.stderr}`);
  }
}

async function publish(names: readonly Name[], min: number): Promise<void> {
  for (const n of names) {
    const r = await host(n).gitopsd(['fleet', 'publish'], { env: at(min) });
    expect(r.exitCode, `${n}: ${r.stderr}`).toBe(0);
  }
}

/** What the fleet reads: each host's deployed commit and reboot announcement. */
async function view(min: number): Promise<Record<string, { deployed: string | null; reboot: string | null }>> {
  const r = await host('a0').gitopsd(['fleet', 'status', '--json'], { env: at(min) });
  const v = JSON.parse(r.stdout) as FleetView;
  return Object.fromEntries(
    v.hosts.map((h) => [
      h.host,
      { deployed: h.status?.deployed?.commit ?? null, reboot: h.status?.reboot?.state ?? null },
    ]),
  );
}

const onCommit = (v: Awaited<ReturnType<typeof view>>, c: string): string[] =>
  Object.entries(v)
    .filter(([, h]) => h.deployed === c)
    .map(([n]) => n)
    .sort();

beforeAll(async () => {
  await requireTools();
  dir = await tempDir('gitopsd-fleet9');
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: NAMES, sharedFlakeHost: 'node' });
  const remote = await createStatusRemote(join(dir, 'remotes'));

  // alice signs nix-config's commits and the markers; the hosts trust her key.
  signingKey = join(dir, 'alice_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice', '-f', signingKey]);
  const signers = join(dir, 'allowed_signers');
  await writeFile(signers, `alice namespaces="git" ${(await readFile(`${signingKey}.pub`, 'utf8')).trim()}\n`);
  for (const [k, v] of [
    ['gpg.format', 'ssh'] as const,
    ['user.signingkey', signingKey] as const,
    ['commit.gpgsign', 'true'] as const,
  ])
    await run('git', ['-C', fleet.nixConfig.workDir, 'config', k, v]);

  for (const h of fleet.hosts) {
    await configureHost(h, {
      nixConfig: { allowedSignersFile: signers },
      fleet: { enable: true, statusRemote: remote, heartbeatSec: 1800 },
      dotfiles: { enable: false },
      reboot: { allow: true, window: null, maxConcurrent: 1 },
    });
  }
  // The operator's config: the producer's checkout, the same remote and signers.
  opsConfig = join(dir, 'ops.json');
  await writeFile(
    opsConfig,
    JSON.stringify({
      hostname: 'ops',
      stateDir: join(dir, 'ops-state'),
      nixConfig: { path: fleet.nixConfig.workDir, allowedSignersFile: signers },
      fleet: { statusRemote: remote },
    }),
  );
  // Every host publishes once, so the policy names no unknown host.
  await publish(NAMES, -5);
});
afterAll(removeTempDirs);

describe('9 hosts in 3 waves', () => {
  let v2: string;

  it('a good commit reaches wave 0, then wave 1 after the soak (a stale canary pauses it), then wave 2', async () => {
    await fleet.nixConfig.commitGeneration({ node: { version: 'v2', kernelVersion: '6.6.1' } }, 'fleet: v2', {
      push: false,
    });
    v2 = await fleet.nixConfig.commitFiles({ 'gitopsd-rollout.json': POLICY }, 'rollout: 3 waves');
    const c = v2.slice(0, 8);

    for (const n of ['a0', 'a1', 'a2'] as const)
      expect(await upgrade(n, 0), n).toMatchObject({ code: 0, kind: 'deployed', commit: v2 });
    expect(await upgrade('b0', 1)).toMatchObject({
      code: 0,
      kind: 'gated',
      message: `waiting: 3 of 3 canary hosts healthy on ${c} for 0 of 60 min`,
    });

    // a0 and a1 attest the soak; a2 stays silent past twice its heartbeat (stale).
    await publish(['a0', 'a1'], 65);
    expect(await upgrade('b0', 66)).toMatchObject({
      code: 0,
      kind: 'gated',
      message: `paused: 2 of 3 canary hosts healthy on ${c} for 60 of 60 min; no fresh status from a2 (stale)`,
    });
    await publish(['a2'], 67);
    for (const n of ['b0', 'b1', 'b2'] as const)
      expect(await upgrade(n, 68), n).toMatchObject({ code: 0, kind: 'deployed', commit: v2 });
    expect(await upgrade('c0', 70)).toMatchObject({
      code: 0,
      kind: 'gated',
      message: `waiting: 3 of 3 early hosts healthy on ${c} for 0 of 60 min`,
    });

    await publish(['b0', 'b1', 'b2'], 130);
    for (const n of ['c0', 'c1', 'c2'] as const)
      expect(await upgrade(n, 131), n).toMatchObject({ code: 0, kind: 'deployed', commit: v2 });
    expect(onCommit(await view(131), v2)).toEqual([...NAMES]);
  });

  it('a commit that breaks sshd is reverted on wave 0 and never reaches wave 1', async () => {
    const v3 = await fleet.nixConfig.commitGeneration(
      { node: { version: 'v3', kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
      'fleet: v3 breaks sshd',
    );
    expect(await upgrade('a0', 140)).toMatchObject({ code: 4, kind: 'reverted', commit: v3 });
    const b = await upgrade('b0', 150);
    expect(b).toMatchObject({ code: 3, kind: 'halted', commit: v3 });
    expect(b.message).toMatch(new RegExp(`^halted: ${v3.slice(0, 8)} is known bad on a0 `));
    const v = await view(150);
    expect(onCommit(v, v3)).toEqual([]);
    expect(onCommit(v, v2)).toEqual([...NAMES]);
  });

  it('a signed promote lets wave 2 deploy at once; a signed halt stops wave 0', async () => {
    const v4 = await fleet.nixConfig.commitGeneration({ node: { version: 'v4', kernelVersion: '6.6.1' } }, 'v4');
    const ops = (args: string[]) => runCli([...args, '--config', opsConfig], { env: { ...at(210), USER: 'alice' } });

    const gated = await upgrade('c1', 210);
    expect(gated).toMatchObject({ code: 0, kind: 'gated' });
    const promote = await ops(['fleet', 'promote', v4, '--signing-key', signingKey, '--reason', 'urgent fix']);
    expect(promote.exitCode, promote.stderr).toBe(0);
    expect(await upgrade('c1', 211)).toMatchObject({ code: 0, kind: 'deployed', commit: v4 });

    const halt = await ops(['fleet', 'halt', v4, '--signing-key', signingKey, '--reason', 'stop it']);
    expect(halt.exitCode, halt.stderr).toBe(0);
    const gens = (await host('a1').sim.generations()).length;
    const a = await upgrade('a1', 212);
    expect(a).toMatchObject({ code: 3, kind: 'halted', commit: v4 });
    expect((await host('a1').sim.generations()).length).toBe(gens);
  });

  it('a new kernel: the canaries reboot one at a time (reboot.maxConcurrent 1)', async () => {
    const v5 = await fleet.nixConfig.commitGeneration({ node: { version: 'v5', kernelVersion: '6.7.0' } }, 'v5 kernel');
    const outstanding = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const h of fleet.hosts) if ((await h.sim.rebootRequests()).length > 0) out.push(h.name);
      return out;
    };
    expect(await upgrade('a0', 220)).toMatchObject({ code: 0, kind: 'deployed', commit: v5, reboot: 'requested' });
    const a1 = await upgrade('a1', 221);
    expect(a1).toMatchObject({ code: 0, kind: 'deployed', commit: v5, reboot: 'waiting-turn' });
    expect(a1.message).toContain('waiting for a reboot turn in group fleet: 1 host(s) ahead (a0), at most 1 at once');
    expect(await outstanding()).toEqual(['a0']);
    expect((await view(221))['a1']?.reboot).toBe('waiting');

    await host('a0').sim.boot();
    const v = await host('a0').gitopsd(['boot', 'validate'], { env: at(230) });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(await upgrade('a1', 231)).toMatchObject({ code: 0, kind: 'no-op', reboot: 'requested' });
    expect(await outstanding()).toEqual(['a1']);
    const after = await view(231);
    expect([after['a0']?.reboot, after['a1']?.reboot]).toEqual([null, 'rebooting']);
  });
});
