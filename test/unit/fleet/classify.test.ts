/**
 * classifyStatus (src/fleet/decide.ts) for the upgrade results of the
 * rollout gate: a host waiting at its wave (`gated`) or whose commit was
 * halted fleet-wide (`halted`) still runs what it ran, so it is not failed.
 */
import { describe, it, expect } from 'vitest';
import { classifyStatus } from '../../../src/fleet/decide.js';
import { StatusV1 } from '../../../src/fleet/schema.js';

const C = 'c'.repeat(40);
const AT = '2026-12-01T04:00:00.000Z';

function status(lastResult: string, cycle?: { ok: boolean; exitCode: number; result: string }): StatusV1 {
  return StatusV1.parse({
    v: 1,
    host: 'w1',
    gitopsdVersion: '0.1.0',
    publishedAt: AT,
    heartbeatSec: 3600,
    healthySince: null,
    git: {
      branch: 'main',
      checkout: C,
      remoteTip: C,
      relation: 'up-to-date',
      ahead: 0,
      behind: 0,
      lastFetch: AT,
    },
    deployed: { commit: 'a'.repeat(40), generation: 2, at: AT, subject: null },
    lock: { newestInputAt: null, ageDays: null, age: 'unknown', inputs: {} },
    system: {
      running: null,
      booted: null,
      bootDefault: null,
      deployed: null,
      runningIsDeployed: true,
      rebootNeeded: false,
      rebootReasons: [],
      activationPending: false,
    },
    boot: { verdict: 'ok', attempts: 1, failures: 0, degraded: false, lastRollback: null },
    golden: { storePath: null, generation: null, commit: null, pinnedAt: null, source: null },
    dotfiles: { state: 'in-sync', lastSyncAt: AT, lastOkAt: AT, result: 'ok', parked: null },
    runs: cycle === undefined ? {} : { cycle: { at: AT, ...cycle } },
    lastUpgrade: { commit: C, result: lastResult, at: AT, generation: null },
    knownBadCommits: [],
    previousPublishError: null,
  });
}

describe('classifyStatus and the rollout results', () => {
  it.each([
    ['deployed', 'healthy', []],
    ['gated', 'healthy', []],
    ['halted', 'warning', [`the rollout of ${C.slice(0, 8)} is halted`]],
    ['build-failed', 'failed', ['last upgrade: build-failed']],
    ['refused', 'failed', ['last upgrade: refused']],
  ])('last upgrade %s: %s', (result, state, reasons) => {
    expect(classifyStatus(status(result))).toEqual({ state, reasons });
  });

  it.each<[string, 'waiting' | 'rebooting' | 'failed', string, string]>([
    ['waiting for a turn: a warning', 'waiting', 'warning', 'waiting for a reboot turn (group fleet)'],
    ['rebooting: a warning', 'rebooting', 'warning', 'rebooting (group fleet)'],
    ['a failed turn: failed', 'failed', 'failed', 'its reboot turn failed: the reboots of group fleet are halted'],
  ])('reboot turn, %s', (_name, turnState, state, reason) => {
    const s = { ...status('deployed'), reboot: { group: 'fleet', state: turnState, announcedAt: AT, system: null } };
    expect(classifyStatus(s)).toEqual({ state, reasons: [reason] });
  });

  it('a cycle that exited 3 because its upgrade was halted is not a second failure', () => {
    const s = status('halted', { ok: false, exitCode: 3, result: 'halted' });
    expect(classifyStatus(s).state).toBe('warning');
  });

  it('a cycle that failed while its upgrade was only gated is still a failure', () => {
    const s = status('gated', { ok: false, exitCode: 1, result: 'failed' });
    expect(classifyStatus(s)).toMatchObject({ state: 'failed', reasons: ['cycle: failed (exit 1)'] });
  });
});
