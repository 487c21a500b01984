/**
 * decidePoll and afterPollRun: which poll runs the upgrade, and when a poll
 * retries a run that did not settle its tip.
 */
import { describe, expect, it } from 'vitest';
import {
  afterPollRun,
  decidePoll,
  EMPTY_POLL,
  POLL_RETRY_MIN_SEC,
  type PollSection,
} from '../../../src/cycle/poll-decide.js';
import { parseFetchPorcelain, type FetchedRef } from '../../../src/upgrade/git.js';

const TRACK = 'refs/remotes/origin/main';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const NOW = new Date('2026-03-10T12:00:00Z');
const line = (flag: string, ref = TRACK, old = A, nu = B): FetchedRef => ({ flag, old, new: nu, ref });
const retryAt = (iso: string): PollSection => ({ ...EMPTY_POLL, lastTip: A, lastResult: 'gated', retryAt: iso });

describe('decidePoll', () => {
  it.each<[string, FetchedRef[], boolean, PollSection, string, string | null]>([
    ['nothing fetched', [], false, EMPTY_POLL, 'idle', null],
    ['fast-forward of the branch', [line(' ')], false, EMPTY_POLL, 'new-tip', B],
    ['forced update (the upgrade judges it)', [line('+')], false, EMPTY_POLL, 'new-tip', B],
    ['new tracking ref', [line('*', TRACK, '0'.repeat(40))], false, EMPTY_POLL, 'new-tip', B],
    ['rejected update', [line('!')], false, EMPTY_POLL, 'idle', null],
    ['another ref only', [line('*', 'refs/gitopsd/fetched/trigger')], false, EMPTY_POLL, 'idle', null],
    ['no checkout yet', [], true, EMPTY_POLL, 'no-checkout', null],
    ['a retry that is due', [], false, retryAt('2026-03-10T12:00:00Z'), 'retry', A],
    ['a retry not due yet', [], false, retryAt('2026-03-10T12:00:01Z'), 'idle', null],
    ['a new tip beats a pending retry', [line(' ')], false, retryAt('2026-03-10T13:00:00Z'), 'new-tip', B],
  ])('%s', (_name, fetched, checkoutMissing, state, expected, tip) => {
    const d = decidePoll({ fetched, trackingRef: TRACK, checkoutMissing, state, now: NOW });
    if (expected === 'idle') {
      expect(d.kind).toBe('idle');
    } else {
      expect(d).toMatchObject({ kind: 'run', reason: expected, tip });
    }
    expect(d.line).not.toContain('\n');
  });

  const TRIG = { line: 'fleet trigger 0123456789ab from alice@laptop', tip: A };
  it.each<[string, FetchedRef[], PollSection, string, string | null]>([
    ['an accepted fleet trigger runs the tip already run', [], EMPTY_POLL, 'trigger', A],
    ['an accepted fleet trigger beats a retry not due yet', [], retryAt('2026-03-10T13:00:00Z'), 'trigger', A],
    ['a new tip and a trigger: one run, for the new tip', [line(' ')], EMPTY_POLL, 'new-tip', B],
  ])('%s', (_name, fetched, state, expected, tip) => {
    const d = decidePoll({ fetched, trackingRef: TRACK, checkoutMissing: false, state, now: NOW, trigger: TRIG });
    expect(d).toMatchObject({ kind: 'run', reason: expected, tip });
  });
});

describe('afterPollRun', () => {
  it.each<[string, number, boolean]>([
    ['deployed', 0, false],
    ['no-op', 0, false],
    ['build-failed', 3, false],
    ['skipped-bad', 3, false],
    ['refused', 6, false],
    ['gated', 0, true],
    ['waiting-turn', 0, true],
    ['retry-later', 75, true],
    ['error', 75, true],
    ['error', 70, true],
  ])('%s (exit %s) retries: %s', (result, exitCode, retries) => {
    const s = afterPollRun({ tip: B, result, exitCode, now: NOW, pollIntervalSec: 60 });
    expect(s.lastTip).toBe(B);
    expect(s.retryAt).toBe(retries ? new Date(NOW.getTime() + POLL_RETRY_MIN_SEC * 1000).toISOString() : null);
  });

  it('waits at least one poll interval when that is longer than the minimum', () => {
    const s = afterPollRun({ tip: B, result: 'gated', exitCode: 0, now: NOW, pollIntervalSec: 3600 });
    expect(s.retryAt).toBe(new Date(NOW.getTime() + 3600_000).toISOString());
  });
});

describe('parseFetchPorcelain', () => {
  it('reads the lines git fetch --porcelain prints (git 2.55, checked in the test bed)', () => {
    const out = [
      `  ${A} ${B} refs/remotes/origin/main`,
      `* ${'0'.repeat(40)} ${B} refs/gitopsd/fetched/trigger`,
      'not a porcelain line',
      '',
    ].join('\n');
    expect(parseFetchPorcelain(out)).toEqual([
      { flag: ' ', old: A, new: B, ref: 'refs/remotes/origin/main' },
      { flag: '*', old: '0'.repeat(40), new: B, ref: 'refs/gitopsd/fetched/trigger' },
    ]);
  });

  it('an empty output (nothing changed) is no line', () => {
    expect(parseFetchPorcelain('')).toEqual([]);
  });
});
