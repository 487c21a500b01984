/**
 * classifyStatus (src/fleet/decide.ts) for the upgrade results of the
 * rollout gate: a host waiting at its wave (`gated`) or whose commit was
 * halted fleet-wide (`halted`) still runs what it ran, so it is not failed.
 */
import { describe, it, expect } from 'vitest';
import {
  clipText,
  classifyStatus,
  decidePublish,
  decideRow,
  FUTURE_TOLERANCE_SEC,
  nextHealthySince,
  nextPublishedAt,
  resultKey,
  statusNotes,
} from '../../../src/fleet/decide.js';
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

  it.each<[string, string, 'warning' | 'failed']>([
    ['golden-pin', 'refused', 'warning'],
    ['boot-reset', 'failed', 'warning'],
    ['boot-validate', 'failed', 'failed'],
    ['golden-rollback', 'failed', 'failed'],
  ])(
    "a failed %s run (%s): %s (a person's upkeep command is no sign about the deployed system)",
    (step, result, state) => {
      const s = { ...status('deployed'), runs: { [step]: { at: AT, ok: false, exitCode: 6, result } } };
      expect(classifyStatus(s)).toEqual({ state, reasons: [`${step}: ${result} (exit 6)`] });
    },
  );

  it('a cycle that failed while its upgrade was only gated is still a failure', () => {
    const s = status('gated', { ok: false, exitCode: 1, result: 'failed' });
    expect(classifyStatus(s)).toMatchObject({ state: 'failed', reasons: ['cycle: failed (exit 1)'] });
  });
});

describe("decideRow: the age of a status by the reader's clock", () => {
  const row = (nowMs: number) =>
    decideRow({
      host: 'w1',
      ref: 'refs/gitopsd/status/w1',
      commit: C,
      problem: null,
      status: status('deployed'),
      signature: { state: 'unsigned', signer: null, detail: null },
      now: new Date(nowMs),
      newestVersion: '0.1.0',
      versionLess: () => false,
    });
  const at = Date.parse(AT);
  it.each([
    ['10 min old', at + 600_000, 600],
    ['dated 4 min ahead (clock skew within the tolerance)', at - 240_000, -240],
  ])('%s: healthy, not stale', (_what, now, ageSec) => {
    const r = row(now);
    expect({ state: r.state, stale: r.stale, ageSec: r.ageSec }).toEqual({ state: 'healthy', stale: false, ageSec });
  });
  it('older than twice the heartbeat (3,600 s): stale', () => {
    const r = row(at + 7201_000);
    expect({ state: r.state, stale: r.stale }).toEqual({ state: 'stale', stale: true });
    expect(r.reasons[0]).toBe('stale: last published 2h ago (heartbeat 1h)');
  });
  it.each([
    [1800, '30m'],
    [600, '10m'],
    [21_600, '6h'],
    [90, '90s'],
  ])('the stale reason gives a heartbeat of %i s exactly: %s', (heartbeatSec, text) => {
    const r = decideRow({
      host: 'w1',
      ref: 'refs/gitopsd/status/w1',
      commit: C,
      problem: null,
      status: { ...status('deployed'), heartbeatSec },
      signature: { state: 'unsigned', signer: null, detail: null },
      now: new Date(at + 3 * heartbeatSec * 1000),
      newestVersion: '0.1.0',
      versionLess: () => false,
    });
    expect(r.reasons[0]).toMatch(new RegExp(`^stale: last published .+ ago \\(heartbeat ${text}\\)$`));
  });
  it('dated further ahead than the tolerance: stale, its age unknown (a silent host must not look fresh)', () => {
    expect(FUTURE_TOLERANCE_SEC).toBe(300);
    for (const ahead of [301, 3900, 10 * 365 * 86400]) {
      const r = row(at - ahead * 1000);
      expect({ state: r.state, stale: r.stale, ageSec: r.ageSec }).toEqual({
        state: 'stale',
        stale: true,
        ageSec: -ahead,
      });
      expect(r.reasons[0]).toMatch(
        /^stale: published .+ in the future, so its age cannot be known; fix the host's clock \(NTP\)$/,
      );
    }
  });
});

