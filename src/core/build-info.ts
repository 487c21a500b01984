/**
 * What this gitopsd is: its version (package.json) and the git commit it was
 * built from. scripts/bundle.mjs embeds both at build time (esbuild `define`
 * of GITOPSD_BUILD); code run unbundled (unit tests, tsx) reads the version
 * from package.json and reports the commit as "unknown".
 */
import { createRequire } from 'node:module';

export interface BuildInfo {
  /** package.json "version". */
  version: string;
  /** Full git commit hash of the source tree, or "unknown" (no .git and no $GITOPSD_COMMIT at build time). */
  commit: string;
  /** True when the source tree had uncommitted changes at build time; null when unknown. */
  dirty: boolean | null;
}

declare const GITOPSD_BUILD: BuildInfo | undefined;

function readBuildInfo(): BuildInfo {
  if (typeof GITOPSD_BUILD !== 'undefined') return GITOPSD_BUILD;
  // src/core and dist/core are both two levels below the package root.
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return { version: pkg.version, commit: 'unknown', dirty: null };
}

export const BUILD: BuildInfo = readBuildInfo();

/** package.json's version, embedded at build time: what runs records and status report as "version". */
export const VERSION = BUILD.version;

/** `0.1.0 (commit 5f31963a1b2c, dirty)`: the one-line form of --version and `gitopsd version`. */
export function versionLine(b: BuildInfo = BUILD): string {
  const commit = b.commit === 'unknown' ? 'commit unknown' : `commit ${b.commit.slice(0, 12)}`;
  return `${b.version} (${commit}${b.dirty === true ? ', with uncommitted changes' : ''})`;
}
