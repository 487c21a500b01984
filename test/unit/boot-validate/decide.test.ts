import { describe, it, expect } from 'vitest';
import {
  chooseLastOk,
  decideBeforeChecks,
  decideMarkWithdrawal,
  decideVerdict,
  planStart,
  rebootBound,
  type BootDecision,
  type MarkWithdrawal,
  type VerdictInput,
  type WithdrawalInput,
} from '../../../src/boot-validate/decide.js';
import { parseBoot, withAttemptStarted, ABANDONED_REASON, type Attempt } from '../../../src/shared/boot-state.js';

const B = '/nix/store/bbb-nixos-system-b';
const G = '/nix/store/ggg-nixos-system-g';
const O = '/nix/store/ooo-nixos-system-o';

const base: VerdictInput = {
  booted: B,
  healthy: false,
  failuresBefore: 0,
  rebootsBefore: 0,
  maxBootFailures: 2,
  onFirstFailure: 'reboot',
  autoPinGolden: true,
  golden: { storePath: G, present: true },
  lastOk: null,
  bootedIsBad: false,
};

describe('decideVerdict', () => {
  it.each<[string, Partial<VerdictInput>, BootDecision]>([
    ['ok pins the booted path', { healthy: true }, { kind: 'ok', pin: 'pin' }],
    ['ok of the golden keeps it (unchanged)', { healthy: true, booted: G }, { kind: 'ok', pin: 'keep' }],
    ['ok without autoPinGolden', { healthy: true, autoPinGolden: false }, { kind: 'ok', pin: 'off' }],
    [
      'ok of a rolled-back path is not pinned',
      { healthy: true, bootedIsBad: true },
      { kind: 'ok', pin: 'refused-bad' },
    ],
    ['first failure reboots', {}, { kind: 'retry-reboot', failures: 1 }],
    ['first failure waits with onFirstFailure=wait', { onFirstFailure: 'wait' }, { kind: 'wait', failures: 1 }],
    [
      'second failure rolls back to the golden',
      { failuresBefore: 1, rebootsBefore: 1 },
      { kind: 'rollback', failures: 2, target: G, targetSource: 'golden', reboot: true },
    ],
    [
      'wait mode still rolls back at the limit',
      { failuresBefore: 1, onFirstFailure: 'wait' },
      { kind: 'rollback', failures: 2, target: G, targetSource: 'golden', reboot: true },
    ],
    [
      'maxBootFailures=1 rolls back at once',
      { maxBootFailures: 1 },
      { kind: 'rollback', failures: 1, target: G, targetSource: 'golden', reboot: true },
    ],
    [
      'golden itself fails: degraded, no reboot, even on the first failure',
      { booted: G },
      { kind: 'degraded', failures: 1, reason: 'golden-failed' },
    ],
    [
      'golden itself fails at the limit',
      { booted: G, failuresBefore: 5 },
      { kind: 'degraded', failures: 6, reason: 'golden-failed' },
    ],
    [
      'no golden: newest ok generation',
      { golden: null, failuresBefore: 1, lastOk: O },
      { kind: 'rollback', failures: 2, target: O, targetSource: 'last-ok', reboot: true },
    ],
    [
      'golden gone from the store: newest ok generation',
      { golden: { storePath: G, present: false }, failuresBefore: 1, lastOk: O },
      { kind: 'rollback', failures: 2, target: O, targetSource: 'last-ok', reboot: true },
    ],
    [
      'no golden and no ok generation: degraded',
      { golden: null, failuresBefore: 1 },
      { kind: 'degraded', failures: 2, reason: 'no-target' },
    ],
    ['no golden, first failure still retries', { golden: null }, { kind: 'retry-reboot', failures: 1 }],
    [
      'reboot bound reached during a rollback: set the default, no reboot',
      { failuresBefore: 3, rebootsBefore: 3 },
      { kind: 'rollback', failures: 4, target: G, targetSource: 'golden', reboot: false },
    ],
    [
      'one below the bound still reboots',
      { failuresBefore: 2, rebootsBefore: 2 },
      { kind: 'rollback', failures: 3, target: G, targetSource: 'golden', reboot: true },
    ],
    [
      'retry at the bound (after a reset of failures only): degraded',
      { rebootsBefore: 3 },
      { kind: 'degraded', failures: 1, reason: 'reboot-bound' },
    ],
  ])('%s', (_n, over, want) => {
    expect(decideVerdict({ ...base, ...over })).toEqual(want);
  });

  it('never requests more than maxBootFailures + 1 reboots for one path, whatever the failure sequence', () => {
    for (const max of [1, 2, 3, 5]) {
      for (const mode of ['reboot', 'wait'] as const) {
        let failures = 0;
        let reboots = 0;
        for (let boot = 0; boot < 20; boot++) {
          const d = decideVerdict({
            ...base,
            maxBootFailures: max,
            onFirstFailure: mode,
            failuresBefore: failures,
            rebootsBefore: reboots,
          });
          if (d.kind === 'ok') throw new Error('unexpected ok');
          failures = d.failures;
          if (d.kind === 'retry-reboot' || (d.kind === 'rollback' && d.reboot)) reboots += 1;
        }
        expect(reboots).toBe(rebootBound(max));
      }
    }
  });
});

