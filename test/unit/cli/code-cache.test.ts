/**
 * The lean bundles' code cache (src/cli/code-cache.ts), with node's real V8:
 * written once after a run, then accepted; functions compiled during the run
 * are in it; a broken or foreign file is rejected and written again; a kill
 * leaves nothing that is read. Each load runs in a fresh node (a process
 * loads a bundle once), through the built module (dist/cli/code-cache.js).
 */
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CACHE_KEY_PREFIX, cacheFileFor } from '../../../src/cli/code-cache.js';
import { repoRoot } from '../../helpers/cli.js';

const codeCacheModule = join(repoRoot, 'dist', 'cli', 'code-cache.js');

/** A bundle whose work is a function V8 compiles lazily, on the call from run(). */
function bundleText(key: string, answer = 42): string {
  const body = Array.from({ length: 200 }, (_, i) => `  s += (x * ${i + 1}) % 7;`).join('\n');
  return [
    `${CACHE_KEY_PREFIX}${key}`,
    `function work(x) {\n  let s = 0;\n${body}\n  return s;\n}`,
    `exports.run = () => work(3) * 0 + ${answer};`,
    `exports.viaImport = () => __gImp('node:path').then((m) => typeof m.join);`,
    // No directive here, as in the built bundles, whose "use strict" comes
    // after the key line and the banner's first statement.
    `exports.strict = (function () { return this === undefined; })();`,
    '',
  ].join('\n');
}

interface Load {
  cache: string;
  cacheFile: string | null;
  saved: boolean;
  answer: number | null;
  imported?: string;
  strict: boolean;
  /** V8's cachedDataVersionTag in that process, after the load. */
  tag: number;
}

/** Load `bundle` in a fresh node; call run() unless `call` is false; save the cache. */
async function load(
  bundle: string,
  cacheDir: string,
  call = true,
  viaImport = false,
  nodeFlags: string[] = [],
): Promise<Load> {
  const script = `
    import { cachedDataVersionTag } from 'node:v8';
    import { loadBundle } from ${JSON.stringify(codeCacheModule)};
    const b = loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cacheDir)});
    const answer = ${call} ? b.exports.run() : null;
    const imported = ${viaImport} ? await b.exports.viaImport() : undefined;
    const saved = b.saveCache();
    console.log(JSON.stringify({ cache: b.cache, cacheFile: b.cacheFile, saved, answer, imported, strict: b.exports.strict, tag: cachedDataVersionTag() }));`;
  const { stdout, stderr } = await execa(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], {
    stdin: 'ignore',
  });
  expect(stderr).toBe('');
  return JSON.parse(stdout) as Load;
}

function setup(key = 'a'.repeat(64), answer = 42): { dir: string; bundle: string; cacheDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gitopsd-code-cache-'));
  const cacheDir = join(dir, 'cache');
  mkdirSync(cacheDir, { mode: 0o700 }); // as compileCacheDir makes it
  const bundle = join(dir, 'lean-test.cjs');
  writeFileSync(bundle, bundleText(key, answer));
  return { dir, bundle, cacheDir };
}

