/**
 * The Nix operations of upgrade, one function each (the layering of
 * nixos-rebuild-ng's nix.py): build a toplevel with nh, update the flake
 * inputs, diff closures, read a failed builder's whole log. And the
 * read-only observations of the system:
 * profile generation, boot files (kernel/initrd/modules), free disk space,
 * uptime, systemd's state. Setting the system profile,
 * switch-to-configuration and the reboot are shared with golden and boot
 * validation: src/host/system.ts.
 */
import { lstatSync, readFileSync, statfsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { CommandFailed, GitopsdError, lastLine, tail } from '../core/errors.js';
import type { BootFiles, DiskObservation } from './decide.js';

import { readRegularFile, readlinkOrNull, realpathOrNull } from '../core/fs-read.js';
import { FULL_LOG_TAIL_BYTES, fullBuildLogFrom, isFixedOutputDrv, type FullBuildLog } from '../failure/classify.js';

export { initInterfaceOf } from '../host/system.js';

type SysDeps = Pick<Deps, 'runner' | 'config' | 'log' | 'paths'>;

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

/**
 * The paths among `paths` that are not there (ENOENT), looked at with lstat:
 * a store object may itself be a symlink, dangling or not. Any other error
 * (EACCES, EIO) says nothing either way and leaves the path out. Read-only.
 */
export function observeAbsent(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    try {
      lstatSync(p);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  });
}

/** A store derivation's path: `<store>/<32 base32 chars>-<name>.drv`. */
const DRV_PATH = /^\/(?:[^/\0]+\/)*[0-9a-df-np-sv-z]{32}-[^/\0]+\.drv$/;

/**
 * The derivations among `drvs` that are fixed-output, read from their .drv
 * files (without following a symlink, at most 1 MiB each). A path that is not
 * a .drv, or that cannot be read, is left out: it says nothing. Read-only.
 */
export function observeFixedOutput(drvs: readonly string[]): string[] {
  return drvs.filter((p) => {
    if (!DRV_PATH.test(p)) return false;
    try {
      const r = readRegularFile(p, 1 << 20);
      return typeof r === 'object' && 'text' in r && isFixedOutputDrv(r.text);
    } catch {
      return false;
    }
  });
}

/**
 * For re-examining a mark an older gitopsd wrote (reexamineMark): the failed
 * derivations among `drvs` that are fixed-output, or that are gone. Nothing
 * roots a failed build's .drv, so the first garbage collection after it
 * deletes it, and an old mark's .drv is usually gone: unread, a fetcher's
 * outage would then stand on a good commit forever. A gone one is given the
 * benefit of the doubt: the mark is cleared, the commit built once more and,
 * if it is at fault, marked again, with its cause. Read-only.
 */
export function observeFixedOutputOrGone(drvs: readonly string[]): string[] {
  const named = drvs.filter((p) => DRV_PATH.test(p));
  const keep = new Set([...observeFixedOutput(named), ...observeAbsent(named)]);
  return named.filter((p) => keep.has(p));
}

/**
 * The data segment nix-store may use to read one build log (bytes), set with
 * prlimit(1) (util-linux; RLIMIT_DATA, setrlimit(2)). nix-store holds the
 * whole decompressed log before it prints it (review 19: a 493 MB log,
 * kept in 100 KB of bzip2, peaked at 541 MiB), so a long log would
 * otherwise take that much memory from the host right after a failed
 * build. Over the limit it fails ("error: out of memory", exit 1: measured
 * with nix 2.34.8 under a 64 MiB limit for an 18 MB log, which needs about
 * 64 MiB) and the log counts as not read. 1 GiB reads logs up to several
 * hundred MB.
 */
export const FULL_LOG_READ_MEMORY_BYTES = 1024 * 1024 * 1024;

/**
 * The whole build logs of failed derivations (FailureEvidence.fullBuildLogs;
 * which ones: planFullLogReads), one `nix-store --read-log <drv>` each, in
 * turn: nix's stable command, which reads the log the local store kept
 * (/nix/var/log/nix/drvs, bzip2) and nothing else. `nix log` would need
 * the nix-command feature, and when no log was kept it asks every
 * substituter, whose log (Hydra's) is of another build of the same
 * derivation. Only the last FULL_LOG_TAIL_BYTES are kept (the runner's
 * stdoutTail), and nix-store runs under prlimit's data limit
 * (FULL_LOG_READ_MEMORY_BYTES), so a long log costs time (bzip2, bounded by
 * timeouts.commandSec) and at most that much memory. A log that cannot be read (none kept:
 * `keep-build-log = false`, or removed; the timeout; a path that is not a
 * .drv) comes back as the reason: no evidence either way. Read-only.
 */
