/**
 * Crash injection (kill -9) at every step boundary of `boot validate` and
 * `golden rollback`, on the simulated host with real nix profiles.
 *
 * The boundaries come from the program's own trace (GITOPSD_TRACE): one run
 * without a kill counts the checkpoints (every command and every state write
 * is one), then for each N a fresh host in the same state (a copy of the
 * reference host's fake root, taken right before its run: copyHost) runs it
 * killed at checkpoint N (GITOPSD_FAULT_KILL_AT=N). Afterwards the
 * host boots again (or, for golden rollback, the command is re-run) until it
 * settles, and the invariants are checked: the counts are right, the golden
 * is unchanged, and no step repeated harmfully (one rollback generation, the
 * reboot bound held).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { copyHost, createFixture, createHost, type Fixture, type Host } from './fixture.js';
import type { GoldenInfo } from '../../../src/golden/index.js';

let fx: Fixture;
let g1: string;
let bad: string;
const BAD_COMMIT = 'c0ffee'.padEnd(40, '0');

beforeAll(async () => {
  await requireTools();
  fx = await createFixture('crash');
  g1 = await fx.build('g1');
  await fx.repo.commitGeneration(
    { hosta: { version: `bad-${fx.nonce}`, kernelVersion: '6.6.1', failingServices: ['sshd.service'] } },
    'break sshd',
  );
  bad = await fx.build('bad');
});
afterAll(removeTempDirs);

async function checkpoints(h: Host, args: string[]): Promise<{ exitCode: number; labels: string[] }> {
  const trace = join(h.sim.root, `trace-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(trace, '');
  const r = await h.gitopsd(args, { env: { GITOPSD_TRACE: trace } });
  const labels = (await readFile(trace, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event: string; label?: string; cmd?: string; args?: string[] })
    .filter((e) => e.event === 'checkpoint')
    .map((e) => (e.cmd !== undefined ? `${e.label ?? ''} ${(e.args ?? []).join(' ')}` : (e.label ?? '')));
  return { exitCode: r.exitCode, labels };
}

/** A host that validated G1 (pinned) and has the sshd-breaking system as profile and boot default, as an upgrade with operation boot leaves it. */
async function hostWithBadDefault(label: string): Promise<{ h: Host; pinnedAt: string }> {
  const h = await createHost(label);
  await h.sim.install(g1);
  expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
  const pinnedAt = (await h.json<GoldenInfo>(['golden', 'show'])).pinnedAt ?? '';
  await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', bad], { env: h.sim.env });
  await run(join(bad, 'bin/switch-to-configuration'), ['boot'], { env: h.sim.env });
  // What upgrade records when it deploys: which commit produced the system.
  const stateFile = join(h.sim.paths.stateDir, 'state.json');
  const doc = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
  const dep = { commit: BAD_COMMIT, storePath: bad, generation: 2, at: new Date().toISOString(), operation: 'boot' };
  doc['deployments'] = { current: dep, history: [dep], badCommits: {} };
  await writeFile(stateFile, JSON.stringify(doc));
  return { h, pinnedAt };
}

/** Boot and validate until the host settles on an ok verdict (or gives up after `max` boots). */
async function settle(h: Host, max = 6): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < max; i++) {
    await h.sim.boot();
    const r = await h.gitopsd(['boot', 'validate']);
    codes.push(r.exitCode);
    if (r.exitCode === 0) return codes;
    if ((await h.sim.rebootRequests()).length === 0) return codes; // degraded: nobody reboots
  }
  return codes;
}

async function invariantsAfterRollback(h: Host, pinnedAt: string, killedBeforeRecord: boolean): Promise<void> {
  expect(await h.sim.bootedSystem()).toBe(g1);
  const st = await h.state();
  const log = await h.sim.bootLog();
  const badBoots = log.filter((b) => b.system === bad).length;
  // Every boot of the bad system recorded exactly one attempt (except a run
  // killed before its attempt record), and each counted as one failure.
  const rec = st.boot.paths[bad];
  expect(rec?.attempts).toBe(badBoots - (killedBeforeRecord ? 1 : 0));
  expect(rec?.failures).toBe(rec?.attempts);
  // Reboots requested while the bad system ran: bounded by maxBootFailures + 1.
  const requestsFromBad = log
    .filter((b, i) => i > 0 && log[i - 1]?.system === bad)
    .reduce((n, b) => n + b.rebootRequests.length, 0);
  expect(requestsFromBad).toBeLessThanOrEqual(3);
  expect(rec?.reboots).toBeLessThanOrEqual(3);
  // No harmful repeat: exactly one rollback generation pointing at G1 (plus the install's).
  const gens = await h.sim.generations();
  expect(gens.filter((g) => g.storePath === g1).map((g) => g.number)).toEqual([1, 3]);
  expect(await h.sim.profileSystem()).toBe(g1);
  expect(await h.sim.bootDefault()).toBe(g1);
  // The golden is unchanged and rooted; the bad commit is recorded once.
  expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({
    ok: true,
    storePath: g1,
    pinnedAt,
    gcRootIntact: true,
  });
  expect(Object.keys(st.deployments.badCommits)).toEqual([BAD_COMMIT]);
  expect(st.boot.lastRollback).toMatchObject({ from: bad, to: g1, status: 'done' });
  expect(st.boot.paths[g1]?.failures).toBe(0);
  expect(st.boot.current).toMatchObject({ storePath: g1, verdict: 'ok', actionDone: true });
}

