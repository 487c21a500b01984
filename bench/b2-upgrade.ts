/**
 * B2: `gitopsd upgrade` when nothing is new upstream, against `node -e 0`
 * plus `git fetch` of the same repo (the host's nix-config checkout, from the
 * same remote), both measured in this run. Every measured upgrade run writes
 * the runner trace (GITOPSD_TRACE); the nix invocations in it are counted
 * and the processes per program are reported. Target (issue 19): ratio
 * <= 1.3, zero nix invocations, at most one git process. Wall time and CPU
 * time (user + system, not inflated by the machine's load) are both reported.
 * The commands run interleaved, one run of each in turn.
 *
 * Two floors run in the same rounds (bench/floor/): a node program that only
 * spawns the same fetch with node's child_process, and one that loads execa
 * from the measured build's code cache, as the lean upgrade does, and runs
 * the fetch through it. The second is what any command on gitopsd's runner
 * (execa, a required library: src/core/runner.ts) costs before gitopsd
 * does anything of its own; its ratio shows how much of the target is left
 * for that work.
 */
import { dirname, join } from 'node:path';
import { cmd, cpuStats, stats, table, timeInterleaved, type Stats } from './lib.js';
import { countByProgram, gitopsd, gitopsdBin, NIX_PROGRAMS, readTrace, runsFor, type Benchmark } from './common.js';
import { createFleet } from '../test/harness/fleet.js';

export const b2: Benchmark = {
  id: 'B2',
  title: '`gitopsd upgrade` no-op (nothing new upstream)',
  async run(dir) {
    const fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['b2'] });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('B2: no host');
    // The first upgrade records the installed generation as deployed; from
    // then on nothing is new upstream.
    await gitopsd(['upgrade', '--config', h.config], { env: h.sim.env });
    const trace = join(dir, 'upgrade.trace');
    const runs = runsFor(10);
    const repo = h.sim.paths.nixConfigDir;
    // Interleaved (bench/lib.ts timeInterleaved): a load that moves during
    // the run moves all three alike. The warm-up run of each is not timed.
    const floor = (f: string): string => join(import.meta.dirname, 'floor', f);
    const dist = join(dirname(gitopsdBin()), '..', 'dist');
    const [nodeSample, fetchSample, spawnSample, execaSample, upgradeSample] = await timeInterleaved(
      [
        { name: 'node -e 0', fn: cmd('node', ['-e', '0']) },
        { name: 'git fetch (same repo)', fn: cmd('git', ['-C', repo, 'fetch', '--no-tags', '--quiet', 'origin']) },
        { name: 'floor: node, the fetch by child_process.spawn', fn: cmd('node', [floor('fetch-spawn.mjs'), repo]) },
        {
          name: 'floor: node, execa from the code cache, the fetch through it',
          fn: cmd('node', [floor('fetch-execa.mjs'), dist, repo]),
        },
        {
          name: 'gitopsd upgrade (no-op)',
          fn: cmd('node', [gitopsdBin(), 'upgrade', '--config', h.config], {
            env: { ...h.sim.env, GITOPSD_CONFIG: undefined, GITOPSD_TRACE: trace },
          }),
        },
      ],
      { runs },
    );
    if (
      nodeSample === undefined ||
      fetchSample === undefined ||
      spawnSample === undefined ||
      execaSample === undefined ||
      upgradeSample === undefined
    ) {
      throw new Error('B2: no sample');
    }
    // The baseline is the sum of the two medians: what the no-op must do at
    // least (start node, fetch once).
    const sum = (name: string, a: Stats, b: Stats): Stats => ({
      name,
      n: Math.min(a.n, b.n),
      medianMs: a.medianMs + b.medianMs,
      minMs: a.minMs + b.minMs,
      maxMs: a.maxMs + b.maxMs,
    });
    const base = sum('node -e 0 + git fetch (sum of medians)', stats(nodeSample), stats(fetchSample));
    const baseCpu = sum('node -e 0 + git fetch (CPU)', cpuStats(nodeSample), cpuStats(fetchSample));
    const upgrade = stats(upgradeSample);
    const upgradeCpu = cpuStats(upgradeSample);
    const cmds = await readTrace(trace);
    const perRun = cmds.length / (runs + 1);
    const nix = cmds.filter((c) => NIX_PROGRAMS.has(c.cmd)).length;
    const ratio = upgrade.medianMs / base.medianMs;
    const cpuRatio = upgradeCpu.medianMs / baseCpu.medianMs;
    const gitPerRun = cmds.filter((c) => c.cmd === 'git').length / (runs + 1);
    const md = [
      table(
        `B2 ${this.title}`,
        base,
        [stats(nodeSample), stats(fetchSample), stats(spawnSample), stats(execaSample), upgrade],
        'ratio <= 1.3, zero nix invocations, at most 1 git process',
      ),
      '',
      table('B2 CPU time (user + system, clock ticks of 10 ms)', baseCpu, [
        cpuStats(spawnSample),
        cpuStats(execaSample),
        upgradeCpu,
      ]),
      '',
      `nix invocations in the ${runs + 1} traced runs (warm-up included): **${nix}**`,
      `processes per run: ${perRun.toFixed(0)} (${countByProgram(cmds.slice(0, perRun))})`,
      `fixed cost over the fetch: ${(upgrade.medianMs - base.medianMs).toFixed(0)} ms; the execa floor's ${(stats(execaSample).medianMs - base.medianMs).toFixed(0)} ms, ratio ${(stats(execaSample).medianMs / base.medianMs).toFixed(2)}`,
    ].join('\n');
    process.stdout.write(`${md.split('\n').slice(-3).join('\n')}\n\n`);
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [
        `B2 nix invocations ${nix} (target 0): ${nix === 0 ? 'met' : 'NOT met'}`,
        `B2 ratio ${ratio.toFixed(2)} (target <= 1.3): ${ratio <= 1.3 ? 'met' : 'NOT met'}; CPU ratio ${cpuRatio.toFixed(2)}; floors: spawn ${(stats(spawnSample).medianMs / base.medianMs).toFixed(2)}, execa ${(stats(execaSample).medianMs / base.medianMs).toFixed(2)}`,
        `B2 git processes per run ${gitPerRun.toFixed(1)} (target <= 1): ${gitPerRun <= 1 ? 'met' : 'NOT met'}`,
      ],
    };
  },
};
