/**
 * Node's compile cache, shared by every gitopsd command of one user
 * ($TMPDIR/gitopsd-compile-cache-<uid>, src/cli/compile-cache.ts), stays
 * valid when lean and full commands take turns. A lean command turns on
 * V8's `--verify-snapshot-checksum` (src/cli/code-cache.ts), which is part
 * of every code cache's flags hash; when it loaded prom-client through
 * node's loader, each turn of `gitopsd upgrade` (lean) and `gitopsd cycle`
 * (the full CLI) rejected, compiled and wrote again the other's entries for
 * prom-client (88 of them, with metrics on). The lean bundles now load it
 * from dist/bundle/vendor-prom-client.cjs with their own cache. The built
 * CLI runs as a process on a simulated host, with node's own report of
 * each cache it reads (NODE_DEBUG_NATIVE). Under systemd's CacheDirectory=
 * (gitopsd-sync.service, whose /tmp is private to each run) the caches are
 * kept there instead of in $TMPDIR.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFleet } from '../../harness/fleet.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';

afterAll(removeTempDirs);

/** Every file under `dir` with the SHA-256 of its content. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(p, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

describe("node's compile cache across lean and full commands", () => {
  it('upgrade (lean) and cycle (full CLI) in turns, metrics on: after one of each, nothing is rejected or written again', async () => {
    const base = await tempDir('gitopsd-compile-cache');
    const fleet = await createFleet({ dir: join(base, 'fleet'), names: ['cc'] });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('no host');
    // Metrics on: both commands then load prom-client through node's loader.
    const metricsDir = join(base, 'metrics');
    mkdirSync(metricsDir);
    const cfg = JSON.parse(readFileSync(h.config, 'utf8')) as Record<string, unknown>;
    // Log level info (the default): every upgrade logs "upgrade decision",
    // which loaded winston through node's loader before the lean commands
    // logged with the plain backend.
    writeFileSync(
      h.config,
      JSON.stringify({ ...cfg, metrics: { textfileDir: metricsDir }, log: { level: 'info', format: 'json' } }),
    );
    // A $TMPDIR of its own: the cache directory starts empty and is this test's.
    const tmp = join(base, 'tmp');
    mkdirSync(tmp, { mode: 0o700 });
    const env = {
      ...h.sim.env,
      TMPDIR: tmp,
      NODE_COMPILE_CACHE: undefined,
      NODE_DISABLE_COMPILE_CACHE: undefined,
      NODE_DEBUG_NATIVE: 'COMPILE_CACHE',
      GITOPSD_CONFIG: undefined,
    };
    const run = async (
      cmd: 'upgrade' | 'cycle',
    ): Promise<{ accepted: number; promClient: number; rejected: string[]; stderr: string }> => {
      const r = await runCli([cmd, '--config', h.config], { env });
      expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
      const lines = r.stderr.split('\n');
      return {
        accepted: lines.filter((l) => /\[compile cache\].* was accepted/.test(l)).length,
        promClient: lines.filter((l) => /\[compile cache\].*node_modules\/prom-client\/.* was accepted/.test(l)).length,
        rejected: lines.filter((l) => /\[compile cache\].* was rejected/.test(l)),
        stderr: r.stderr,
      };
    };
    // Warm-up: each kind writes what it loads.
    await run('upgrade');
    await run('cycle');
    const cacheDir = join(tmp, `gitopsd-compile-cache-${process.getuid?.() ?? 0}`);
    const before = snapshot(cacheDir);
    expect(before.size).toBeGreaterThan(0);
    for (const cmd of ['upgrade', 'cycle', 'upgrade', 'cycle'] as const) {
      rmSync(join(metricsDir, 'gitopsd.prom'), { force: true });
      const r = await run(cmd);
      expect(r.rejected, cmd).toEqual([]);
      if (cmd === 'cycle') {
        // The full CLI runs from node's compile cache, prom-client included.
        expect(r.accepted).toBeGreaterThan(0);
        expect(r.promClient).toBeGreaterThan(0);
      } else {
        // The lean upgrade does not touch node_modules/prom-client's entries,
        // and it logged (at info) without winston.
        expect(r.promClient).toBe(0);
        expect(r.stderr).toMatch(/"message":"upgrade decision"/);
        expect(r.stderr).not.toMatch(/node_modules\/winston\//);
      }
      // Either copy writes the metrics.
      expect(readFileSync(join(metricsDir, 'gitopsd.prom'), 'utf8'), cmd).toMatch(/^gitopsd_/m);
    }
    // The lean upgrade ran prom-client from its own file, with its own cache.
    expect([...before.keys()].some((p) => /\/vendor-prom-client\.cjs-[0-9a-f]{32}-v8-.*\.cache$/.test(p))).toBe(true);
    // Nothing was written again: the same files with the same bytes.
    expect(snapshot(cacheDir)).toEqual(before);
  });

  it("under systemd's CacheDirectory= ($CACHE_DIRECTORY), a lean sync keeps its caches there, and the next run reads them", async () => {
    // gitopsd-sync.service runs with PrivateTmp= (nix/module.nix): its /tmp
    // is emptied after every run, so the caches live in its CacheDirectory=.
    const base = await tempDir('gitopsd-cache-directory');
    const fleet = await createFleet({ dir: join(base, 'fleet'), names: ['cd'], dotfiles: { dot_a: 'a\n' } });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('no host');
    const tmp = join(base, 'tmp');
    const cacheDirectory = join(base, 'var-cache-gitopsd-sync');
    mkdirSync(tmp, { mode: 0o700 });
    mkdirSync(cacheDirectory, { mode: 0o700 });
    const env = {
      ...h.sim.env,
      TMPDIR: tmp,
      // systemd lists every CacheDirectory= of the unit, colon-separated: the first is used.
      CACHE_DIRECTORY: `${cacheDirectory}:${join(base, 'second')}`,
      NODE_COMPILE_CACHE: undefined,
      NODE_DISABLE_COMPILE_CACHE: undefined,
      NODE_DEBUG_NATIVE: 'COMPILE_CACHE',
      GITOPSD_CONFIG: undefined,
    };
    const sync = async (): Promise<string> => {
      const r = await runCli(['sync', '--config', h.config], { env });
      expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
      return r.stderr;
    };
    await sync();
    const uid = process.getuid?.() ?? 0;
    const cacheDir = join(cacheDirectory, `gitopsd-compile-cache-${uid}`);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    const files = [...snapshot(cacheDir).keys()].map((p) => p.slice(cacheDir.length + 1));
    // The lean sync's own V8 cache and execa's, beside node's compile cache of the entry.
    expect(
      files.some((f) => /^lean-sync\.cjs-[0-9a-f]{32}-v8-.*\.cache$/.test(f)),
      files.join('\n'),
    ).toBe(true);
    expect(
      files.some((f) => /^vendor-execa\.cjs-[0-9a-f]{32}-v8-.*\.cache$/.test(f)),
      files.join('\n'),
    ).toBe(true);
    expect(readdirSync(tmp)).toEqual([]);
    const before = snapshot(cacheDir);
    // A code cache is written (a new file renamed over the old) only when it
    // was absent or V8 rejected it (src/cli/code-cache.ts saveCache): the
    // same inode and mtime after the second run mean it was read and taken.
    const identity = (): string[] =>
      files.map((f) => {
        const st = statSync(join(cacheDir, f));
        return `${f} ${st.ino} ${st.mtimeMs}`;
      });
    const was = identity();
    const second = await sync();
    expect(second).not.toMatch(/\[compile cache\].* was rejected/);
    expect(identity()).toEqual(was);
    expect(snapshot(cacheDir)).toEqual(before);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
