import { describe, it, expect } from 'vitest';
import {
  parseIsActive,
  decidePoll,
  parseHostPort,
  checkName,
  waitForHealthy,
  DEFAULT_POLL_MS,
  type UnitState,
  type WaitDeps,
} from '../../../src/health/checks.js';
import type { RunResult, Runner } from '../../../src/core/runner.js';
import type { Logger } from '../../../src/core/log.js';

describe('parseIsActive', () => {
  it.each<[string, string[], string, Record<string, UnitState>]>([
    [
      'one line per unit',
      ['a.service', 'b.service'],
      'active\nfailed\n',
      { 'a.service': 'active', 'b.service': 'failed' },
    ],
    ['activating kept', ['a', 'b'], 'activating\nactive\n', { a: 'activating', b: 'active' }],
    ['garbage line is unknown', ['a', 'b'], 'active\nweird\n', { a: 'active', b: 'unknown' }],
    ['short answer: all unknown', ['a', 'b'], 'active\n', { a: 'unknown', b: 'unknown' }],
    ['long answer: all unknown', ['a'], 'active\nactive\n', { a: 'unknown' }],
    ['empty output: unknown', ['a'], '', { a: 'unknown' }],
    ['whitespace trimmed', ['a'], '  reloading  \n', { a: 'reloading' }],
  ])('%s', (_name, units, stdout, want) => {
    expect(Object.fromEntries(parseIsActive(units, stdout))).toEqual(want);
  });
});

describe('decidePoll', () => {
  const ok = { name: 'c', ok: true, detail: '' };
  const bad = { name: 'c', ok: false, detail: '' };
  it.each<[string, Record<string, UnitState>, (typeof ok)[], number, string]>([
    ['all active, checks ok', { a: 'active', b: 'reloading' }, [ok], 0, 'healthy'],
    ['no units, no checks', {}, [], 0, 'healthy'],
    ['failed unit fails at once, even before the deadline', { a: 'active', b: 'failed' }, [ok], 0, 'failed-unit'],
    ['failed unit wins over timeout', { a: 'failed' }, [], 99_999, 'failed-unit'],
    ['activating waits', { a: 'activating' }, [ok], 10, 'wait'],
    ['inactive waits', { a: 'inactive' }, [], 10, 'wait'],
    ['unknown waits', { a: 'unknown' }, [], 10, 'wait'],
    ['failing check waits', { a: 'active' }, [bad], 10, 'wait'],
    ['deadline reached', { a: 'activating' }, [], 1000, 'timed-out'],
    ['failing check at deadline', {}, [bad], 1000, 'timed-out'],
  ])('%s', (_name, units, checks, elapsedMs, kind) => {
    const d = decidePoll({ units: new Map(Object.entries(units)), checks, elapsedMs, timeoutMs: 1000 });
    expect(d.kind).toBe(kind);
  });
});

describe('parseHostPort / checkName', () => {
  it.each([
    ['127.0.0.1:22', '127.0.0.1', 22],
    ['[::1]:8080', '::1', 8080],
    ['example.org:443', 'example.org', 443],
  ])('%s', (s, host, port) => {
    expect(parseHostPort(s)).toEqual({ host, port });
  });
  it('names checks', () => {
    expect(checkName({ tcp: '127.0.0.1:22' })).toBe('tcp 127.0.0.1:22');
    expect(checkName({ http: 'http://x/' })).toBe('http http://x/');
    expect(checkName({ command: ['true', 'x'] })).toBe('command true x');
    expect(checkName({ command: ['true'], name: 'mine' })).toBe('mine');
  });
});

/** A runner value whose systemctl answers come from a script, and a clock that only moves on sleep. */
function fakeDeps(answers: string[]): { deps: WaitDeps; calls: string[][]; slept: number[] } {
  const calls: string[][] = [];
  const slept: number[] = [];
  let t = 0;
  let i = 0;
  const runner: Runner = {
    dryRun: false,
    git: () => {
      throw new Error('no git here');
    },
    run: (cmd: string, args: readonly string[]): Promise<RunResult> => {
      calls.push([cmd, ...args]);
      const stdout = answers[Math.min(i, answers.length - 1)] ?? '';
      i += 1;
      // Real systemctl exits 0 when ANY unit is active: the parser must not trust it.
      return Promise.resolve({ exitCode: 0, stdout, stderr: '', durationMs: 0, skipped: false });
    },
  };
  const log: Logger = {
    error: () => undefined,
    warn: () => undefined,
    info: () => undefined,
    debug: () => undefined,
    child: () => log,
    isLevelEnabled: () => false,
  };
  const deps: WaitDeps = {
    runner,
    log,
    clock: {
      now: () => new Date(t),
      monotonicMs: () => t,
      sleep: (ms) => {
        slept.push(ms);
        t += ms;
        return Promise.resolve();
      },
    },
  };
  return { deps, calls, slept };
}

describe('waitForHealthy (fake runner and clock values)', () => {
  it('queries all units in one call per poll and waits through activating', async () => {
    const { deps, calls, slept } = fakeDeps(['active\nactivating\n', 'active\nactivating\n', 'active\nactive\n']);
    const r = await waitForHealthy(deps, {
      services: ['a.service', 'b.service'],
      checks: [],
      timeoutSec: 60,
      pollMs: 1000,
    });
    expect(r.ok).toBe(true);
    expect(r.polls).toBe(3);
    expect(calls).toEqual([
      ['systemctl', 'is-active', 'a.service', 'b.service'],
      ['systemctl', 'is-active', 'a.service', 'b.service'],
      ['systemctl', 'is-active', 'a.service', 'b.service'],
    ]);
    expect(slept).toEqual([1000, 1000]);
    expect(r.results).toEqual([
      { name: 'a.service', ok: true, detail: 'active', kind: 'unit' },
      { name: 'b.service', ok: true, detail: 'active', kind: 'unit' },
    ]);
  });

  it('fails fast on a failed unit although the exit code was 0', async () => {
    const { deps, slept } = fakeDeps(['active\nfailed\n']);
    const r = await waitForHealthy(deps, { services: ['a', 'b'], checks: [], timeoutSec: 60 });
    expect(r).toMatchObject({ ok: false, failedFast: true, timedOut: false, polls: 1 });
    expect(slept).toEqual([]);
  });

  it('polls every DEFAULT_POLL_MS (250 ms) by default, so the verdict follows the last unit within 0.5 s (B5)', async () => {
    const { deps, slept } = fakeDeps(['activating\n', 'activating\n', 'active\n']);
    const r = await waitForHealthy(deps, { services: ['a'], checks: [], timeoutSec: 60 });
    expect(r).toMatchObject({ ok: true, polls: 3 });
    expect(DEFAULT_POLL_MS).toBe(250);
    expect(slept).toEqual([250, 250]);
  });

  it('stops at the deadline measured by the clock', async () => {
    const { deps, slept } = fakeDeps(['activating\n']);
    const r = await waitForHealthy(deps, { services: ['a'], checks: [], timeoutSec: 5, pollMs: 2000 });
    expect(r).toMatchObject({ ok: false, failedFast: false, timedOut: true });
    // 2000 + 2000 + 1000 (the last sleep is cut to the deadline), then a final poll.
    expect(slept).toEqual([2000, 2000, 1000]);
    expect(r.polls).toBe(4);
  });
});
