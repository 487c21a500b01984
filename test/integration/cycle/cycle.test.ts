/**
 * `gitopsd cycle` on the simulated fleet (test/harness/fleet.ts): real jj,
 * chezmoi, git and nix; systemd and activation simulated.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec.js';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { CHEZMOI_TEST_TOML } from '../../harness/chezmoi-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';

afterAll(removeTempDirs);

let fleet: Fleet;
let alpha: FleetHost;
let beta: FleetHost;

/** A file of the dotfiles remote's main. */
async function remoteFile(name: string): Promise<string> {
  return (await run('git', ['--git-dir', fleet.dotfilesUrl, 'show', `main:${name}`])).stdout;
}

function cycleSection(h: FleetHost): Record<string, unknown> {
  const state = JSON.parse(readFileSync(join(h.sim.paths.stateDir, 'state.json'), 'utf8')) as Record<string, unknown>;
  return state['cycle'] as Record<string, unknown>;
}

beforeAll(async () => {
  fleet = await createFleet({
    dir: await tempDir('gitopsd-cycle'),
    names: ['alpha', 'beta'],
    chezmoiToml: CHEZMOI_TEST_TOML,
  });
  alpha = fleet.host('alpha');
  beta = fleet.host('beta');
});

describe('gitopsd cycle', () => {
  it('first run: the sync bootstraps the dotfiles, the upgrade finds nothing new; one line per step', async () => {
    const r = await alpha.gitopsd(['cycle']);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^sync: ok: /);
    expect(lines[1]).toMatch(/^upgrade: ok: /);
    expect(await alpha.readHome('.bashrc')).toContain('EDITOR=vi');
    expect(cycleSection(alpha)).toMatchObject({ lastTrigger: 'manual', lastExitCode: 0 });
  });

  it('a dotfile edit and a nix-config commit are both deployed in one run', async () => {
    await alpha.editHome('.bashrc', '# ~/.bashrc\nexport EDITOR=hx\nalias ll="ls -l"\n');
    await fleet.nixConfig.commitGeneration({ alpha: { version: 'v2', kernelVersion: '6.6.1' } }, 'alpha: v2');
    const before = await alpha.sim.profileSystem();

    const r = await alpha.json<{ exitCode: number; steps: Array<{ step: string; status: string; exitCode: number }> }>([
      'cycle',
    ]);
    expect(r.steps.map((s) => [s.step, s.status, s.exitCode])).toEqual([
      ['sync', 'ok', 0],
      ['upgrade', 'ok', 0],
    ]);
    expect(r.exitCode).toBe(0);
    // The edit is on the shared remote; the new system is the profile and running.
    expect(await remoteFile('dot_bashrc')).toContain('EDITOR=hx');
    const now = await alpha.sim.profileSystem();
    expect(now).not.toBe(before);
    expect(now).toMatch(/nixos-system-alpha-v2$/);
    expect(await alpha.sim.currentSystem()).toBe(now);
    // ... and the other host gets both from its own cycle.
    const b = await beta.gitopsd(['cycle']);
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    expect(await beta.readHome('.bashrc')).toContain('EDITOR=hx');
  });

  it('a failing step sets the exit code (worst step), and the other step still runs', async () => {
    await alpha.editHome('.bashrc', '# ~/.bashrc\nexport EDITOR=nvim\nalias ll="ls -l"\n');
    await fleet.nixConfig.commitGeneration(
      { alpha: { version: 'v3', kernelVersion: '6.6.1', breakage: 'failing-derivation' } },
      'alpha: v3 (does not build)',
    );
    const before = await alpha.sim.profileSystem();
    const r = await alpha.gitopsd(['cycle']);
    expect(r.exitCode, r.stderr).toBe(3);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^sync: ok: /);
    expect(lines[1]).toMatch(/^upgrade: failed \(exit 3\): /);
    expect(await remoteFile('dot_bashrc')).toContain('EDITOR=nvim');
    expect(await alpha.sim.profileSystem()).toBe(before);
    expect(cycleSection(alpha)).toMatchObject({
      lastExitCode: 3,
      lastSteps: [
        { step: 'sync', status: 'ok', exitCode: 0 },
        { step: 'upgrade', status: 'failed', exitCode: 3 },
      ],
    });
  });

  it('with dotfiles disabled the sync step is skipped', async () => {
    const cfg = JSON.parse(readFileSync(alpha.config, 'utf8')) as { dotfiles: Record<string, unknown> };
    const off = join(alpha.sim.root, 'etc/gitopsd/no-dotfiles.json');
    writeFileSync(off, JSON.stringify({ ...cfg, dotfiles: { ...cfg.dotfiles, enable: false } }));
    const r = await runCli(['cycle', '--config', off], { env: alpha.sim.env });
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('sync: skipped: dotfiles.enable is false');
    expect(lines[1]).toMatch(/^upgrade: failed \(exit 3\): /); // the known-bad tip is skipped with 3
    expect(r.exitCode).toBe(3);
  });
});