describe('decideVerdict: no golden on one lucky boot (issue 13)', () => {
  it.each<[string, Partial<VerdictInput>, BootDecision]>([
    [
      'no failed attempt on record: the first ok boot pins',
      { healthy: true, failedOnRecord: 0 },
      { kind: 'ok', pin: 'pin' },
    ],
    [
      'failed attempts on record: one ok boot is not enough',
      { healthy: true, failedOnRecord: 1, okStreakBefore: 0 },
      { kind: 'ok', pin: 'refused-flaky', failedOnRecord: 1, okStreak: 1, needed: 2 },
    ],
    [
      'failed attempts on record: maxBootFailures ok boots in a row pin',
      { healthy: true, failedOnRecord: 3, okStreakBefore: 1 },
      { kind: 'ok', pin: 'pin' },
    ],
    [
      'maxBootFailures 3 needs 3 in a row',
      { healthy: true, failedOnRecord: 1, okStreakBefore: 1, maxBootFailures: 3 },
      { kind: 'ok', pin: 'refused-flaky', failedOnRecord: 1, okStreak: 2, needed: 3 },
    ],
    [
      'the golden booting ok again is kept, whatever its record',
      { healthy: true, booted: G, failedOnRecord: 4 },
      { kind: 'ok', pin: 'keep' },
    ],
    ['autoPinGolden off', { healthy: true, failedOnRecord: 4, autoPinGolden: false }, { kind: 'ok', pin: 'off' }],
  ])('%s', (_n, over, want) => {
    expect(decideVerdict({ ...base, ...over })).toEqual(want);
  });
});

describe('decideBeforeChecks: no tries left (issue 13)', () => {
  it.each<[string, Partial<VerdictInput>, BootDecision | null]>([
    ['below maxBootFailures: run the checks', { failuresBefore: 1 }, null],
    [
      'maxBootFailures reached (attempts without a verdict included): roll back now',
      { failuresBefore: 2, rebootsBefore: 0 },
      { kind: 'rollback', failures: 3, target: G, targetSource: 'golden', reboot: true, beforeChecks: true },
    ],
    [
      'no golden: the newest ok generation',
      { failuresBefore: 2, golden: null, lastOk: O },
      { kind: 'rollback', failures: 3, target: O, targetSource: 'last-ok', reboot: true, beforeChecks: true },
    ],
    [
      'reboot bound reached: the boot default only',
      { failuresBefore: 5, rebootsBefore: 3 },
      { kind: 'rollback', failures: 6, target: G, targetSource: 'golden', reboot: false, beforeChecks: true },
    ],
    ['the booted path is the golden: run the checks', { failuresBefore: 4, booted: G }, null],
    ['nothing to roll back to: run the checks', { failuresBefore: 4, golden: null, lastOk: null }, null],
  ])('%s', (_n, over, want) => {
    const { healthy: _h, ...rest } = { ...base, ...over };
    expect(decideBeforeChecks(rest)).toEqual(want);
  });

  it('a path whose every boot hangs is rolled back at the boot after maxBootFailures, never retried forever', () => {
    // Each boot: the start record counts the previous attempt (no verdict), then decideBeforeChecks.
    let s = parseBoot(undefined);
    const decisions: Array<string> = [];
    for (let boot = 1; boot <= 4; boot++) {
      s = withAttemptStarted(s, { storePath: B, bootKey: `k${boot}`, now: `t${boot}` }).section;
      const d = decideBeforeChecks({ ...base, failuresBefore: s.paths[B]?.failures ?? 0 });
      decisions.push(d === null ? 'check' : d.kind);
      if (d !== null) break;
    }
    expect(decisions).toEqual(['check', 'check', 'rollback']);
    expect(s.paths[B]).toMatchObject({ failures: 2, failedAttempts: 2, okStreak: 0 });
  });
});

