/**
 * B8: `gitopsd fleet status --json` with 1,000 hosts' status refs at the
 * remote (issue 15, "At 1,000 hosts"). The remote is seeded with one
 * `git fast-import` (bench/fleet-scale.ts seedRemote): 1,000 parentless
 * commits, each of a status.json made from a real gitopsd document with its
 * own host name, plus a `main`. B9 measures the publishing itself.
 *
 * - Cold: a fresh reader (its stateDir's fleet/view.git removed before each
 *   run) against `node -e 0` followed by a plain `git fetch` of
 *   `refs/gitopsd/status/*` into an empty bare repository (made before the
 *   timed part). Warm: the same with nothing new at the remote. Each pair
 *   runs interleaved, one run of each side in turn. Target: ratio <= 1.5.
 *   The warm rounds also time a floor (bench/floor/fetch-execa.mjs): node,
 *   execa loaded as gitopsd loads it, and the reader's own fetch through it,
 *   so the part of the warm read that is gitopsd's own work is printed.
 * - A host's `git fetch` of main (a clone of main, nothing new) from the
 *   remote with the 1,000 status refs against the same remote without them:
 *   with protocol v2 the server lists only the refs the refspec asks for.
 *   The same fetch with protocol v0 (every ref advertised) is shown for
 *   contrast.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cmd, cpuStats, stats, table, time, timeInterleaved, type Stats } from './lib.js';
import { countByProgram, describeCommand, gitopsdBin, readTrace, runsFor, type Benchmark } from './common.js';
import { createBareRemote, git, hostName, seedRemote, templateStatus } from './fleet-scale.js';
import { execa } from 'execa';
import { statusFetchArgs } from '../src/fleet/git.js';

const envInt = (name: string, def: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : def;
};

interface View {
  hosts: { host: string; state: string }[];
  counts: Record<string, number>;
}

export const b8: Benchmark = {
  id: 'B8',
  title: 'fleet status --json at 1,000 hosts; a host fetch of main with and without the status refs',
  async run(dir) {
    const n = envInt('GITOPSD_BENCH_HOSTS', 1000);
    const runs = runsFor(5);
    const template = await templateStatus(dir);
    const names = Array.from({ length: n }, (_, i) => hostName(i));
    const remote = await createBareRemote(join(dir, 'status.git'));
    await seedRemote(remote, { hosts: names, template, main: true, at: new Date() });
    const bare = await createBareRemote(join(dir, 'main-only.git'));
    await seedRemote(bare, { hosts: [], template: null, main: true, at: new Date() });

    // The reader: a person's or a monitoring host's config, nothing cached.
    const reader = join(dir, 'reader');
    await mkdir(reader, { recursive: true });
    const config = join(reader, 'config.json');
    const stateDir = join(reader, 'state');
    await writeFile(
      config,
      `${JSON.stringify({ hostname: 'reader', stateDir, nixConfig: { path: join(reader, 'nix-config') } }, null, 2)}\n`,
    );
    let lastOut = '';
    const fleetStatus = async (env: Record<string, string> = {}): Promise<void> => {
      const r = await execa(
        'node',
        [gitopsdBin(), 'fleet', 'status', '--json', '--remote', remote, '--config', config],
        {
          reject: false,
          env: { GITOPSD_CONFIG: undefined, ...env },
          stdin: 'ignore',
          timeout: 300_000,
        },
      );
      if (r.exitCode !== 0 && r.exitCode !== 1) {
        throw new Error(`gitopsd fleet status exited ${String(r.exitCode)}: ${String(r.stderr).slice(-500)}`);
      }
      lastOut = String(r.stdout);
    };
    const freshReader = async (): Promise<void> => {
      await rm(join(stateDir, 'fleet'), { recursive: true, force: true });
    };
    const plainRepo = join(dir, 'plain-reader.git');
    const emptyRepo = async (): Promise<void> => {
      await rm(plainRepo, { recursive: true, force: true });
      await git(['init', '-q', '--bare', plainRepo]);
    };
    const plainFetch = [
      '--git-dir',
      plainRepo,
      'fetch',
      '--quiet',
      '--no-tags',
      remote,
      '+refs/gitopsd/status/*:refs/fleet/refs/*',
    ];
    const baseline = async (): Promise<void> => {
      await cmd('node', ['-e', '0'])();
      await git(plainFetch);
    };

    // Interleaved (bench/lib.ts timeInterleaved): a load that moves during
    // the run moves both sides alike. The cold runs' `before` hooks empty
    // the plain repository and the reader's cache, outside the timed region.
    let coldView: View | undefined;
    const [coldBaseS, coldGitopsdS] = await timeInterleaved(
      [
        {
          name: 'node -e 0 + git fetch refs/gitopsd/status/* into an empty repo',
          fn: baseline,
          before: emptyRepo,
        },
        {
          name: 'gitopsd fleet status --json (fresh reader)',
          fn: async () => {
            await fleetStatus();
            coldView = JSON.parse(lastOut) as View;
          },
          before: freshReader,
        },
      ],
      { runs },
    );
    // The floor of the warm read: node, execa from the code cache, and the
    // reader's own fetch (src/fleet/git.ts statusFetchArgs) into
    // a reftable repository of its own, filled once before the timed runs.
    // What the warm read costs above it is gitopsd's: config, the view, the
    // documents, the rows and the output (bench/floor/fetch-execa.mjs).
    const floorRepo = join(dir, 'floor-view.git');
    await git(['init', '-q', '--bare', '--ref-format=reftable', floorRepo]);
    const readerFetch = ['-c', 'protocol.version=2', '--git-dir', floorRepo, ...statusFetchArgs(remote)];
    const floorCmd = cmd('node', [
      join(import.meta.dirname, 'floor', 'fetch-execa.mjs'),
      join(dirname(gitopsdBin()), '..', 'dist'),
      '--git',
      ...readerFetch,
    ]);
    await floorCmd();
    // Warm: both repositories hold every ref already (the last cold run of each).
    const [warmBaseS, warmGitopsdS, warmFloorS] = await timeInterleaved(
      [
        { name: 'node -e 0 + git fetch (nothing new)', fn: baseline },
        { name: 'gitopsd fleet status --json (nothing new)', fn: () => fleetStatus() },
        { name: "floor: node, execa from the code cache, the reader's fetch through it", fn: floorCmd },
      ],
      { runs },
    );
    const warmView = JSON.parse(lastOut) as View;
    if (
      coldBaseS === undefined ||
      coldGitopsdS === undefined ||
      warmBaseS === undefined ||
      warmGitopsdS === undefined ||
      warmFloorS === undefined
    ) {
      throw new Error('B8: no sample');
    }
    if (coldView === undefined) throw new Error('B8: no cold read');
    const [coldBase, coldGitopsd, warmBase, warmGitopsd] = [coldBaseS, coldGitopsdS, warmBaseS, warmGitopsdS].map(
      stats,
    ) as [Stats, Stats, Stats, Stats];
    // CPU time (user + sys of the processes each run started): it grows less with the machine's load than wall time.
    const cpu = [coldBaseS, coldGitopsdS, warmBaseS, warmGitopsdS].map(cpuStats) as [Stats, Stats, Stats, Stats];

    // Where a cold read's time goes.
    await freshReader();
    const trace = join(dir, 'trace.jsonl');
    const t0 = performance.now();
    await fleetStatus({ GITOPSD_TRACE: trace });
    const tracedMs = performance.now() - t0;
    const cmds = await readTrace(trace);
    const inCmds = cmds.reduce((a, x) => a + (x.durationMs ?? 0), 0);

    // A host's fetch of main: a clone of main from each remote (nothing new at the timed fetch).
    const clone = async (from: string, to: string): Promise<string> => {
      await git(['clone', '-q', '--single-branch', '--branch', 'main', from, to]);
      return to;
    };
    const withRefs = await clone(remote, join(dir, 'host-with-refs'));
    const without = await clone(bare, join(dir, 'host-without-refs'));
    const fetchRuns = runsFor(10);
    const fetchMain = (repo: string, v: string) =>
      cmd('git', ['-c', `protocol.version=${v}`, '-C', repo, 'fetch', '--quiet', '--no-tags', 'origin'], { cwd: '/' });
    const mainBase = stats(
      await time('git fetch main, remote without status refs (v2)', fetchMain(without, '2'), { runs: fetchRuns }),
    );
    const mainWith = stats(
      await time(`git fetch main, remote with ${n} status refs (v2)`, fetchMain(withRefs, '2'), { runs: fetchRuns }),
    );
    const mainV0 = stats(
      await time(`git fetch main, remote with ${n} status refs (v0: every ref advertised)`, fetchMain(withRefs, '0'), {
        runs: fetchRuns,
      }),
    );
    // The advertisement itself, in bytes (what v2 spares a host).
    const adv = async (v: string): Promise<number> =>
      Buffer.byteLength(await git(['-c', `protocol.version=${v}`, 'ls-remote', remote]));
    const lsV0 = await adv('0');
    const lsMain = Buffer.byteLength(await git(['-c', 'protocol.version=2', 'ls-remote', remote, 'refs/heads/main']));

    const ratioCold = coldGitopsd.medianMs / coldBase.medianMs;
    const ratioWarm = warmGitopsd.medianMs / warmBase.medianMs;
    const warmFloor = stats(warmFloorS);
    const ratioMain = mainWith.medianMs / mainBase.medianMs;
    const view = (label: string, v: View): string =>
      `${label}: ${v.hosts.length} rows, ${v.hosts.filter((r, i) => r.host === names[i]).length} naming the expected host in order; counts ${JSON.stringify(v.counts)}`;
    const md = [
      table(`B8 cold read of ${n} hosts' status`, coldBase, [coldGitopsd], 'ratio <= 1.5'),
      '',
      table(`B8 warm read of ${n} hosts' status (nothing new)`, warmBase, [warmGitopsd, warmFloor], 'ratio <= 1.5'),
      '',
      table(`B8 cold read, CPU time (user + sys of the processes of each run)`, cpu[0], [cpu[1]]),
      '',
      table(`B8 warm read, CPU time (user + sys of the processes of each run)`, cpu[2], [cpu[3]]),
      '',
      table(`B8 a host's git fetch of main (nothing new), remote on file://`, mainBase, [mainWith, mainV0]),
      '',
      view('cold view', coldView),
      view('warm view', warmView),
      `ls-remote output: ${lsV0} bytes for every ref (v0), ${lsMain} bytes for refs/heads/main (v2)`,
      '',
      `one more cold read, traced (GITOPSD_TRACE): ${tracedMs.toFixed(0)} ms wall, ${cmds.length} processes (${countByProgram(cmds)}), ${inCmds} ms in them; the rest (${(tracedMs - inCmds).toFixed(0)} ms) is node start-up, config, parsing and validating ${n} documents and the output:`,
      '',
      ...cmds.map(
        (x) =>
          `    ${describeCommand({ ...x, args: x.args.filter((a, i, all) => a !== '-c' && all[i - 1] !== '-c') })}`,
      ),
    ].join('\n');
    process.stdout.write(`${md.slice(md.indexOf('cold view'))}\n\n`);
    const good = coldView.hosts.length === n && warmView.hosts.length === n;
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [
        `B8 cold read ratio ${ratioCold.toFixed(2)} (${(coldGitopsd.medianMs / 1000).toFixed(2)} s; target <= 1.5): ${ratioCold <= 1.5 ? 'met' : 'NOT met'}`,
        `B8 warm read ratio ${ratioWarm.toFixed(2)} (target <= 1.5): ${ratioWarm <= 1.5 ? 'met' : 'NOT met'}; floor (node, execa, the reader's fetch) ${(warmFloor.medianMs / warmBase.medianMs).toFixed(2)}, gitopsd ${(warmGitopsd.medianMs - warmFloor.medianMs).toFixed(0)} ms above it`,
        `B8 CPU ratios: cold ${(cpu[1].medianMs / cpu[0].medianMs).toFixed(2)} (${cpu[1].medianMs.toFixed(0)} vs ${cpu[0].medianMs.toFixed(0)} ms), warm ${(cpu[3].medianMs / cpu[2].medianMs).toFixed(2)} (${cpu[3].medianMs.toFixed(0)} vs ${cpu[2].medianMs.toFixed(0)} ms)`,
        `B8 ${n} rows read: ${good ? 'yes' : 'NO'}`,
        `B8 fetch of main with/without ${n} status refs (v2): ratio ${ratioMain.toFixed(2)} (${mainWith.medianMs.toFixed(1)} vs ${mainBase.medianMs.toFixed(1)} ms)`,
      ],
    };
  },
};
