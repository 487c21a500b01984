/**
 * Crash safety of upgrade: SIGKILL (GITOPSD_FAULT_KILL_AT=N) at every step
 * boundary the runner's trace counts, on two paths: deploying a good commit,
 * and reverting a commit that breaks a validated service. After each kill:
 * - the state file parses, and without a pending activation the profile,
 *   the boot default and the running system are exactly the deployed system;
 * - the next run completes, and leaves the host in the expected end state.
 * Each kill runs on a fresh copy of one prepared host (cp -a of its root).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNixConfigRepo, type GenerationSpec, type NixConfigRepo } from '../../harness/nix-config.js';
import { createSimHost } from '../../harness/sim-host.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { run } from '../../harness/exec.js';
import { makeHost, nixCommands, storePathOf, upgrade, type StateDoc, type TestHost } from './fixture.js';

beforeAll(requireTools);
afterAll(removeTempDirs);

const gen = (version: string, failingServices: string[] = []): GenerationSpec => ({
  hosta: { version, kernelVersion: '6.6.1', failingServices },
});

/** A fresh copy of `golden`'s root, as its own simulated host. */
async function copyOf(golden: TestHost, repo: NixConfigRepo, label: string): Promise<TestHost> {
  const dir = await tempDir(`crash-${label}`);
  const root = join(dir, 'root');
  await run('cp', ['-a', golden.host.root, root]);
  const host = await createSimHost({ dir: root, name: 'hosta', services: golden.host.services });
  const config = await host.writeConfig({ nixConfig: { url: repo.remoteUrl } });
  return { host, config, installed: golden.installed };
}

/** The invariant a kill must never break. Returns the state (null before the first write). */
async function assertConsistent(t: TestHost): Promise<StateDoc | null> {
  const file = join(t.host.paths.stateDir, 'state.json');
  if (!existsSync(file)) return null;
  const s = JSON.parse(await readFile(file, 'utf8')) as StateDoc;
  expect(s.version).toBe(1);
  const current = s.deployments?.current;
  const pending = s.upgrade?.pending as { previous: string; storePath: string } | null | undefined;
  if (current && (pending === null || pending === undefined)) {
    expect(await t.host.profileSystem()).toBe(current.storePath);
    expect(await t.host.bootDefault()).toBe(current.storePath);
    expect(await t.host.currentSystem()).toBe(current.storePath);
  }
  if (pending) {
    expect([pending.previous, pending.storePath]).toContain(await t.host.profileSystem());
  }
  return s;
}

interface Scenario {
  name: string;
  /** Commit pushed after the golden host deployed v1. */
  push: (repo: NixConfigRepo) => Promise<string>;
  /** Exit codes of the clean run, and of the run after a kill. */
  cleanExit: number;
  rerunExits: number[];
  /** The end state after the rerun: which system, and whether the commit is bad. */
  end: (a: { v1: string; next: string }) => { system: string; deployed: 'next' | 'v1'; bad: boolean };
}

const scenarios: Scenario[] = [
  {
    name: 'deploying a good commit',
    push: (repo) => repo.commitGeneration(gen('v2'), 'v2'),
    cleanExit: 0,
    rerunExits: [0],
    end: ({ next }) => ({ system: next, deployed: 'next', bad: false }),
  },
  {
    name: 'reverting a commit that breaks a validated service',
    push: (repo) => repo.commitGeneration(gen('v2-nosshd', ['sshd.service']), 'v2 breaks sshd'),
    cleanExit: 4,
    // Killed before the commit was marked bad: the rerun redoes it all (4).
    // After: the rerun finishes the revert, then skips the bad commit (3).
    rerunExits: [3, 4],
    end: ({ v1 }) => ({ system: v1, deployed: 'v1', bad: true }),
  },
];

describe.each(scenarios)('SIGKILL at every step boundary: $name', (sc) => {
  let repo: NixConfigRepo;
  let golden: TestHost;
  let next: string;
  let commit: string;
  let c1: string;

  beforeAll(async () => {
    const base = await tempDir('crash');
    repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
    golden = await makeHost(repo, { name: 'hosta', label: 'golden' });
    expect((await upgrade(golden)).exitCode).toBe(0);
    c1 = await repo.head();
    commit = await sc.push(repo);
    next = await storePathOf(repo, 'hosta', join(base, 'next'));
  });

  it('every kill point leaves a consistent host, and the next run completes', async () => {
    const clean = await copyOf(golden, repo, 'clean');
    const ref = await upgrade(clean);
    expect(ref.exitCode, ref.stderr + ref.stdout).toBe(sc.cleanExit);
    // A kill right before a command that writes nothing repeats the next kill point (test/harness/kill-points.ts).
    const all = ref.killPoints;
    expect(all.length).toBeGreaterThan(10);
    process.stdout.write(
      `upgrade crash injection (${sc.name}): ${all.length} kill points of ${ref.checkpoints} checkpoints\n`,
    );

    const end = sc.end({ v1: golden.installed, next });
    const check = async (n: number): Promise<void> => {
      const t = await copyOf(golden, repo, `k${n}`);
      const killed = await upgrade(t, [], { GITOPSD_FAULT_KILL_AT: String(n) });
      expect(killed.exitCode, `kill at ${n}: ${killed.stderr}`).toBe(-1);
      await assertConsistent(t);

      const rerun = await upgrade(t);
      expect(sc.rerunExits, `rerun after kill at ${n}: ${rerun.stderr}${rerun.stdout}`).toContain(rerun.exitCode);
      const s = await assertConsistent(t);
      expect(s?.upgrade?.pending ?? null, `kill at ${n}`).toBeNull();
      expect(s?.deployments?.current?.commit, `kill at ${n}`).toBe(end.deployed === 'next' ? commit : c1);
      expect(await t.host.profileSystem(), `kill at ${n}`).toBe(end.system);
      expect(await t.host.currentSystem(), `kill at ${n}`).toBe(end.system);
      expect(await t.host.bootDefault(), `kill at ${n}`).toBe(end.system);
      expect(Boolean(s?.deployments?.badCommits[commit]), `kill at ${n}`).toBe(end.bad);
      if (!end.bad) expect(await t.host.unitStates()).toMatchObject({ 'sshd.service': 'active' });

      // And the run after that is quiet: a no-op, or a skip, without nix.
      const third = await upgrade(t);
      expect(third.exitCode, `third run after kill at ${n}`).toBe(end.bad ? 3 : 0);
      expect(nixCommands(third.commands), `third run after kill at ${n}`).toEqual([]);
    };
    // Independent copies: run a few at a time.
    for (let i = 0; i < all.length; i += 3) await Promise.all(all.slice(i, i + 3).map(check));
  }, 600_000);
});