describe('state written before issue 13', () => {
  it('path records without failedAttempts/okStreak are read with them derived', () => {
    const s = parseBoot({
      paths: {
        [B]: { attempts: 3, failures: 2, reboots: 1, lastVerdict: 'failed', touchedAt: 't' },
        [G]: { attempts: 1, failures: 0, reboots: 0, lastVerdict: 'ok', lastOkAt: 't', touchedAt: 't' },
      },
    });
    expect(s.paths[B]).toMatchObject({ failures: 2, failedAttempts: 2, okStreak: 0 });
    expect(s.paths[G]).toMatchObject({ failures: 0, failedAttempts: 0, okStreak: 1 });
  });
});

const attempt = (over: Partial<Attempt>): Attempt => ({
  id: 1,
  storePath: B,
  bootKey: 'k1',
  startedAt: '2026-01-01T00:00:00.000Z',
  verdict: 'pending',
  verdictAt: null,
  reason: null,
  checks: [],
  action: null,
  actionDone: false,
  rollbackTo: null,
  reboot: false,
  actionError: null,
  decision: null,
  ...over,
});

describe('planStart', () => {
  it.each<[string, Attempt | null, string]>([
    ['first ever run', null, 'new'],
    ['new boot after a verdict', attempt({ bootKey: 'k0', verdict: 'failed', actionDone: true }), 'new'],
    ['new boot after a pending attempt (counted as failed by the start record)', attempt({ bootKey: 'k0' }), 'new'],
    ['same boot, pending: resume', attempt({}), 'resume'],
    ['same boot, verdict without actions done: finish', attempt({ verdict: 'failed', action: 'reboot' }), 'finish'],
    ['same boot, all done: report only', attempt({ verdict: 'ok', actionDone: true }), 'done'],
    ['same key but other path: new', attempt({ storePath: G }), 'new'],
  ])('%s', (_n, cur, kind) => {
    expect(planStart(cur, { booted: B, bootKey: 'k1' }).kind).toBe(kind);
  });
});

describe('withAttemptStarted', () => {
  it('records a pending attempt and counts it', () => {
    const r = withAttemptStarted(parseBoot(undefined), { storePath: B, bootKey: 'k1', now: 't1' });
    expect(r.attempt).toMatchObject({ id: 1, storePath: B, verdict: 'pending' });
    expect(r.section.paths[B]).toMatchObject({ attempts: 1, failures: 0 });
    expect(r.abandoned).toBeNull();
  });

  it('closes an attempt that never reached a verdict as failed, counted once', () => {
    const s1 = withAttemptStarted(parseBoot(undefined), { storePath: B, bootKey: 'k1', now: 't1' }).section;
    const r = withAttemptStarted(s1, { storePath: B, bootKey: 'k2', now: 't2' });
    expect(r.abandoned).toMatchObject({ id: 1, verdict: 'failed', reason: ABANDONED_REASON });
    expect(r.section.paths[B]).toMatchObject({ attempts: 2, failures: 1 });
    expect(r.section.history.map((a) => a.id)).toEqual([1]);
    expect(r.section.current?.id).toBe(2);
    // A finished attempt moves to history without being counted again.
    const done = { ...r.section, current: { ...r.attempt, verdict: 'failed' as const, actionDone: true } };
    const r3 = withAttemptStarted(done, { storePath: B, bootKey: 'k3', now: 't3' });
    expect(r3.abandoned).toBeNull();
    expect(r3.section.paths[B]).toMatchObject({ attempts: 3, failures: 1 });
  });

  it('keeps the history bounded', () => {
    let s = parseBoot(undefined);
    for (let i = 0; i < 120; i++)
      s = withAttemptStarted(s, {
        storePath: `${B}${i % 40}`,
        bootKey: `k${i}`,
        now: `t${String(i).padStart(3, '0')}`,
      }).section;
    expect(s.history.length).toBeLessThanOrEqual(50);
    expect(Object.keys(s.paths).length).toBeLessThanOrEqual(30);
  });
});

describe('chooseLastOk', () => {
  const exists = (): boolean => true;
  it.each<[string, Parameters<typeof chooseLastOk>[0], string | null]>([
    [
      'highest generation with an ok verdict',
      {
        booted: B,
        generations: [
          { number: 1, storePath: O },
          { number: 2, storePath: G },
          { number: 3, storePath: B },
        ],
        okPaths: [
          { storePath: O, lastOkAt: '2' },
          { storePath: G, lastOkAt: '1' },
        ],
        exists,
        bad: () => false,
      },
      G,
    ],
    [
      'never the booted path',
      {
        booted: B,
        generations: [{ number: 3, storePath: B }],
        okPaths: [{ storePath: B, lastOkAt: '1' }],
        exists,
        bad: () => false,
      },
      null,
    ],
    [
      'skips bad paths',
      {
        booted: B,
        generations: [{ number: 2, storePath: G }],
        okPaths: [{ storePath: G, lastOkAt: '1' }],
        exists,
        bad: (p) => p === G,
      },
      null,
    ],
    [
      'skips paths gone from the store',
      { booted: B, generations: [], okPaths: [{ storePath: G, lastOkAt: '1' }], exists: () => false, bad: () => false },
      null,
    ],
    [
      'links GC-ed: most recent ok path still on disk',
      {
        booted: B,
        generations: [],
        okPaths: [
          { storePath: O, lastOkAt: '1' },
          { storePath: G, lastOkAt: '2' },
        ],
        exists,
        bad: () => false,
      },
      G,
    ],
  ])('%s', (_n, input, want) => {
    expect(chooseLastOk(input)).toBe(want);
  });
});

