/**
 * Issue 17's update-branch flow end to end, on a small simulated fleet with
 * real git and nix: 3 hosts in 2 waves (p0 and a0 the canaries, b0 after a
 * 60-minute soak), the clock injected with GITOPSD_TEST_NOW.
 *
 * - the producer p0 (nixConfig.updateInputs, nixConfig.proposeBranch) runs
 *   `nix flake update`, builds and activates the new lock, and proposes it
 *   on update/flake-lock instead of pushing main;
 * - `fleet status` shows "update pending" in the Lock column;
 * - `gitopsd updates` lists the branch with the input that changes;
 * - `gitopsd updates merge` builds it, fast-forwards main and deletes the
 *   branch;
 * - the waves take the commit from main: a0 deploys it, b0 waits for the
 *   soak (a signed fleet trigger for b0 runs its upgrade at once, and the
 *   gate still holds it), then deploys it; `fleet status` shows the
 *   rollout's progress.
 *
 * Cost: every host builds the same nixosConfiguration ("node"), so each
 * commit is built once; dotfiles are off; heartbeats are `fleet publish`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { createInputRepo, type InputRepo } from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { configureHost, createStatusRemote } from '../fleet/fixture.js';
import { gitOut } from '../upgrade/fixture.js';

const T0 = Date.parse('2026-12-01T04:00:00Z');
const at = (min: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(T0 + min * 60_000).toISOString(),
  TZ: 'UTC',
  COLUMNS: '400',
});
const NAMES = ['p0', 'a0', 'b0'] as const;
type Name = (typeof NAMES)[number];
const BRANCH = 'update/flake-lock';
const POLICY = `${JSON.stringify({
  v: 1,
  waves: [
    { name: 'canary', hosts: ['p0', 'a0'] },
    { name: 'rest', hosts: ['b0'], soakMinutes: 60 },
  ],
})}\n`;

let fleet: Fleet;
let input: InputRepo;
let aliceKey: string;
const host = (n: Name): FleetHost => fleet.host(n);

async function upgrade(
  n: Name,
  min: number,
): Promise<{ code: number; kind: string; commit: string | null; message: string }> {
  const r = await host(n).gitopsd(['upgrade', '--json'], { env: at(min) });
  try {
    return { ...(JSON.parse(r.stdout) as { kind: string; commit: string | null; message: string }), code: r.exitCode };
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

/** `fleet status` as a person reads it (text), from a0; the whitespace of the table squeezed. */
async function fleetText(min: number): Promise<string> {
  const r = await host('a0').gitopsd(['fleet', 'status'], { env: at(min) });
  expect([0, 1], r.stderr).toContain(r.exitCode);
  return r.stdout.replace(/[ \t]+/g, ' ');
}

const remoteHeads = async (): Promise<Record<string, string>> =>
  Object.fromEntries(
    (
      await gitOut(fleet.nixConfig.remoteDir, [
        'for-each-ref',
        '--format=%(refname:short) %(objectname)',
        'refs/heads/',
      ])
    )
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ') as [string, string]),
  );

beforeAll(async () => {
  await requireTools();
  const dir = await tempDir('gitopsd-propose');
  input = await createInputRepo({ dir: join(dir, 'input'), value: 'input v1' });
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: NAMES, sharedFlakeHost: 'node', input });
  const remote = await createStatusRemote(join(dir, 'remotes'));
  // alice may issue fleet triggers.
  aliceKey = join(dir, 'alice_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice', '-f', aliceKey]);
  const signers = join(dir, 'trigger-signers');
  await writeFile(signers, `alice namespaces="git" ${(await readFile(`${aliceKey}.pub`, 'utf8')).trim()}\n`);
  for (const h of fleet.hosts) {
    await configureHost(h, {
      fleet: { enable: true, statusRemote: remote, heartbeatSec: 1800 },
      dotfiles: { enable: false },
      daemon: { triggerSignersFile: signers },
      ...(h.name === 'p0' ? { nixConfig: { updateInputs: true, proposeBranch: BRANCH } } : {}),
    });
  }
  await fleet.nixConfig.commitFiles({ 'gitopsd-rollout.json': POLICY }, 'rollout: 2 waves');
  await publish(NAMES, -5);
  // Upstream moves: the producer's next `nix flake update` has something to propose.
  await input.commitValue('input v2');
});
afterAll(removeTempDirs);

