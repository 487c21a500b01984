/**
 * B2: `gitopsd upgrade` when nothing is new upstream, against `git fetch` of
 * the same repo (the host's nix-config checkout, from the same remote).
 * Every measured upgrade run writes the runner trace (GITOPSD_TRACE); the
 * nix invocations in it are counted (target: zero) and the processes per
 * program are reported. Target: ratio <= 1.5 and zero nix invocations.
 */
import { join } from 'node:path';
import { cmd, stats, table, time } from './lib.js';
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
    const base = stats(
      await time('git fetch (same repo)', cmd('git', ['-C', repo, 'fetch', '--no-tags', '--quiet', 'origin']), {
        runs,
      }),
    );
    const upgrade = stats(
      await time(
        'gitopsd upgrade (no-op)',
        cmd('node', [gitopsdBin(), 'upgrade', '--config', h.config], {
          env: { ...h.sim.env, GITOPSD_CONFIG: undefined, GITOPSD_TRACE: trace },
        }),
        { runs, warmup: 1 },
      ),
    );
    const cmds = await readTrace(trace);
    const perRun = cmds.length / (runs + 1);
    const nix = cmds.filter((c) => NIX_PROGRAMS.has(c.cmd)).length;
    const ratio = upgrade.medianMs / base.medianMs;
    const md = [
      table(`B2 ${this.title}`, base, [upgrade], 'ratio <= 1.5, and zero nix invocations'),
      '',
      `nix invocations in the ${runs + 1} traced runs (warm-up included): **${nix}**`,
      `processes per run: ${perRun.toFixed(0)} (${countByProgram(cmds.slice(0, perRun))})`,
      `fixed cost over the fetch: ${(upgrade.medianMs - base.medianMs).toFixed(0)} ms`,
    ].join('\n');
    process.stdout.write(`${md.split('\n').slice(-3).join('\n')}\n\n`);
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [
        `B2 nix invocations ${nix} (target 0): ${nix === 0 ? 'met' : 'NOT met'}`,
        `B2 ratio ${ratio.toFixed(2)} (target <= 1.5): ${ratio <= 1.5 ? 'met' : 'NOT met'}`,
      ],
    };
  },
};