describe('the lean bundles’ code cache (src/cli/code-cache.ts)', () => {
  it('is written 0600 after the first run, then accepted, and the result is the same', async () => {
    const { bundle, cacheDir } = setup();
    const first = await load(bundle, cacheDir);
    expect(first).toMatchObject({ cache: 'absent', saved: true, answer: 42 });
    expect(first.cacheFile).toBe(cacheFileFor(bundle, readFileSync(bundle, 'utf8'), cacheDir, () => first.tag));
    expect(statSync(first.cacheFile ?? '').mode & 0o777).toBe(0o600);
    const second = await load(bundle, cacheDir);
    expect(second).toMatchObject({ cache: 'accepted', saved: false, answer: 42 });
  });

  it('holds the functions compiled during the run (a cache made before the call is smaller)', async () => {
    const before = setup();
    const after = setup();
    const notCalled = await load(before.bundle, before.cacheDir, false);
    const called = await load(after.bundle, after.cacheDir, true);
    const sizeBefore = statSync(notCalled.cacheFile ?? '').size;
    const sizeAfter = statSync(called.cacheFile ?? '').size;
    // work() is compiled on its call only; its bytecode is then in the cache.
    expect(sizeAfter).toBeGreaterThan(sizeBefore + 1000);
  });

  it('rejects a damaged file (cut short, as a full disk leaves it, or garbage), runs correctly, writes it again', async () => {
    const { bundle, cacheDir } = setup();
    const first = await load(bundle, cacheDir);
    const file = first.cacheFile ?? '';
    const good = readFileSync(file);
    writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)));
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'rejected', saved: true, answer: 42 });
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', answer: 42 });
    writeFileSync(file, Buffer.from('not a V8 code cache'));
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'rejected', saved: true, answer: 42 });
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', answer: 42 });
  });

  it('rejects a file damaged inside at its full length (zeros, flipped bytes) by its checksum; without one V8 would run it and crash', async () => {
    // Without --verify-snapshot-checksum (off in release builds), node died
    // on such a file with SIGSEGV (139) or SIGTRAP (133) on every run, on
    // node 20.20 and 24.22 (review 9, finding 1). src/cli/code-cache.ts
    // verifyChecksums turns it on.
    const { bundle, cacheDir } = setup();
    const file = (await load(bundle, cacheDir)).cacheFile ?? '';
    const good = readFileSync(file);
    const zeros = Buffer.from(good);
    zeros.fill(0, Math.floor(good.length / 2), Math.floor(good.length / 2) + 64);
    writeFileSync(file, zeros);
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'rejected', saved: true, answer: 42 });
    expect(readFileSync(file)).not.toEqual(zeros);
    const flipped = Buffer.from(good);
    for (const at of [good.length - 8, Math.floor(good.length / 3)]) flipped[at] = (flipped[at] ?? 0) ^ 0xff;
    writeFileSync(file, flipped);
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'rejected', saved: true, answer: 42 });
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', answer: 42 });
  });

  it("a new build (another key) never reads the old build's file, and replaces it", async () => {
    const { bundle, cacheDir } = setup('b'.repeat(64), 1);
    const old = await load(bundle, cacheDir);
    expect(old.answer).toBe(1);
    // Written more than a day ago: a build no longer run (see the next case).
    utimesSync(old.cacheFile ?? '', new Date(Date.now() - 25 * 3600_000), new Date(Date.now() - 25 * 3600_000));
    // Same length, another answer: V8 alone would take the old cache (it checks the length).
    writeFileSync(bundle, bundleText('c'.repeat(64), 2));
    const fresh = await load(bundle, cacheDir);
    expect(fresh).toMatchObject({ cache: 'absent', saved: true, answer: 2 });
    expect(fresh.cacheFile).not.toBe(old.cacheFile);
    expect(readdirSync(cacheDir)).toEqual([fresh.cacheFile?.split('/').at(-1)]);
  });

  it('two builds run in turn (the system’s and a checkout’s) keep their own files: no run writes again', async () => {
    const a = setup('e'.repeat(64), 1);
    const b = { ...a, bundle: join(a.dir, 'other', 'lean-test.cjs') };
    mkdirSync(dirname(b.bundle));
    writeFileSync(b.bundle, bundleText('f'.repeat(64), 2));
    expect(await load(a.bundle, a.cacheDir)).toMatchObject({ cache: 'absent', saved: true, answer: 1 });
    expect(await load(b.bundle, b.cacheDir)).toMatchObject({ cache: 'absent', saved: true, answer: 2 });
    expect(await load(a.bundle, a.cacheDir)).toMatchObject({ cache: 'accepted', saved: false, answer: 1 });
    expect(await load(b.bundle, b.cacheDir)).toMatchObject({ cache: 'accepted', saved: false, answer: 2 });
  });

  it("a node started with other V8 flags (the daemon's --no-turbofan) keeps files of its own: neither rejects nor rewrites the other's", async () => {
    const { bundle, cacheDir } = setup();
    const flags = ['--no-turbofan'];
    const plain = await load(bundle, cacheDir);
    const flagged = await load(bundle, cacheDir, true, false, flags);
    expect(plain).toMatchObject({ cache: 'absent', saved: true, answer: 42 });
    expect(flagged).toMatchObject({ cache: 'absent', saved: true, answer: 42 });
    expect(flagged.tag).not.toBe(plain.tag);
    expect(flagged.cacheFile).not.toBe(plain.cacheFile);
    const before = readFileSync(plain.cacheFile ?? '');
    // In turn again: each accepts its own file and writes nothing.
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', saved: false });
    expect(await load(bundle, cacheDir, true, false, flags)).toMatchObject({ cache: 'accepted', saved: false });
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', saved: false });
    expect(readFileSync(plain.cacheFile ?? '')).toEqual(before);
    expect(readdirSync(cacheDir).sort()).toEqual(
      [plain.cacheFile, flagged.cacheFile].map((f) => (f ?? '').split('/').at(-1)).sort(),
    );
  });

  it('why the key: V8 alone takes a cache made for another source of the same length, and runs the old code', async () => {
    // The hazard the key (the build's SHA-256 of the bundle) guards against:
    // with the key unchanged, the edited bundle still answers 1.
    const { bundle, cacheDir } = setup('d'.repeat(64), 1);
    await load(bundle, cacheDir);
    writeFileSync(bundle, bundleText('d'.repeat(64), 2));
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', answer: 1 });
  });

  it('removes what a kill left (a temporary file) when it writes, and never reads it', async () => {
    // The tag of a process like the loads' (V8 version and flags), from a load elsewhere.
    const probe = setup();
    const { tag } = await load(probe.bundle, probe.cacheDir);
    const { bundle, cacheDir } = setup();
    const file = cacheFileFor(bundle, readFileSync(bundle, 'utf8'), cacheDir, () => tag) ?? '';
    writeFileSync(`${file}.tmp-999999`, Buffer.from('half a cache'));
    const first = await load(bundle, cacheDir);
    expect(first).toMatchObject({ cache: 'absent', saved: true, answer: 42 });
    expect(readdirSync(cacheDir)).toEqual([file.split('/').at(-1)]);
  });

  it('a bundle without the key line runs without a cache and writes nothing', async () => {
    const { bundle, cacheDir } = setup();
    writeFileSync(bundle, bundleText('a'.repeat(64)).split('\n').slice(1).join('\n'));
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'none', cacheFile: null, saved: false, answer: 42 });
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('runs the bundle in strict mode, as the ES modules it is built from, with the cache and without', async () => {
    // The lean bundles' "use strict" is not a directive: the build's key line
    // and banner statement come first (scripts/bundle.mjs).
    const { bundle, cacheDir } = setup();
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'absent', strict: true });
    expect(await load(bundle, cacheDir)).toMatchObject({ cache: 'accepted', strict: true });
  });

  it('with --enable-source-maps, a stack trace names the source the bundle’s map points to', async () => {
    // Node maps stack traces only for code its own loaders compiled (the
    // bundle's `//# sourceMappingURL`); a vm.Script's frames stay in the bundle.
    const { dir, bundle, cacheDir } = setup();
    const throwing = `${bundleText('a'.repeat(64))}exports.boom = function boom() { throw new Error('boom'); };\n`;
    const line = throwing.split('\n').length - 1; // the line of boom()
    // One segment: column 0 of that line is line 10 of orig.ts.
    const map = { version: 3, sources: ['orig.ts'], names: [], mappings: `${';'.repeat(line - 1)}AASA` };
    writeFileSync(join(dir, 'lean-test.cjs.map'), JSON.stringify(map));
    writeFileSync(bundle, `${throwing}//# sourceMappingURL=lean-test.cjs.map\n`);
    const script = `
      import { loadBundle } from ${JSON.stringify(codeCacheModule)};
      const b = loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cacheDir)});
      try { b.exports.boom(); } catch (err) { console.log(err.stack.split('\\n')[1]); }
      console.log(JSON.stringify({ answer: b.exports.run(), cache: b.cache }));`;
    const { stdout, stderr } = await execa(
      process.execPath,
      ['--enable-source-maps', '--input-type=module', '-e', script],
      { stdin: 'ignore' },
    );
    expect(stderr).toBe('');
    const [frame, result] = stdout.split('\n');
    expect(frame).toContain(`${join(dir, 'orig.ts')}:10:1`);
    expect(JSON.parse(result ?? '')).toEqual({ answer: 42, cache: 'none' });
  });

  it("the bundle's dynamic imports go through __gImp (node's builtins here), without a warning on stderr", async () => {
    const { bundle, cacheDir } = setup();
    expect(await load(bundle, cacheDir, true, true)).toMatchObject({ imported: 'function', answer: 42 });
  });
});
