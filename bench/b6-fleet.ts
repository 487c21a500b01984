/**
 * B6: fleet convergence. 20 simulated hosts share one dotfiles remote; in
 * each run every host edits its own managed file (a distinct edit), then the
 * hosts run `gitopsd sync` one after another (a round), for up to 3 rounds.
 * After each round every host's $HOME is checked for all 20 edits.
 * Reported: the rounds until every edit is on every host (target: within 2)
 * and the seconds per round. No baseline.
 */
import { join } from 'node:path';
import { stats, table } from './lib.js';
import { gitopsd, runsFor, type Benchmark } from './common.js';
import { createFleet, DEFAULT_DOTFILES, type FleetHost } from '../test/harness/fleet.js';

const HOSTS = 20;
const MAX_ROUNDS = 3;

const names = Array.from({ length: HOSTS }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
const line = (host: string, run: number): string => `edited on ${host} in run ${run}`;

async function hasAll(h: FleetHost, run: number): Promise<boolean> {
  for (const n of names) {
    const text = await h.readHome(`.config/fleet/${n}.conf`);
    if (text === null || !text.includes(line(n, run))) return false;
  }
  return true;
}

export const b6: Benchmark = {
  id: 'B6',
  title: `fleet convergence: ${HOSTS} hosts, each with a distinct edit, syncing in turn`,
  async run(dir) {
    const dotfiles: Record<string, string> = { ...DEFAULT_DOTFILES };
    for (const n of names) dotfiles[`dot_config/fleet/${n}.conf`] = `# settings of ${n}\n`;
    const fleet = await createFleet({ dir: join(dir, 'fleet'), names, dotfiles });
    for (const h of fleet.hosts) await gitopsd(['sync', '--config', h.config], { env: h.sim.env });

    const roundMs: number[][] = Array.from({ length: MAX_ROUNDS }, () => []);
    const roundsNeeded: number[] = [];
    const runs = runsFor(5);
    for (let run = 1; run <= runs; run++) {
      for (const h of fleet.hosts)
        await h.editHome(`.config/fleet/${h.name}.conf`, `# settings of ${h.name}\n${line(h.name, run)}\n`);
      let converged = 0;
      for (let round = 1; round <= MAX_ROUNDS && converged === 0; round++) {
        const t0 = performance.now();
        for (const h of fleet.hosts) await gitopsd(['sync', '--config', h.config], { env: h.sim.env });
        roundMs[round - 1]?.push(performance.now() - t0);
        let all = true;
        for (const h of fleet.hosts) all = all && (await hasAll(h, run));
        if (all) converged = round;
      }
      roundsNeeded.push(converged === 0 ? Infinity : converged);
      process.stdout.write(
        `B6 run ${run}: ${converged === 0 ? `not converged after ${MAX_ROUNDS} rounds` : `converged in ${converged} round(s)`}\n`,
      );
    }
    const rows = roundMs
      .map((ms, i) => ({ ms, i }))
      .filter((r) => r.ms.length > 0)
      .map((r) => stats({ name: `round ${r.i + 1} (${HOSTS} syncs)`, runs: r.ms.map((x) => x / 1000) }));
    const worst = Math.max(...roundsNeeded);
    const md = [
      table(`B6 ${this.title}`, null, rows, 'all edits on all hosts within 2 rounds; seconds per round', { unit: 's' }),
      '',
      `rounds until every edit was on every host, per run: ${roundsNeeded.join(', ')}`,
    ].join('\n');
    process.stdout.write(`${md.split('\n').at(-1)}\n\n`);
    return {
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [`B6 converged within ${worst} round(s) in every run (target <= 2): ${worst <= 2 ? 'met' : 'NOT met'}`],
    };
  },
};