/** Run `fn` for 1..n with at most `width` at a time (each N has its own host). */
async function forEachPoint(n: number, width: number, fn: (k: number) => Promise<void>): Promise<void> {
  let next = 1;
  const worker = async (): Promise<void> => {
    while (next <= n) {
      const k = next++;
      await fn(k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

describe('boot validate: kill -9 at every checkpoint of the rollback run, then boot again', () => {
  it('keeps the counts right and repeats no step harmfully', async () => {
    // The reference run: the second failed boot, which decides the rollback.
    const ref = await hostWithBadDefault('ref');
    await ref.h.sim.boot();
    expect((await ref.h.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    await ref.h.sim.boot();
    // Each kill point starts from a copy of this host as it is now.
    const before = await copyHost(ref.h, 'kill-before');
    const { exitCode, labels } = await checkpoints(ref.h, ['boot', 'validate']);
    expect(exitCode).toBe(5);
    // The boundaries the issue names are all there, in order.
    const order = [
      labels.indexOf('state:write'),
      labels.findIndex((l) => l.startsWith('cmd:systemctl show')),
      labels.findIndex((l) => l.startsWith('cmd:nix-env')),
      labels.findIndex((l) => l.includes('switch-to-configuration')),
      labels.findIndex((l) => l.startsWith('cmd:systemctl reboot')),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const points = labels.length;
    console.log(`boot validate (rollback run): ${points} injection points: ${labels.join(' | ')}`);
    expect(points).toBeGreaterThanOrEqual(10);

    await forEachPoint(points, 3, async (k) => {
      const h = await copyHost(before, `kill-${k}`);
      const pinnedAt = ref.pinnedAt;
      const killed = await h.gitopsd(['boot', 'validate'], { env: { GITOPSD_FAULT_KILL_AT: String(k) } });
      expect(killed.exitCode, `kill at ${k} (${labels[k - 1]})`).toBe(-1);
      const codes = await settle(h);
      expect(codes.at(-1), `kill at ${k}: ${codes.join(',')}`).toBe(0);
      // Checkpoints 1 and 2 are the attempt record's write and rename: a kill
      // there leaves no attempt on disk.
      await invariantsAfterRollback(h, pinnedAt, k <= 2);
    });
  });
});

describe('boot validate: kill -9 at every checkpoint of the rollback run, then run it again in the same boot', () => {
  it('resumes or finishes the same attempt without counting it twice', async () => {
    const { h: ref, pinnedAt } = await hostWithBadDefault('same-ref');
    await ref.sim.boot();
    expect((await ref.gitopsd(['boot', 'validate'])).exitCode).toBe(5);
    await ref.sim.boot();
    const before = await copyHost(ref, 'same-before');
    const { labels } = await checkpoints(ref, ['boot', 'validate']);
    const points = labels.length;
    const plans: string[] = [];
    await forEachPoint(points, 3, async (k) => {
      const h = await copyHost(before, `same-${k}`);
      const killed = await h.gitopsd(['boot', 'validate'], { env: { GITOPSD_FAULT_KILL_AT: String(k) } });
      expect(killed.exitCode).toBe(-1);
      // The unit is started again (or run by hand) in the same boot.
      const again = await h.gitopsd(['boot', 'validate', '--json']);
      expect(again.exitCode, `k=${k}: ${again.stderr}`).toBe(5);
      const j = JSON.parse(again.stdout) as { plan: string; decision: { kind: string } | null };
      plans[k - 1] = j.plan;
      expect(j.decision?.kind).toBe('rollback');
      expect(await h.sim.bootDefault()).toBe(g1);
      const codes = await settle(h);
      expect(codes.at(-1)).toBe(0);
      await invariantsAfterRollback(h, pinnedAt, false);
    });
    // Every kind of re-run was exercised: a fresh attempt (killed before the
    // record), a resumed one (killed before the verdict), finished actions
    // (killed after the verdict), and a report of a complete run.
    console.log(`same-boot re-run plans by kill point: ${plans.join(' ')}`);
    expect(new Set(plans)).toEqual(new Set(['new', 'resume', 'finish', 'done']));
  });
});

describe('boot validate: kill -9 at every checkpoint of the first ok run (the auto-pin), then boot again', () => {
  it('pins G1 once, with an intact GC root, and counts the attempts right (a killed attempt delays the pin by one ok boot)', async () => {
    const ref = await createHost('pin-ref');
    await ref.sim.install(g1);
    const before = await copyHost(ref, 'pin-before');
    const { exitCode, labels } = await checkpoints(ref, ['boot', 'validate']);
    expect(exitCode).toBe(0);
    expect(labels.some((l) => l.startsWith('cmd:nix-store --add-root'))).toBe(true);
    console.log(`boot validate (ok run with auto-pin): ${labels.length} injection points: ${labels.join(' | ')}`);
    // The verdict is durable once its write is renamed into place: the second rename.
    const firstRename = labels.indexOf('atomic-write:before-rename');
    const verdictRename = labels.findIndex((l, i) => i > firstRename && l === 'atomic-write:before-rename') + 1;
    expect(verdictRename).toBeGreaterThan(2);

    await forEachPoint(labels.length, 3, async (k) => {
      const h = await copyHost(before, `pin-${k}`);
      const killed = await h.gitopsd(['boot', 'validate'], { env: { GITOPSD_FAULT_KILL_AT: String(k) } });
      expect(killed.exitCode).toBe(-1);
      await h.sim.boot();
      expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
      // Killed after the attempt record but before its verdict: that attempt
      // counts as failed (issue 13), so one ok boot does not pin G1; the
      // maxBootFailures-th (2nd) ok boot in a row does.
      const killedBeforeVerdict = k > 2 && k <= verdictRename;
      if (killedBeforeVerdict) {
        expect((await h.json<GoldenInfo>(['golden', 'show'])).storePath, `kill at ${k}`).toBeNull();
        await h.sim.boot();
        expect((await h.gitopsd(['boot', 'validate'])).exitCode).toBe(0);
      }
      const st = await h.state();
      // Killed before the attempt record: that boot is not counted; otherwise
      // the killed attempt either reached its ok verdict or counts as failed.
      const killedAttempt = k <= 2 ? 0 : 1;
      expect(st.boot.paths[g1]?.attempts).toBe(1 + killedAttempt + (killedBeforeVerdict ? 1 : 0));
      expect(st.boot.paths[g1]?.failedAttempts).toBe(killedBeforeVerdict ? 1 : 0);
      expect(st.boot.paths[g1]?.failures).toBe(0);
      expect(await h.json<GoldenInfo>(['golden', 'show'])).toMatchObject({
        storePath: g1,
        source: 'auto',
        gcRootIntact: true,
      });
      expect(st.golden.history).toEqual([]);
    });
  });
});

describe('golden rollback --now: kill -9 at every checkpoint, then run it again', () => {
  it('ends on the golden with one new generation and the commit marked bad once', async () => {
    const prepare = async (label: string): Promise<Host> => {
      const { h } = await hostWithBadDefault(label);
      // The bad system is running live (an upgrade with operation switch would leave this).
      await run(join(bad, 'bin/switch-to-configuration'), ['switch'], { env: h.sim.env }).catch(() => undefined);
      expect(await h.sim.currentSystem()).toBe(bad);
      return h;
    };
    const ref = await prepare('rb-ref');
    const before = await copyHost(ref, 'rb-before');
    const { exitCode, labels } = await checkpoints(ref, ['golden', 'rollback', '--now', '--yes']);
    expect(exitCode).toBe(0);
    console.log(`golden rollback --now: ${labels.length} injection points: ${labels.join(' | ')}`);

    await forEachPoint(labels.length, 3, async (k) => {
      const h = await copyHost(before, `rb-${k}`);
      const killed = await h.gitopsd(['golden', 'rollback', '--now', '--yes'], {
        env: { GITOPSD_FAULT_KILL_AT: String(k) },
      });
      expect(killed.exitCode).toBe(-1);
      const again = await h.gitopsd(['golden', 'rollback', '--now', '--yes']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await h.sim.currentSystem()).toBe(g1);
      expect(await h.sim.bootDefault()).toBe(g1);
      expect(await h.sim.profileSystem()).toBe(g1);
      const gens = await h.sim.generations();
      expect(gens.map((g) => g.storePath)).toEqual([g1, bad, g1]);
      const st = await h.state();
      expect(Object.keys(st.deployments.badCommits)).toEqual([BAD_COMMIT]);
      expect(st.boot.lastRollback).toMatchObject({ from: bad, to: g1, source: 'manual', status: 'done' });
    });
  });
});
