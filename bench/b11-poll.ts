/**
 * B11 (issue 19): the cost of polling. `gitopsd daemon` with
 * daemon.pollIntervalSec = 10 (the smallest the config allows) on a host
 * where nothing is new, against plain `git fetch --porcelain` of the same
 * checkout run as often. Target: CPU ratio <= 1.2.
 *
 * - The daemon's CPU is read from /proc/<pid>/stat (proc(5): utime + stime
 *   of the daemon, plus cutime + cstime of the git processes it has waited
 *   for), between the end of its first poll and the end of poll 1 + POLLS.
 *   Everything the polls cost is in it: the timers, the fetch, the log line.
 * - The baseline's CPU is the growth of this process's cutime + cstime over
 *   the same number of `git fetch` runs (and, printed beside it, of the
 *   daemon's own command: the same with --no-auto-maintenance) (bench/lib.ts childCpuMs), of the same
 *   checkout with the same refspec. They are interleaved with the polls: one
 *   fetch right after each measured poll ends, while the daemon sleeps for
 *   the rest of its 10 s, so both sides see the same load (run one after the
 *   other, the ratio followed the load's drift: docs/benchmarks.md, B11).
 *   The daemon's figure includes what spawning git costs the daemon itself;
 *   the baseline's does not (this process spawns it): see the B11 profile in
 *   docs/benchmarks.md.
 * - Memory: VmRSS and VmHWM (the peak) of the daemon after RSS_POLLS polls,
 *   against an idle `node` (issue 19 part 4: "RSS after 100 polls").
 *
 * - Two floors run in the same window (bench/floor/poll-loop.mjs): a
 *   long-lived node process that only runs the daemon's git command every
 *   10 s, started with the daemon's node flags, through execa (the same
 *   execa code as the daemon's, loaded from its code-cached vendor bundle as
 *   the lean commands load it; the daemon loads it through node's loader
 *   and compile cache) and through child_process.spawn; their own CPU plus their git's, over as many polls,
 *   against the same baseline. At this interval every poll wakes a process
 *   whose caches have gone cold, which the earlier floor (a poll every 100
 *   ms, docs/benchmarks.md "The eighteenth session") did not see.
 * - The daemon starts as gitopsd.service starts it (nix/module.nix: node
 *   with package.json's daemonNodeFlags; common.ts daemonArgv).
 *
 * GITOPSD_BENCH_POLLS=N sets both counts (default 60 for the CPU, 100 for
 * the memory; at 10 s a poll, the run lasts about 17 minutes).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { childCpuMs, cmd, procStatusMiB, procTimesMs, table } from './lib.js';
import { daemonArgv, daemonNodeFlags, gitopsd, gitopsdBin, sleep, type Benchmark } from './common.js';
import { createFleet } from '../test/harness/fleet.js';

const INTERVAL_SEC = 10;
/** All four CPU times of a live process (its own and its waited-for children's), ms. */
function processCpuMs(pid: number): number {
  const t = procTimesMs(pid);
  return t.utime + t.stime + t.cutime + t.cstime;
}

/** The CPU time of a live process itself, without its children's, ms. */
function ownCpuMs(pid: number): number {
  const t = procTimesMs(pid);
  return t.utime + t.stime;
}

const memMiB = (pid: number): { rss: number; peak: number } => ({
  rss: procStatusMiB(pid, 'VmRSS'),
  peak: procStatusMiB(pid, 'VmHWM'),
});

