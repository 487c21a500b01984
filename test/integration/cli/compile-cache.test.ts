/**
 * Node's compile cache, shared by every gitopsd command of one user
 * ($TMPDIR/gitopsd-compile-cache-<uid>, src/cli/compile-cache.ts), stays
 * valid when lean and full commands take turns. V8's
 * `--verify-snapshot-checksum` is part of every code cache's flags hash;
 * when only the lean bundles set it, each alternation of `gitopsd upgrade`
 * (lean) and `gitopsd cycle` (the full CLI) rejected, compiled and wrote
 * again what node's cache held for the modules both load (prom-client,
 * with metrics on). The built CLI runs as a process on a simulated host,
 * with node's own report of each cache it reads (NODE_DEBUG_NATIVE).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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
  it('upgrade (lean) and cycle (full CLI) in turns: after one of each, nothing is rejected or written again', async () => {
    const base = await tempDir('gitopsd-compile-cache');
    const fleet = await createFleet({ dir: join(base, 'fleet'), names: ['cc'] });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('no host');
    // Metrics on: both commands then load prom-client through node's loader.
    const metricsDir = join(base, 'metrics');
    mkdirSync(metricsDir);
    const cfg = JSON.parse(readFileSync(h.config, 'utf8')) as Record<string, unknown>;
    writeFileSync(h.config, JSON.stringify({ ...cfg, metrics: { textfileDir: metricsDir } }));
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
    ): Promise<{ accepted: number; promClient: number; rejected: string[] }> => {
      const r = await runCli([cmd, '--config', h.config], { env });
      expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
      const lines = r.stderr.split('\n');
      return {
        accepted: lines.filter((l) => /\[compile cache\].* was accepted/.test(l)).length,
        promClient: lines.filter((l) => /\[compile cache\].*node_modules\/prom-client\/.* was accepted/.test(l)).length,
        rejected: lines.filter((l) => /\[compile cache\].* was rejected/.test(l)),
      };
    };
    // Warm-up: each kind writes what it loads.
    await run('upgrade');
    await run('cycle');
    const cacheDir = join(tmp, `gitopsd-compile-cache-${process.getuid?.() ?? 0}`);
    const before = snapshot(cacheDir);
    expect(before.size).toBeGreaterThan(0);
    for (const cmd of ['upgrade', 'cycle', 'upgrade', 'cycle'] as const) {
      const r = await run(cmd);
      expect(r.rejected, cmd).toEqual([]);
      expect(r.accepted, cmd).toBeGreaterThan(0);
      // Both kinds load prom-client from the cache: the case that was broken.
      expect(r.promClient, cmd).toBeGreaterThan(0);
    }
    // Nothing was written again: the same files with the same bytes.
    expect(snapshot(cacheDir)).toEqual(before);
  });
});