// One flow in steps (each a test, under the per-test time limit); each step needs the one before.
describe('update branch: propose, list, merge, roll out (3 hosts, 2 waves)', () => {
  let proposed = '';

  it('the producer proposes on an update branch; fleet status says "update pending"; gitopsd updates lists the input', async () => {
    const main0 = await fleet.nixConfig.remoteHead();

    // The producer deploys the updated lock itself, then proposes it; main does not move.
    const p = await upgrade('p0', 0);
    expect(p).toMatchObject({ code: 0, kind: 'deployed' });
    expect(p.message).toContain(`proposed our commits on ${BRANCH}`);
    proposed = p.commit ?? '';
    const heads = await remoteHeads();
    expect(heads['main']).toBe(main0);
    expect(heads[BRANCH]).toBe(proposed);
    await publish(NAMES, 1);

    // fleet status: the Lock column says an update waits.
    const before = await fleetText(2);
    const rows = before.split('\n').filter((l) => /\b(p0|a0|b0)\b/.test(l) && l.includes('update pending'));
    expect(rows.length, before).toBe(3);
    expect(before).toContain(`update pending (${BRANCH})`);

    // A person lists it: the input that changes, old -> new, and that it can be merged.
    const list = await host('a0').gitopsd(['updates', '--json'], { env: at(3) });
    expect(list.exitCode, list.stderr).toBe(0);
    const l = JSON.parse(list.stdout) as {
      updates: Array<{
        branch: string;
        sha: string;
        verdict: { kind: string };
        inputs: Array<{ input: string; new: { rev: string } | null }>;
      }>;
    };
    expect(l.updates).toHaveLength(1);
    expect(l.updates[0]).toMatchObject({ branch: BRANCH, sha: proposed, verdict: { kind: 'eligible' } });
    expect(l.updates[0]?.inputs.map((i) => i.input)).toEqual(['simInput']);
    expect(l.updates[0]?.inputs[0]?.new?.rev).toBe(await gitOut(input.dir, ['rev-parse', 'HEAD']));
  });

  it('gitopsd updates merge --sha: main fast-forwards to the proposal, the branch is gone', async () => {
    expect(proposed).not.toBe('');
    const merge = await host('a0').gitopsd(['updates', 'merge', BRANCH, '--sha', proposed.slice(0, 12)], {
      env: at(4),
    });
    expect(merge.exitCode, merge.stderr).toBe(0);
    const heads = await remoteHeads();
    expect(heads['main']).toBe(proposed);
    expect(heads[BRANCH]).toBeUndefined();
  });

  it('the waves take it from main: wave 0 deploys, wave 1 waits for the soak (a fleet trigger does not pass the gate), then deploys', async () => {
    expect(proposed).not.toBe('');
    // The waves: a0 (canary) deploys it; b0 waits for the canaries' soak.
    expect(await upgrade('a0', 5)).toMatchObject({ code: 0, kind: 'deployed', commit: proposed });
    const gated = await upgrade('b0', 6);
    expect(gated).toMatchObject({ code: 0, kind: 'gated' });
    expect(gated.message).toContain(`2 of 2 canary hosts healthy on ${proposed.slice(0, 8)}`);
    // A signed fleet trigger for b0 makes its next poll run the upgrade now, and the gate still holds.
    const trig = await host('a0').gitopsd(['trigger', '--fleet', '--signing-key', aliceKey, '--host', 'b0'], {
      env: at(6),
    });
    expect(trig.exitCode, trig.stderr).toBe(0);
    const poll = await host('b0').gitopsd(['poll', '--json'], { env: at(6) });
    const pj = JSON.parse(poll.stdout) as {
      trigger: { kind: string };
      decision: { reason: string };
      upgrade: { kind: string };
    };
    expect(pj).toMatchObject({
      trigger: { kind: 'accept' },
      decision: { reason: 'trigger' },
      upgrade: { kind: 'gated' },
    });
    await publish(['p0', 'a0', 'b0'], 7);
    const during = await fleetText(8);
    expect(during).not.toContain('update pending');
    expect(during).toContain(`rollout of ${proposed.slice(0, 8)}`);
    expect(during).toContain(`wave 0 (canary): 2/2 hosts on ${proposed.slice(0, 8)}`);
    expect(during).toContain(`wave 1 (rest): 0/1 hosts on ${proposed.slice(0, 8)}`);

    await publish(['p0', 'a0'], 66);
    expect(await upgrade('b0', 67)).toMatchObject({ code: 0, kind: 'deployed', commit: proposed });
    await publish(['b0'], 68);
    const after = await fleetText(69);
    expect(after).toContain(`rollout of ${proposed.slice(0, 8)}`);
    expect(after).toContain(': 3/3 hosts on it');
    expect(after).toContain(`wave 1 (rest): 1/1 hosts on ${proposed.slice(0, 8)}`);
  });
});