export const b11: Benchmark = {
  id: 'B11',
  title: '`gitopsd daemon` polling with nothing new vs plain `git fetch`',
  async run(dir) {
    const n = Number(process.env['GITOPSD_BENCH_POLLS'] ?? '0');
    const cpuPolls = n > 0 ? n : 60;
    const rssPolls = n > 0 ? n : 100;
    const fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['b11'] });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('B11: no host');
    const cfg = JSON.parse(readFileSync(h.config, 'utf8')) as Record<string, unknown>;
    cfg['log'] = { level: 'info', format: 'json' };
    cfg['schedule'] = { cron: '0 4 * * *', randomizedDelaySec: 0, persistent: true };
    cfg['daemon'] = { pollIntervalSec: INTERVAL_SEC };
    writeFileSync(h.config, JSON.stringify(cfg, null, 2));
    const env = { ...h.sim.env, TZ: 'UTC', GITOPSD_CONFIG: undefined };
    // One cycle at 03:00 deploys and syncs; the daemon then starts at 03:01, so
    // no cycle is due for an hour: every run in the measured window is a poll.
    await gitopsd(['cycle', '--config', h.config], { env: { ...env, GITOPSD_TEST_NOW: '2026-03-01T03:00:00Z' } });

    const proc = execa('node', [...daemonArgv(), '--config', h.config], {
      reject: false,
      env: { ...env, GITOPSD_TEST_NOW: '2026-03-01T03:01:00Z' },
      stdin: 'ignore',
      timeout: (Math.max(cpuPolls, rssPolls) + 10) * INTERVAL_SEC * 1000 + 120_000,
    });
    const pid = proc.pid ?? -1;
    let polls = 0;
    const decisions = new Map<string, number>();
    let cpuAtFirst = NaN;
    let cpuAtLast = NaN;
    // The daemon's own part (utime + stime) at the same two instants; the rest is its git processes'.
    let ownAtFirst = NaN;
    let ownAtLast = NaN;
    let mem = { rss: NaN, peak: NaN };
    let buf = '';
    const repo = h.sim.paths.nixConfigDir;
    const fetchArgs = [
      '-C',
      repo,
      'fetch',
      '--no-tags',
      '--porcelain',
      'origin',
      '+refs/heads/main:refs/remotes/origin/main',
    ];
    const oneFetch = cmd('git', fetchArgs);
    // The daemon's own command (src/upgrade/git.ts fetchPorcelain): the same
    // fetch without git's `maintenance run --auto` at its end. The verdict
    // is against plain `git fetch` (issue 19); this second baseline shows
    // what the node side costs over the git command the daemon runs.
    const sameArgs = [...fetchArgs.slice(0, 5), '--no-auto-maintenance', ...fetchArgs.slice(5)];
    const sameFetch = cmd('git', sameArgs);
    await oneFetch(); // warm-up, as the daemon's first poll is not measured either
    await sameFetch();
    let fetchCpu = 0;
    let sameCpu = 0;
    let fetchesRun = 0;
    let fetchChain: Promise<void> = Promise.resolve();
    const interleavedFetch = (): void => {
      fetchChain = fetchChain.then(async () => {
        // Alternate which of the two goes first, so neither always runs on a warmer cache.
        const pair: [() => Promise<unknown>, (ms: number) => void][] = [
          [oneFetch, (ms) => (fetchCpu += ms)],
          [sameFetch, (ms) => (sameCpu += ms)],
        ];
        if (fetchesRun % 2 === 1) pair.reverse();
        for (const [run, add] of pair) {
          const c0 = childCpuMs();
          await run();
          add(childCpuMs() - c0);
        }
        fetchesRun += 1;
      });
    };
    // The floors (bench/floor/poll-loop.mjs): long-lived node processes that
    // only run the daemon's git command every INTERVAL_SEC, started after the
    // daemon's first poll and phased 3 s and 6 s after it, so that no two
    // fetches of the run overlap.
    const floors: { mode: 'execa' | 'spawn'; run: Promise<{ ownMs: number; childrenMs: number }> }[] = [];
    const startFloors = (): void => {
      const dist = join(dirname(dirname(gitopsdBin())), 'dist');
      const loop = join(import.meta.dirname, 'floor', 'poll-loop.mjs');
      for (const [mode, delayMs] of [
        ['execa', 3000],
        ['spawn', 6000],
      ] as const) {
        const argv = [loop, dist, mode, String(INTERVAL_SEC * 1000), String(delayMs), String(cpuPolls), ...sameArgs];
        // With the daemon's node flags: the same V8 tiers as the daemon.
        const run = execa('node', [...daemonNodeFlags(), ...argv], {
          stdin: 'ignore',
          timeout: (cpuPolls + 5) * INTERVAL_SEC * 1000 + 60_000,
        }).then((r) => JSON.parse(r.stdout) as { ownMs: number; childrenMs: number });
        // Awaited after the daemon's run; a failure is reported there, not as an unhandled rejection.
        run.catch(() => undefined);
        floors.push({ mode, run });
      }
    };
    const done = new Promise<void>((resolve, reject) => {
      proc.stderr?.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let l: Record<string, unknown>;
          try {
            l = JSON.parse(text) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (l['message'] === 'cycle starting') reject(new Error('B11: a cycle ran in the measured window'));
          if (l['message'] !== 'poll finished') continue;
          polls += 1;
          const d = String(l['decision']);
          decisions.set(d, (decisions.get(d) ?? 0) + 1);
          if (polls === 1) {
            [cpuAtFirst, ownAtFirst] = [processCpuMs(pid), ownCpuMs(pid)];
            startFloors();
          }
          if (polls === 1 + cpuPolls) [cpuAtLast, ownAtLast] = [processCpuMs(pid), ownCpuMs(pid)];
          if (polls >= 2 && polls <= 1 + cpuPolls) interleavedFetch();
          if (polls === rssPolls) mem = memMiB(pid);
          if (polls >= 1 + cpuPolls && polls >= rssPolls) resolve();
        }
      });
      void proc.then((r) =>
        reject(new Error(`B11: daemon ended early (${r.exitCode}): ${String(r.stderr).slice(-800)}`)),
      );
    });
    await done;
    // The last baseline fetch ends before the daemon is stopped: the daemon's
    // own CPU joins this process's cutime when it is reaped.
    await fetchChain;
    proc.kill('SIGTERM');
    await proc;
    if (fetchesRun !== cpuPolls) throw new Error(`B11: ${fetchesRun} baseline fetches for ${cpuPolls} polls`);
    const idleNode = execa('node', ['-e', 'setInterval(()=>{},1e6)'], { reject: false, stdin: 'ignore' });
    await sleep(3000);
    const nodeMem = memMiB(idleNode.pid ?? -1);
    idleNode.kill('SIGTERM');
    await idleNode;

    const row = (name: string, v: number) => ({ name, n: 1, medianMs: v, minMs: v, maxMs: v });
    const floorCpu = new Map<string, { ownMs: number; childrenMs: number }>();
    for (const f of floors) floorCpu.set(f.mode, await f.run);
    const floorRows = [...floorCpu].map(([mode, c]) =>
      row(
        `floor: a node process that only runs the daemon's fetch every ${INTERVAL_SEC} s, through ${mode === 'execa' ? 'execa (its code-cached bundle)' : 'child_process.spawn'}, ${cpuPolls} polls`,
        Math.round(c.ownMs + c.childrenMs),
      ),
    );
    const floorRatio = (mode: string): string => {
      const c = floorCpu.get(mode);
      return c === undefined ? 'n/a' : ((c.ownMs + c.childrenMs) / fetchCpu).toFixed(2);
    };

    const daemonCpu = cpuAtLast - cpuAtFirst;
    const ratio = daemonCpu / fetchCpu;
    const sameRatio = daemonCpu / sameCpu;
    const md = [
      table(
        `B11 CPU time of ${cpuPolls} polls (user + system, ms, clock ticks of 10 ms)`,
        row(`${cpuPolls} × git fetch --porcelain, one after each poll`, fetchCpu),
        [row(`gitopsd daemon, ${cpuPolls} polls (interval ${INTERVAL_SEC} s)`, daemonCpu), ...floorRows],
        'ratio <= 1.2',
      ),
      '',
      `The floors, own CPU and their git's: ${[...floorCpu]
        .map(([mode, c]) => `${mode} ${Math.round(c.ownMs)} + ${c.childrenMs} ms`)
        .join('; ')}; the daemon ${ownAtLast - ownAtFirst} + ${daemonCpu - (ownAtLast - ownAtFirst)} ms.`,
      '',
      table(
        `B11 the same polls against the daemon's own git command (CPU, ms)`,
        row(`${cpuPolls} × git fetch --porcelain --no-auto-maintenance, one after each poll`, sameCpu),
        [row(`gitopsd daemon, ${cpuPolls} polls`, daemonCpu)],
      ),
      '',
      table(
        `B11 memory of the daemon after ${rssPolls} polls (MiB)`,
        row('node -e "setInterval(()=>{},1e6)" VmRSS', nodeMem.rss),
        [row('gitopsd daemon VmRSS', mem.rss), row('gitopsd daemon VmHWM (peak)', mem.peak)],
        undefined,
        { unit: 'MiB' },
      ),
      '',
      `Of the daemon's ${daemonCpu} ms: the daemon process itself ${ownAtLast - ownAtFirst} ms (node: timers, the host lock, the state read, execa, spawning, the log line), its git processes ${daemonCpu - (ownAtLast - ownAtFirst)} ms (the plain baseline's git: ${fetchCpu} ms; the same command as the daemon's: ${sameCpu} ms).`,
      '',
      `daemon started as gitopsd.service starts it: \`node ${daemonArgv()
        .map((a) => (a.startsWith('/') ? a.split('/').slice(-2).join('/') : a))
        .join(' ')}\``,
      '',
      `poll decisions: ${[...decisions].map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ].join('\n');
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [
        `B11 CPU ratio ${ratio.toFixed(2)} over ${cpuPolls} polls (target <= 1.2): ${ratio <= 1.2 ? 'met' : 'NOT met'}; against the daemon's own git command (--no-auto-maintenance) ${sameRatio.toFixed(2)}; floors: spawn ${floorRatio('spawn')}, execa ${floorRatio('execa')}`,
        `B11 daemon VmRSS after ${rssPolls} polls ${mem.rss.toFixed(1)} MiB vs idle node ${nodeMem.rss.toFixed(1)} MiB (ratio ${(mem.rss / nodeMem.rss).toFixed(2)})`,
      ],
    };
  },
};
