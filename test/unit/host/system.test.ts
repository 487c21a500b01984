import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { parseConfig } from '../../../src/core/config.js';
import { pathsFor } from '../../../src/core/paths.js';
import { CommandFailed } from '../../../src/core/errors.js';
import {
  requestReboot,
  setSystemProfile,
  switchFailed,
  switchToConfiguration,
  type HostDeps,
  type SwitchAction,
} from '../../../src/host/system.js';
import { recordingRunner, type ScriptedRun } from '../../helpers/recording-runner.js';

const SYSTEM = '/nix/store/0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p-nixos-system-web1-25.05';
const PROFILE = '/var/lib/sim/nix/var/nix/profiles/system';

/** Host deps with distinct timeouts, so a test can tell which one a call used. */
function hostDeps(answer: (argv: readonly string[]) => ScriptedRun | undefined, dryRun = false) {
  const config = parseConfig(
    JSON.stringify({
      nixConfig: { path: '/etc/nixos' },
      paths: { systemProfile: PROFILE },
      timeouts: { activateSec: 1500, commandSec: 90 },
    }),
    '/etc/gitopsd/config.json',
    'web1',
  );
  const runner = recordingRunner(answer, { dryRun });
  const deps: HostDeps = { runner, config, paths: pathsFor(config) };
  return { deps, calls: runner.calls };
}

describe('setSystemProfile', () => {
  it('runs nix-env -p <profile> --set <path>, mutating, with timeouts.activateSec', async () => {
    const { deps, calls } = hostDeps(() => ({ exitCode: 0 }));
    await setSystemProfile(deps, SYSTEM);
    expect(calls).toEqual([
      { argv: ['nix-env', '-p', PROFILE, '--set', SYSTEM], opts: { mutates: true, timeoutMs: 1_500_000 } },
    ]);
  });

  it.each<[string, ScriptedRun, RegExp]>([
    [
      'a non-zero exit',
      { exitCode: 1, stderr: "error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied\n" },
      /^nix-env exited 1: error: opening lock file '\/nix\/var\/nix\/profiles\/system.lock': Permission denied$/,
    ],
    ['a timeout', { timedOut: true }, /^nix-env timed out$/],
    ['a program that cannot start', { notFound: true }, /^nix-env could not be started: spawn nix-env ENOENT$/],
  ])('throws CommandFailed on %s', async (_name, run, message) => {
    const { deps } = hostDeps(() => run);
    const err = await setSystemProfile(deps, SYSTEM).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).message).toMatch(message);
  });

  it('is skipped under dry-run (mutates)', async () => {
    const { deps, calls } = hostDeps(() => undefined, true);
    await setSystemProfile(deps, SYSTEM);
    expect(calls.map((c) => c.argv)).toEqual([['nix-env', '-p', PROFILE, '--set', SYSTEM]]);
  });
});

