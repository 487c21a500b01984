/**
 * `gitopsd trigger` through the systemctl shim (systemd cannot be PID 1 in
 * the test bed): a permitted trigger queues gitopsd-upgrade.service with
 * `systemctl start --no-block`; one polkit refuses (systemctl exit 4, "Access
 * denied") is exit 6 with a one-line reason. The polkit rule itself is
 * checked by evaluating the module (test/integration/nix/module.test.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';

let sim: SimHost;
let config: string;

beforeAll(async () => {
  sim = await createSimHost({ dir: join(await tempDir('trigger'), 'root'), name: 'hosta', services: ['sshd.service'] });
  config = await sim.writeConfig({});
});
afterAll(removeTempDirs);

const starts = (): string[] => {
  try {
    return readFileSync(join(sim.root, 'run/systemd/start-requests'), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  } catch {
    return [];
  }
};

describe('gitopsd trigger', () => {
  it('queues gitopsd-upgrade.service with systemctl start --no-block and returns', async () => {
    const r = await runCli(['trigger', '--config', config], { env: { ...sim.env, TZ: 'UTC' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^started gitopsd-upgrade\.service \(systemctl start --no-block\)/);
    expect(starts()).toEqual(['gitopsd-upgrade.service']);
  });

  it('a caller polkit refuses gets exit 6 and one line naming the group; nothing is queued', async () => {
    mkdirSync(join(sim.root, 'etc/sim'), { recursive: true });
    writeFileSync(join(sim.root, 'etc/sim/start-denied'), 'gitopsd-upgrade.service\n');
    const r = await runCli(['trigger', '--config', config], { env: { ...sim.env, TZ: 'UTC' } });
    expect(r.exitCode).toBe(6);
    const line = r.stderr.trim().split('\n').at(-1) ?? '';
    expect(line).toMatch(
      /systemd refused to start gitopsd-upgrade\.service \(Failed to start gitopsd-upgrade\.service: Access denied\)/,
    );
    expect(line).toMatch(/services\.gitopsd\.trigger\.group/);
    expect(starts()).toEqual(['gitopsd-upgrade.service']);
  });
});
