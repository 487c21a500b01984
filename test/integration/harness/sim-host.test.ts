/**
 * The simulated host: real profile generations, the simulated
 * switch-to-configuration, boot(), kernel paths, and writeConfig.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSimHost, deepMerge, parseGenerations, type SimHost } from '../../harness/sim-host.js';
import { buildToplevel, createNixConfigRepo, readToplevel, type NixConfigRepo } from '../../harness/nix-config.js';
import { run, tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { ConfigSchema } from '../../../src/core/config-schema.js';

const SERVICES = ['sshd.service', 'nginx.service'];

let base: string;
let repo: NixConfigRepo;
/** v1 and v2 share kernel 6.6.1; v3 has 6.7.0 and a failing nginx. */
let v1: string;
let v2: string;
let v3: string;

async function build(name: string): Promise<string> {
  return buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, name) });
}

async function newHost(label: string): Promise<SimHost> {
  return createSimHost({ dir: await tempDir(`sim-${label}`), name: 'hosta', services: SERVICES });
}

beforeAll(async () => {
  await requireTools();
  base = await tempDir('sim-host');
  repo = await createNixConfigRepo({
    dir: join(base, 'config'),
    hosts: { hosta: { version: 'v1', kernelVersion: '6.6.1' } },
  });
  v1 = await build('v1');
  await repo.commitGeneration({ hosta: { version: 'v2', kernelVersion: '6.6.1' } }, 'v2');
  v2 = await build('v2');
  await repo.commitGeneration(
    { hosta: { version: 'v3', kernelVersion: '6.7.0', failingServices: ['nginx.service'] } },
    'v3: new kernel, nginx fails',
  );
  v3 = await build('v3');
});
afterAll(removeTempDirs);

describe('createSimHost', () => {
  it('lays out the fake root', async () => {
    const h = await newHost('layout');
    for (const d of [
      h.paths.profilesDir,
      h.paths.gcRootsDir,
      h.paths.unitsDir,
      h.paths.stateDir,
      join(h.root, 'boot'),
    ]) {
      await access(d);
    }
    expect(await readFile(h.paths.servicesFile, 'utf8')).toBe('sshd.service\nnginx.service\n');
    expect(await readFile(h.paths.uptimeFile, 'utf8')).toBe('100000.00 0.00\n');
    expect(h.configPaths).toEqual({
      systemProfile: join(h.root, 'nix/var/nix/profiles/system'),
      currentSystem: join(h.root, 'run/current-system'),
      bootedSystem: join(h.root, 'run/booted-system'),
      gcRootsDir: join(h.root, 'nix/var/nix/gcroots'),
      uptimeFile: join(h.root, 'proc-uptime'),
    });
    expect(h.env['SIM_ROOT']).toBe(h.root);
    expect(await h.generations()).toEqual([]);
    expect(await h.bootDefault()).toBeNull();
    await expect(h.boot()).rejects.toThrow(/nothing installed/);
  });
});

describe('install and generations', () => {
  it('installs generation 1 with real nix-env and boots it', async () => {
    const h = await newHost('install');
    await h.install(join(base, 'v1'));
    const raw = await run('nix-env', ['-p', h.paths.systemProfile, '--list-generations']);
    expect(raw.stdout).toMatch(/^\s+1\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\s+\(current\)\s*$/);
    expect(await h.generations()).toEqual([expect.objectContaining({ number: 1, current: true, storePath: v1 })]);
    expect(await readlink(h.paths.systemProfile)).toBe('system-1-link');
    expect(await h.bootDefault()).toBe(v1);
    expect(await h.currentSystem()).toBe(v1);
    expect(await h.bootedSystem()).toBe(v1);
    expect(await h.unitStates()).toEqual({ 'nginx.service': 'active', 'sshd.service': 'active' });
    expect(await h.bootCount()).toBe(1);
    expect(await readFile(h.paths.uptimeFile, 'utf8')).toBe('100000.00 0.00\n');
    expect(await readlink(join(h.paths.gcRootsDir, 'booted-system'))).toBe(v1);
    await expect(h.install(v2)).rejects.toThrow(/already installed/);
  });

  it('sees generations made by other real nix commands (nix-env --set, --switch-generation)', async () => {
    const h = await newHost('gens');
    await h.install(v1);
    await run('nix-env', ['-p', h.paths.systemProfile, '--set', v2]);
    await run('nix', ['build', '--no-link', '--profile', h.paths.systemProfile, v3]);
    let gens = await h.generations();
    expect(gens.map((g) => [g.number, g.storePath, g.current])).toEqual([
      [1, v1, false],
      [2, v2, false],
      [3, v3, true],
    ]);
    await run('nix-env', ['-p', h.paths.systemProfile, '--switch-generation', '1']);
    gens = await h.generations();
    expect(gens.find((g) => g.current)?.number).toBe(1);
    expect(await h.profileSystem()).toBe(v1);
  });

  it('parses nix-env --list-generations output and rejects anything else', () => {
    expect(parseGenerations('   1   2026-11-21 23:24:45   \n  12   2026-11-22 01:00:00   (current)\n')).toEqual([
      { number: 1, date: '2026-11-21 23:24:45', current: false },
      { number: 12, date: '2026-11-22 01:00:00', current: true },
    ]);
    expect(() => parseGenerations('error: no generations\n')).toThrow(/cannot parse/);
  });
});

