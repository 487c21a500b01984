/**
 * The nix-config flake generator: real git repos, offline flake locking, per
 * host specs, and a flake input whose update changes flake.lock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildToplevel,
  createInputRepo,
  createNixConfigRepo,
  GIT_ENV,
  readToplevel,
  type NixConfigRepo,
} from '../../harness/nix-config.js';
import { run } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';

let base: string;

beforeAll(async () => {
  await requireTools();
  base = await tempDir('nix-config');
});
afterAll(removeTempDirs);

const git = async (cwd: string, ...args: string[]) => (await run('git', args, { cwd, env: GIT_ENV })).stdout.trim();

describe('a nix-config without inputs', () => {
  let repo: NixConfigRepo;
  beforeAll(async () => {
    repo = await createNixConfigRepo({
      dir: join(base, 'plain'),
      hosts: {
        hosta: { version: 'a1', kernelVersion: '6.6.1' },
        hostb: { version: 'b1', kernelVersion: '6.6.1', failingServices: ['nginx.service'] },
      },
    });
  });

  it('is pushed to a bare remote that a host can clone', async () => {
    expect(await repo.remoteHead()).toBe(await repo.head());
    expect(repo.remoteUrl).toBe(`file://${repo.remoteDir}`);
    const dest = join(base, 'host-etc-nixos');
    await repo.cloneTo(dest);
    expect(await git(dest, 'rev-parse', 'HEAD')).toBe(await repo.head());
    expect((await git(dest, 'ls-files')).split('\n').sort()).toEqual([
      'flake.nix',
      'hosts.json',
      'sim/switch-to-configuration.sh',
    ]);
  });

  it('locks offline without writing a flake.lock (nothing to lock)', async () => {
    await run('nix', ['flake', 'lock', '--offline'], { cwd: repo.workDir });
    await expect(access(join(repo.workDir, 'flake.lock'))).rejects.toThrow();
    const meta = JSON.parse((await run('nix', ['flake', 'metadata', '--json', '--offline', repo.workDir])).stdout) as {
      revision?: string;
    };
    expect(meta.revision).toBe(await repo.head());
  });

  it('builds each host from its own spec; changing one host leaves the other store path unchanged', async () => {
    const a1 = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'a1') });
    const b1 = await buildToplevel({ flake: repo.workDir, host: 'hostb', outLink: join(base, 'b1') });
    expect(await readToplevel(a1)).toMatchObject({ host: 'hosta', version: 'a1', failingServices: [] });
    expect(await readToplevel(b1)).toMatchObject({ host: 'hostb', version: 'b1', failingServices: ['nginx.service'] });

    const before = await repo.head();
    const id = await repo.commitGeneration({ hostb: { version: 'b2', kernelVersion: '6.7.0' } }, 'hostb: b2');
    expect(id).not.toBe(before);
    expect(await repo.remoteHead()).toBe(id);
    expect(await git(repo.workDir, 'log', '-1', '--format=%s')).toBe('hostb: b2');
    expect(repo.spec()).toEqual({
      hosta: { version: 'a1', kernelVersion: '6.6.1', failingServices: [], breakage: 'none', initInterfaceVersion: 2 },
      hostb: { version: 'b2', kernelVersion: '6.7.0', failingServices: [], breakage: 'none', initInterfaceVersion: 2 },
    });
    expect(await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'a1-again') })).toBe(a1);
    const b2 = await buildToplevel({ flake: repo.workDir, host: 'hostb', outLink: join(base, 'b2') });
    expect(b2).not.toBe(b1);
    expect((await readToplevel(b2)).failingServices).toEqual([]);
  });

  it('commits without pushing when asked, and pushes later', async () => {
    const remoteBefore = await repo.remoteHead();
    const id = await repo.commitGeneration({ hosta: { version: 'a2', kernelVersion: '6.6.1' } }, 'a2', { push: false });
    expect(await repo.remoteHead()).toBe(remoteBefore);
    await repo.push();
    expect(await repo.remoteHead()).toBe(id);
  });

  it('a syntax-error generation breaks evaluation for every host until it is replaced', async () => {
    await repo.commitGeneration(
      { hosta: { version: 'a3', kernelVersion: '6.6.1', breakage: 'syntax-error' } },
      'broken',
    );
    await expect(buildToplevel({ flake: repo.workDir, host: 'hostb', outLink: join(base, 'x') })).rejects.toThrow(
      /syntax error/,
    );
    await repo.commitGeneration({ hosta: { version: 'a3', kernelVersion: '6.6.1' } }, 'fixed');
    expect(await buildToplevel({ flake: repo.workDir, host: 'hostb', outLink: join(base, 'y') })).toMatch(
      /-nixos-system-hostb-b2$/,
    );
  });

  it('rejects a bad spec before writing anything', async () => {
    const head = await repo.head();
    await expect(repo.commitGeneration({ 'bad host': { version: 'x', kernelVersion: '1' } }, 'x')).rejects.toThrow(
      /bad host name/,
    );
    await expect(repo.commitGeneration({ hosta: { version: 'x y', kernelVersion: '1' } }, 'x')).rejects.toThrow(
      /bad version/,
    );
    await expect(
      repo.commitGeneration({ hosta: { version: 'x', kernelVersion: '1', failingServices: ['a/b'] } }, 'x'),
    ).rejects.toThrow(/bad unit name/);
    expect(await repo.head()).toBe(head);
  });
});

describe('a nix-config with a flake input', () => {
  it('is locked at creation, and `nix flake update` offline picks up a new input commit', async () => {
    const input = await createInputRepo({ dir: join(base, 'input'), value: 'input v1' });
    const repo = await createNixConfigRepo({
      dir: join(base, 'with-input'),
      hosts: { hosta: { version: 'i1', kernelVersion: '6.6.1' } },
      input,
    });
    expect((await git(repo.workDir, 'ls-files')).split('\n')).toContain('flake.lock');
    const lockRev = async () =>
      (
        JSON.parse(await readFile(join(repo.workDir, 'flake.lock'), 'utf8')) as {
          nodes: Record<string, { locked?: { rev?: string } }>;
        }
      ).nodes['simInput']?.locked?.rev;
    const firstInput = await git(input.dir, 'rev-parse', 'HEAD');
    expect(await lockRev()).toBe(firstInput);
    const t1 = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'i1') });
    expect((await readToplevel(t1)).inputValue).toBe('input v1');

    const newInput = await input.commitValue('input v2');
    // Upstream moved, but the config is pinned by its lock until someone updates it.
    expect(await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'i1b') })).toBe(t1);

    const id = await repo.updateInputs('flake.lock: update simInput');
    expect(await git(repo.workDir, 'show', '--name-only', '--format=', id)).toBe('flake.lock');
    expect(await lockRev()).toBe(newInput);
    expect(await repo.remoteHead()).toBe(id);
    const t2 = await buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'i2') });
    expect(t2).not.toBe(t1);
    expect((await readToplevel(t2)).inputValue).toBe('input v2');
  });

  it('refuses updateInputs on a config without inputs', async () => {
    const repo = await createNixConfigRepo({
      dir: join(base, 'no-input'),
      hosts: { hosta: { version: 'n1', kernelVersion: '6.6.1' } },
    });
    await expect(repo.updateInputs()).rejects.toThrow(/no inputs/);
  });
});