export async function readFullBuildLogs(deps: SysDeps, drvs: readonly string[]): Promise<FullBuildLog[]> {
  const out: FullBuildLog[] = [];
  const timeoutSec = deps.config.timeouts.commandSec;
  for (const drv of drvs) {
    if (!DRV_PATH.test(drv)) {
      out.push({ drv, read: false, why: 'not a store derivation path' });
      continue;
    }
    try {
      const r = await deps.runner.run(
        'prlimit',
        [`--data=${FULL_LOG_READ_MEMORY_BYTES}`, '--', 'nix-store', '--read-log', drv],
        {
          allowFailure: true,
          timeoutMs: timeoutSec * 1000,
          stdoutTail: FULL_LOG_TAIL_BYTES,
        },
      );
      out.push(
        r.exitCode === 0
          ? fullBuildLogFrom(
              drv,
              r.stdout,
              r.stdoutTotal ?? { bytes: Buffer.byteLength(r.stdout), newlines: r.stdout.split('\n').length - 1 },
              FULL_LOG_TAIL_BYTES,
            )
          : { drv, read: false, why: lastLine(r.stderr) || `nix-store --read-log exited ${r.exitCode}` },
      );
    } catch (err) {
      const why =
        err instanceof CommandFailed && err.timedOut
          ? `nix-store --read-log did not finish within timeouts.commandSec (${timeoutSec} s)`
          : (err as Error).message;
      out.push({ drv, read: false, why });
    }
  }
  return out;
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

export type BuildOutcome =
  | { ok: true; storePath: string }
  | {
      ok: false;
      /** nh's exit code; null when a signal or our timeout ended it. */
      exitCode: number | null;
      signal: string | null;
      /** timeouts.buildSec ended it. */
      timedOut: boolean;
      /** nh's stderr (nix's own error text is in it), bounded to its last 64 KiB. */
      stderr: string;
    };

/** The installable nh builds: `<flake>#nixosConfigurations.<host>.config.system.build.toplevel`. */
export function toplevelAttr(flakeDir: string, flakeHost: string): string {
  return `${flakeDir}#nixosConfigurations.${flakeHost}.config.system.build.toplevel`;
}

/**
 * `nh os build` of the host's toplevel into `outLink` (a GC root for the
 * candidate). Any failure comes back as evidence (exit code, signal,
 * timeout, stderr) for src/failure/classify.ts to judge: nh exits 1 for an
 * evaluation error, a failing derivation and a full disk alike, so the
 * exit code alone says nothing about who is at fault.
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
    if (err instanceof CommandFailed && (err.timedOut || err.signal !== undefined)) {
      return {
        ok: false,
        exitCode: err.exitCode ?? null,
        signal: err.signal ?? null,
        timedOut: err.timedOut,
        stderr: err.stderrTail,
      };
    }
    throw err;
  }
  if (r.exitCode !== 0) {
    return { ok: false, exitCode: r.exitCode, signal: null, timedOut: false, stderr: tail(r.stderr, 65536) };
  }
  const storePath = realpathOrNull(opts.outLink);
  if (storePath === null) {
    throw new GitopsdError('failed', `nh os build succeeded but left no out-link at ${opts.outLink}; please report`);
  }
  return { ok: true, storePath };
}

/**
 * The toplevel's .drv path (`nix eval --raw <installable>.drvPath`), for the
 * record of a failed build; null when it does not evaluate or nix fails.
 * Best effort: only called after a build failure, with the command timeout.
 */
export async function toplevelDrvPath(deps: SysDeps, flakeDir: string): Promise<string | null> {
  try {
    const r = await deps.runner.run(
      'nix',
      ['eval', '--raw', `${toplevelAttr(flakeDir, deps.config.nixConfig.flakeHost)}.drvPath`],
      { allowFailure: true, timeoutMs: deps.config.timeouts.commandSec * 1000 },
    );
    const out = r.stdout.trim();
    return r.exitCode === 0 && out.endsWith('.drv') ? out : null;
  } catch {
    return null;
  }
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