describe('switch-to-configuration (simulated, inside the toplevel)', () => {
  it('switch sets the boot default, then activates; failed units make it exit 4', async () => {
    const h = await newHost('stc');
    await h.install(v1);
    const r = await h.exec(join(v3, 'bin/switch-to-configuration'), ['switch']);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('warning: the following units failed: nginx.service');
    expect(await h.bootDefault()).toBe(v3);
    expect(await h.currentSystem()).toBe(v3);
    expect(await h.bootedSystem()).toBe(v1);
    expect(await h.unitStates()).toEqual({ 'nginx.service': 'failed', 'sshd.service': 'active' });
    expect((await h.exec('systemctl', ['is-system-running'])).stdout).toBe('degraded\n');

    // test with a healthy generation brings nginx back and leaves the boot default alone.
    const t = await h.exec(join(v2, 'bin/switch-to-configuration'), ['test']);
    expect(t.exitCode, t.stderr).toBe(0);
    expect(await h.unitStates()).toEqual({ 'nginx.service': 'active', 'sshd.service': 'active' });
    expect(await h.currentSystem()).toBe(v2);
    expect(await h.bootDefault()).toBe(v3);
    expect((await h.activations()).map((a) => `${a.action} ${a.system}`)).toEqual([`switch ${v3}`, `test ${v2}`]);
  });

  it('boot only moves the boot default; dry-activate changes nothing', async () => {
    const h = await newHost('stc-boot');
    await h.install(v1);
    expect((await h.exec(join(v2, 'bin/switch-to-configuration'), ['boot'])).exitCode).toBe(0);
    expect(await h.bootDefault()).toBe(v2);
    expect(await h.currentSystem()).toBe(v1);
    const dry = await h.exec(join(v3, 'bin/switch-to-configuration'), ['dry-activate']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('nginx.service');
    expect(await h.bootDefault()).toBe(v2);
    expect(await h.currentSystem()).toBe(v1);
    expect(await h.unitStates()).toEqual({ 'nginx.service': 'active', 'sshd.service': 'active' });
  });

  it("a new init interface: switch sets the boot default and exits 100 with main.rs's warning; test activates nothing", async () => {
    await repo.commitGeneration({ hosta: { version: 'v4', kernelVersion: '6.6.1', initInterfaceVersion: 3 } }, 'v4');
    const v4 = await build('v4');
    expect(await readFile(join(v1, 'init-interface-version'), 'utf8')).toBe('systemd 2');
    expect(await readFile(join(v4, 'init-interface-version'), 'utf8')).toBe('systemd 3');
    const h = await newHost('stc-init');
    await h.install(v1);
    for (const action of ['test', 'dry-activate', 'switch']) {
      const r = await h.exec(join(v4, 'bin/switch-to-configuration'), [action]);
      expect({ action, exitCode: r.exitCode }).toEqual({ action, exitCode: 100 });
      expect(r.stderr).toBe(
        "Warning: the new NixOS configuration has an ‘init’ that is\nincompatible with the current configuration.  The new configuration\nwon't take effect until you reboot the system.\n\n",
      );
    }
    expect(await h.currentSystem()).toBe(v1);
    expect(await h.bootDefault()).toBe(v4);
  });

  it('compares the init interfaces byte for byte, as main.rs does: a trailing newline or a missing file of the running system differs', async () => {
    // main.rs reads both files with read_to_string (the running one's
    // missing: empty) and compares the strings; the shim used $(cat), which
    // drops trailing newlines, so "systemd 2\n" passed as "systemd 2".
    const h = await newHost('stc-init-bytes');
    await h.install(v1);
    const running = join(h.root, 'run', 'running-copy');
    await run('cp', ['-a', v1, running]);
    await run('chmod', ['u+w', running]);
    await rm(join(running, 'init-interface-version'), { force: true });
    await writeFile(join(running, 'init-interface-version'), 'systemd 2\n');
    const link = join(h.root, 'run', 'current-system');
    await rm(link, { force: true });
    await symlink(running, link);
    expect(await readFile(join(v2, 'init-interface-version'), 'utf8')).toBe('systemd 2');
    const units = await h.unitStates();
    const withNewline = await h.exec(join(v2, 'bin/switch-to-configuration'), ['test']);
    expect(withNewline.exitCode).toBe(100);
    expect(withNewline.stderr).toContain('has an ‘init’ that is\nincompatible');
    await rm(join(running, 'init-interface-version'));
    const missing = await h.exec(join(v2, 'bin/switch-to-configuration'), ['test']);
    expect(missing.exitCode).toBe(100);
    // Nothing was activated either time: the running system and its units are as they were.
    expect(await readlink(link)).toBe(running);
    expect(await h.unitStates()).toEqual(units);
    await writeFile(join(running, 'init-interface-version'), 'systemd 2');
    expect((await h.exec(join(v2, 'bin/switch-to-configuration'), ['test'])).exitCode).toBe(0);
    expect(await h.currentSystem()).toBe(v2);
    // A new toplevel without the file: main.rs's `.context(…)?` ends main
    // with anyhow's "Error: …" and exit 1, before anything is activated.
    // (A copy of v2's script whose `out` names a directory without it.)
    const bare = join(h.root, 'run', 'bare-toplevel');
    await run('mkdir', ['-p', join(bare, 'bin')]);
    const script = (await readFile(join(v2, 'bin/switch-to-configuration'), 'utf8')).replace(
      /^out='[^']*'$/m,
      `out='${bare}'`,
    );
    await writeFile(join(bare, 'bin/switch-to-configuration'), script, { mode: 0o755 });
    const noFile = await h.exec(join(bare, 'bin/switch-to-configuration'), ['test']);
    expect({ exitCode: noFile.exitCode, stderr: noFile.stderr }).toEqual({
      exitCode: 1,
      stderr:
        'Error: File init-interface-version should exist\n\nCaused by:\n    No such file or directory (os error 2)\n',
    });
    expect(await h.currentSystem()).toBe(v2);
  });

  it('fails loudly on a bad action or without SIM_ROOT', async () => {
    const h = await newHost('stc-bad');
    await h.install(v1);
    const bad = await h.exec(join(v2, 'bin/switch-to-configuration'), ['reboot']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('Usage:');
    const noRoot = await tryRun(join(v2, 'bin/switch-to-configuration'), ['switch'], { env: { SIM_ROOT: '' } });
    expect(noRoot.exitCode).toBe(1);
    expect(noRoot.stderr).toContain('SIM_ROOT is not set');
    expect(await h.bootDefault()).toBe(v1);
  });
});

describe('boot()', () => {
  it('reboots into the boot default and applies its failing services', async () => {
    const h = await newHost('boot');
    await h.install(v1);
    // As after `nh os boot`: v3 is the boot default, v1 still runs.
    await run('nix-env', ['-p', h.paths.systemProfile, '--set', v3]);
    expect((await h.exec(join(v3, 'bin/switch-to-configuration'), ['boot'])).exitCode).toBe(0);
    expect((await h.exec('systemctl', ['reboot'])).exitCode).toBe(0);
    await writeFile(join(h.root, 'run/skip-golden-pin'), '');
    const requests = await h.rebootRequests();
    expect(requests).toHaveLength(1);

    const rec = await h.boot();
    expect(rec).toMatchObject({ boot: 2, system: v3, rebootRequests: requests });
    expect(await h.bootedSystem()).toBe(v3);
    expect(await h.currentSystem()).toBe(v3);
    expect(await h.unitStates()).toEqual({ 'nginx.service': 'failed', 'sshd.service': 'active' });
    expect(await h.rebootRequests()).toEqual([]);
    expect(await h.bootCount()).toBe(2);
    expect((await h.bootLog()).map((b) => b.system)).toEqual([v1, v3]);
    expect(await readFile(h.paths.uptimeFile, 'utf8')).toBe('10.00 0.00\n');
    // /run is a tmpfs: a reboot empties it (activations.log is kept for tests).
    await expect(access(join(h.root, 'run/skip-golden-pin'))).rejects.toThrow();
    expect((await h.activations()).map((a) => a.action)).toEqual(['boot']);
    const running = await h.exec('systemctl', ['is-system-running']);
    expect(running).toMatchObject({ exitCode: 1, stdout: 'degraded\n' });
    expect((await h.exec('systemctl', ['is-active', 'nginx.service'])).exitCode).toBe(3);
    expect(await readlink(join(h.paths.gcRootsDir, 'booted-system'))).toBe(v3);
  });

  it('clears a system-state override and unit states set by hand', async () => {
    const h = await newHost('boot-reset');
    await h.install(v2);
    await h.setSystemState('maintenance');
    await h.setUnitState('sshd.service', 'failed');
    await h.setUnitState('other.service', 'active');
    await h.setUptime(5000);
    await h.boot({ uptimeSec: 42 });
    expect(await h.unitStates()).toEqual({ 'nginx.service': 'active', 'sshd.service': 'active' });
    expect((await h.exec('systemctl', ['is-system-running'])).stdout).toBe('running\n');
    expect(await readFile(h.paths.uptimeFile, 'utf8')).toBe('42.00 0.00\n');
  });
});

describe('kernel, initrd and kernel-modules', () => {
  it('are the same store paths for the same kernel version and differ for another', async () => {
    const [a, b, c] = await Promise.all([readToplevel(v1), readToplevel(v2), readToplevel(v3)]);
    expect(v1).not.toBe(v2);
    for (const key of ['kernel', 'initrd', 'kernelModules'] as const) {
      expect(a?.[key], key).toBe(b?.[key]);
      expect(a?.[key], key).not.toBe(c?.[key]);
      expect(a?.[key]).toMatch(/^\/nix\/store\//);
    }
    expect(a?.kernel).toMatch(/-linux-6\.6\.1\/bzImage$/);
    expect(c?.kernel).toMatch(/-linux-6\.7\.0\/bzImage$/);
    expect(c?.failingServices).toEqual(['nginx.service']);
  });

  it("can be compared through the host paths the way autoUpgrade's allowReboot does", async () => {
    const h = await newHost('kernel');
    await h.install(v1);
    await run('nix-env', ['-p', h.paths.systemProfile, '--set', v2]);
    const same = async (f: string) =>
      (await readlink(join(h.paths.bootedSystem, f))) === (await readlink(join(h.paths.systemProfile, f)));
    expect(await same('kernel')).toBe(true);
    await run('nix-env', ['-p', h.paths.systemProfile, '--set', v3]);
    expect(await same('kernel')).toBe(false);
    expect(await same('initrd')).toBe(false);
    expect(await same('kernel-modules')).toBe(false);
  });
});

describe('writeConfig', () => {
  it('writes a config the gitopsd schema accepts, deep-merging overrides', async () => {
    const h = await newHost('config');
    const file = await h.writeConfig({
      nixConfig: { url: repo.remoteUrl, operation: 'boot' },
      validation: { services: ['sshd.service'] },
      preflight: { allowDegraded: true },
    });
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    expect(raw).toMatchObject({
      hostname: 'hosta',
      stateDir: h.paths.stateDir,
      nixConfig: {
        path: h.paths.nixConfigDir,
        url: repo.remoteUrl,
        operation: 'boot',
        branch: 'main',
        flakeHost: 'hosta',
      },
      validation: { services: ['sshd.service'], maxBootFailures: 2 },
      preflight: { allowDegraded: true, minUptimeSec: 0, diskPaths: [h.root] },
      paths: h.configPaths,
    });
    const parsed = ConfigSchema.safeParse(raw);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  });

  it('deepMerge replaces arrays and scalars, merges objects, skips undefined', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { c: [3] }, d: undefined, e: null })).toEqual({
      a: { b: 1, c: [3] },
      d: 'x',
      e: null,
    });
  });
});
