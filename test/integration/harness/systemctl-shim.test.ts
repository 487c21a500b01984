/**
 * test/shims/systemctl behaves like the real systemctl for the verbs gitopsd
 * uses (output, exit codes), against a simulated host's unit files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSimHost, SHIMS_DIR, type SimHost } from '../../harness/sim-host.js';
import { tryRun } from '../../harness/exec.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';

let host: SimHost;

beforeAll(async () => {
  host = await createSimHost({
    dir: join(await tempDir('sim-systemctl'), 'root'),
    name: 'hosta',
    services: ['sshd.service', 'nginx.service'],
  });
});
afterAll(removeTempDirs);

const systemctl = (...args: string[]) => host.exec('systemctl', args);

describe('systemctl shim', () => {
  it('is the shim, not the real systemctl, on the host PATH', async () => {
    const r = await host.exec('sh', ['-c', 'command -v systemctl']);
    expect(r.stdout.trim()).toBe(join(SHIMS_DIR, 'systemctl'));
  });

  it('is-active prints one state per line and exits 0 when at least one unit is active', async () => {
    await host.setUnitState('sshd.service', 'active');
    await host.setUnitState('nginx.service', 'failed');
    await host.setUnitState('db.service', 'activating');
    const r = await systemctl('is-active', 'nginx.service', 'sshd.service', 'db.service', 'missing.service');
    expect(r.stdout).toBe('failed\nactive\nactivating\ninactive\n');
    expect(r.exitCode).toBe(0);
  });

  it('is-active exits 3 when no unit is active (failed, activating, unknown)', async () => {
    await host.setUnitState('nginx.service', 'failed');
    await host.setUnitState('db.service', 'activating');
    const r = await systemctl('is-active', 'nginx.service', 'db.service', 'missing.service');
    expect(r.stdout).toBe('failed\nactivating\ninactive\n');
    expect(r.exitCode).toBe(3);
  });

  it('is-active --quiet prints nothing but keeps the exit code', async () => {
    await host.setUnitState('sshd.service', 'active');
    const ok = await systemctl('is-active', '--quiet', 'sshd.service');
    expect(ok).toMatchObject({ exitCode: 0, stdout: '' });
    const bad = await systemctl('is-active', '-q', 'nginx.service');
    expect(bad).toMatchObject({ exitCode: 3, stdout: '' });
  });

  it('mangles a bare name to .service, like systemctl', async () => {
    await host.setUnitState('sshd.service', 'active');
    const r = await systemctl('is-active', 'sshd');
    expect(r).toMatchObject({ exitCode: 0, stdout: 'active\n' });
  });

  it('is-active with no unit fails like the real one', async () => {
    const r = await systemctl('is-active');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Too few arguments.');
  });

  it('is-failed exits 0 only when a unit is failed', async () => {
    await host.setUnitState('nginx.service', 'failed');
    await host.setUnitState('sshd.service', 'active');
    expect((await systemctl('is-failed', 'sshd.service', 'nginx.service')).exitCode).toBe(0);
    expect((await systemctl('is-failed', 'sshd.service')).exitCode).toBe(1);
  });

  it('is-system-running prints the override and exits 0 only for running', async () => {
    await host.setSystemState('running');
    expect(await systemctl('is-system-running')).toMatchObject({ exitCode: 0, stdout: 'running\n' });
    await host.setSystemState('degraded');
    expect(await systemctl('is-system-running')).toMatchObject({ exitCode: 1, stdout: 'degraded\n' });
    await host.setSystemState('starting');
    expect(await systemctl('is-system-running')).toMatchObject({ exitCode: 1, stdout: 'starting\n' });
  });

  it('is-system-running without an override is degraded while a unit has failed', async () => {
    await host.setSystemState(null);
    await host.setUnitState('nginx.service', 'failed');
    expect(await systemctl('is-system-running')).toMatchObject({ exitCode: 1, stdout: 'degraded\n' });
    await host.setUnitState('nginx.service', 'active');
    await host.setUnitState('db.service', 'inactive');
    expect(await systemctl('is-system-running')).toMatchObject({ exitCode: 0, stdout: 'running\n' });
  });

  it('reboot records a request and exits 0', async () => {
    const before = (await host.rebootRequests()).length;
    const r = await systemctl('reboot');
    expect(r.exitCode).toBe(0);
    const after = await host.rebootRequests();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('fails loudly (exit 64) on anything it does not implement', async () => {
    for (const args of [
      ['restart', 'sshd.service'],
      ['status'],
      ['is-active', '--wait', 'sshd.service'],
      ['reboot', '--force'],
    ]) {
      const r = await systemctl(...args);
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toContain(`systemctl shim: unsupported: ${args.join(' ')}`);
    }
  });

  it('rejects a unit state file holding garbage instead of guessing', async () => {
    await writeFile(join(host.paths.unitsDir, 'odd.service'), 'running\n');
    const r = await systemctl('is-active', 'odd.service');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('is not a unit state');
  });

  it('refuses to run without SIM_ROOT', async () => {
    // SIM_ROOT empty counts as unset; the shim must not fall back to the real /run.
    const r = await tryRun(join(SHIMS_DIR, 'systemctl'), ['is-active', 'sshd.service'], { env: { SIM_ROOT: '' } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('SIM_ROOT is not set');
  });
});
