/**
 * `npm run bench [-- B3 B5 ...]`: runs the benchmarks (all of them, or the ones
 * named), prints each table as it finishes, and writes them all, with the
 * machine, load, tool versions and date, to bench/results.md
 * (GITOPSD_BENCH_OUT overrides the path). docs/benchmarks.md is written from
 * these files. Nothing here asserts a time: a missed target is reported,
 * and the exit code is non-zero only when a benchmark could not run.
 *
 * Environment: GITOPSD_BENCH_RUNS=N (>= 5) overrides each benchmark's run
 * count; GITOPSD_BENCH_FROM=<dir> measures the build (bin/, dist/) of another
 * checkout, for a before/after pair; GITOPSD_BENCH_DIR puts the scratch dirs elsewhere (default: the
 * test bed's tmpfs). B8 and B9: GITOPSD_BENCH_HOSTS=N (default 1000) simulated
 * hosts, GITOPSD_BENCH_CONCURRENCY=N (default 50) publishes at a time,
 * GITOPSD_BENCH_REPUBLISH=1 adds B9's re-publish round.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { gitopsdBin, scratch, snapshotBuild, type Benchmark, type BenchResult } from './common.js';
import { b1 } from './b1-status.js';
import { b2 } from './b2-upgrade.js';
import { b3, b4 } from './b3-sync.js';
import { b5 } from './b5-boot.js';
import { b6 } from './b6-fleet.js';
import { b7 } from './b7-daemon.js';
import { b8 } from './b8-fleet-read.js';
import { b9 } from './b9-publish.js';
import { b10 } from './b10-rollout.js';
import { b11 } from './b11-poll.js';

const ALL: readonly Benchmark[] = [b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11];

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    return String((await execa(cmd, args)).stdout).split('\n')[0] ?? '';
  } catch {
    return `${cmd}: not found`;
  }
}

function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m?.[1] ?? cpus()[0]?.model ?? 'unknown';
}

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).map((a) => a.toUpperCase());
  const unknown = wanted.filter((w) => !ALL.some((b) => b.id === w));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}; known: ${ALL.map((b) => b.id).join(' ')}\n`);
    process.exitCode = 64;
    return;
  }
  const selected = wanted.length === 0 ? ALL : ALL.filter((b) => wanted.includes(b.id));
  const started = new Date();
  // GITOPSD_BENCH_FROM: a built checkout to measure instead of this one (a "before").
  const from = process.env['GITOPSD_BENCH_FROM'];
  await snapshotBuild(join(await scratch('build'), 'gitopsd'), from);
  process.stdout.write(`running a copy of the build: ${gitopsdBin()}\n`);
  const header = [
    `# gitopsd benchmarks (${selected.map((b) => b.id).join(', ')})`,
    '',
    `- date: ${started.toISOString()}`,
    `- machine: ${cpus().length} CPUs (${cpuModel()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`,
    `- tools: ${await version('node', ['--version'])}, ${await version('git', ['--version'])}, ${await version('jj', ['--version'])}, ${await version('chezmoi', ['--version'])}, ${await version('nix', ['--version'])}`,
    `- load average at start: ${load()}`,
    `- build measured: ${from ?? 'this checkout'}`,
  ];
  process.stdout.write(`${header.join('\n')}\n\n`);
  const results: BenchResult[] = [];
  const failed: string[] = [];
  for (const b of selected) {
    const t0 = performance.now();
    process.stdout.write(`# ${b.id}: ${b.title} (load ${load()})\n\n`);
    try {
      const r = await b.run(await scratch(b.id.toLowerCase()));
      const secs = ((performance.now() - t0) / 1000).toFixed(0);
      r.markdown += `\n\n_${b.id} took ${secs} s; load average at its end: ${load()}_`;
      results.push(r);
      for (const v of r.verdicts) process.stdout.write(`${v}\n`);
      process.stdout.write('\n');
    } catch (err) {
      failed.push(b.id);
      process.stderr.write(
        `bench: ${b.id} could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
  }
  const summary = [
    '## Summary',
    '',
    ...results.flatMap((r) => r.verdicts.map((v) => `- ${v}`)),
    ...failed.map((id) => `- ${id}: could not run (see the output)`),
    '',
    `load average at the end: ${load()}`,
  ];
  const doc = [...header, '', ...results.map((r) => r.markdown), '', ...summary, ''].join('\n');
  const out = process.env['GITOPSD_BENCH_OUT'] ?? join(import.meta.dirname, 'results.md');
  writeFileSync(out, doc);
  process.stdout.write(`${summary.join('\n')}\n\nwritten to ${out}\n`);
  if (failed.length > 0) process.exitCode = 1;
}

await main();
