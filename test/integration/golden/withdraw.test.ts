/**
 * Review 13a, finding 3: an upstream that is down at boot is the
 * environment's fault, not the commit's. On the simulated host, with real
 * nix profiles and the real `gitopsd upgrade`:
 *   1. G1 validates (auto-pinned); upgrade (operation boot) deploys a good
 *      commit C2; the one check is a command on a flag file (the "upstream");
 *   2. the flag goes away; C2's system fails twice and is rolled back to G1,
 *      which marks C2 `boot-rollback`;
 *   3. G1 boots and fails the same check: degraded `golden-failed`, and the
 *      mark, the bad path and the path's failure count are withdrawn in the
 *      same write, with an event;
 *   3b. kill -9 at every checkpoint of that run (on copies of the host):
 *      the mark and the verdict are never seen apart, and a re-run in the
 *      same boot ends withdrawn, once;
 *   3c. the flag still gone: the next upgrade refuses, exit 6 (its
 *      pre-check: the check already fails on G1), and sets no boot default;
 *   4. the flag is back: the next upgrade deploys C2 again, and it validates
 *      at its next boot (its checks run: no rollback before them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { copyHost, createFixture, createHost, type Fixture, type Host } from './fixture.js';
import type { ConfigOverrides } from '../../harness/sim-host.js';
import type { BootStatus } from '../../../src/boot-validate/index.js';

let fx: Fixture;
let h: Host;
let g1: string;
let c2: string;
let sys2: string;
let flag: string;
let check: string;
let overrides: ConfigOverrides;
/** The host right after G1's boot, before its validation (step 3), for the kill points. */
let beforeGolden: Host;
let labels: string[] = [];

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('withdraw');
  g1 = await fx.build('g1');
  flag = join(fx.base, 'upstream-up');
  await writeFile(flag, '');
  check = `command test -e ${flag}`;
  overrides = {
    nixConfig: { url: fx.repo.remoteUrl, operation: 'boot' },
    // A failing command check is polled until timeoutSec: keep it short.
    validation: { checks: [{ command: ['test', '-e', flag] }], timeoutSec: 1 },
  };
  h = await createHost('withdraw', overrides);
  await h.sim.install(g1);
});
afterAll(removeTempDirs);

/** The checkpoint labels of one traced run (GITOPSD_TRACE), in order. */
async function readTrace(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event: string; label?: string })
    .filter((e) => e.event === 'checkpoint')
    .map((e) => e.label ?? '');
}

