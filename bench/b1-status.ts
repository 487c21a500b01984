/**
 * B1: `gitopsd status --json` cold start on a simulated host (one installed
 * generation, nix-config checkout, no state yet) against `node -e 0`.
 * Target (issue 19): ratio <= 1.5. Wall time and CPU time (user + system,
 * which the machine's load does not inflate) are both reported; the verdict
 * is on wall time, as the target is written, and the CPU ratio is printed
 * beside it. The two sides run interleaved, one run of each in turn.
 */
import { join } from 'node:path';
import { cmd, cpuStats, stats, table, timeInterleaved } from './lib.js';
import { gitopsdBin, runsFor, type Benchmark } from './common.js';
import { createFleet } from '../test/harness/fleet.js';

export const b1: Benchmark = {
  id: 'B1',
  title: '`gitopsd status --json` cold start',
  async run(dir) {
    const fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['b1'] });
    const h = fleet.hosts[0];
    if (h === undefined) throw new Error('B1: no host');
    const runs = runsFor(10);
    const env = { ...h.sim.env, GITOPSD_CONFIG: undefined };
    // Interleaved (bench/lib.ts timeInterleaved): a load that moves during
    // the run moves both sides alike.
    const [baseSample, statusSample] = await timeInterleaved(
      [
        { name: 'node -e 0', fn: cmd('node', ['-e', '0']) },
        {
          name: 'gitopsd status --json',
          fn: cmd('node', [gitopsdBin(), 'status', '--json', '--config', h.config], { env }),
        },
      ],
      { runs },
    );
    if (baseSample === undefined || statusSample === undefined) throw new Error('B1: no sample');
    const [base, status] = [stats(baseSample), stats(statusSample)];
    const [baseCpu, statusCpu] = [cpuStats(baseSample), cpuStats(statusSample)];
    const ratio = status.medianMs / base.medianMs;
    const cpuRatio = statusCpu.medianMs / baseCpu.medianMs;
    const md = [
      table(`B1 ${this.title}`, base, [status], 'ratio <= 1.5'),
      '',
      table(`B1 CPU time (user + system, clock ticks of 10 ms)`, baseCpu, [statusCpu]),
    ].join('\n');
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [
        `B1 ratio ${ratio.toFixed(2)} (target <= 1.5): ${ratio <= 1.5 ? 'met' : 'NOT met'}; CPU ratio ${cpuRatio.toFixed(2)}`,
      ],
    };
  },
};
