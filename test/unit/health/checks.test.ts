import { describe, it, expect } from 'vitest';
import {
  decidePoll,
  parseHostPort,
  checkName,
  waitForHealthy,
  DEFAULT_POLL_MS,
  type WaitDeps,
} from '../../../src/health/checks.js';
import type { UnitVerdict } from '../../../src/health/unit.js';
import type { RunResult, Runner } from '../../../src/core/runner.js';
import type { Logger } from '../../../src/core/log.js';

describe('decidePoll', () => {
  const ok = { name: 'c', ok: true, detail: '' };
  const bad = { name: 'c', ok: false, detail: '' };
  const healthy = { kind: 'healthy', detail: 'active' } as const;
  const wait = { kind: 'wait', detail: 'activating' } as const;
  const failed = { kind: 'failed', detail: 'failed' } as const;
  it.each<[string, Record<string, UnitVerdict>, (typeof ok)[], number, string]>([
    ['all healthy, checks ok', { a: healthy, b: healthy }, [ok], 0, 'healthy'],
    ['no units, no checks', {}, [], 0, 'healthy'],
    ['failed unit fails at once, even before the deadline', { a: healthy, b: failed }, [ok], 0, 'failed-unit'],
    ['failed unit wins over timeout', { a: failed }, [], 99_999, 'failed-unit'],
    ['waiting unit waits', { a: wait }, [ok], 10, 'wait'],
    ['failing check waits', { a: healthy }, [bad], 10, 'wait'],
    ['deadline reached', { a: wait }, [], 1000, 'timed-out'],
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

/** One unit's `systemctl show` block, in the shape systemctl prints it. */
function show(active: string, o: { restarts?: number; enter?: number; type?: string; load?: string } = {}): string {
  return [
    `Type=${o.type ?? 'simple'}`,
    'Result=success',
    `NRestarts=${o.restarts ?? 0}`,
    'ExecMainExitTimestampMonotonic=0',
    'ExecMainStatus=0',
    'Id=x.service',
    `LoadState=${o.load ?? 'loaded'}`,
    `ActiveState=${active}`,
    `SubState=${active === 'active' ? 'running' : 'start'}`,
    `ActiveEnterTimestampMonotonic=${o.enter ?? (active === 'active' ? 5_000_000 : 0)}`,
    '',
  ].join('\n');
}
const units2 = (a: string, b: string): string => `${a}\n${b}`;

describe('waitForHealthy (fake runner and clock values)', () => {
  it('queries all units in one systemctl show per poll and waits through activating', async () => {
    const { deps, calls, slept } = fakeDeps([
      units2(show('active'), show('activating')),
      units2(show('active'), show('activating')),
      units2(show('active'), show('active')),
    ]);
    const r = await waitForHealthy(deps, {
      services: ['a.service', 'b.service'],
      checks: [],
      timeoutSec: 60,
      settleSec: 0,
      pollMs: 1000,
    });
    expect(r.ok).toBe(true);
    expect(r.polls).toBe(3);
    const argv = [
      'systemctl',
      'show',
      '-p',
      'Id,LoadState,ActiveState,SubState,Type,Result,NRestarts,ActiveEnterTimestampMonotonic,ExecMainExitTimestampMonotonic,ExecMainStatus',
      'a.service',
      'b.service',
    ];
    expect(calls).toEqual([argv, argv, argv]);
    expect(slept).toEqual([1000, 1000]);
    expect(r.results).toEqual([
      { name: 'a.service', ok: true, detail: 'active', kind: 'unit' },
      { name: 'b.service', ok: true, detail: 'active', kind: 'unit' },
    ]);
  });

  it('fails fast on a failed unit', async () => {
    const { deps, slept } = fakeDeps([units2(show('active'), show('failed'))]);
    const r = await waitForHealthy(deps, { services: ['a', 'b'], checks: [], timeoutSec: 60, settleSec: 0 });
    expect(r).toMatchObject({ ok: false, failedFast: true, timedOut: false, polls: 1 });
    expect(slept).toEqual([]);
  });

  it('fails fast, at the first poll, on a unit systemd cannot find', async () => {
    const { deps, calls, slept } = fakeDeps([show('inactive', { load: 'not-found' })]);
    const r = await waitForHealthy(deps, {
      services: ['sshd.servce.service'],
      checks: [],
      timeoutSec: 180,
      settleSec: 10,
    });
    expect(r).toMatchObject({ ok: false, failedFast: true, timedOut: false, polls: 1 });
    expect(r.results[0]?.detail).toMatch(/^unit not found \(LoadState=not-found\)/);
    expect(calls).toHaveLength(1);
    expect(slept).toEqual([]);
  });

  it('polls every DEFAULT_POLL_MS (250 ms) by default, so the verdict follows the last unit within 0.5 s (B5)', async () => {
    const { deps, slept } = fakeDeps([show('activating'), show('activating'), show('active')]);
    const r = await waitForHealthy(deps, { services: ['a'], checks: [], timeoutSec: 60, settleSec: 0 });
    expect(r).toMatchObject({ ok: true, polls: 3 });
    expect(DEFAULT_POLL_MS).toBe(250);
    expect(slept).toEqual([250, 250]);
  });

  it('stops at the deadline measured by the clock', async () => {
    const { deps, slept } = fakeDeps([show('activating')]);
    const r = await waitForHealthy(deps, { services: ['a'], checks: [], timeoutSec: 5, settleSec: 0, pollMs: 2000 });
    expect(r).toMatchObject({ ok: false, failedFast: false, timedOut: true });
    // 2000 + 2000 + 1000 (the last sleep is cut to the deadline), then a final poll.
    expect(slept).toEqual([2000, 2000, 1000]);
    expect(r.polls).toBe(4);
  });

  it('a steady active unit is healthy once the settle time has passed on the clock', async () => {
    const { deps, slept } = fakeDeps([show('active', { restarts: 0, enter: 7 })]);
    const r = await waitForHealthy(deps, { services: ['a'], checks: [], timeoutSec: 60, settleSec: 10, pollMs: 2500 });
    expect(r).toMatchObject({ ok: true, polls: 5 });
    expect(slept).toEqual([2500, 2500, 2500, 2500]);
    expect(r.results[0]?.detail).toBe('active, stable for 10 s, NRestarts=0');
  });

  it('a crash-looping unit (active 0.2 s, activating 1 s) never settles: not healthy at the deadline', async () => {
    // Polls 250 ms apart sample the loop; NRestarts and ActiveEnterTimestamp move every 1.2 s.
    const answers: string[] = [];
    for (let t = 0; t <= 60_000; t += 250) {
      const n = Math.floor(t / 1200);
      const up = t - n * 1200 < 200;
      answers.push(
        up
          ? show('active', { restarts: n, enter: 1_000_000 + n * 1_200_000 })
          : show('activating', { restarts: n + 1 }),
      );
    }
    const { deps } = fakeDeps(answers);
    const r = await waitForHealthy(deps, { services: ['sshd'], checks: [], timeoutSec: 30, settleSec: 10 });
    expect(r).toMatchObject({ ok: false, failedFast: false, timedOut: true });
    expect(r.results[0]?.ok).toBe(false);
  });
});