describe('a rollback mark is withdrawn when the golden fails the same checks', () => {
  it('1. G1 validates; upgrade (operation boot) deploys C2', async () => {
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
    c2 = await fx.repo.commitGeneration({ hosta: { version: `c2-${fx.nonce}`, kernelVersion: '6.6.1' } }, 'C2');
    const r = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(r.exitCode, r.stderr).toBe(0);
    sys2 = (await h.sim.profileSystem()) ?? '';
    expect(sys2).not.toBe(g1);
    expect(await h.sim.bootDefault()).toBe(sys2);
  });

  it('2. the upstream is down: C2 fails twice and is rolled back to G1, marked boot-rollback', async () => {
    await rm(flag);
    await h.sim.boot();
    const first = await h.gitopsd(['boot', 'validate']);
    expect(first.exitCode).toBe(5);
    expect(first.stdout).toContain('rebooting to retry');
    await h.sim.boot();
    const second = await h.gitopsd(['boot', 'validate']);
    expect(second.exitCode).toBe(5);
    expect(second.stdout).toContain('rolling back to the golden');
    expect(await h.sim.bootDefault()).toBe(g1);
    const st = await h.state();
    expect(st.deployments.badCommits[c2]).toMatchObject({ reason: 'boot-rollback', storePath: sys2 });
    expect(st.boot.badPaths[sys2]).toMatchObject({ commit: c2 });
    expect(st.boot.lastRollback).toMatchObject({ from: sys2, to: g1, source: 'auto', status: 'done', commit: c2 });
  });

  it('3. G1 fails the same check: degraded golden-failed, the mark withdrawn in the same write, with an event', async () => {
    await h.sim.boot();
    expect(await h.sim.bootedSystem()).toBe(g1);
    beforeGolden = await copyHost(h, 'withdraw-before', overrides);
    const trace = join(fx.base, 'trace-golden.jsonl');
    await writeFile(trace, '');
    const r = await h.gitopsd(['boot', 'validate'], { env: { GITOPSD_TRACE: trace } });
    labels = await readTrace(trace);
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toContain('the golden system');
    expect(r.stdout).toContain("the last rollback's mark is withdrawn");
    expect(await h.sim.rebootRequests()).toEqual([]);
    const st = await h.state();
    expect(st.deployments.badCommits[c2]).toBeUndefined();
    expect(st.boot.badPaths[sys2]).toBeUndefined();
    expect(st.boot.paths[sys2]).toMatchObject({ failures: 0, reboots: 0, failedAttempts: 2 });
    expect(st.boot.degraded).toMatchObject({ storePath: g1, reason: 'golden-failed' });
    expect(st.boot.current).toMatchObject({ storePath: g1, verdict: 'failed', action: 'degraded' });
    expect(st.boot.current?.checks.filter((c) => !c.ok)).toEqual([expect.objectContaining({ name: check, ok: false })]);
    expect(st.boot.events.at(-1)).toMatchObject({ event: 'mark-withdrawn', storePath: sys2 });
    expect(st.boot.events.at(-1)?.detail).toContain(`mark withdrawn: the golden fails the same checks (${check})`);
    expect(st.boot.events.at(-1)?.detail).toContain(c2);
    const s = await h.json<BootStatus>(['boot', 'status']);
    expect(s.badCommits).toEqual([]);
    expect((s as BootStatus & { ok?: unknown }).ok).toBe(true);
    // The golden failing again withdraws nothing more (nothing left): one event.
    await h.sim.boot();
    expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    expect((await h.state()).boot.events.filter((e) => e.event === 'mark-withdrawn')).toHaveLength(1);
  });

  it('3b. kill -9 at every checkpoint of that run: mark and verdict never apart; a re-run withdraws once', async () => {
    // Two writes before the verdict's (the attempt, and its rename) at least.
    expect(labels.filter((l) => l === 'atomic-write:before-rename').length).toBeGreaterThanOrEqual(2);
    // A failing command check is polled until timeoutSec, so the number of
    // polls (and of checkpoints) moves with the load: every copy is killed at
    // k = 1, 2, … until a run ends before its k-th checkpoint, and each copy's
    // own trace says where it died.
    const seen = new Set<string>();
    const killedAt = new Set<string>();
    let next = 1;
    let end = Infinity;
    const worker = async (): Promise<void> => {
      while (next < end) {
        const k = next++;
        const c = await copyHost(beforeGolden, `withdraw-kill-${k}`, overrides);
        const trace = join(c.sim.root, 'trace.jsonl');
        await writeFile(trace, '');
        const killed = await c.gitopsd(['boot', 'validate'], {
          env: { GITOPSD_FAULT_KILL_AT: String(k), GITOPSD_TRACE: trace },
        });
        if (killed.exitCode !== -1) {
          // This run had fewer than k checkpoints: nothing later to kill.
          expect(killed.exitCode, killed.stderr).toBe(5);
          end = Math.min(end, k);
          continue;
        }
        const label = (await readTrace(trace)).at(-1) ?? '';
        killedAt.add(label);
        const st = await c.state();
        const verdict = st.boot.current?.storePath === g1 && st.boot.current.verdict === 'failed';
        const marked = st.deployments.badCommits[c2] !== undefined;
        seen.add(verdict ? 'verdict' : 'no-verdict');
        expect(marked, `kill at ${k} (${label})`).toBe(!verdict);
        expect(st.boot.badPaths[sys2] !== undefined).toBe(!verdict);
        expect(st.boot.events.filter((e) => e.event === 'mark-withdrawn')).toHaveLength(verdict ? 1 : 0);
        // The unit runs again in the same boot.
        expect((await c.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
        const after = await c.state();
        expect(after.deployments.badCommits[c2], `kill at ${k} (${label})`).toBeUndefined();
        expect(after.boot.badPaths[sys2]).toBeUndefined();
        expect(after.boot.paths[sys2]).toMatchObject({ failures: 0, reboots: 0 });
        expect(after.boot.events.filter((e) => e.event === 'mark-withdrawn')).toHaveLength(1);
        expect(after.boot.current).toMatchObject({ storePath: g1, verdict: 'failed', actionDone: true });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    console.log(
      `boot validate (golden-failed, withdrawal): ${end - 1} kill points; reference run: ${labels.join(' | ')}`,
    );
    // Every kind of step boundary of the reference run was killed at.
    expect(killedAt).toEqual(new Set(labels));
    // Kills landed on both sides of the verdict's write.
    expect(seen).toEqual(new Set(['verdict', 'no-verdict']));
  });

  it('3c. the upstream still down: the next upgrade refuses (the check already fails on G1) and sets no boot default', async () => {
    // Without this pre-check, operation boot set C2 as the boot default again
    // and the story of step 2 repeated at every upgrade while the upstream was down.
    const r = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(6);
    expect(r.stdout).toContain(`the health check "${check}"`);
    expect(r.stdout).toContain(
      'already fails on the current system, before any change; not setting as the boot default',
    );
    expect(await h.sim.bootDefault()).toBe(g1);
    expect((await h.state()).deployments.badCommits[c2]).toBeUndefined();
    const doc = JSON.parse(await readFile(join(h.sim.paths.stateDir, 'state.json'), 'utf8')) as {
      upgrade?: { lastRun?: unknown };
    };
    expect(doc.upgrade?.lastRun).toMatchObject({ result: 'refused', check: 'already-failing', exitCode: 6 });
  });

  it('4. the upstream is back: the next upgrade deploys C2 again, and it validates', async () => {
    await writeFile(flag, '');
    const r = await h.gitopsd(['upgrade', '--operation', 'boot']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await h.sim.bootDefault()).toBe(sys2);
    expect((await h.state()).deployments.current).toMatchObject({ commit: c2, storePath: sys2 });
    await h.sim.boot();
    const v = await h.gitopsd(['boot', 'validate']);
    expect(v.exitCode, v.stdout).toBe(0);
    expect(v.stdout).toContain(`boot of ${sys2} validated`);
    const st = await h.state();
    expect(st.boot.current?.checks).toContainEqual(expect.objectContaining({ name: check, ok: true }));
    // Two failed attempts on record (the environment's, but on record): not pinned on one ok boot.
    expect(st.golden.current?.storePath).toBe(g1);
  });
});
