/**
 * What the benchmarks share: a scratch directory per benchmark, the built
 * CLI as a timed command, the runner trace (GITOPSD_TRACE) read back as
 * commands, and small file helpers. Everything runs inside scripts/testbed
 * (real git, jj, chezmoi and nix; /tmp is a fresh tmpfs per invocation).
 */
import { cp, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../test/helpers/cli.js';

/**
 * The CLI the benchmarks run: a private copy of bin/ and dist/ made by
 * `snapshotBuild` (other engineers rebuild dist/ in the shared repo while a
 * benchmark runs; a half-written bundle must not end a 10-minute run), or
 * the repo's own bin/gitopsd before that.
 */
let bin = join(repoRoot, 'bin', 'gitopsd');
export const gitopsdBin = (): string => bin;

/**
 * The argv after `node` that starts `gitopsd daemon` as gitopsd.service does
 * (nix/module.nix daemonExec): the node flags of the measured build's
 * package.json "gitopsd"."daemonNodeFlags" (none in a build from before the
 * list existed), then the bin and `daemon`.
 */
export function daemonArgv(): string[] {
  return [...daemonNodeFlags(), bin, 'daemon'];
}

/** The measured build's package.json "gitopsd"."daemonNodeFlags" (none in a build from before the list). */
export function daemonNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(dirname(dirname(bin)), 'package.json'), 'utf8')) as {
    gitopsd?: { daemonNodeFlags?: string[] };
  };
  return pkg.gitopsd?.daemonNodeFlags ?? [];
}

/**
 * Copy bin/ and dist/ (node_modules linked) of `from` (default: this repo;
 * another built checkout measures a before/after pair) to `dir` and run the
 * copy from now on.
 */
export async function snapshotBuild(dir: string, from: string = repoRoot): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(join(from, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(from, 'dist'), join(dir, 'dist'), { recursive: true });
  await cp(join(from, 'package.json'), join(dir, 'package.json'));
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  bin = join(dir, 'bin', 'gitopsd');
}

/** What a benchmark hands back to the runner: its markdown table(s) and notes. */
export interface BenchResult {
  id: string;
  title: string;
  /** Markdown: the table(s) as printed, plus the benchmark's own checks. */
  markdown: string;
  /** One line each: target met or not, and why. */
  verdicts: string[];
}

export interface Benchmark {
  id: string;
  title: string;
  run(dir: string): Promise<BenchResult>;
}

/** A fresh directory for one benchmark (under the test bed's tmpfs). */
export async function scratch(id: string): Promise<string> {
  const dir = join(process.env['GITOPSD_BENCH_DIR'] ?? tmpdir(), `gitopsd-bench-${id}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Runs the built CLI; throws unless the exit code is one of `ok` (default [0]). */
export async function gitopsd(
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; ok?: readonly number[] } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa('node', [bin, ...args], {
    reject: false,
    env: { GITOPSD_CONFIG: undefined, ...opts.env },
    stdin: 'ignore',
    timeout: 300_000,
  });
  const exitCode = r.exitCode ?? -1;
  if (!(opts.ok ?? [0]).includes(exitCode)) {
    throw new Error(`gitopsd ${args.join(' ')} exited ${exitCode}: ${String(r.stderr).slice(-1500)}`);
  }
  return { exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** One external command gitopsd ran, from its trace. */
export interface TracedCommand {
  pid: number;
  cmd: string;
  args: string[];
  durationMs: number | null;
}

/** The commands in a GITOPSD_TRACE file, in order (start events, matched to their end by pid and order). */
export async function readTrace(file: string): Promise<TracedCommand[]> {
  if (!existsSync(file)) return [];
  const out: TracedCommand[] = [];
  const open = new Map<string, TracedCommand[]>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as { pid: number; event: string; cmd?: string; args?: string[]; durationMs?: number };
    if (e.event === 'start' && e.cmd !== undefined) {
      const c: TracedCommand = { pid: e.pid, cmd: e.cmd, args: e.args ?? [], durationMs: null };
      out.push(c);
      const k = `${e.pid}:${e.cmd}`;
      open.set(k, [...(open.get(k) ?? []), c]);
    } else if (e.event === 'end' && e.cmd !== undefined) {
      const k = `${e.pid}:${e.cmd}`;
      const q = open.get(k);
      const c = q?.shift();
      if (c !== undefined) c.durationMs = e.durationMs ?? null;
    }
  }
  return out;
}

/** Programs that are nix (any of them would mean a build or a profile change). */
export const NIX_PROGRAMS: ReadonlySet<string> = new Set([
  'nix',
  'nix-build',
  'nix-env',
  'nix-store',
  'nix-instantiate',
  'nh',
]);

/** "jj 12, chezmoi 5" — processes per program, most first. */
export function countByProgram(cmds: readonly TracedCommand[]): string {
  const m = new Map<string, number>();
  for (const c of cmds) m.set(c.cmd, (m.get(c.cmd) ?? 0) + 1);
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** A readable one-line form of a traced command (jj's fixed prefix dropped). */
export function describeCommand(c: TracedCommand): string {
  const args = [...c.args];
  if (c.cmd === 'jj') {
    // --no-pager --color=never -R <src> --config operation.username=...
    const i = args.indexOf('--config');
    if (i >= 0) args.splice(0, i + 2);
  }
  if (c.cmd === 'chezmoi') {
    const i = args.indexOf('-D');
    if (i >= 0) args.splice(0, i + 2);
    const j = args.indexOf('-c');
    if (j >= 0) args.splice(j, 2);
  }
  const dur = c.durationMs === null ? '' : ` (${c.durationMs} ms)`;
  return `${c.cmd} ${args.join(' ')}`.slice(0, 110) + dur;
}

/** Median of numbers (NaN for none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Number of runs: GITOPSD_BENCH_RUNS (at least 5) or the benchmark's default. */
export function runsFor(def: number): number {
  const v = Number(process.env['GITOPSD_BENCH_RUNS']);
  return Number.isInteger(v) && v >= 5 ? v : def;
}
