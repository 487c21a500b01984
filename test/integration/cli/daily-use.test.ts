/**
 * Issue 18 "Noise" and "Wording", each with the output a person sees: no ANSI
 * codes in a log that is not a terminal (CI included), a true time estimate,
 * counts in good English, and a `--store-path` error with a fix. One fresh
 * simulated host (one tiny real nix build) serves every case that needs one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createNixConfigRepo, buildToplevel } from '../../harness/nix-config.js';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { tempDir } from '../../harness/temp.js';
import { repoRoot, runCli } from '../../helpers/cli.js';

const ESC = '\u001b';
const INVOCATION = '0123456789abcdef0123456789abcdef';

describe('clean output', () => {
  // What vitest's colour library decides, asked in the environment scripts/testbed gives a command.
  const colourProbe = `import('tinyrainbow').then((t) => console.log(JSON.stringify({ color: t.default.isColorSupported, NO_COLOR: process.env.NO_COLOR ?? null })))`;

  // stdout is a pipe here, as in CI; the inherited NO_COLOR / FORCE_COLOR are removed.
  const probe = (env: Record<string, string | undefined>) =>
    execa(join(repoRoot, 'scripts/testbed'), ['node', '-e', colourProbe], { cwd: repoRoot, env, reject: false });

  it('scripts/testbed under CI=true with output to a pipe: NO_COLOR set, vitest colours off', async () => {
    const r = await probe({ CI: 'true', NO_COLOR: undefined, FORCE_COLOR: undefined });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ color: false, NO_COLOR: '1' });
    expect(r.stdout).not.toContain(ESC);
  });

  it('FORCE_COLOR still asks for colour', async () => {
    const r = await probe({ CI: 'true', NO_COLOR: undefined, FORCE_COLOR: '1' });
    expect(JSON.parse(r.stdout)).toEqual({ color: true, NO_COLOR: null });
  });

  it('the test bed announces the build time the README gives', () => {
    const testbed = readFileSync(join(repoRoot, 'scripts/testbed'), 'utf8');
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const announced = /building Debian sid root at \$ROOT \(once; ([\d.]+ GB); the last build took (\d+ min)/.exec(
      testbed,
    );
    expect(announced).not.toBeNull();
    expect(readme).toContain(`(${announced?.[1] ?? '?'} with Debian's Chromium`);
    expect(readme).toContain(`the last build took ${announced?.[2] ?? '?'} on a loaded 2-core machine`);
  });
});

describe('wording on a simulated host', () => {
  let host: SimHost;
  let config: string;
  let system: string;

  beforeAll(async () => {
    const dir = await tempDir('gitopsd-daily-use-');
    const repo = await createNixConfigRepo({
      dir: join(dir, 'nix-config'),
      hosts: { plain: { version: 'v1', kernelVersion: 'k1' } },
    });
    host = await createSimHost({ dir: join(dir, 'host'), name: 'plain', services: ['sshd.service'] });
    system = await buildToplevel({ flake: repo.workDir, host: 'plain', outLink: join(dir, 'g1') });
    await host.install(system);
    await repo.cloneTo(host.paths.nixConfigDir);
    config = await host.writeConfig({ nixConfig: { path: host.paths.nixConfigDir, url: repo.remoteUrl } });
  });

  it('status after one boot attempt says "1 attempt", not "1 attempts"', async () => {
    // As systemd runs it: the unit's processes get $INVOCATION_ID (systemd.exec(5)).
    const v = await runCli(['boot', 'validate', '--config', config], {
      env: { ...host.env, INVOCATION_ID: INVOCATION },
    });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.stdout).toContain('this system: 1 attempt, 0 failures since its last ok verdict');
    const r = await runCli(['status', '--config', config], { env: host.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verdict\s+ok, 1 attempt, 0 failures of this system/);
    expect(r.stdout).not.toMatch(/\b1 (attempts|failures)\b/);
  });

  it('status names where the log of the last run is: its journal by invocation ID, or the terminal', async () => {
    const json = await runCli(['status', '--json', '--config', config], { env: host.env });
    const runs = (JSON.parse(json.stdout) as { runs: Record<string, { log: string | null }> }).runs;
    expect(runs['boot-validate']?.log).toBe(`journalctl _SYSTEMD_INVOCATION_ID=${INVOCATION}`);
    const text = await runCli(['status', '--config', config], { env: host.env });
    expect(text.stdout).toMatch(
      new RegExp(`^ *log +journalctl _SYSTEMD_INVOCATION_ID=${INVOCATION} \\(the boot-validate run `, 'm'),
    );
    // A run by hand (no INVOCATION_ID): its log went to the terminal.
    const reset = await runCli(['boot', 'reset', '--config', config], { env: host.env });
    expect(reset.exitCode, reset.stderr).toBe(0);
    const after = await runCli(['status', '--config', config], { env: host.env });
    expect(after.stdout).toMatch(
      /^ *log +the boot-reset run .* ran outside systemd: its log went to the terminal that started it$/m,
    );
  });

  it('--store-path relative/path names where it was read from and a path that exists', async () => {
    const cwd = await tempDir('gitopsd-daily-use-cwd-');
    for (const args of [
      ['boot', 'reset', '--store-path', 'relative/path'],
      ['golden', 'pin', '--store-path', 'relative/path'],
    ]) {
      const r = await runCli([...args, '--config', config], { env: host.env, cwd });
      expect(r.exitCode, args.join(' ')).toBe(64);
      expect(r.stderr).toBe(
        `gitopsd: --store-path relative/path does not exist (a relative path, read from ${cwd}); pass the absolute path of an existing system store path, e.g. the booted system ${system}; see gitopsd ${args.slice(0, 2).join(' ')} --help`,
      );
    }
  });
});
