// One git query of the source tree, for the build scripts (scripts/bundle.mjs
// embeds HEAD and the dirty flag; scripts/build-stamp.mjs digests them).
// Returns git's stdout without the trailing newline, or null when git fails
// or is absent (the Nix build has no .git). Never throws.
import { execaSync } from 'execa';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function git(args) {
  const r = execaSync('git', ['-C', root, ...args], {
    timeout: 10_000,
    stdin: 'ignore',
    stderr: 'ignore',
    reject: false,
  });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}
