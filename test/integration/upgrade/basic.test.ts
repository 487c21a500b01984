/**
 * gitopsd upgrade on one simulated host, as a story: first deployment, no-op,
 * dry run, a new commit, two broken commits (and their skip without nix), a
 * commit that breaks a validated service (reverted), an unreachable remote,
 * and the preflight refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createNixConfigRepo, type NixConfigRepo } from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { tryRun } from '../../harness/exec.js';
import type { ConfigOverrides } from '../../harness/sim-host.js';
import {
  checkoutHead,
  makeHost,
  nixCommands,
  readState,
  storePathOf,
  traced,
  upgrade,
  type TestHost,
} from './fixture.js';

let base: string;
let repo: NixConfigRepo;
let t: TestHost;
const gen = (version: string, extra: object = {}): { hosta: { version: string; kernelVersion: string } } => ({
  hosta: { version, kernelVersion: '6.6.1', ...extra },
});
const build = (label: string): Promise<string> => storePathOf(repo, 'hosta', join(base, label));

beforeAll(async () => {
  await requireTools();
  base = await tempDir('upgrade-basic');
  repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
  t = await makeHost(repo, { name: 'hosta', label: 'basic' });
});
afterAll(removeTempDirs);

describe('upgrade on a simulated host', () => {
  let c1: string;
  let deployedPath: string;

  it('first run records the installed system as the deployment of the remote tip, without re-activating', async () => {
    c1 = await repo.head();
    const r = await upgrade(t);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/deployed .*the system was already this one/);
    const s = await readState(t);
    expect(s.deployments?.current).toMatchObject({ commit: c1, storePath: t.installed, generation: 1 });
    expect(s.upgrade?.lastRun).toMatchObject({ result: 'deployed', commit: c1, exitCode: 0 });
    expect(await t.host.generations()).toHaveLength(1);
    expect(await t.host.activations()).toEqual([]);
  });

  it('a no-op run invokes no nix command at all (runner trace)', async () => {
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/up to date/);
    expect(r.commands.length).toBeGreaterThan(0);
    expect(r.commands.map((c) => c[0])).toContain('git');
    expect(nixCommands(r.commands)).toEqual([]);
    // Nothing new: no ancestry or history query either (B2, docs/benchmarks.md).
    const git = r.commands.filter((c) => c[0] === 'git');
    expect(git.filter((c) => c.includes('merge-base') || c.includes('log'))).toEqual([]);
    // HEAD and the tip are read from the ref files (src/core/git-refs.ts); the
    // state check of the preflight waits until there is something to deploy;
    // dirty files cannot change a no-op without commitLocalChanges
    // (dirtyFilesMatter): one git process, the fetch.
    expect(git.map((c) => c.find((a) => a === 'fetch' || a === 'status'))).toEqual(['fetch']);
    expect(r.commands.map((c) => c[0])).toEqual(['git']);
    expect((await readState(t)).upgrade?.lastRun?.result).toBe('no-op');
  });

  it('--dry-run builds and reports, and changes nothing', async () => {
    const c2 = await repo.commitGeneration(gen('v2'), 'v2');
    const before = await readState(t);
    const builds = join(t.host.paths.stateDir, 'builds');
    const buildsBefore = await readdir(builds).catch(() => []);
    const r = await upgrade(t, ['--dry-run', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { kind: string; commit: string; storePath: string };
    expect(out).toMatchObject({ kind: 'would-deploy', commit: c2, storePath: await build('v2') });
    expect(nixCommands(r.commands).map((c) => c[0])).toEqual(['nh']);
    const after = await readState(t);
    expect(after.deployments).toEqual(before.deployments);
    expect(after.upgrade).toEqual(before.upgrade);
    expect(await checkoutHead(t)).toBe(c1);
    expect(await t.host.generations()).toHaveLength(1);
    expect(await t.host.activations()).toEqual([]);
    // No GC root left behind (no builds/candidate, no dry-run out-link), and the text says so.
    expect(await readdir(builds)).toEqual(buildsBefore);
    expect(buildsBefore).not.toContain('candidate');
    const text = await upgrade(t, ['--dry-run']);
    expect(text.stdout).toContain('nothing was changed (the build is in the store without a GC root');
    expect(await readdir(builds)).toEqual(buildsBefore);
  });

  it('deploys a new commit: a new generation, profile, boot default and running system agree', async () => {
    const c2 = await repo.head();
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr).toBe(0);
    deployedPath = await build('v2');
    const gens = await t.host.generations();
    expect(gens).toHaveLength(2);
    expect(gens.at(-1)).toMatchObject({ number: 2, current: true, storePath: deployedPath });
    expect(await t.host.profileSystem()).toBe(deployedPath);
    expect(await t.host.bootDefault()).toBe(deployedPath);
    expect(await t.host.currentSystem()).toBe(deployedPath);
    expect(await checkoutHead(t)).toBe(c2);
    const s = await readState(t);
    expect(s.deployments?.current).toMatchObject({
      commit: c2,
      storePath: deployedPath,
      generation: 2,
      operation: 'switch',
    });
    expect(s.upgrade?.lastRun).toMatchObject({ result: 'deployed', commit: c2 });
    expect(s.upgrade?.lastRun?.steps['buildMs']).toBeGreaterThanOrEqual(0);
    // test, then the profile, then the boot default: nh's order, with our check in between.
    expect((await t.host.activations()).map((a) => a.action)).toEqual(['test', 'boot']);
    expect(await readdir(join(t.host.paths.stateDir, 'builds'))).toEqual(['deployed']);
  });

  for (const [label, breakage, pattern] of [
    ['a Nix syntax error', 'syntax-error', /syntax error|unexpected/i],
    ['a failing derivation', 'failing-derivation', /simulated build failure|builder failed|Cannot build|failed/i],
  ] as const) {
    it(`${label}: exit 3, no new generation, the checkout back, the commit marked bad with the log`, async () => {
      const deployed = await checkoutHead(t);
      const bad = await repo.commitGeneration(gen(`v-${breakage}`, { breakage }), `broken: ${breakage}`);
      const activationsBefore = (await t.host.activations()).length;
      const r = await upgrade(t);
      expect(r.exitCode, r.stderr + r.stdout).toBe(3);
      expect(r.stdout).toMatch(/does not build/);
      expect(await t.host.generations()).toHaveLength(2);
      expect(await t.host.profileSystem()).toBe(deployedPath);
      expect((await t.host.activations()).length).toBe(activationsBefore);
      expect(await checkoutHead(t)).toBe(deployed);
      const s = await readState(t);
      expect(s.deployments?.badCommits[bad]?.reason).toBe('build-failed');
      expect(s.deployments?.badCommits[bad]?.logTail).toMatch(pattern);
      expect(s.upgrade?.lastRun).toMatchObject({ result: 'build-failed', commit: bad });

      // The same remote again: skipped, and not a single nix command.
      const again = await upgrade(t);
      expect(again.exitCode).toBe(3);
      expect(again.stdout).toMatch(/known bad.*waiting for a newer commit/);
      expect(nixCommands(again.commands)).toEqual([]);
      // It still fetched (git's own -c settings come first: src/core/git-hardening.ts).
      expect(again.commands.some((c) => c[0] === 'git' && c.includes('-C') && c.includes('fetch'))).toBe(true);
    });
  }

  it('a commit that breaks a validated service on switch is reverted: exit 4, previous system current', async () => {
    const bad = await repo.commitGeneration(gen('v-nosshd', { failingServices: ['sshd.service'] }), 'breaks sshd');
    const badPath = await build('v-nosshd');
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(4);
    expect(r.stdout).toMatch(/post-switch check .* failed .*sshd\.service/);
    expect(await t.host.currentSystem()).toBe(deployedPath);
    expect(await t.host.profileSystem()).toBe(deployedPath);
    expect(await t.host.bootDefault()).toBe(deployedPath);
    expect((await t.host.unitStates())['sshd.service']).toBe('active');
    // Checked before the profile was touched: the bad system never became a generation.
    expect((await t.host.generations()).map((g) => g.storePath)).not.toContain(badPath);
    const acts = (await t.host.activations()).slice(-2);
    expect(acts).toEqual([
      expect.objectContaining({ action: 'test', system: badPath }),
      expect.objectContaining({ action: 'switch', system: deployedPath }),
    ]);
    const s = await readState(t);
    expect(s.deployments?.badCommits[bad]?.reason).toBe('post-switch-failed');
    expect(s.deployments?.current?.storePath).toBe(deployedPath);
    expect(s.upgrade?.lastRun).toMatchObject({ result: 'reverted', exitCode: 4 });
    expect(s.upgrade?.pending).toBeNull();
    const again = await upgrade(t);
    expect(again.exitCode).toBe(3);
    expect(nixCommands(again.commands)).toEqual([]);
  });

  it('an unreachable remote: exit 75, checkout, system and state untouched; then it recovers', async () => {
    const good = await repo.commitGeneration(gen('v3'), 'v3');
    // Our sections; the CLI's own run log (another capability) may add its line.
    const { deployments, upgrade: up } = await readState(t);
    const head = await checkoutHead(t);
    const tracking = await tryRun('git', ['-C', t.host.paths.nixConfigDir, 'rev-parse', 'origin/main']);
    const away = `${repo.remoteDir}.away`;
    await rename(repo.remoteDir, away);
    try {
      const r = await upgrade(t);
      expect(r.exitCode).toBe(75);
      expect(r.stderr).toMatch(/cannot fetch origin\/main.*nothing was changed/);
      expect(nixCommands(r.commands)).toEqual([]);
      const after = await readState(t);
      expect(after.deployments).toEqual(deployments);
      expect(after.upgrade).toEqual(up);
      expect(await checkoutHead(t)).toBe(head);
      expect((await tryRun('git', ['-C', t.host.paths.nixConfigDir, 'rev-parse', 'origin/main'])).stdout).toBe(
        tracking.stdout,
      );
      expect(await t.host.profileSystem()).toBe(deployedPath);
    } finally {
      await rename(away, repo.remoteDir);
    }
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readState(t)).deployments?.current?.commit).toBe(good);
    deployedPath = await build('v3');
    expect(await t.host.currentSystem()).toBe(deployedPath);
  });
});

describe('preflight', () => {
  const withConfig = async (overrides: ConfigOverrides): Promise<void> => {
    await t.host.writeConfig({ nixConfig: { url: repo.remoteUrl }, ...overrides });
  };
  afterAll(async () => {
    await t.host.setSystemState(null);
    await t.host.setUptime(100000);
    await withConfig({});
  });

  it('uptime too short: exit 6, naming the check and by how much; no process started, nothing fetched', async () => {
    await t.host.setSystemState(null);
    await t.host.setUptime(30);
    await withConfig({ preflight: { minUptimeSec: 600 } });
    const state = (await readState(t)).deployments;
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stdout).toMatch(/uptime is 30 s, below preflight.minUptimeSec 600 s \(570 s to go\)/);
    expect(r.commands).toEqual([]);
    expect((await readState(t)).deployments).toEqual(state);
    expect((await readState(t)).upgrade?.lastRun).toMatchObject({ result: 'refused', exitCode: 6 });
  });

  it('a degraded system: nothing new is a no-op without asking systemd; a new commit is refused (6) before any build', async () => {
    await t.host.setUptime(100000);
    await t.host.setSystemState('degraded');
    await withConfig({});
    const idle = await upgrade(t);
    expect(idle.exitCode, idle.stderr).toBe(0);
    expect(idle.commands.map((c) => c[0])).not.toContain('systemctl');
    const next = await repo.commitGeneration(gen('v-preflight'), 'v-preflight');
    const state = (await readState(t)).deployments;
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stdout).toMatch(/is-system-running says "degraded"/);
    expect(r.commands.filter((c) => c[0] === 'systemctl')).toEqual([['systemctl', 'is-system-running']]);
    expect(nixCommands(r.commands)).toEqual([]);
    expect((await readState(t)).deployments).toEqual(state);
    expect((await readState(t)).upgrade?.lastRun).toMatchObject({ result: 'refused', exitCode: 6, commit: next });
  });

  it('a full disk: exit 6 with the free space and the shortfall', async () => {
    await t.host.setSystemState(null);
    await t.host.setUptime(100000);
    // A real full filesystem when the test bed lets us mount one; else a
    // threshold no real filesystem meets.
    const mnt = await tempDir('fulldisk');
    let mounted = false;
    try {
      mounted = (await tryRun('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt])).exitCode === 0;
    } catch {
      // no mount(8) in the test bed (Debian ships it in its own package)
    }
    try {
      if (mounted) {
        await tryRun('dd', ['if=/dev/zero', `of=${mnt}/fill`, 'bs=4k', 'count=10000']);
        await withConfig({ preflight: { diskPaths: [mnt], minFreeDiskPercent: 10 } });
      } else {
        await withConfig({ preflight: { minFreeDiskPercent: 100 } });
      }
      const r = await upgrade(t);
      expect(r.exitCode, r.stderr).toBe(6);
      expect(r.stdout).toMatch(
        mounted
          ? new RegExp(`free space on ${mnt} is 0%, below preflight.minFreeDiskPercent 10% \\(short by 10 points\\)`)
          : /free space on .* is [\d.]+%, below preflight.minFreeDiskPercent 100% \(short by [\d.]+ points\)/,
      );
      process.stdout.write(`full-disk preflight test used ${mounted ? 'a real 1 MiB tmpfs' : 'a 100% threshold'}\n`);
    } finally {
      if (mounted) await tryRun('umount', [mnt]);
    }
  });
});

describe('a new init interface', () => {
  it('is set as the boot default and never switched to live: exit 0, reboot needed, not blamed; after a reboot it runs', async () => {
    // systemd's interface version changes (top-level.nix writes "systemd <n>"
    // to init-interface-version): switch-to-configuration exits 100 for test
    // and switch (main.rs do_system_switch); only a reboot starts it.
    const running = await t.host.currentSystem();
    const c = await repo.commitGeneration(gen('v-init', { initInterfaceVersion: 3 }), 'v-init');
    const before = (await t.host.activations()).length;
    const r = await upgrade(t, ['--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const path = await build('v-init');
    const out = JSON.parse(r.stdout) as {
      kind: string;
      commit: string;
      operation: string;
      reboot: string;
      message: string;
    };
    expect(out).toMatchObject({ kind: 'deployed', commit: c, operation: 'boot', reboot: 'needed' });
    expect(out.message).toMatch(/reboot needed \(init-interface-version changed; reboot.allow is off\)/);
    expect((await t.host.activations()).slice(before).map((a) => a.action)).toEqual(['boot']);
    expect(await t.host.profileSystem()).toBe(path);
    expect(await t.host.bootDefault()).toBe(path);
    expect(await t.host.currentSystem()).toBe(running);
    expect((await readState(t)).deployments?.badCommits[c]).toBeUndefined();
    const st = await traced(t, ['status', '--json']);
    expect(JSON.parse(st.stdout)).toMatchObject({
      system: { rebootNeeded: true, rebootReasons: ['init-interface-version'] },
    });
    // The next run knows the reboot is still owed, and runs no nix.
    const again = await upgrade(t);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/deployed for the next boot; reboot needed/);
    expect(nixCommands(again.commands)).toEqual([]);
    await t.host.boot();
    expect(await t.host.currentSystem()).toBe(path);
  });

  it('while that reboot is owed, a live commit that fails its check is reverted: the running system back live, the new-init one back as the boot default (no switch that exits 100)', async () => {
    // Runs the interface 3 system (the case above); interface 2 is deployed for the next boot.
    const running = await t.host.currentSystem();
    await repo.commitGeneration(gen('v-init-2', { initInterfaceVersion: 2 }), 'v-init-2');
    expect((await upgrade(t)).exitCode).toBe(0);
    const owed = await build('v-init-2');
    expect(await t.host.bootDefault()).toBe(owed);
    // Interface 3 again, as running: a live plan; it breaks the validated service.
    const bad = await repo.commitGeneration(
      gen('v-init-bad', { initInterfaceVersion: 3, failingServices: ['sshd.service'] }),
      'breaks sshd',
    );
    const badPath = await build('v-init-bad');
    const r = await upgrade(t);
    expect(r.exitCode, r.stderr + r.stdout).toBe(4);
    expect((await t.host.activations()).slice(-3)).toEqual([
      expect.objectContaining({ action: 'test', system: badPath }),
      expect.objectContaining({ action: 'boot', system: owed }),
      expect.objectContaining({ action: 'test', system: running }),
    ]);
    expect(await t.host.currentSystem()).toBe(running);
    expect(await t.host.profileSystem()).toBe(owed);
    expect(await t.host.bootDefault()).toBe(owed);
    const s = await readState(t);
    expect(s.deployments?.badCommits[bad]?.reason).toBe('post-switch-failed');
    expect(s.upgrade?.pending).toBeNull();
  });
});