describe('decideMarkWithdrawal: the golden fails what the rolled-back system failed (review 13a, finding 3)', () => {
  const C = 'c0ffee'.padEnd(40, '0');
  const DB = 'command test -e /run/db-up';
  const HTTP = 'http http://127.0.0.1:8080/';
  const w: WithdrawalInput = {
    decision: { kind: 'degraded', failures: 1, reason: 'golden-failed' },
    booted: G,
    lastRollback: { from: B, to: G, source: 'auto', status: 'done', commit: C },
    failedOnRolledBack: [DB],
    failingNow: [DB],
    markReason: 'boot-rollback',
    badPath: true,
  };
  const withdraw = (over: Partial<Extract<MarkWithdrawal, { kind: 'withdraw' }>> = {}): MarkWithdrawal => ({
    kind: 'withdraw',
    from: B,
    commit: C,
    mark: true,
    checks: [DB],
    ...over,
  });
  const keep = (why: RegExp): unknown => ({ kind: 'keep', why: expect.stringMatching(why) as unknown });

  it.each<[string, Partial<WithdrawalInput>, unknown]>([
    ['the same failing check: mark, bad path and counts withdrawn', {}, withdraw()],
    ['the golden fails more checks than the rolled-back system did', { failingNow: [HTTP, DB] }, withdraw()],
    [
      'two checks failed, the golden fails both',
      { failedOnRolledBack: [DB, HTTP], failingNow: [HTTP, DB] },
      withdraw({ checks: [DB, HTTP] }),
    ],
    ['the mark was already forgotten by hand: the bad path alone', { markReason: null }, withdraw({ mark: false })],
    [
      'no commit known for the rolled-back system: the bad path alone',
      { lastRollback: { from: B, to: G, source: 'auto', status: 'done', commit: null }, markReason: null },
      withdraw({ commit: null, mark: false }),
    ],
    // Negative cases: the mark stays.
    ['an ok boot of the golden', { decision: { kind: 'ok', pin: 'keep' } }, keep(/not a failed boot of the golden/)],
    [
      'a failed boot that is not the golden (no target)',
      { decision: { kind: 'degraded', failures: 2, reason: 'no-target' } },
      keep(/not a failed boot of the golden/),
    ],
    ['no rollback on record', { lastRollback: null }, keep(/no automatic rollback/)],
    [
      'a manual rollback (golden rollback by hand)',
      { lastRollback: { from: B, to: G, source: 'manual', status: 'done', commit: C } },
      keep(/no automatic rollback/),
    ],
    [
      'the rollback went to another system (the newest ok generation)',
      { lastRollback: { from: B, to: O, source: 'auto', status: 'done', commit: C } },
      keep(/did not bring this system up/),
    ],
    [
      'the rollback is not done',
      { lastRollback: { from: B, to: G, source: 'auto', status: 'failed', commit: C } },
      keep(/did not bring this system up/),
    ],
    [
      'a different failing set: the golden passes the check the commit failed',
      { failedOnRolledBack: [DB], failingNow: [HTTP] },
      keep(/passes on the golden/),
    ],
    [
      'only some of the failed checks fail on the golden',
      { failedOnRolledBack: [DB, HTTP], failingNow: [DB] },
      keep(/passes on the golden/),
    ],
    [
      'no failed check on record (a hang, or rolled back before its checks): stays blamed',
      { failedOnRolledBack: [] },
      keep(/no failed check on record/),
    ],
    [
      'the commit is marked for another reason',
      { markReason: 'post-switch-failed' },
      keep(/another reason \(post-switch-failed\)/),
    ],
    ['already withdrawn (a later boot of the golden)', { markReason: null, badPath: false }, keep(/nothing left/)],
  ])('%s', (_name, over, expected) => {
    expect(decideMarkWithdrawal({ ...w, ...over })).toEqual(expected);
  });
});
