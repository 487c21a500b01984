/**
 * The Nix store and profile observations and GC-root operations of golden
 * and boot validation, one function each (like nixos-rebuild-ng's nix.py).
 * The system operations both share with upgrade (set the profile,
 * switch-to-configuration, reboot) are in src/host/system.ts. All commands
 * go through deps.runner; all paths come from deps.paths (config values),
 * never literals.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Deps } from '../core/deps.js';
import { GitopsdError } from '../core/errors.js';
import { realpathOrNull, readlinkOrNull } from '../core/fs-read.js';

export interface ProfileGeneration {
  number: number;
  /** Resolved store path the system-N-link points at. */
  storePath: string;
}

/** Whether a store path looks like a NixOS system (it can be activated). */
export function isSystemPath(p: string): boolean {
  return existsSync(join(p, 'bin', 'switch-to-configuration'));
}

/**
 * The generations of a profile, from its `<name>-N-link` symlinks (as
 * nixos-rebuild-ng's get_generations does): no nix-env call, no profile lock,
 * works as any user. Oldest first.
 */
export function listGenerations(profile: string): ProfileGeneration[] {
  const dir = dirname(profile);
  const re = new RegExp(`^${basename(profile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-link$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ProfileGeneration[] = [];
  for (const n of names) {
    const m = re.exec(n);
    if (m === null) continue;
    const target = readlinkOrNull(join(dir, n));
    if (target === null) continue;
    out.push({ number: Number(m[1]), storePath: resolve(dir, target) });
  }
  return out.sort((a, b) => a.number - b.number);
}

/** The newest generation number whose link points at `storePath`, or null. */
export function generationOf(gens: readonly ProfileGeneration[], storePath: string): number | null {
  let found: number | null = null;
  for (const g of gens) if (g.storePath === storePath) found = g.number;
  return found;
}

/** The booted system, resolved. Throws a one-line error when there is none. */
export function readBootedSystem(deps: Pick<Deps, 'paths'>): string {
  const p = realpathOrNull(deps.paths.bootedSystem);
  if (p === null) {
    throw new GitopsdError(
      'failed',
      `cannot read the booted system: ${deps.paths.bootedSystem} does not exist; is this a booted NixOS host (check paths.bootedSystem in the config)?`,
    );
  }
  return p;
}

/**
 * Identity of the current boot: the booted-system symlink is created once per
 * boot (stage 2, on the /run tmpfs), so its inode and nanosecond mtime change
 * with every boot and never within one. This tells a re-run of `boot
 * validate` in the same boot apart from the next boot.
 */
export function readBootKey(deps: Pick<Deps, 'paths'>): string {
  const st = lstatSync(deps.paths.bootedSystem, { bigint: true });
  return `${st.ino}-${st.mtimeNs}`;
}

export function profileSystem(deps: Pick<Deps, 'paths'>): string | null {
  return realpathOrNull(deps.paths.systemProfile);
}

/** Whether `p` is a valid path in the Nix store (read-only query). */
export async function isValidStorePath(deps: Deps, p: string): Promise<boolean> {
  const r = await deps.runner.run('nix-store', ['--query', '--hash', p], { allowFailure: true });
  return r.exitCode === 0;
}

/**
 * Make `link` a GC root for `storePath` with `nix-store --add-root link
 * --indirect --realise path`. Chosen over writing the symlink ourselves:
 * nix replaces the link atomically (temp link + rename) and also registers it
 * in gcroots/auto, so the root holds even when gcRootsDir is not a directory
 * the collector scans (custom layouts, the simulated host); and it fails on a
 * path that is not valid in the store instead of rooting nothing.
 */
export async function addGcRoot(deps: Deps, link: string, storePath: string): Promise<void> {
  if (!deps.runner.dryRun) clearNonRoot(deps, link, storePath);
  await deps.runner.run('nix-store', ['--add-root', link, '--indirect', '--realise', storePath], {
    mutates: true,
    timeoutMs: deps.config.timeouts.commandSec * 1000,
  });
}

/**
 * `nix-store --add-root` replaces only a symlink that points into the store:
 * anything else at the root's name (a link to a path outside the store, an
 * empty file left by a crash or by hand) is no root at all, and left there it
 * would make every repair fail with "already exists". Remove it first.
 */
function clearNonRoot(deps: Deps, link: string, storePath: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(link);
  } catch {
    return; // nothing there
  }
  if (st.isDirectory()) return; // nix-store says so itself; never delete a directory
  const storeDir = dirname(storePath);
  if (st.isSymbolicLink() && readlinkSync(link).startsWith(`${storeDir}/`)) return;
  deps.log.warn('removing what sits at the GC root path, which is not a root into the store', {
    root: link,
    kind: st.isSymbolicLink() ? `link to ${readlinkSync(link)}` : 'file',
  });
  unlinkSync(link);
}

/** Whether the golden GC root exists, points at `storePath`, and that path exists. */
export function gcRootIntact(deps: Pick<Deps, 'paths'>, storePath: string): boolean {
  return readlinkOrNull(deps.paths.goldenRoot) === storePath && existsSync(storePath);
}
