/**
 * test/shims/nh follows nh 4.4's documented behaviour
 * (/work/shared/reference/tools.md section 4): root check, real builds, exit
 * codes, and the step order build -> activate (test) -> profile -> boot loader,
 * so a failed activation creates no generation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { buildToplevel, createNixConfigRepo, readToplevel, type NixConfigRepo } from '../../harness/nix-config.js';
import { run, tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';

const V1 = { version: 'v1', kernelVersion: '6.6.1' };

let base: string;
let repo: NixConfigRepo;
let host: SimHost;
let v1: string;

async function newHost(name: string): Promise<SimHost> {
  const h = await createSimHost({
    dir: await tempDir(`sim-${name}`),
    name: 'hosta',
    services: ['sshd.service', 'nginx.service'],
  });
  await h.install(v1);
  return h;
}

beforeAll(async () => {
  await requireTools();
  base = await tempDir('nh-shim');
  repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: { hosta: V1 } });
  v1 = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'v1') });
  host = await newHost('main');
});
afterAll(removeTempDirs);

describe('nh shim: command line and root check', () => {
  it('refuses to run as root without -R, like the real nh (exit 1, nothing built)', async () => {
    const cwd = await tempDir('nh-root');
    const r = await host.exec('nh', ['os', 'build', '-H', 'hosta', repo.workDir], { cwd, env: { SIM_EUID: '0' } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Don't run nh os as root. It will escalate its privileges internally as needed.");
    await expect(readlink(join(cwd, 'result'))).rejects.toThrow();
  });

  it('accepts root with -R, NH_BYPASS_ROOT_CHECK, or -e none', async () => {
    const cwd = await tempDir('nh-root-ok');
    for (const [args, env] of [
      [['os', 'build', '-R', '-H', 'hosta', repo.workDir], {}],
      [['os', 'build', '-H', 'hosta', repo.workDir], { NH_BYPASS_ROOT_CHECK: 'true' }],
      [['-e', 'none', 'os', 'build', '-H', 'hosta', repo.workDir], {}],
    ] as const) {
      const r = await host.exec('nh', args, { cwd, env: { SIM_EUID: '0', ...env } });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    // A falsey value does not bypass the check (clap's FalseyValueParser).
    const r = await host.exec('nh', ['os', 'build', '-H', 'hosta', repo.workDir], {
      cwd,
      env: { SIM_EUID: '0', NH_BYPASS_ROOT_CHECK: 'false' },
    });
    expect(r.exitCode).toBe(1);
  });

  it('rejects an unknown flag the way clap does (exit 2) and a real but unsimulated one with exit 64', async () => {
    const unknown = await host.exec('nh', ['os', 'switch', '-R', '--frobnicate', repo.workDir]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("error: unexpected argument '--frobnicate' found");
    const badDiff = await host.exec('nh', ['os', 'switch', '-R', '-d', 'sometimes', repo.workDir]);
    expect(badDiff.exitCode).toBe(2);
    expect(badDiff.stderr).toContain("invalid value 'sometimes' for '--diff <DIFF>'");
    for (const args of [
      ['os', 'switch', '-R', '--ask', repo.workDir],
      ['os', 'switch', '-R', '--target-host', 'root@h', repo.workDir],
      ['os', 'rollback', '-R'],
      ['home', 'switch'],
    ]) {
      const r = await host.exec('nh', args);
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toContain('nh shim: unsupported');
    }
    expect((await host.exec('nh', ['os', 'frob'])).exitCode).toBe(2);
  });

  it('refuses to run without SIM_ROOT', async () => {
    const r = await tryRun('nh', ['os', 'build', '-R', '-H', 'hosta', repo.workDir], {
      env: { PATH: host.env['PATH'] ?? '', SIM_ROOT: '' },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('SIM_ROOT is not set');
  });

  it('checks that a local flake ref is a directory with flake.nix (nh 4.4.0+)', async () => {
    const r = await host.exec('nh', ['os', 'build', '-R', '-H', 'hosta', base]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('does not contain a flake.nix file');
  });

  it('rejects a too specific attribute path', async () => {
    const r = await host.exec('nh', ['os', 'build', '-R', `${repo.workDir}#nixosConfigurations.hosta.config`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Attribute path is too specific');
  });
});

describe('nh shim: os build', () => {
  it('builds the toplevel with real nix and leaves ./result pointing at a real store path', async () => {
    const cwd = await tempDir('nh-build');
    const r = await host.exec('nh', ['os', 'build', '-R', '--no-nom', '-H', 'hosta', repo.workDir], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    const target = await readlink(join(cwd, 'result'));
    expect(target).toBe(v1);
    expect(target).toMatch(/^\/nix\/store\/[0-9a-z]{32}-nixos-system-hosta-v1$/);
    // nix knows the path: it is valid in the real store.
    await run('nix-store', ['--check-validity', target]);
    expect((await readToplevel(target)).version).toBe('v1');
    // Building does not touch the host.
    expect(await host.generations()).toHaveLength(1);
  });

  it('honours -o/--out-link and the .#host form', async () => {
    const out = join(await tempDir('nh-out'), 'sys');
    const r = await host.exec('nh', ['os', 'build', '-R', '-o', out, `${repo.workDir}#hosta`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readlink(out)).toBe(v1);
  });

  it('exits 1 with "Failed to build configuration" when flake.nix does not parse', async () => {
    const broken = await createNixConfigRepo({
      dir: await tempDir('nh-syntax'),
      hosts: { hosta: { ...V1, breakage: 'syntax-error' } },
    });
    const cwd = await tempDir('nh-syntax-cwd');
    const r = await host.exec('nh', ['os', 'build', '-R', '-H', 'hosta', broken.workDir], { cwd });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('syntax error');
    expect(r.stderr).toContain('Failed to build configuration');
    await expect(readlink(join(cwd, 'result'))).rejects.toThrow();
  });

  it('exits 1 when the toplevel derivation fails to build, and switch then changes nothing', async () => {
    const broken = await createNixConfigRepo({
      dir: await tempDir('nh-drvfail'),
      hosts: { hosta: { ...V1, version: 'v1-broken', breakage: 'failing-derivation' } },
    });
    const h = await newHost('drvfail');
    const r = await h.exec('nh', ['os', 'switch', '-R', '-H', 'hosta', broken.workDir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('simulated build failure');
    expect(r.stderr).toContain('Failed to build configuration');
    expect(await h.generations()).toHaveLength(1);
    expect(await h.currentSystem()).toBe(v1);
    expect(await h.bootDefault()).toBe(v1);
  });
});

describe('nh shim: os switch / boot', () => {
  it('activates (test) before setting the profile: a failed activation (exit 4) creates no generation', async () => {
    const h = await newHost('failact');
    await repo.commitGeneration(
      { hosta: { version: 'v2-bad', kernelVersion: '6.6.1', failingServices: ['nginx.service'] } },
      'v2: nginx fails',
    );
    const r = await h.exec('nh', ['os', 'switch', '-R', '-H', 'hosta', repo.workDir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('warning: the following units failed: nginx.service');
    expect(r.stderr).toContain('Activation (test) failed');
    expect(r.stderr).toContain('Exited(4)');

    const gens = await h.generations();
    expect(gens.map((g) => g.storePath)).toEqual([v1]);
    expect(await h.profileSystem()).toBe(v1);
    expect(await h.bootDefault()).toBe(v1);
    // /run/current-system is rewritten by every activation, failed ones included.
    const current = await h.currentSystem();
    expect(current).toMatch(/-nixos-system-hosta-v2-bad$/);
    expect(await h.bootedSystem()).toBe(v1);
    expect(await h.unitStates()).toMatchObject({ 'nginx.service': 'failed', 'sshd.service': 'active' });
    expect((await h.activations()).map((a) => [a.action, a.system])).toEqual([['test', current]]);
  });

  it('switch: build, activate, new profile generation, boot default, in that order', async () => {
    const h = await newHost('switch');
    await repo.commitGeneration({ hosta: { version: 'v3', kernelVersion: '6.6.1' } }, 'v3');

    // A nix wrapper records each nix call and how many activations had run by then.
    const realNix = (await run('sh', ['-c', 'command -v nix'])).stdout.trim();
    const wrapDir = await tempDir('nh-nixwrap');
    const log = join(wrapDir, 'calls.log');
    await writeFile(
      join(wrapDir, 'nix'),
      `#!/bin/sh\nn=$(cat "$SIM_ROOT/run/activations.log" 2>/dev/null | wc -l)\n` +
        `printf '%s activations=%s\\n' "$*" "$n" >> ${JSON.stringify(log)}\nexec ${JSON.stringify(realNix)} "$@"\n`,
    );
    await chmod(join(wrapDir, 'nix'), 0o755);

    const r = await h.exec(
      'nh',
      ['os', 'switch', '-R', '--no-nom', '-d', 'never', '-H', 'hosta', repo.workDir, '--', '--max-jobs', '1'],
      {
        env: { PATH: `${wrapDir}:${h.env['PATH'] ?? ''}` },
      },
    );
    expect(r.exitCode, r.stderr).toBe(0);

    const gens = await h.generations();
    expect(gens).toHaveLength(2);
    const v3 = gens[1]?.storePath ?? '';
    expect(v3).toMatch(/-nixos-system-hosta-v3$/);
    expect(gens[1]?.current).toBe(true);
    expect(await h.bootDefault()).toBe(v3);
    expect(await h.currentSystem()).toBe(v3);
    expect(await h.bootedSystem()).toBe(v1);

    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatch(
      new RegExp(
        `^build ${repo.workDir}#nixosConfigurations\\.hosta\\.config\\.system\\.build\\.toplevel --out-link \\S+/nh-os\\w+/result --max-jobs 1 activations=0$`,
      ),
    );
    expect(calls[1]).toBe(`build --no-link --profile ${h.paths.systemProfile} ${v3} activations=1`);
    expect((await h.activations()).map((a) => [a.action, a.system])).toEqual([
      ['test', v3],
      ['boot', v3],
    ]);
  });

  it('boot: new generation and boot default, no activation', async () => {
    const h = await newHost('boot');
    await repo.commitGeneration({ hosta: { version: 'v4', kernelVersion: '6.7.0' } }, 'v4: new kernel');
    const r = await h.exec('nh', ['os', 'boot', '-R', '-H', 'hosta', repo.workDir]);
    expect(r.exitCode, r.stderr).toBe(0);
    const gens = await h.generations();
    expect(gens).toHaveLength(2);
    const v4 = gens[1]?.storePath ?? '';
    expect(v4).toMatch(/-nixos-system-hosta-v4$/);
    expect(await h.bootDefault()).toBe(v4);
    expect(await h.currentSystem()).toBe(v1);
    expect((await h.activations()).map((a) => a.action)).toEqual(['boot']);
  });

  it('takes a store path, or a link to one, as the installable (nh Installable::Store)', async () => {
    const h = await newHost('store');
    await repo.commitGeneration({ hosta: { version: 'v6', kernelVersion: '6.6.1' } }, 'v6');
    const link = join(await tempDir('nh-store'), 'candidate');
    const v6 = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: link });
    const r = await h.exec('nh', ['os', 'switch', '-R', link]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await h.generations()).map((g) => g.storePath)).toEqual([v1, v6]);
    expect(await h.currentSystem()).toBe(v6);
    const back = await h.exec('nh', ['os', 'boot', '-R', v1]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect((await h.generations()).map((g) => g.storePath)).toEqual([v1, v6, v1]);
    expect(await h.bootDefault()).toBe(v1);
  });

  it('--dry builds but activates nothing', async () => {
    const h = await newHost('dry');
    await repo.commitGeneration({ hosta: { version: 'v5', kernelVersion: '6.6.1' } }, 'v5');
    const out = join(await tempDir('nh-dry'), 'result');
    const r = await h.exec('nh', ['os', 'switch', '-R', '--dry', '-o', out, '-H', 'hosta', repo.workDir]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readlink(out)).toMatch(/-nixos-system-hosta-v5$/);
    expect(await h.generations()).toHaveLength(1);
    expect(await h.activations()).toEqual([]);
  });
});
