/** `gitopsd status` on a freshly installed simulated host (nothing deployed by gitopsd yet). */
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { createNixConfigRepo, buildToplevel } from '../../harness/nix-config.js';
import { tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';

let host: SimHost;
let config: string;
let system: string;

beforeAll(async () => {
  const dir = await tempDir('gitopsd-status-fresh-');
  const repo = await createNixConfigRepo({
    dir: join(dir, 'nix-config'),
    hosts: { fresh: { version: 'v1', kernelVersion: 'k1' } },
  });
  host = await createSimHost({ dir: join(dir, 'host'), name: 'fresh', services: ['sshd.service'] });
  system = await buildToplevel({ flake: repo.workDir, host: 'fresh', outLink: join(dir, 'g1') });
  await host.install(system);
  await repo.cloneTo(host.paths.nixConfigDir);
  config = await host.writeConfig({ nixConfig: { path: host.paths.nixConfigDir, url: repo.remoteUrl } });
});

describe('status on a fresh host', () => {
  it('--json has the documented top-level fields', async () => {
    const r = await runCli(['status', '--json', '--config', config], { env: host.env });
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const key of ['hostname', 'version', 'git', 'lock', 'system', 'boot', 'golden', 'dotfiles', 'lastUpgrade']) {
      expect(s).toHaveProperty(key);
    }
    expect(s['hostname']).toBe('fresh');
    expect(s['lastUpgrade']).toBeNull();
    expect(s['git']).toMatchObject({ relation: 'up-to-date', ahead: 0, behind: 0, deployed: null });
    expect(s['system']).toMatchObject({ current: system, booted: system, deployed: null, rebootNeeded: false });
    expect(s['golden']).toMatchObject({ storePath: null, gcRootIntact: false });
    expect(s['boot']).toMatchObject({ bootedSystem: system, verdict: 'none', failures: 0 });
  });

  it('prints one plain screen without colour when not on a TTY', async () => {
    const r = await runCli(['status', '--config', config], { env: host.env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('gitopsd 0.1.0 on fresh');
    expect(r.stdout).toMatch(/checkout .*: up to date/);
    expect(r.stdout).toContain('nothing deployed by gitopsd yet');
    expect(r.stdout).toContain('none pinned yet');
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('system links that do not exist are "not found", never "-" (issue 18)', async () => {
    const cfg = JSON.parse(await readFile(config, 'utf8')) as { paths: Record<string, string> };
    cfg.paths['currentSystem'] = join(host.paths.stateDir, 'no-such-current-system');
    cfg.paths['bootedSystem'] = join(host.paths.stateDir, 'no-such-booted-system');
    const elsewhere = `${config}.elsewhere.json`;
    await writeFile(elsewhere, JSON.stringify(cfg));
    const r = await runCli(['status', '--config', elsewhere], { env: host.env });
    expect(r.stdout).toMatch(/^ *current +not found \(no such system link\)$/m);
    expect(r.stdout).toMatch(/^ *booted +not found \(no such system link\)$/m);
  });

  it('writes nothing', async () => {
    const before = await host.exec('find', [host.paths.stateDir]);
    await runCli(['status', '--config', config], { env: host.env });
    const after = await host.exec('find', [host.paths.stateDir]);
    expect(after.stdout).toBe(before.stdout);
  });
});
