/**
 * Node's compile cache (node:module enableCompileCache, Node >= 22.1), in a
 * directory only this user can write.
 *
 * The cache holds V8 code that node runs without compiling the source
 * again. Node's default directory is `$TMPDIR/node-compile-cache`, which any
 * local user can create first: node then reads and writes root's cache in a
 * directory that user owns (checked in the test bed: a `nobody`-owned, 0777
 * /tmp/node-compile-cache was used by root's `gitopsd version`), and code
 * put there would run as root. Here the directory is
 * `<base>/gitopsd-compile-cache-<uid>` (`<base>`: `$TMPDIR`, or systemd's
 * `$CACHE_DIRECTORY`, cacheBase below), created 0700, and used only when it
 * is a real directory (not a symbolic link) owned by this user with no
 * access for group or others; else gitopsd runs without the cache (slower
 * to start, never unsafe). NODE_COMPILE_CACHE, when set, is node's own
 * choice and wins (node enables it before any of this runs);
 * NODE_DISABLE_COMPILE_CACHE turns it off, and the lean bundles' code cache
 * (./code-cache.ts) with it.
 */
import * as nodeModule from 'node:module';
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

/** The cache directory for `uid` under `base`, or null when it is not safe to use (see above). */
export function compileCacheDir(base: string, uid: number): string | null {
  // Whoever can rename an entry of a directory on the way could swap the
  // cache directory after the check: `base` is resolved once (no symbolic
  // link is followed again: the resolved path is what is used), and every
  // directory of the resolved path, `/` to `base`, must be this user's or
  // root's, and sticky if others can write it (sticky: only an entry's owner
  // renames it; /tmp is 1777). A symlink in `base`, or a directory on the
  // way that another user owns, made root accept a path that user could
  // point elsewhere later (review 68).
  let real: string;
  try {
    real = realpathSync(base);
    for (let d = real; ; d = dirname(d)) {
      const st = lstatSync(d);
      if (!st.isDirectory() || (st.uid !== uid && st.uid !== 0)) return null;
      if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return null;
      if (d === dirname(d)) break;
    }
  } catch {
    return null;
  }
  const dir = join(real, `gitopsd-compile-cache-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return null;
  }
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Where the cache directory is made: the first path of `$CACHE_DIRECTORY`
 * when it names an absolute one, else `os.tmpdir()` (`$TMPDIR`, else /tmp).
 * systemd sets CACHE_DIRECTORY for a unit with CacheDirectory= (the
 * absolute paths, colon-separated; systemd.exec(5) "Environment variables
 * in spawned processes"). gitopsd-sync.service has one (nix/module.nix):
 * it runs with PrivateTmp=, a /tmp of its own that is emptied when the run
 * ends, so a cache kept there was made and written on every run and never
 * read. compileCacheDir's checks apply to this base as to /tmp.
 */
export function cacheBase(env: NodeJS.ProcessEnv): string {
  const first = (env['CACHE_DIRECTORY'] ?? '').split(':')[0] ?? '';
  return isAbsolute(first) ? first : tmpdir();
}

/**
 * Turn the compile cache on for the modules loaded from now on, when a safe
 * directory exists. Returns that directory (also where ./code-cache.ts keeps
 * the lean bundles' caches), or null when there is none. The directory is
 * found even on a node without enableCompileCache (node < 22.1).
 */
export function enableCompileCache(): string | null {
  // The off switch covers ./code-cache.ts too: with it set, gitopsd reads
  // and writes no cache of its own either.
  if ((process.env['NODE_DISABLE_COMPILE_CACHE'] ?? '') !== '') return null;
  if (typeof process.getuid !== 'function') return null;
  const dir = compileCacheDir(cacheBase(process.env), process.getuid());
  // Typed here: @types/node 20 (engines: node >= 20.5) does not know it.
  const enable = (nodeModule as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (dir !== null && typeof enable === 'function') enable(dir);
  return dir;
}
