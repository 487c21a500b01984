/**
 * Benchmark helpers: time a command N times, report median/min/max, and a
 * ratio against a baseline measured in the same run. Nothing here asserts a
 * time; the numbers are printed and recorded in docs/benchmarks.md.
 */
import { readFileSync } from 'node:fs';
import { execa, type Options } from 'execa';

export interface Sample {
  name: string;
  /** Wall time of each run, ms. */
  runs: number[];
  /**
   * CPU time (user + system) of each run's child processes, ms, at the
   * kernel's clock-tick resolution (10 ms at USER_HZ = 100): the growth of
   * this process's cutime + cstime (proc(5), /proc/self/stat fields 16 and
   * 17), which counts every child and grandchild once it has been waited
   * for. Unlike wall time it does not grow with the machine's load.
   */
  cpu: number[];
}

/** USER_HZ: the unit of /proc/[pid]/stat's times (sysconf(_SC_CLK_TCK); 100 on Linux). */
const CLK_TCK = 100;

/**
 * The CPU times of a live process from /proc/<pid>/stat (proc(5) fields 14-17),
 * in ms: its own user and system time, and those of the children it has
 * waited for.
 */
export function procTimesMs(pid: number | 'self'): { utime: number; stime: number; cutime: number; cstime: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces: split after its closing parenthesis, so
  // rest[0] is field 3 (state) and field N is rest[N - 3].
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ms = (n: number): number => (Number(rest[n - 3]) * 1000) / CLK_TCK;
  return { utime: ms(14), stime: ms(15), cutime: ms(16), cstime: ms(17) };
}

/** A `kB` line of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile), in MiB. */
export function procStatusMiB(pid: number, key: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m === null) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** cutime + cstime of this process, ms: every child waited for so far. */
export function childCpuMs(): number {
  const t = procTimesMs('self');
  return t.cutime + t.cstime;
}

/** The CPU times of a sample as Stats, named "<name> (CPU)". */
export function cpuStats(s: Sample): Stats {
  return stats({ name: `${s.name} (CPU)`, runs: s.cpu });
}

export interface Stats {
  name: string;
  n: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export function stats(s: Pick<Sample, 'name' | 'runs'>): Stats {
  const sorted = [...s.runs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { name: s.name, n: sorted.length, medianMs: median, minMs: sorted[0] ?? NaN, maxMs: sorted.at(-1) ?? NaN };
}

/** Run `fn` `runs` times (after `warmup` unmeasured runs) and collect wall times. */
export async function time(
  name: string,
  fn: () => Promise<unknown>,
  opts: { runs?: number; warmup?: number; before?: () => Promise<unknown> } = {},
): Promise<Sample> {
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < (opts.warmup ?? 1); i++) {
    await opts.before?.();
    await fn();
  }
  for (let i = 0; i < (opts.runs ?? 7); i++) {
    await opts.before?.();
    const c0 = childCpuMs();
    const t0 = performance.now();
    await fn();
    runs.push(performance.now() - t0);
    cpu.push(childCpuMs() - c0);
  }
  return { name, runs, cpu };
}

/**
 * `time` for several commands at once, interleaved: one warm-up of each,
 * then round after round one run of each, the order reversed every other
 * round. A load that moves during the measurement then moves all of them
 * alike (run one after the other, B3's ratio for the same build went 1.87
 * and 0.98 in two runs minutes apart: docs/benchmarks.md). Returns one
 * Sample per item, in the items' order.
 */
export async function timeInterleaved(
  items: readonly { name: string; fn: () => Promise<unknown>; before?: () => Promise<unknown> }[],
  opts: { runs?: number } = {},
): Promise<Sample[]> {
  const out = items.map((it) => ({ name: it.name, runs: [] as number[], cpu: [] as number[] }));
  for (const it of items) {
    await it.before?.();
    await it.fn();
  }
  for (let round = 0; round < (opts.runs ?? 7); round++) {
    const order = items.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const it = items[i];
      const o = out[i];
      if (it === undefined || o === undefined) continue;
      await it.before?.();
      const c0 = childCpuMs();
      const t0 = performance.now();
      await it.fn();
      o.runs.push(performance.now() - t0);
      o.cpu.push(childCpuMs() - c0);
    }
  }
  return out;
}

/** A command as a timed function (argv, never a shell). Fails loudly on a non-zero exit. */
export function cmd(file: string, args: string[], options: Options = {}): () => Promise<unknown> {
  return async () => {
    const r = await execa(file, args, { reject: false, ...options });
    if (r.exitCode !== 0 && options.reject !== false) {
      throw new Error(`${file} ${args.join(' ')} exited ${String(r.exitCode)}: ${String(r.stderr).slice(-500)}`);
    }
  };
}

const f = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));

/**
 * Print a table of measurements with ratios against the baseline. `baseline`
 * null: no baseline row and no ratio column (B5's baseline is 0, B6 has none).
 * `unit` names the column unit (default ms; B7 reports MiB through the same
 * Stats fields).
 */
export function table(
  title: string,
  baseline: Stats | null,
  rows: Stats[],
  target?: string,
  opts: { unit?: string } = {},
): string {
  const u = opts.unit ?? 'ms';
  const lines = [
    `## ${title}`,
    '',
    baseline === null
      ? `| what | n | median ${u} | min ${u} | max ${u} |`
      : `| what | n | median ${u} | min ${u} | max ${u} | ratio |`,
    baseline === null ? '| --- | --- | --- | --- | --- |' : '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of [...(baseline === null ? [] : [baseline]), ...rows]) {
    const cells = [r.name, String(r.n), f(r.medianMs), f(r.minMs), f(r.maxMs)];
    if (baseline !== null) cells.push(r === baseline ? '1.00 (baseline)' : (r.medianMs / baseline.medianMs).toFixed(2));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (target) lines.push('', `target: ${target}`);
  const out = lines.join('\n');
  process.stdout.write(`${out}\n\n`);
  return out;
}
