/**
 * The gate driven by a simulated publish loop (bench/rollout-sim.ts, also
 * B10): the real decideGate on 100 hosts in 4 waves, the clock injected.
 */
import { describe, it, expect } from 'vitest';
import { B10_FLEET, hostName, simulateRollout } from '../../../../bench/rollout-sim.js';

describe('rollout convergence (100 simulated hosts, 4 waves)', () => {
  it('a good commit reaches every host, wave after wave, each after its soak', () => {
    const r = simulateRollout({ ...B10_FLEET });
    // wave 0 at run 1; wave 1 once the canaries attest 60 min (run 5's publish) -> run 6;
    // wave 2 after 60 min of wave 1 -> run 11; the rest after 120 min of wave 2 -> run 20.
    expect(r.rounds).toBe(20);
    expect(r.onNew.slice(0, 6)).toEqual([5, 5, 5, 5, 5, 20]);
    expect(r.onNew[10]).toBe(50);
    expect(r.exposedByWave).toEqual([5, 15, 30, 50]);
  });

  it('a commit that breaks every host stops at wave 0', () => {
    const r = simulateRollout({ ...B10_FLEET, breaksOn: () => true });
    expect(r.rounds).toBeNull();
    expect(r.exposedByWave).toEqual([5, 0, 0, 0]);
    expect(r.lastLines[1]).toMatch(/^halted: cccccccc is known bad on h000 \(post-switch-failed\)/);
  });

  it('a commit that breaks only wave 1 never reaches wave 2', () => {
    const r = simulateRollout({ ...B10_FLEET, breaksOn: (_h, w) => w === 1 });
    expect(r.exposedByWave).toEqual([5, 15, 0, 0]);
    expect(r.lastLines[2]).toMatch(/^halted/);
  });

  it('a silent canary pauses every later wave; a promote releases wave 1 only', () => {
    const silent = [{ host: hostName(0), from: 1 }];
    const r = simulateRollout({ ...B10_FLEET, silent, maxRounds: 40 });
    expect(r.onNew.at(-1)).toBe(5);
    expect(r.lastLines[1]).toMatch(/^paused: .*no fresh status from h000 \(stale\)/);
    const p = simulateRollout({
      ...B10_FLEET,
      silent,
      maxRounds: 40,
      markers: [{ action: 'promote', commit: 'c'.repeat(40), signer: 'alice', at: '2026-03-02T04:00:00.000Z' }],
    });
    // A promote of C passes every wave's gate: all hosts deploy at their next run.
    expect(p.rounds).toBe(1);
  });

  it('the baseline without a gate exposes every host', () => {
    const r = simulateRollout({ ...B10_FLEET, breaksOn: () => true, noGate: true });
    expect(r.exposedByWave).toEqual([5, 15, 30, 50]);
  });
});
