/**
 * B1: `gitopsd status --json` cold start on a simulated host (one installed
 * generation, nix-config checkout, no state yet) against `node -e 0`.
 * Target: ratio <= 2.0.
 */
import { join } from 'node:path';
import { cmd, stats, table, time } from './lib.js';
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
    const base = stats(await time('node -e 0', cmd('node', ['-e', '0']), { runs }));
    const status = stats(
      await time(
        'gitopsd status --json',
        cmd('node', [gitopsdBin(), 'status', '--json', '--config', h.config], { env }),
        {
          runs,
        },
      ),
    );
    const ratio = status.medianMs / base.medianMs;
    const md = table(`B1 ${this.title}`, base, [status], 'ratio <= 2.0');
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [`B1 ratio ${ratio.toFixed(2)} (target <= 2.0): ${ratio <= 2 ? 'met' : 'NOT met'}`],
    };
  },
};
