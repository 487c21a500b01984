/**
 * Issue 13, Deliver 3: boot validation with the semantics of systemd's boot
 * assessment (systemd.io AUTOMATIC_BOOT_ASSESSMENT, systemd-bless-boot(8)),
 * through `gitopsd boot validate` on the simulated host:
 * - an attempt that never reached a verdict (here: the validator killed -9
 *   after recording it) counts toward maxBootFailures like a failed verdict;
 * - once the count reached maxBootFailures, the next boot rolls back before
 *   running its own checks (no `systemctl show` in its trace), although the
 *   system would have passed them;
 * - a system with failed attempts on record is not pinned golden on one
 *   lucky boot: it needs maxBootFailures ok boots in a row;
 * - state written before this change (path records without the new
 *   counters) is read, and the rule holds for it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { createFixture, createHost, type Fixture, type Host } from '../golden/fixture.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let g1: string;
let g2: string;

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('assessment');
  g1 = await fx.build('g1');
  // G2 is healthy: every check it would run passes.
  await fx.repo.commitGeneration({ hosta: { version: `g2-${fx.nonce}`, kernelVersion: '6.6.1' } }, 'G2');
  g2 = await fx.build('g2');
});
afterAll(removeTempDirs);

/** G1 installed, validated and pinned; G2 made the profile and boot default (as upgrade with operation boot leaves it), then booted. */
async function hostOnG2(label: string): Promise<Host> {
  const h = await createHost(label);
  await h.sim.install(g1);
  const v = await h.gitopsd(['boot', 'validate']);
  if (v.exitCode !== 0) throw new Error(`boot validate of G1 exited ${v.exitCode}: ${v.stderr}`);
  await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', g2], { env: h.sim.env });
  await run(join(g2, 'bin/switch-to-configuration'), ['boot'], { env: h.sim.env });
  await h.sim.boot();
  return h;
}

async function validateTraced(
  h: Host,
  env: Record<string, string> = {},
): Promise<{ exitCode: number; stdout: string; cmds: string[] }> {
  const trace = join(fx.base, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(trace, '');
  const r = await h.gitopsd(['boot', 'validate'], { env: { ...env, GITOPSD_TRACE: trace } });
  const cmds = (await readFile(trace, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event: string; cmd?: string; args?: string[] })
    .filter((e) => e.event === 'start' && e.cmd !== undefined)
    .map((e) => [e.cmd, ...(e.args ?? [])].join(' '));
  return { exitCode: r.exitCode, stdout: r.stdout, cmds };
}

describe('attempts that never reached a verdict', () => {
  it('count toward maxBootFailures, and the boot after the limit rolls back before its own checks', async () => {
    const h = await hostOnG2('hang');
    // Boots 1 and 2 of G2: the validator is killed -9 right after it recorded
    // the attempt (checkpoints 1-2 are that write and its rename), as a hang
    // or a power loss would leave it.
    for (let boot = 1; boot <= 2; boot++) {
      if (boot > 1) await h.sim.boot();
      const killed = await h.gitopsd(['boot', 'validate'], { env: { GITOPSD_FAULT_KILL_AT: '3' } });
      expect(killed.exitCode, `boot ${boot}`).toBe(-1);
      const st = await h.state();
      expect(st.boot.current).toMatchObject({ storePath: g2, verdict: 'pending' });
      // The earlier boot's pending attempt was closed as failed when this one started.
      expect(st.boot.paths[g2]).toMatchObject({ attempts: boot, failures: boot - 1 });
    }
    // Boot 3: two attempts without a verdict are on record, maxBootFailures is 2.
    await h.sim.boot();
    const r = await validateTraced(h);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('before running its checks');
    expect(r.cmds.filter((c) => c.startsWith('systemctl show'))).toEqual([]);
    expect(r.cmds.filter((c) => !c.startsWith('nix-store'))).toEqual([
      `nix-env -p ${h.sim.paths.systemProfile} --set ${g1}`,
      `${g1}/bin/switch-to-configuration boot`,
      'systemctl reboot',
    ]);
    expect(await h.sim.bootDefault()).toBe(g1);
    const st = await h.state();
    expect(st.boot.paths[g2]).toMatchObject({ attempts: 3, failures: 3, failedAttempts: 3 });
    expect(st.boot.current).toMatchObject({ verdict: 'failed', action: 'rollback', checks: [] });
    expect(st.boot.current?.reason).toMatch(
      /^2 failed boot attempt\(s\) on record reached maxBootFailures 2; checks not run/,
    );
    expect(st.boot.lastRollback).toMatchObject({ from: g2, to: g1, source: 'auto' });
    // The host comes back on the golden, which validates.
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBe(g1);
  });
});

describe('no golden on one lucky boot', () => {
  it('a system that failed once needs maxBootFailures ok boots in a row before it is pinned', async () => {
    const h = await hostOnG2('lucky');
    // Boot 1 of G2: sshd fails (this time).
    await h.sim.setUnitState('sshd.service', 'failed');
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    // Boot 2: all good. Validated, but not pinned: one failed attempt on record.
    await h.sim.boot();
    const lucky = await h.gitopsd(['boot', 'validate']);
    expect(lucky.exitCode).toBe(0);
    expect(lucky.stdout).toContain('not pinned as golden: 1 failed attempt(s) on record, 1 of 2 ok boots in a row');
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBe(g1);
    let st = await h.state();
    // The ok verdict resets the count toward a rollback, not the record of failed attempts.
    expect(st.boot.paths[g2]).toMatchObject({ failures: 0, failedAttempts: 1, okStreak: 1 });
    // Boot 3: good again, two in a row: now it is the golden.
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBe(g2);
    st = await h.state();
    expect(st.boot.paths[g2]).toMatchObject({ failures: 0, failedAttempts: 1, okStreak: 2 });
  });

  it('state written by the previous version (no failedAttempts, okStreak) is read: its failure still blocks the pin', async () => {
    const h = await hostOnG2('legacy');
    const stateFile = join(h.sim.paths.stateDir, 'state.json');
    const doc = JSON.parse(await readFile(stateFile, 'utf8')) as { boot: { paths: Record<string, unknown> } };
    // A path record exactly as the previous version wrote it after one failed boot.
    doc.boot.paths[g2] = {
      attempts: 1,
      failures: 1,
      reboots: 1,
      lastVerdict: 'failed',
      lastOkAt: null,
      lastFailedAt: '2026-01-01T00:00:00.000Z',
      touchedAt: '2026-01-01T00:00:00.000Z',
    };
    await writeFile(stateFile, JSON.stringify(doc));
    const r = await h.gitopsd(['boot', 'validate']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('not pinned as golden: 1 failed attempt(s) on record');
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBe(g1);
    // `boot reset` clears the record: the next ok boot pins.
    expect((await h.gitopsd(['boot', 'reset', '--store-path', g2])).exitCode).toBe(0);
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath).toBe(g2);
  });
});