describe("decidePublish: a status dated ahead of this host's clock is published again", () => {
  const now = new Date('2026-12-01T12:00:00.000Z');
  const decide = (lastAt: string) =>
    decidePublish({
      record: {
        lastAttemptAt: lastAt,
        lastOk: { at: lastAt, commit: C, ref: 'refs/gitopsd/status/w1', remote: '/r.git', key: 'k' },
        lastError: null,
        failures: 0,
        nextHeartbeatAt: new Date(Date.parse(lastAt) + 6 * 3600_000).toISOString(),
        healthySince: null,
        healthyCommit: null,
        lease: null,
      },
      key: 'k',
      remote: '/r.git',
      ref: 'refs/gitopsd/status/w1',
      now,
      force: false,
    });
  it.each([
    ['published 1 min ago, heartbeat not due', '2026-12-01T11:59:00.000Z', { publish: false, why: 'unchanged' }],
    [
      'published 4 min ahead (skew within the tolerance)',
      '2026-12-01T12:04:00.000Z',
      { publish: false, why: 'unchanged' },
    ],
    [
      'published 65 min ahead (the clock was set back since)',
      '2026-12-01T13:05:00.000Z',
      { publish: true, why: 'clock' },
    ],
  ])('%s', (_what, lastAt, want) => {
    expect(decide(lastAt)).toMatchObject(want);
  });
});

describe('a status that says earlier publishes failed: a note, not a warning (review 12)', () => {
  const E = 'cannot publish the fleet status to /r.git: unreachable; the run is unaffected and the next run retries';
  const FAILED_AT = '2026-12-01T03:00:00.000Z';
  it.each<[string, Partial<StatusV1>, string[]]>([
    ['no failure', {}, []],
    [
      'from a publisher before the time and count (an error only)',
      { previousPublishError: E },
      [`published after a failed publish attempt: ${E}`],
    ],
    [
      'one failed attempt',
      { previousPublishError: E, previousPublishErrorAt: FAILED_AT, previousPublishFailures: 1 },
      [`published after a failed publish attempt (at ${FAILED_AT}): ${E}`],
    ],
    [
      'three failed attempts',
      { previousPublishError: E, previousPublishErrorAt: FAILED_AT, previousPublishFailures: 3 },
      [`published after 3 failed publish attempts (the last at ${FAILED_AT}): ${E}`],
    ],
  ])('%s', (_what, fields, notes) => {
    const s = StatusV1.parse({ ...status('deployed'), ...fields });
    expect(statusNotes(s)).toEqual(notes);
    // The publish that carries it succeeded: the row stays healthy, with the note.
    expect(classifyStatus(s)).toEqual({ state: 'healthy', reasons: [] });
    const r = decideRow({
      host: 'w1',
      ref: 'refs/gitopsd/status/w1',
      commit: C,
      problem: null,
      status: s,
      signature: { state: 'unsigned', signer: null, detail: null },
      now: new Date(Date.parse(AT) + 60_000),
      newestVersion: '0.1.0',
      versionLess: () => false,
    });
    expect({ state: r.state, reasons: r.reasons, notes: r.notes }).toEqual({ state: 'healthy', reasons: [], notes });
  });
  it('is history, not a result: the same key with or without it (no push only to drop it)', () => {
    const clean = status('deployed');
    const after = { ...clean, previousPublishError: E, previousPublishErrorAt: FAILED_AT, previousPublishFailures: 2 };
    expect(resultKey(after)).toBe(resultKey(clean));
    // A real change still changes the key.
    expect(resultKey(status('build-failed'))).not.toBe(resultKey(clean));
  });
  it('a count that is not a non-negative integer, or a time that is not one, is not schema v1', () => {
    expect(StatusV1.safeParse({ ...status('deployed'), previousPublishFailures: -1 }).success).toBe(false);
    expect(StatusV1.safeParse({ ...status('deployed'), previousPublishErrorAt: 'yesterday' }).success).toBe(false);
    expect(StatusV1.safeParse({ ...status('deployed'), previousPublishErrorAt: null }).success).toBe(true);
  });
});

