/**
 * The Nix and system operations of upgrade, one function each (the layering
 * of nixos-rebuild-ng's nix.py): build a toplevel with nh, update the flake
 * inputs, set the system profile, run switch-to-configuration, reboot. And
 * the read-only observations of the system: profile, current and booted
 * systems, their kernel/initrd/modules, free disk space, uptime.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { CommandFailed, GitopsdError, tail } from '../core/errors.js';
import type { BootFiles, DiskObservation } from './decide.js';

type SysDeps = Pick<Deps, 'runner' | 'config' | 'log' | 'paths'>;

import { readlinkOrNull, realpathOrNull as resolveOrNull } from '../core/fs-read.js';

export { resolveOrNull };

/** autoUpgrade compares `readlink` of these three (not the resolved paths). */
export function bootFilesOf(system: string): BootFiles {
  return {
    kernel: readlinkOrNull(join(system, 'kernel')),
    initrd: readlinkOrNull(join(system, 'initrd')),
    kernelModules: readlinkOrNull(join(system, 'kernel-modules')),
  };
}

/** The generation number the profile link points at (`system-N-link`), or null. */
export function profileGeneration(profile: string): number | null {
  const target = readlinkOrNull(profile);
  if (target === null) return null;
  const m = /-(\d+)-link$/.exec(basename(target));
  return m ? Number(m[1]) : null;
}

export function observeDisks(paths: readonly string[]): DiskObservation[] {
  return paths.map((path) => {
    let st: ReturnType<typeof statfsSync>;
    try {
      st = statfsSync(path);
    } catch (err) {
      throw new GitopsdError(
        'failed',
        `preflight: cannot stat the filesystem of ${path} (${(err as Error).message}); fix preflight.diskPaths`,
        { cause: err },
      );
    }
    const freePercent = st.blocks > 0 ? (Number(st.bavail) / Number(st.blocks)) * 100 : 100;
    return { path, freePercent };
  });
}

export function readUptimeSec(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GitopsdError('failed', `preflight: cannot read the uptime from ${file} (${(err as Error).message})`, {
      cause: err,
    });
  }
  const n = Number.parseFloat(text.trim().split(/\s+/)[0] ?? '');
  if (!Number.isFinite(n))
    throw new GitopsdError('failed', `preflight: ${file} does not start with a number of seconds`);
  return n;
}

export async function systemState(deps: SysDeps): Promise<string> {
  // Exit 1 for anything but "running"; the printed word is the answer.
  const r = await deps.runner.run('systemctl', ['is-system-running'], { allowFailure: true });
  return r.stdout.trim() || `unknown (exit ${r.exitCode})`;
}

export type BuildOutcome = { ok: true; storePath: string } | { ok: false; logTail: string; message: string };

/**
 * `nh os build` of the host's toplevel into `outLink` (a GC root for the
 * candidate). A non-zero exit is a build failure (an evaluation error or a
 * failing derivation: nh exits 1 for both); a timeout is not the commit's
 * fault and is thrown as temporary.
 */
export async function buildToplevel(deps: SysDeps, opts: { flakeDir: string; outLink: string }): Promise<BuildOutcome> {
  const args = [
    'os',
    'build',
    opts.flakeDir,
    '-H',
    deps.config.nixConfig.flakeHost,
    '-R',
    '--no-nom',
    '--diff',
    'never',
    '-o',
    opts.outLink,
  ];
  let r: { exitCode: number; stderr: string };
  try {
    r = await deps.runner.run('nh', args, {
      timeoutMs: deps.config.timeouts.buildSec * 1000,
      allowFailure: true,
      progress: `building ${deps.config.nixConfig.flakeHost}`,
    });
  } catch (err) {
    if (err instanceof CommandFailed && err.timedOut) {
      throw new GitopsdError(
        'temporary',
        `the build did not finish within timeouts.buildSec (${deps.config.timeouts.buildSec} s); nothing was activated, the next run retries (raise the timeout for big closures)`,
        { cause: err },
      );
    }
    throw err;
  }
  if (r.exitCode !== 0) {
    const logTail = tail(r.stderr, 4000);
    const lines = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !/^(Error:\s*$|\d+:\s*Command exited)/.test(l));
    const errLine = lines.find((l) => /^error:/.test(l)) ?? lines.at(-1) ?? `nh exited ${r.exitCode}`;
    return { ok: false, logTail, message: errLine };
  }
  const storePath = resolveOrNull(opts.outLink);
  if (storePath === null) {
    throw new GitopsdError('failed', `nh os build succeeded but left no out-link at ${opts.outLink}; please report`);
  }
  return { ok: true, storePath };
}

/** `nix flake update` on the checkout (the producer role). */
export async function updateFlakeInputs(deps: SysDeps, flakeDir: string): Promise<void> {
  await deps.runner.run('nix', ['flake', 'update', '--flake', flakeDir], {
    cwd: flakeDir,
    timeoutMs: deps.config.timeouts.buildSec * 1000,
  });
}

/** Log what changes between the running system and the candidate (best effort). */
export async function logClosureDiff(deps: SysDeps, from: string | null, to: string): Promise<void> {
  if (from === null || from === to) return;
  const r = await deps.runner.run('nix', ['store', 'diff-closures', from, to], {
    allowFailure: true,
    timeoutMs: deps.config.timeouts.commandSec * 1000,
  });
  deps.log.info('closure difference against the running system', {
    from,
    to,
    diff: r.exitCode === 0 ? tail(r.stdout, 4000) : `(nix store diff-closures exited ${r.exitCode})`,
  });
}

export async function setSystemProfile(deps: SysDeps, storePath: string): Promise<void> {
  await deps.runner.run('nix-env', ['-p', deps.paths.systemProfile, '--set', storePath], {
    mutates: true,
    timeoutMs: deps.config.timeouts.activateSec * 1000,
  });
}

export type SwitchAction = 'switch' | 'boot' | 'test';

/** Runs `<system>/bin/switch-to-configuration <action>`; returns the exit code and the stderr tail. */
export async function switchToConfiguration(
  deps: SysDeps,
  system: string,
  action: SwitchAction,
): Promise<{ exitCode: number; stderrTail: string }> {
  const r = await deps.runner.run(join(system, 'bin', 'switch-to-configuration'), [action], {
    mutates: true,
    allowFailure: true,
    timeoutMs: deps.config.timeouts.activateSec * 1000,
  });
  return { exitCode: r.exitCode, stderrTail: tail(r.stderr, 2000) };
}

export async function requestReboot(deps: SysDeps): Promise<void> {
  await deps.runner.run('systemctl', ['reboot'], { mutates: true });
}
