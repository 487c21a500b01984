/**
 * B3 and B4: `gitopsd sync` on a dotfiles repo of 1,000 managed files, with
 * 10 files edited in $HOME (B3) or none (B4), against bench/baseline-sync.sh
 * (the bare jj and chezmoi commands a sync needs) on an identical host of
 * its own (own remote), so neither side integrates the other's commits.
 * The two sides run interleaved (bench/lib.ts timeInterleaved). Each run's
 * edits are written in the `before` hook, outside the timed
 * region. B4 also checks that nothing was committed or pushed: the remote's
 * refs and the set of visible commits of each source dir are unchanged.
 * Targets: ratio <= 1.3 (B3 and B4); B4 no commit and no push.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { cmd, cpuStats, stats, table, timeInterleaved, type Stats } from './lib.js';
import {
  countByProgram,
  describeCommand,
  gitopsd,
  gitopsdBin,
  readTrace,
  runsFor,
  type Benchmark,
  type BenchResult,
} from './common.js';
import { createFleet, type FleetHost } from '../test/harness/fleet.js';

const FILES = 1000;
const EDITED = 10;
const BASELINE = join(import.meta.dirname, 'baseline-sync.sh');

const target = (i: number): string => `.config/bench/f${String(i).padStart(4, '0')}.conf`;

function dotfiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++)
    files[`dot_config/bench/f${String(i).padStart(4, '0')}.conf`] = `# file ${i}\nkey = ${i}\n`;
  return files;
}

async function host(dir: string, name: string): Promise<{ h: FleetHost; remote: string }> {
  const fleet = await createFleet({ dir: join(dir, name), names: [name], dotfiles: dotfiles() });
  const h = fleet.hosts[0];
  if (h === undefined) throw new Error(`${name}: no host`);
  // Bootstrap: clone the source dir with jj and apply the 1,000 files.
  await gitopsd(['sync', '--config', h.config], { env: h.sim.env });
  return { h, remote: fleet.dotfilesUrl };
}

/** `run` distinct files edited with content unique to the run. */
function editor(h: FleetHost, side: string): () => Promise<void> {
  let run = 0;
  return async () => {
    run += 1;
    for (let k = 0; k < EDITED; k++) {
      const i = (run * 131 + k * 97) % FILES;
      await h.editHome(target(i), `# file ${i}\nkey = ${i}\n# edited by ${side}, run ${run}\n`);
    }
  };
}

async function remoteRefs(h: FleetHost, remote: string): Promise<string> {
  return String((await execa('git', ['-C', remote, 'for-each-ref'])).stdout);
}

async function visibleCommits(h: FleetHost): Promise<string> {
  const r = await execa('jj', [
    '--no-pager',
    '--ignore-working-copy',
    '-R',
    h.sourceDir,
    'log',
    '--no-graph',
    '-r',
    'all()',
    '-T',
    'commit_id ++ "\\n"',
  ]);
  return String(r.stdout).split('\n').sort().join('\n');
}

interface Pair {
  g: FleetHost;
  b: FleetHost;
  gRemote: string;
  bRemote: string;
}

async function setup(dir: string): Promise<Pair> {
  const g = await host(dir, 'gitopsd');
  const b = await host(dir, 'baseline');
  return { g: g.h, b: b.h, gRemote: g.remote, bRemote: b.remote };
}

async function measure(
  p: Pair,
  dir: string,
  edits: boolean,
  runs: number,
): Promise<{
  base: Stats;
  sync: Stats;
  baseCpu: Stats;
  syncCpu: Stats;
  perRun: string;
  processes: number;
  childMs: number;
  lines: string[];
}> {
  const chezmoiCfg = (h: FleetHost): string => join(h.home, '.config', 'chezmoi', 'chezmoi.toml');
  const trace = join(dir, `sync-${edits ? 'b3' : 'b4'}.trace`);
  // Interleaved (bench/lib.ts timeInterleaved): a load that moves during the
  // minutes this takes moves both sides alike.
  const [baseSample, syncSample] = await timeInterleaved(
    [
      {
        name: 'baseline-sync.sh',
        fn: cmd(BASELINE, [p.b.sourceDir, p.b.home, chezmoiCfg(p.b), 'baseline']),
        ...(edits ? { before: editor(p.b, 'baseline') } : {}),
      },
      {
        name: 'gitopsd sync',
        fn: cmd('node', [gitopsdBin(), 'sync', '--config', p.g.config], {
          env: { ...p.g.sim.env, GITOPSD_CONFIG: undefined, GITOPSD_TRACE: trace },
        }),
        ...(edits ? { before: editor(p.g, 'gitopsd') } : {}),
      },
    ],
    { runs },
  );
  if (baseSample === undefined || syncSample === undefined) throw new Error('B3/B4: no samples');
  const [base, sync] = [stats(baseSample), stats(syncSample)];
  const [baseCpu, syncCpu] = [cpuStats(baseSample), cpuStats(syncSample)];
  // The trace holds the warm-up run too: report one measured run (the last).
  const cmds = await readTrace(trace);
  const pids = [...new Set(cmds.map((c) => c.pid))];
  const last = cmds.filter((c) => c.pid === pids.at(-1));
  const childMs = last.reduce((a, c) => a + (c.durationMs ?? 0), 0);
  return {
    base,
    sync,
    baseCpu,
    syncCpu,
    perRun: countByProgram(last),
    processes: last.length,
    childMs,
    lines: last.map((c) => `    ${describeCommand(c)}`),
  };
}

