/**
 * B10: convergence of a rollout in waves, 100 simulated hosts in 4 waves
 * (bench/rollout-sim.ts: the real policy parser and decideGate, a simulated
 * publish loop and clock; no git, no nix). Reported per scenario: rounds and
 * simulated time until every host runs the commit, hosts that ran a bad
 * commit per wave, and the wall time of one round of 100 gate decisions.
 * Baseline: no gate (every host deploys at its first run), the nightly
 * behaviour before issue 16. Targets: a good commit reaches all 100 hosts;
 * zero hosts beyond a failing wave.
 */
import { stats, table } from './lib.js';
import type { Benchmark } from './common.js';
import { B10_FLEET, hostName, simulateRollout, type SimResult } from './rollout-sim.js';

const describe = (r: SimResult): string =>
  `${r.rounds === null ? 'not all hosts' : `all 100 hosts after ${r.rounds} round(s) (${((r.minutes ?? 0) / 60).toFixed(2)} h simulated)`}; ran it per wave: ${r.exposedByWave.join('/')}; failed per wave: ${r.failedByWave.join('/')}`;

export const b10: Benchmark = {
  id: 'B10',
  title: 'rollout in waves: 100 simulated hosts in 4 waves (5/15/30/50), one run every 15 simulated minutes',
  run() {
    const good = simulateRollout({ ...B10_FLEET });
    const goodNoGate = simulateRollout({ ...B10_FLEET, noGate: true });
    const breaksAll = simulateRollout({ ...B10_FLEET, breaksOn: () => true });
    const breaksAllNoGate = simulateRollout({ ...B10_FLEET, breaksOn: () => true, noGate: true });
    // A commit that breaks only the hardware of waves 1 and later (wave 0 is fine on it).
    const breaksWave1 = simulateRollout({ ...B10_FLEET, breaksOn: (_h, w) => w >= 1 });
    const staleCanary = simulateRollout({ ...B10_FLEET, silent: [{ host: hostName(0), from: 1 }], maxRounds: 40 });

    const beyond = (r: SimResult, failing: number): number =>
      r.exposedByWave.slice(failing + 1).reduce((a, b) => a + b, 0);
    const rows = [
      ['good commit, gate', describe(good)],
      ['good commit, no gate (baseline)', describe(goodNoGate)],
      ['breaks every host, gate', `${describe(breaksAll)}; hosts beyond wave 0: ${beyond(breaksAll, 0)}`],
      ['breaks every host, no gate (baseline)', describe(breaksAllNoGate)],
      ['breaks waves >= 1 only, gate', `${describe(breaksWave1)}; hosts beyond wave 1: ${beyond(breaksWave1, 1)}`],
      [
        'good commit, one canary silent from round 1',
        `${describe(staleCanary)}; after 40 rounds: ${staleCanary.onNew.at(-1) ?? 0} hosts on it; wave-1 line: "${staleCanary.lastLines[1] ?? ''}"`,
      ],
    ];
    const head = [
      `## B10 ${this.title}`,
      '',
      '| scenario | result |',
      '| --- | --- |',
      ...rows.map(([a, b]) => `| ${a} | ${b} |`),
    ];
    process.stdout.write(`${head.join('\n')}\n\n`);
    const decide = stats({ name: 'gate decisions of one round (up to 100 hosts), gate on', runs: good.decideMs });
    const md = [
      ...head,
      '',
      `exposure to a commit that breaks every host: ${breaksAll.exposedByWave.reduce((a, b) => a + b, 0)} hosts with the gate, ${breaksAllNoGate.exposedByWave.reduce((a, b) => a + b, 0)} without (ratio ${(breaksAll.exposedByWave.reduce((a, b) => a + b, 0) / breaksAllNoGate.exposedByWave.reduce((a, b) => a + b, 0)).toFixed(2)})`,
      `time to full rollout of a good commit: ${good.rounds ?? '-'} rounds with the gate, ${goodNoGate.rounds ?? '-'} without (ratio ${((good.rounds ?? NaN) / (goodNoGate.rounds ?? NaN)).toFixed(2)})`,
      '',
      table('B10 wall time of the pure gate (real, per round)', null, [decide], undefined, { unit: 'ms' }),
      '',
      'Simulated: the clock, the runs and publishes, deploys and failures. Real: gitopsd-rollout.json parsing and decideGate.',
    ].join('\n');
    const zeroBeyond = beyond(breaksAll, 0) === 0 && beyond(breaksWave1, 1) === 0;
    return Promise.resolve({
      id: this.id,
      title: this.title,
      markdown: md,
      verdicts: [
        `B10 a good commit reached all 100 hosts: ${good.rounds === null ? 'NOT met' : `met (${good.rounds} rounds, ${((good.minutes ?? 0) / 60).toFixed(2)} h simulated)`}`,
        `B10 zero hosts beyond a failing wave: ${zeroBeyond ? 'met' : 'NOT met'}`,
      ],
    });
  },
};
