/** The row layout of `gitopsd status` (review 12: `golden-rollback` was one column right of the others). */
import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../../src/status/render.js';
import { STEPS } from '../../../src/report/runs.js';
import type { StatusReport } from '../../../src/status/index.js';

const AT = '2026-11-30T11:00:00.000Z';
const C = '1'.repeat(40);
const S = '/nix/store/00000000000000000000000000000000-nixos-system-a';

/** A report that shows every optional row, with a run of each step plus `extra` steps. */
function report(extraSteps: readonly string[]): StatusReport {
  const run = { at: AT, ok: true, exitCode: 0, result: 'ok', durationMs: 1000, log: null };
  return {
    hostname: 'h1',
    version: '0.1.0',
    generatedAt: '2026-11-30T12:00:00.000Z',
    git: {
      path: '/etc/nixos',
      remote: 'origin',
      branch: 'main',
      head: C,
      remoteTip: C,
      relation: 'behind',
      ahead: 0,
      behind: 1,
      lastFetch: AT,
      deployed: { commit: C, subject: 'a change', at: AT },
      checkoutNote: 'checkout moved',
    },
    lock: {
      newestInputAt: AT,
      newestInputAgeDays: 3,
      age: 'ok',
      inputs: {},
      gitopsd: { running: '0.1.0', deployed: '0.0.9', differs: true },
    },
    system: {
      current: S,
      booted: S,
      profile: S,
      deployed: S,
      deployedGeneration: 4,
      runningIsDeployed: true,
      rebootNeeded: true,
      rebootReasons: ['kernel'],
      activationPending: true,
    },
    boot: {
      bootedSystem: S,
      verdict: 'failed',
      attempts: 2,
      failures: 1,
      degraded: true,
      lastRollback: { at: AT, from: S, to: S, reason: 'boot failed' },
    },
    golden: {
      storePath: S,
      generation: 3,
      pinnedAt: AT,
      source: 'auto',
      gcRootIntact: true,
      gcRoot: '/nix/var/x',
      ageSec: 3600,
    },
    dotfiles: {
      enabled: true,
      lastSync: { at: AT, result: 'ok', exitCode: 0, message: 'ok' },
      lastOkAt: AT,
      parked: { bookmark: 'sync/h1', paths: ['dot_a'], since: AT },
      uncapturable: [{ target: '.b', why: 'a symlink' }],
      unpushed: true,
    },
    lastUpgrade: { commit: C, result: 'gated', at: AT, generation: 4, durationMs: 2000, gate: 'wave 1 waits' },
    knownBadCommits: [{ commit: C, reason: 'build', cause: 'commit', flakeHost: null, at: AT, message: 'x' }],
    retrying: [{ commit: C, stage: 'build', cause: 'disk', failures: 1, notBefore: AT, summary: 'x' }],
    runs: Object.fromEntries([...STEPS, ...extraSteps].map((s) => [s, run])),
    schedule: { cron: '0 4 * * *', nextRun: '2026-12-01T04:00:00.000Z' },
    publish: { enabled: true, lastAttemptAt: AT, lastOkAt: AT, lastError: null, failures: 0, ref: 'refs/x' },
    rebootTurn: { group: 'g', state: 'waiting', announcedAt: AT, system: S, since: AT },
  };
}

describe('renderStatus rows', () => {
  it.each<[string, readonly string[]]>([
    ['every step (golden-rollback is the longest)', []],
    ['a label longer than any today', ['a-step-with-a-much-longer-name']],
  ])('every row value starts in one column: %s', (_name, extra) => {
    const text = renderStatus(report(extra), { color: false });
    const rows = text.split('\n').filter((l) => l.startsWith('  '));
    const next = rows.find((l) => l.startsWith('  next run '));
    const col = next?.indexOf('2026-12-01T04:00:00.000Z') ?? -1;
    expect(col).toBeGreaterThan(2);
    // Every row of STEPS and every optional row is there (the fixture turns them all on).
    for (const step of [...STEPS.filter((s) => s !== 'upgrade'), ...extra]) {
      expect(rows.some((l) => l.startsWith(`  ${step} `))).toBe(true);
    }
    expect(rows.length).toBeGreaterThan(30);
    for (const l of rows) {
      // Two spaces, the label (words with single spaces, or none), padding, then the value.
      expect(l.slice(0, col), l).toMatch(/^ {2}(\S+( \S+)*)? +$/);
      expect(l.charAt(col), l).not.toBe(' ');
    }
  });
});
