/**
 * Loads a lean bundle (dist/bundle/lean-*.cjs, scripts/bundle.mjs) with a V8
 * code cache made after the command has run, so that the next start
 * compiles almost nothing.
 *
 * Why not node's own compile cache (./compile-cache.ts) for these files:
 * node makes its cache when it compiles a module, before the module runs
 * (node's src/compile_cache.cc: `MaybeSave` right after the compile). V8
 * compiles a function lazily, on its first call, so that cache holds the
 * top level of each module and little else, and every start compiled the
 * hundreds of functions a command runs again (docs/benchmarks.md, issue 19,
 * fifth pass: 74 ms of `status` was compiling). V8's
 * `ScriptCompiler::CreateCodeCache`, which node exposes as
 * `vm.Script#createCachedData()`, includes every function compiled so far
 * when it is called after the script has run (node's vm documentation,
 * "script.createCachedData()": "code cache of the script ... may contain
 * functions that have been compiled after the script was run"). Here it is
 * called once, after the first run of a command that found no usable cache.
 *
 * The bundle is a CommonJS script: a vm.Script can be given cached data, an
 * ES module cannot without `--experimental-vm-modules`. execa's and
 * prom-client's own files (dist/bundle/vendor-execa.cjs,
 * vendor-prom-client.cjs) are such scripts too. A bundle's dynamic
 * imports (those two files, node's builtins) are done here
 * (`__gImp`, passed in): a vm.Script's own `import()` needs an experimental loader option
 * that prints a warning on stderr. scripts/bundle.mjs fails the build when
 * any other `import(` is left in a lean bundle. With --enable-source-maps
 * the bundle is required instead, without this cache: node maps stack
 * frames only for code its own loaders compiled.
 *
 * Where the cache lives: the directory of ./compile-cache.ts
 * (`<$TMPDIR or $CACHE_DIRECTORY>/gitopsd-compile-cache-<uid>`, 0700, this
 * user's, on a path only this user and root can change), never anywhere
 * another user can write: code read from there runs as this user (root).
 * Each file is named by the bundle, the SHA-256 of the bundle's text (put
 * on its first line by the build), the V8 version and V8's tag of the
 * process's flags (cacheTag), so a new build, a new node or a node started
 * with other V8 flags never reads another's cache. V8 checks the rest itself and
 * rejects data made with other flags or for a source of another length
 * (`cachedDataRejected`); a rejected or unreadable file is written again.
 * It is written to a temporary name, fsynced and renamed, so a kill or a
 * power cut at any instant leaves the old file, the new one, or none.
 * Checksums: by default V8 checks a cache's length and header only, and
 * node dies (SIGSEGV, SIGTRAP) on a file damaged inside at its full length,
 * on every run. V8's `--verify-snapshot-checksum` ("Enable checksum
 * creation and verification for code caches"; off in release builds:
 * v8/src/flags/flag-definitions.h) is turned on here before any cache is
 * made or read, so each cache carries a checksum and a damaged one is
 * rejected and written again (test/unit/cli/code-cache.test.ts).
 * NODE_DISABLE_COMPILE_CACHE turns this cache off too (./compile-cache.ts).
 * Failing to write it is not an error: the command's result never depends
 * on the cache, only its speed.
 */