describe('switchToConfiguration', () => {
  it.each<SwitchAction>(['switch', 'boot', 'test'])(
    'runs <system>/bin/switch-to-configuration %s, mutating, allowing failure, with timeouts.activateSec',
    async (action) => {
      const { deps, calls } = hostDeps(() => ({ exitCode: 0 }));
      const r = await switchToConfiguration(deps, SYSTEM, action);
      expect(calls).toEqual([
        {
          argv: [`${SYSTEM}/bin/switch-to-configuration`, action],
          opts: { mutates: true, allowFailure: true, timeoutMs: 1_500_000 },
        },
      ]);
      expect(r).toEqual({ exitCode: 0, timedOut: false, signal: null, stderrTail: '', stdout: '', stderr: '' });
    },
  );

  const failedUnits =
    'restarting the following units: sshd.service\nwarning: the following units failed: nginx.service\n';
  it.each<[string, ScriptedRun, Awaited<ReturnType<typeof switchToConfiguration>>]>([
    [
      'exit 4 (some units failed) comes back with its stderr',
      { exitCode: 4, stderr: failedUnits },
      { exitCode: 4, timedOut: false, signal: null, stderrTail: failedUnits, stdout: '', stderr: failedUnits },
    ],
    [
      'exit 1 comes back',
      { exitCode: 1, stderr: 'Failed to install bootloader\n' },
      {
        exitCode: 1,
        timedOut: false,
        signal: null,
        stderrTail: 'Failed to install bootloader\n',
        stdout: '',
        stderr: 'Failed to install bootloader\n',
      },
    ],
    [
      'a hang (our timeout) comes back as timedOut, no exit code',
      { timedOut: true, stderr: 'activating the configuration...\n' },
      {
        exitCode: null,
        timedOut: true,
        signal: 'SIGTERM',
        stderrTail: 'activating the configuration...\n',
        stdout: '',
        stderr: 'activating the configuration...\n',
      },
    ],
    [
      'a signal comes back with its name',
      { signal: 'SIGKILL' },
      { exitCode: null, timedOut: false, signal: 'SIGKILL', stderrTail: '', stdout: '', stderr: '' },
    ],
    [
      'exit 2: the failed snippet, on stdout, comes back too',
      {
        exitCode: 2,
        stdout: "Activation script snippet 'users' failed (1)\n",
        stderr: 'Failed to run activate script\n',
      },
      {
        exitCode: 2,
        timedOut: false,
        signal: null,
        stderrTail: 'Failed to run activate script\n',
        stdout: "Activation script snippet 'users' failed (1)\n",
        stderr: 'Failed to run activate script\n',
      },
    ],
  ])('%s, without throwing', async (_name, run, want) => {
    const { deps } = hostDeps(() => run);
    expect(await switchToConfiguration(deps, SYSTEM, 'test')).toEqual(want);
  });

  it('keeps the last 2000 characters of a long stderr as its tail, and all of both streams', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `line ${i} of the activation output`).join('\n');
    const { deps } = hostDeps(() => ({ exitCode: 1, stderr: long, stdout: long }));
    const r = await switchToConfiguration(deps, SYSTEM, 'boot');
    expect(r.stderrTail.length).toBeLessThanOrEqual(2000);
    expect(r.stderrTail.endsWith('line 399 of the activation output')).toBe(true);
    expect(r.stderr).toBe(long);
    expect(r.stdout).toBe(long);
  });

  it('throws CommandFailed when the program cannot be started (no such system)', async () => {
    const { deps } = hostDeps(() => ({ notFound: true }));
    const err = await switchToConfiguration(deps, SYSTEM, 'switch').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).message).toBe(
      `${SYSTEM}/bin/switch-to-configuration could not be started: spawn ${SYSTEM}/bin/switch-to-configuration ENOENT`,
    );
  });
});

describe('switchFailed', () => {
  it.each<[string, Awaited<ReturnType<typeof switchToConfiguration>>, string]>([
    [
      'exit 4',
      {
        exitCode: 4,
        timedOut: false,
        signal: null,
        stderrTail: 'warning: the following units failed: nginx.service\n',
        stdout: '',
        stderr: '',
      },
      `${join(SYSTEM, 'bin/switch-to-configuration')} exited 4: warning: the following units failed: nginx.service`,
    ],
    [
      'a hang',
      { exitCode: null, timedOut: true, signal: 'SIGTERM', stderrTail: '', stdout: '', stderr: '' },
      `${join(SYSTEM, 'bin/switch-to-configuration')} timed out`,
    ],
    [
      'a signal',
      { exitCode: null, timedOut: false, signal: 'SIGKILL', stderrTail: '', stdout: '', stderr: '' },
      `${join(SYSTEM, 'bin/switch-to-configuration')} was killed by SIGKILL`,
    ],
  ])('words %s as the runner words a failed command', (_name, r, message) => {
    const err = switchFailed(SYSTEM, 'boot', r);
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.message).toBe(message);
    expect(err.args).toEqual(['boot']);
  });
});

describe('requestReboot', () => {
  it('runs systemctl reboot, mutating, with timeouts.commandSec', async () => {
    const { deps, calls } = hostDeps(() => ({ exitCode: 0 }));
    await requestReboot(deps);
    expect(calls).toEqual([{ argv: ['systemctl', 'reboot'], opts: { mutates: true, timeoutMs: 90_000 } }]);
  });

  it('throws CommandFailed when systemctl fails', async () => {
    const { deps } = hostDeps(() => ({
      exitCode: 1,
      stderr: 'Failed to connect to bus: No such file or directory\n',
    }));
    const err = await requestReboot(deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).message).toBe(
      'systemctl exited 1: Failed to connect to bus: No such file or directory',
    );
  });
});
