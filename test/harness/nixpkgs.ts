/**
 * Where the tests find nixpkgs: its real `lib` (module system, types,
 * fileset) and `nixos/lib` (systemd unit option types and rendering).
 *
 * Contract:
 * - `nixpkgsDir()` returns an absolute directory laid out like a nixpkgs
 *   checkout (it has `lib/default.nix` and `nixos/lib/utils.nix`):
 *   1. `GITOPSD_NIXPKGS` when set (a real nixpkgs checkout works too);
 *   2. else `shared/nixpkgs-eval` beside the repository (`<repo>/../shared/`),
 *      as on CI, where the project is a fresh clone with a copy of `shared/`
 *      beside it;
 *   3. else `shared/nixpkgs-eval` beside the main worktree, for a linked git
 *      worktree (`git worktree add`) that lives elsewhere.
 * - A missing directory throws one error naming GITOPSD_NIXPKGS. It is a
 *   failure under CI=true and everywhere else: the tests that need it are
 *   never skipped (a green run means the real module system ran).
 * - scripts/testbed resolves the same default, bind-mounts the directory into
 *   the sid root at the same path and exports GITOPSD_NIXPKGS.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { execaSync } from 'execa';
import { repoRoot } from '../helpers/cli.js';

function isNixpkgs(dir: string): boolean {
  return existsSync(join(dir, 'lib', 'default.nix')) && existsSync(join(dir, 'nixos', 'lib', 'utils.nix'));
}

/** The main worktree's directory (the repository itself when it is not a linked worktree), or null. */
function mainWorktree(): string | null {
  const r = execaSync('git', ['-C', repoRoot, 'rev-parse', '--path-format=absolute', '--git-common-dir'], {
    reject: false,
  });
  return r.exitCode === 0 ? dirname(String(r.stdout).trim()) : null;
}

let memo: string | null = null;

export function nixpkgsDir(): string {
  if (memo !== null) return memo;
  const fromEnv = process.env['GITOPSD_NIXPKGS'];
  if (fromEnv !== undefined && fromEnv !== '') {
    const dir = isAbsolute(fromEnv) ? fromEnv : resolve(repoRoot, fromEnv);
    if (!isNixpkgs(dir)) {
      throw new Error(
        `GITOPSD_NIXPKGS=${fromEnv} is not a nixpkgs checkout (no lib/default.nix or nixos/lib/utils.nix); point it at one, or unset it to use ../shared/nixpkgs-eval`,
      );
    }
    memo = dir;
    return dir;
  }
  const main = mainWorktree();
  const candidates = [join(repoRoot, '..', 'shared', 'nixpkgs-eval')];
  if (main !== null) candidates.push(join(main, '..', 'shared', 'nixpkgs-eval'));
  const found = candidates.map((c) => resolve(c)).find(isNixpkgs);
  if (found === undefined) {
    throw new Error(
      `no nixpkgs for the module and package tests: looked in ${candidates.map((c) => resolve(c)).join(' and ')}; set GITOPSD_NIXPKGS to a nixpkgs checkout (or to shared/nixpkgs-eval)`,
    );
  }
  memo = found;
  return found;
}