import {
  closeSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { cachedDataVersionTag, setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';
import { fsyncDir } from '../core/atomic.js';

/** The first line of a lean bundle: this text, then 64 hex digits (scripts/bundle.mjs). */
export const CACHE_KEY_PREFIX = '// gitopsd-code-cache-key ';

/** What loading a bundle did with the cache: for tests and the benchmark's notes. */
export type CacheUse = 'none' | 'accepted' | 'rejected' | 'absent';

export interface LoadedBundle<T> {
  exports: T;
  /** `none`: no cache directory or no key; else what V8 did with the file. */
  cache: CacheUse;
  /** Path of the cache file, or null without one. */
  cacheFile: string | null;
  /**
   * Write the cache when there was none or V8 rejected it; call once the
   * command has run. Returns whether a file was written. Never throws.
   */
  saveCache(): boolean;
}

const loaded = new Map<string, LoadedBundle<unknown>>();

let checksums = false;
/**
 * V8 then writes a checksum into every code cache it makes and rejects a
 * cache whose checksum does not match (`cachedDataRejected`), instead of
 * running it. Once per process, before the first cache is made or read:
 * the flag is part of the flags hash V8 checks too, so every cache this
 * module makes and reads is made and read with it.
 */
function verifyChecksums(): void {
  if (checksums) return;
  setFlagsFromString('--verify-snapshot-checksum');
  checksums = true;
}

/**
 * The V8 tag of the caches this process makes and reads:
 * `v8.cachedDataVersionTag()` ("derived from the V8 version, command-line
 * flags, and detected CPU features", node's v8 docs), taken after
 * verifyChecksums, whose flag it hashes too. A node started with other V8
 * flags (a lean command run by hand as `node --no-turbofan …`, the flag
 * gitopsd.service gives the daemon, which never loads these bundles:
 * src/cycle/daemon-node.ts) gets files of its own, as node's compile cache
 * gets a directory of its own, instead of rejecting and rewriting the
 * others' at every switch.
 */
function cacheTag(): number {
  verifyChecksums();
  return cachedDataVersionTag();
}

/**
 * The cache file of `bundle` (an absolute path) whose text is `source`, for
 * caches of the V8 tag `tag()` returns (cacheTag; called only when the
 * bundle has its key line), or null when it has no key line.
 */
export function cacheFileFor(bundle: string, source: string, cacheDir: string, tag: () => number): string | null {
  if (!source.startsWith(CACHE_KEY_PREFIX)) return null;
  const key = source.slice(CACHE_KEY_PREFIX.length, CACHE_KEY_PREFIX.length + 64);
  if (!/^[0-9a-f]{64}$/.test(key)) return null;
  const v8 = process.versions.v8.replace(/[^0-9A-Za-z.-]/g, '_');
  return join(cacheDir, `${basename(bundle)}-${key.slice(0, 32)}-v8-${v8}-${(tag() >>> 0).toString(16)}.cache`);
}

/**
 * Run the CommonJS bundle at `bundle` (an absolute path) once per process
 * and return its exports. `cacheDir` is a directory from compileCacheDir, or
 * null to run without a cache. Errors: reading or compiling the bundle
 * throws (a broken install); a missing or bad cache file only means no cache.
 */
export function loadBundle<T>(bundle: string, cacheDir: string | null): LoadedBundle<T> {
  const known = loaded.get(bundle);
  if (known !== undefined) return known as LoadedBundle<T>;
  const dir = dirname(bundle);
  // What scripts/bundle.mjs lets a bundle import: execa's or prom-client's
  // file beside it (a script of its own, run the same way), or one of
  // node's builtins. Not node_modules through node's loader: this process
  // has V8's checksum flag on, which the full CLI's processes do not
  // (verifyChecksums), so the two would reject each other's entries in
  // node's compile cache. (winston, which the bundles can still require,
  // is not loaded by them: the lean commands log with the plain backend,
  // src/core/log.ts.)
  const importBeside = (specifier: string): Promise<unknown> => {
    if (/^node:[a-z_/]+$/.test(specifier)) return import(specifier);
    const vendor = /^\.\/(vendor-(?:execa|prom-client))\.js$/.exec(specifier);
    if (vendor !== null) {
      return Promise.resolve().then(() => loadBundle(join(dir, `${vendor[1]}.cjs`), cacheDir).exports);
    }
    return Promise.reject(new Error(`${bundle}: unexpected import of ${JSON.stringify(specifier)}`));
  };
  if (process.sourceMapsEnabled) {
    // --enable-source-maps: node maps stack frames through a file's
    // `//# sourceMappingURL` only for code its own loaders compiled, never a
    // vm.Script's. The bundle is then required, as a CommonJS module (node's
    // compile cache only), and finds the import hook as a global.
    Object.defineProperty(globalThis, '__gImp', { value: importBeside, configurable: true, writable: true });
    const required: LoadedBundle<T> = {
      exports: createRequire(bundle)(bundle) as T,
      cache: 'none',
      cacheFile: null,
      saveCache: () => false,
    };
    loaded.set(bundle, required);
    return required;
  }
  const source = readFileSync(bundle, 'utf8');
  const cacheFile = cacheDir === null ? null : cacheFileFor(bundle, source, cacheDir, cacheTag);
  let cachedData: Buffer | undefined;
  if (cacheFile !== null) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  // The same wrapper as node's for a CommonJS file, plus the import hook,
  // and strict, as the ES modules the bundle is built from: the bundle's own
  // "use strict" is no directive (the key line's banner statement comes first).
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname, __gImp) {'use strict';${source}\n})`,
    {
      filename: bundle,
      ...(cachedData !== undefined ? { cachedData } : {}),
    },
  );
  const cache: CacheUse =
    cacheFile === null
      ? 'none'
      : cachedData === undefined
        ? 'absent'
        : script.cachedDataRejected
          ? 'rejected'
          : 'accepted';
  const module = { exports: {} as T };
  const wrapper = script.runInThisContext() as (
    exports: T,
    require: NodeJS.Require,
    module: { exports: T },
    filename: string,
    dirname: string,
    gImp: (specifier: string) => Promise<unknown>,
  ) => void;
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, dir, importBeside);
  let saved = false;
  const result: LoadedBundle<T> = {
    exports: module.exports,
    cache,
    cacheFile,
    saveCache(): boolean {
      if (saved || cacheFile === null || cache === 'accepted') return false;
      saved = true;
      return writeCache(cacheFile, `${basename(bundle)}-`, script);
    },
  };
  loaded.set(bundle, result);
  return result;
}

/** saveCache() of every bundle this process has loaded (a lean bundle and execa's file); the number written. */
export function saveCaches(): number {
  let written = 0;
  for (const b of loaded.values()) if (b.saveCache()) written += 1;
  return written;
}

/** How long another build's cache file of the same bundle is kept after it was written: a day. */
const OTHER_BUILD_KEPT_MS = 24 * 3600_000;

function writeCache(cacheFile: string, prefix: string, script: Script): boolean {
  const tmp = `${cacheFile}.tmp-${process.pid}`;
  try {
    // fsync before the rename, as every atomic write here: after a power
    // cut the file is whole or absent (a damaged one would be rejected by
    // its checksum, verifyChecksums, and written again: a slower start).
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      const data = script.createCachedData();
      for (let at = 0; at < data.length;) at += writeSync(fd, data, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
  try {
    fsyncDir(dirname(cacheFile));
  } catch {
    // The rename is done; a lost rename after a power cut only means no cache.
  }
  // Temporary files left by a kill, and other builds' (or other V8 flag
  // sets') files of this bundle written more than a day ago. A newer one
  // stays: two builds run in turn (the system's and a checkout's, or another
  // node) each removed the other's, and every run of either wrote its cache
  // again (review 9). A file removed here costs its flag set one write.
  try {
    const dir = dirname(cacheFile);
    const staleBefore = Date.now() - OTHER_BUILD_KEPT_MS;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix) || join(dir, name) === cacheFile || name.endsWith(`.tmp-${process.pid}`)) continue;
      const path = join(dir, name);
      if (/\.tmp-\d+$/.test(name) || lstatSync(path).mtimeMs < staleBefore) rmSync(path, { force: true });
    }
  } catch {
    // The sweep is housekeeping only.
  }
  return true;
}