describe('nextHealthySince: the soak starts when the host runs its deployed commit (review 14)', () => {
  const A = 'a'.repeat(40);
  const EARLIER = '2026-12-01T03:00:00.000Z';
  const NOW = new Date('2026-12-01T05:30:00.000Z');
  const kept = { healthySince: EARLIER, healthyCommit: A };
  const none = { healthySince: null, healthyCommit: null };
  type Sys = {
    runningIsDeployed?: boolean | null;
    rebootNeeded?: boolean;
    verdict?: 'ok' | 'pending' | 'failed' | 'none';
  };
  const doc = (x: Sys): StatusV1 => {
    const s = status('deployed');
    return {
      ...s,
      system: {
        ...s.system,
        runningIsDeployed: x.runningIsDeployed === undefined ? true : x.runningIsDeployed,
        rebootNeeded: x.rebootNeeded ?? false,
        rebootReasons: x.rebootNeeded === true ? ['kernel'] : [],
      },
      boot: { ...s.boot, verdict: x.verdict ?? 'ok' },
    };
  };
  it.each<[string, typeof kept | typeof none, Sys, { healthySince: string | null; healthyCommit: string | null }]>([
    ['healthy and running it: kept', kept, {}, kept],
    ['healthy and running it, first time: now', none, {}, { healthySince: NOW.toISOString(), healthyCommit: A }],
    [
      'a new commit: now',
      { healthySince: EARLIER, healthyCommit: 'b'.repeat(40) },
      {},
      { healthySince: NOW.toISOString(), healthyCommit: A },
    ],
    [
      'deployed as the boot default, reboot needed: not yet',
      kept,
      { rebootNeeded: true, runningIsDeployed: false },
      none,
    ],
    ['booted into it, boot verdict pending: not yet', kept, { verdict: 'pending' }, none],
    ['running another system (a manual rollback): none', kept, { runningIsDeployed: false }, none],
    ['cannot tell what runs: none', kept, { runningIsDeployed: null }, none],
    [
      'boot validation disabled (verdict none): counts',
      none,
      { verdict: 'none' },
      { healthySince: NOW.toISOString(), healthyCommit: A },
    ],
  ])('%s', (_name, prev, sys, want) => {
    expect(nextHealthySince(prev, doc(sys), NOW)).toEqual(want);
  });

  it('a reboot into the commit starts the soak at the first publish after it, not at the deploy', () => {
    const pending = nextHealthySince(none, doc({ rebootNeeded: true, runningIsDeployed: false }), new Date(EARLIER));
    expect(pending).toEqual(none);
    const after = nextHealthySince(pending, doc({}), NOW);
    expect(after).toEqual({ healthySince: NOW.toISOString(), healthyCommit: A });
  });
});

describe('clipText: the dotfiles fields of a published status, bounded in characters and in JSON bytes (review 17)', () => {
  it.each<[string, string, number, string]>([
    ['a name in another script keeps every character', 'été.txt', 200, 'été.txt'],
    [
      '200 characters of 3 bytes each stay whole',
      'é'.repeat(100) + '字'.repeat(100),
      200,
      'é'.repeat(100) + '字'.repeat(100),
    ],
    ['a longer name is cut at 200 units', 'x'.repeat(300), 200, 'x'.repeat(200)],
    ['a pair is never split', `${'x'.repeat(199)}😀`, 200, 'x'.repeat(199)],
    [
      'control characters (6 bytes each in JSON) are cut at half as many',
      '\u0001'.repeat(300),
      200,
      '\u0001'.repeat(100),
    ],
  ])('%s', (_name, s, chars, want) => {
    expect(clipText(s, chars)).toBe(want);
  });
});

describe('nextPublishedAt: a status is never dated before the host published one (review 17)', () => {
  const NOW = new Date('2026-12-01T06:01:00.000Z');
  it.each<[string, string | null, string]>([
    ['no previous status: now', null, '2026-12-01T06:01:00.000Z'],
    ['a previous one before now: now', '2026-12-01T05:00:00.000Z', '2026-12-01T06:01:00.000Z'],
    // The clock ran 250 s ahead, published, and was set back.
    [
      'a previous one ahead, within the tolerance: just after it',
      '2026-12-01T06:04:10.081Z',
      '2026-12-01T06:04:10.082Z',
    ],
    [
      'a previous one further ahead: now (no reader raised a mark for it)',
      '2026-12-01T06:06:01.000Z',
      '2026-12-01T06:01:00.000Z',
    ],
    ['a previous one that is no time: now', 'yesterday', '2026-12-01T06:01:00.000Z'],
  ])('%s', (_name, previous, want) => {
    expect(nextPublishedAt(previous, NOW).toISOString()).toBe(want);
  });
});