/** The verdict is on wall time, as the target is written; the CPU ratio (which the load does not inflate) beside it. */
function verdict(id: string, m: { base: Stats; sync: Stats; baseCpu: Stats; syncCpu: Stats }): string {
  const ratio = m.sync.medianMs / m.base.medianMs;
  const cpu = m.syncCpu.medianMs / m.baseCpu.medianMs;
  return `${id} ratio ${ratio.toFixed(2)} (target <= 1.3): ${ratio <= 1.3 ? 'met' : 'NOT met'}; CPU ratio ${cpu.toFixed(2)}`;
}

const cpuTable = (id: string, m: { baseCpu: Stats; syncCpu: Stats }): string =>
  table(`${id} CPU time (user + system of all processes, clock ticks of 10 ms)`, m.baseCpu, [m.syncCpu]);

export const b3: Benchmark = {
  id: 'B3',
  title: `\`gitopsd sync\`, ${FILES} managed files, ${EDITED} edited`,
  async run(dir): Promise<BenchResult> {
    const p = await setup(dir);
    const m = await measure(p, dir, true, runsFor(7));
    const md = [
      table(`B3 ${this.title}`, m.base, [m.sync], 'ratio <= 1.3'),
      '',
      cpuTable('B3', m),
      '',
      `processes per gitopsd sync: ${m.processes} (${m.perRun}); the baseline script runs 8`,
      `time in those processes (last run, from the trace): ${m.childMs} ms`,
      '',
      "the last run's commands (GITOPSD_TRACE):",
      '',
      ...m.lines,
    ].join('\n');
    process.stdout.write(`${md.slice(md.indexOf('processes per gitopsd sync'))}\n\n`);
    return { id: this.id, title: this.title, markdown: md, verdicts: [verdict('B3', m)] };
  },
};

export const b4: Benchmark = {
  id: 'B4',
  title: `\`gitopsd sync\`, ${FILES} managed files, no changes`,
  async run(dir): Promise<BenchResult> {
    const p = await setup(dir);
    const before = {
      gRefs: await remoteRefs(p.g, p.gRemote),
      bRefs: await remoteRefs(p.b, p.bRemote),
      gCommits: await visibleCommits(p.g),
      bCommits: await visibleCommits(p.b),
    };
    const m = await measure(p, dir, false, runsFor(7));
    const pushed = (await remoteRefs(p.g, p.gRemote)) !== before.gRefs;
    const committed = (await visibleCommits(p.g)) !== before.gCommits;
    const bPushed = (await remoteRefs(p.b, p.bRemote)) !== before.bRefs;
    const bCommitted = (await visibleCommits(p.b)) !== before.bCommits;
    const md = [
      table(`B4 ${this.title}`, m.base, [m.sync], 'ratio <= 1.3; no commit, no push'),
      '',
      cpuTable('B4', m),
      '',
      `gitopsd: remote refs ${pushed ? 'CHANGED' : 'unchanged'}, visible commits ${committed ? 'CHANGED' : 'unchanged'}; baseline: remote refs ${bPushed ? 'CHANGED' : 'unchanged'}, visible commits ${bCommitted ? 'CHANGED' : 'unchanged'}`,
      '',
      `processes per gitopsd sync: ${m.processes} (${m.perRun}); the baseline script runs 8`,
      `time in those processes (last run, from the trace): ${m.childMs} ms`,
      '',
      "the last run's commands (GITOPSD_TRACE):",
      '',
      ...m.lines,
    ].join('\n');
    process.stdout.write(`${md.slice(md.indexOf('processes per gitopsd sync'))}\n\n`);
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [verdict('B4', m), `B4 no commit, no push: ${!pushed && !committed ? 'met' : 'NOT met'}`],
    };
  },
};
