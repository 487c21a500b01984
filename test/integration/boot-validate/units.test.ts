/**
 * Issue 13, inputs 4 and 5: the unit semantics of boot validation, through
 * `gitopsd boot validate` on the simulated host (systemctl shim, real nix
 * profiles and GC roots):
 * - a oneshot that ran and exited with Result=success (`is-active` prints
 *   `inactive`) is healthy: exit 0, pinned golden;
 * - a unit systemd does not know (LoadState=not-found) fails at the first
 *   poll, not after validation.timeoutSec: one `systemctl show` in the trace;
 * - a crash-looping unit (active 0.2 s, activating 1 s, NRestarts rising) is
 *   never "validated", and the system is not pinned golden.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { createFixture, createHost, type Fixture, type Host } from '../golden/fixture.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let g1: string;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('units');
  g1 = await fx.build('g1');
});
afterAll(removeTempDirs);

/** Runs `gitopsd boot validate` with a trace; returns the result and the commands it ran. */
async function validateTraced(
  h: Host,
): Promise<{ exitCode: number; stdout: string; stderr: string; cmds: string[][] }> {
  const trace = join(fx.base, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(trace, '');
  const r = await h.gitopsd(['boot', 'validate'], { env: { GITOPSD_TRACE: trace } });
  const cmds = (await readFile(trace, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event: string; cmd?: string; args?: string[] })
    .filter((e) => e.event === 'start' && e.cmd !== undefined)
    .map((e) => [e.cmd as string, ...(e.args ?? [])]);
  return { ...r, cmds };
}

describe('input 4: oneshot units and units that do not exist', () => {
  it('a oneshot that finished with Result=success passes: exit 0, and the system is pinned golden', async () => {
    const h = await createHost('oneshot', {
      validation: { services: ['sshd.service', 'setup-keys.service'], settleSeconds: 1, timeoutSec: 30 },
    });
    await h.sim.install(g1);
    // The oneshot ran at boot and exited 0: systemd shows it inactive/dead with Result=success.
    await h.sim.setUnitState('setup-keys.service', 'inactive');
    await h.sim.setUnitProps('setup-keys.service', {
      Type: 'oneshot',
      Result: 'success',
      ExecMainExitTimestampMonotonic: '7000000',
      ExecMainStatus: '0',
    });
    const isActive = await h.sim.exec('systemctl', ['is-active', 'setup-keys.service']);
    expect(isActive.stdout.trim()).toBe('inactive');
    const r = await validateTraced(h);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`boot of ${g1} validated`);
    expect(r.cmds.some((c) => c[0] === 'systemctl' && c[1] === 'is-active')).toBe(false);
    const g = await h.json<GoldenInfo>(['golden', 'show']);
    expect(g).toMatchObject({ storePath: g1, source: 'auto' });
    const s = await h.state();
    const checks = s.boot.current?.checks ?? [];
    expect(checks.find((c) => c.name === 'setup-keys.service')).toMatchObject({
      ok: true,
      detail: 'oneshot finished (Result=success)',
    });
  });

  it('a unit that does not exist fails at the first poll with "unit not found", not after the 180 s timeout', async () => {
    // "ssh.service" is Debian's name; NixOS calls it sshd.service: this host has no such unit.
    const h = await createHost('not-found', {
      validation: { services: ['sshd.service', 'ssh.service'], settleSeconds: 10, timeoutSec: 180 },
    });
    await h.sim.install(g1);
    const r = await validateTraced(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toMatch(/failed/);
    const shows = r.cmds.filter((c) => c[0] === 'systemctl' && c[1] === 'show');
    expect(shows).toHaveLength(1);
    const s = await h.state();
    expect(s.boot.current?.reason).toMatch(/ssh\.service: unit not found \(LoadState=not-found\)/);
    expect(s.boot.paths[g1]?.failures).toBe(1);
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBeNull();
  });

  it('config check refuses the typo "sshd.servce" before any boot can fail on it (exit 78)', async () => {
    const h = await createHost('typo', { validation: { services: ['sshd.servce'] } });
    const r = await h.gitopsd(['config', 'check']);
    expect(r.exitCode).toBe(78);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/"sshd\.servce" ends in "\.servce", which is no unit type.*write "sshd\.service"/);
  });
});

describe('input 5: a crash-looping unit', () => {
  it('active 0.2 s / activating 1 s with NRestarts rising is not validated, and nothing is pinned golden', async () => {
    const h = await createHost('crashloop', {
      validation: { services: ['sshd.service', 'nginx.service'], settleSeconds: 3, timeoutSec: 6 },
    });
    await h.sim.install(g1);
    await h.sim.setUnitProps('sshd.service', { SimCrashLoop: '0.2 1' });
    const r = await validateTraced(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).not.toContain('validated');
    // Polled until the deadline (several samples), never one "active" sample taken as good.
    expect(r.cmds.filter((c) => c[0] === 'systemctl' && c[1] === 'show').length).toBeGreaterThan(2);
    const s = await h.state();
    expect(s.boot.current).toMatchObject({ verdict: 'failed' });
    expect(s.boot.current?.reason).toMatch(/^not healthy within the timeout \(sshd\.service: /);
    expect(s.boot.current?.checks.find((c) => c.name === 'nginx.service')).toMatchObject({ ok: true });
    expect(s.boot.current?.checks.find((c) => c.name === 'sshd.service')).toMatchObject({ ok: false });
    expect(s.golden.current).toBeNull();
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBeNull();
  });
});
