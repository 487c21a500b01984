/**
 * The demo's own directory (demo-fleet/): what it may delete, and the
 * `demo-fleet/gitopsd HOST ARGS…` wrapper it leaves behind.
 *
 * A run lists every file it created in `demo-fleet/.demo-files` (one path a
 * line, relative, sorted) when it ends. The next run deletes the directory
 * only when every file in it is on that list; anything else (a file the user
 * added, a directory without the list) is kept, and the demo stops naming
 * the first such paths and `--force`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export const MANIFEST = '.demo-files';

/** Every file (not directory) under `dir`, relative, sorted; symlinks are not followed. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export type WipeDecision = { kind: 'absent' } | { kind: 'wipe' } | { kind: 'refuse'; reason: string };

/** Pure: may the demo delete a directory holding `files`, given the list `manifest` it wrote (null: none)? */
export function decideWipe(a: {
  exists: boolean;
  files: string[];
  manifest: string[] | null;
  force: boolean;
}): WipeDecision {
  if (!a.exists) return { kind: 'absent' };
  if (a.force || a.files.length === 0) return { kind: 'wipe' };
  if (a.manifest === null) {
    return {
      kind: 'refuse',
      reason: `it holds ${a.files.length} files but no ${MANIFEST} (not written by a finished demo run)`,
    };
  }
  const known = new Set([...a.manifest, MANIFEST]);
  const foreign = a.files.filter((f) => !known.has(f));
  if (foreign.length === 0) return { kind: 'wipe' };
  const shown = foreign.slice(0, 3).join(', ');
  return {
    kind: 'refuse',
    reason: `it holds ${foreign.length} file${foreign.length === 1 ? '' : 's'} the demo did not create (${shown}${foreign.length > 3 ? ', …' : ''})`,
  };
}

/** Observe, then decide, for `dir`. */
export function checkWipe(dir: string, force: boolean): WipeDecision {
  if (!existsSync(dir)) return decideWipe({ exists: false, files: [], manifest: null, force });
  const m = join(dir, MANIFEST);
  const manifest = existsSync(m)
    ? readFileSync(m, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : null;
  return decideWipe({ exists: true, files: listFiles(dir), manifest, force });
}

/**
 * The text of `demo-fleet/gitopsd`: `gitopsd HOST ARGS…` runs the real CLI
 * on that demo host inside the test bed (scripts/testbed), where the hosts'
 * store paths exist, with the simulated root (SIM_ROOT), the shims of
 * systemctl and nh first on PATH, and the host's config (GITOPSD_CONFIG).
 */
export function wrapperScript(a: {
  project: string;
  shimsDir: string;
  hosts: { name: string; root: string; config: string }[];
}): string {
  const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  const names = a.hosts.map((h) => h.name).join('|');
  return [
    '#!/bin/sh',
    '# Written by `npm run demo`: run gitopsd on one demo host, inside the test bed.',
    `#   demo-fleet/gitopsd ${names} ARGS...     e.g. demo-fleet/gitopsd alpha status`,
    'set -eu',
    'case "${1:-}" in',
    ...a.hosts.map((h) => `  ${h.name}) root=${q(h.root)}; config=${q(h.config)} ;;`),
    `  *) echo "usage: $0 ${names} ARGS... (e.g. $0 ${a.hosts[0]?.name ?? 'HOST'} status)" >&2; exit 64 ;;`,
    'esac',
    'shift',
    `exec ${q(join(a.project, 'scripts/testbed'))} env SIM_ROOT="$root" GITOPSD_CONFIG="$config" \\`,
    `  PATH=${q(a.shimsDir)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\`,
    `  node ${q(join(a.project, 'bin/gitopsd'))} "$@"`,
    '',
  ].join('\n');
}
