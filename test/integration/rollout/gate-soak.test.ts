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
 *
 * Then a replay (left out by review 14): the statuses are signed (real ssh-keygen keys).
 * c0's soaked status of 06:51 is pushed back over a newer one that marks
 * the commit known bad; w1 has read the newer one, so the replay is
 * unverified with a note and w1 does not deploy on it. Before, it did.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { readFile, readdir } from 'node:fs/promises';
import { procStat } from '../../../src/core/proc.js';
import type { FleetView } from '../../../src/fleet/schema.js';
import { run } from '../../harness/exec.js';
import { startCli } from '../../helpers/cli.js';
import { createStatusRemote, pushRawStatus, readRemoteStatus, remoteRefs, signFleet } from '../fleet/fixture.js';

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
let dir: string;
let remote: string;
let keys: Record<string, string> = {};

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
  dir = await tempDir('gitopsd-gate-soak');
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['c0', 'w1'] });
  [c0, w1] = fleet.hosts as [FleetHost, FleetHost];
  remote = await createStatusRemote(join(dir, 'remotes'));
  // No dotfiles (the sync is not what this shows, and it costs CPU).
  ({ keys } = await signFleet({
    hosts: fleet.hosts,
    dir,
    remote,
    extra: () => ({ dotfiles: { enable: false }, nixConfig: { operation: 'boot' }, reboot: { allow: false } }),
  }));
});
afterAll(removeTempDirs);

describe('the soak counts only time a canary ran the commit', () => {
  it('the minutes a canary waited for its reboot are not soak; a replay of its soaked status does not deploy', async () => {
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

    // An hour after that, the soak is done: c0's status of 06:51 would let w1 deploy.
    await publish(c0, 171);
    const ref = 'refs/gitopsd/status/c0';
    const soaked = (await remoteRefs(remote))[ref] ?? '';

    // Then c0 fails on v2 and marks it known bad. (A status signed with c0's
    // key stands in for that publish: making the switch fail costs a build.)
    const doc = await readRemoteStatus(dir, remote, ref);
    const failedAt = new Date(T0 + 175 * 60_000).toISOString();
    await pushRawStatus({
      scratch: dir,
      remote,
      ref,
      signingKey: keys['c0'] ?? '',
      files: {
        'status.json': JSON.stringify({
          ...doc,
          publishedAt: failedAt,
          knownBadCommits: [{ commit: v2, reason: 'post-switch-failed', at: failedAt }],
        }),
      },
    });
    const seenFile = join(w1.sim.paths.stateDir, 'fleet', 'status-seen.json');
    const markOf = async (): Promise<unknown> =>
      (JSON.parse(await readFile(seenFile, 'utf8')) as { hosts: Record<string, { publishedAt: string }> }).hosts['c0']
        ?.publishedAt;
    const before = await markOf();
    // kill -9 of a reader between the fsync of its new memory and the rename: the old file stays, whole.
    const stopped = startCli(['fleet', 'status', '--json', '--config', w1.config], {
      env: { ...w1.sim.env, ...at(176), GITOPSD_FAULT_STOP_AT: 'fleet-seen:before-rename' },
    });
    let ended = false;
    void stopped.done.then(() => (ended = true));
    while (procStat(stopped.pid)?.state !== 'T') {
      if (ended) throw new Error(`the reader never stopped: ${JSON.stringify(await stopped.done)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(stopped.pid, 'SIGKILL');
    await stopped.done;
    expect(await markOf()).toBe(before);
    // The killed reader's temp file and its update lock stay; the next reader sweeps the one and takes the other over.
    expect(
      (await readdir(join(w1.sim.paths.stateDir, 'fleet'))).filter((f) => f.includes('status-seen')).sort(),
    ).toEqual([
      expect.stringMatching(/^\.status-seen\.json\.tmp-/),
      'status-seen.json',
      'status-seen.json.update-lock',
    ]);
    const halted = await upgrade(w1, 176);
    expect(halted).toMatchObject({ code: 3, kind: 'halted' });
    expect(halted.message).toMatch(/known bad on c0 \(post-switch-failed\)/);
    expect(await markOf()).toBe(failedAt);

    // Someone who may push the ref pushes the 06:51 commit back: c0 signed it, so it verifies.
    await run('git', ['--git-dir', remote, 'update-ref', ref, soaked]);
    const fs = await w1.gitopsd(['fleet', 'status', '--json', '--host', 'c0'], { env: at(177) });
    expect(fs.exitCode, fs.stderr).toBe(1);
    const row = (JSON.parse(fs.stdout) as FleetView).hosts[0];
    expect([row?.state, row?.signature.state, row?.reasons[0]]).toEqual([
      'unverified',
      'verified',
      `older than the status of c0 this reader already saw (published ${failedAt}): a replayed status? the host's next publish replaces it`,
    ]);
    const replayed = await upgrade(w1, 177);
    expect(replayed).toMatchObject({ code: 3, kind: 'halted' });
    expect(replayed.message).toMatch(/known bad on c0/);
    expect((await w1.sim.generations()).length).toBe(gens);

    // c0's next publish replaces the replay (its real status: healthy on v2 since 05:51).
    await publish(c0, 180);
    expect(await upgrade(w1, 181)).toMatchObject({ code: 0, kind: 'deployed', commit: v2 });
  });
});
