/**
 * The daemon with an injected clock, timers and signals: virtual time only,
 * no sleeps. `FakeTime` is the clock and the timers; signals are an emitter.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeps, type Deps } from '../../../src/core/deps.js';
import { loadConfig } from '../../../src/core/config.js';
import { silentLogger } from '../../../src/core/log.js';
import { LockHeldError, type ExitCode } from '../../../src/core/errors.js';
import type { Clock } from '../../../src/core/clock.js';
import { decidePoll, EMPTY_POLL } from '../../../src/cycle/poll-decide.js';
import type { FetchedRef } from '../../../src/upgrade/git.js';
import { CYCLE_KEY, runCycle, type CycleResult, type CycleStep } from '../../../src/cycle/index.js';
import {
  MAX_TIMER_MS,
  runDaemon,
  type CycleRunner,
  type DaemonEvent,
  type DaemonSignal,
  type PollRunner,
  type SignalSource,
  type Timers,
} from '../../../src/cycle/daemon.js';

/**
 * Virtual time: timers fire on a monotonic count (like setTimeout), and the
 * wall clock is that count plus an offset that `jump` moves (suspend, NTP).
 */
class FakeTime implements Timers {
  private mono = 0;
  private offset: number;
  private seq = 0;
  private pending: Array<{ id: number; at: number; fn: () => void }> = [];
  constructor(start: Date) {
    this.offset = start.getTime();
  }
  readonly clock: Clock = {
    now: () => new Date(this.offset + this.mono),
    monotonicMs: () => this.mono,
    sleep: () => Promise.reject(new Error('the daemon must not sleep')),
  };
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.push({ id, at: this.mono + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== h);
  }
  get armed(): number {
    return this.pending.length;
  }
  /** Delay of the one armed timer (the daemon never has more than one). */
  get nextDelayMs(): number | null {
    const p = this.pending[0];
    return p === undefined ? null : p.at - this.mono;
  }
  /** Move the wall clock forward to `to`, firing due timers in order. */
  async advanceTo(to: Date): Promise<void> {
    const target = to.getTime() - this.offset;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const first = this.pending[0];
      if (first === undefined || first.at > target) break;
      this.pending.shift();
      this.mono = first.at;
      first.fn();
      await flush();
    }
    this.mono = Math.max(this.mono, target);
    await flush();
  }
  /** Step the wall clock without any time passing (NTP step, RTC fix). */
  jump(ms: number): void {
    this.offset += ms;
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

class FakeSignals implements SignalSource {
  private readonly em = new EventEmitter();
  on(s: DaemonSignal, h: () => void): void {
    this.em.on(s, h);
  }
  off(s: DaemonSignal, h: () => void): void {
    this.em.off(s, h);
  }
  listeners(): number {
    return this.em.listenerCount('SIGTERM') + this.em.listenerCount('SIGINT') + this.em.listenerCount('SIGHUP');
  }
  async send(s: DaemonSignal): Promise<void> {
    this.em.emit(s);
    await flush();
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = new Date('2026-03-10T12:00:00'); // local time, like the schedule

interface Bed {
  dir: string;
  configFile: string;
  deps: Deps;
  time: FakeTime;
  signals: FakeSignals;
  events: DaemonEvent[];
  writeConfig(schedule: Record<string, unknown>): void;
  reload: () => Deps;
}

function bed(schedule: Record<string, unknown> = {}, start = T0, extra: Record<string, unknown> = {}): Bed {
  const dir = mkdtempSync(join(tmpdir(), 'gitopsd-daemon-'));
  dirs.push(dir);
  const configFile = join(dir, 'config.json');
  const time = new FakeTime(start);
  const writeConfig = (s: Record<string, unknown>): void => {
    writeFileSync(
      configFile,
      JSON.stringify({
        stateDir: join(dir, 'state'),
        nixConfig: { path: join(dir, 'nixos') },
        schedule: { cron: '0 4 * * *', randomizedDelaySec: 0, ...s },
        ...extra,
      }),
    );
  };
  writeConfig(schedule);
  const load = (): Deps => ({
    ...buildDeps({ configPath: configFile, config: loadConfig(configFile, 'testhost'), env: {} }),
    clock: time.clock,
    log: silentLogger,
  });
  return { dir, configFile, deps: load(), time, signals: new FakeSignals(), events: [], writeConfig, reload: load };
}

/** A cycle the test finishes by hand. */
function manualCycles() {
  const calls: Array<{
    trigger: string;
    at: Date;
    deps: Deps;
    shouldStop: () => boolean;
    finish: (code?: ExitCode) => void;
  }> = [];
  const runner: CycleRunner = (deps, o) =>
    new Promise<CycleResult>((resolve) => {
      calls.push({
        trigger: o.trigger,
        at: deps.clock.now(),
        deps,
        shouldStop: o.shouldStop,
        finish: (code = 0) =>
          resolve({ exitCode: code, trigger: o.trigger, startedAt: '', finishedAt: '', stopped: false, steps: [] }),
      });
    });
  return { calls, runner };
}

function start(b: Bed, runCycleFn: CycleRunner, random = () => 0, runPoll?: PollRunner) {
  const done = runDaemon({
    ...(runPoll === undefined ? {} : { runPoll }),
    deps: b.deps,
    reload: b.reload,
    runCycle: runCycleFn,
    timers: b.time,
    signals: b.signals,
    random,
    observe: (e) => b.events.push(e),
  });
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { done, isSettled: () => settled };
}

const at = (s: string): Date => new Date(s);

describe('daemon scheduling', () => {
  it('runs at each slot of schedule.cron and re-plans after each cycle', async () => {
    const b = bed();
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    expect(b.time.nextDelayMs).toBe(MAX_TIMER_MS); // 16 h away: the first chunk
    await b.time.advanceTo(at('2026-03-11T03:59:59'));
    expect(c.calls).toHaveLength(0);
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    expect(c.calls.map((x) => [x.trigger, x.at.toString()])).toEqual([
      ['schedule', at('2026-03-11T04:00:00').toString()],
    ]);
    expect(b.time.armed).toBe(0); // nothing armed while a cycle runs
    await b.time.advanceTo(at('2026-03-11T05:00:00'));
    c.calls[0]?.finish(0);
    await flush();
    await b.time.advanceTo(at('2026-03-12T04:00:00'));
    expect(c.calls).toHaveLength(2);
    c.calls[1]?.finish(0);
    await flush();
    await b.signals.send('SIGTERM');
    await expect(d.done).resolves.toEqual({ cycles: 2, lastExitCode: 0 });
  });

  it('adds the random delay to the slot, within [0, randomizedDelaySec)', async () => {
    const b = bed({ randomizedDelaySec: 1800 });
    const c = manualCycles();
    const d = start(b, c.runner, () => 0.5);
    await flush();
    const planned = b.events.find((e) => e.type === 'planned');
    expect(planned).toMatchObject({ next: { trigger: 'schedule', delayMs: 900_000 } });
    await b.time.advanceTo(at('2026-03-11T04:14:59'));
    expect(c.calls).toHaveLength(0);
    await b.time.advanceTo(at('2026-03-11T04:15:00'));
    expect(c.calls).toHaveLength(1);
    c.calls[0]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it.each([0, 0.25, 0.999999999])('with random() = %s the run starts within the delay bound', async (r) => {
    const b = bed({ randomizedDelaySec: 600 });
    const c = manualCycles();
    const d = start(b, c.runner, () => r);
    await flush();
    await b.time.advanceTo(at('2026-03-11T04:10:00'));
    expect(c.calls).toHaveLength(1);
    const startedAt = c.calls[0]?.at.getTime() ?? 0;
    expect(startedAt - at('2026-03-11T04:00:00').getTime()).toBeGreaterThanOrEqual(0);
    expect(startedAt - at('2026-03-11T04:00:00').getTime()).toBeLessThan(600_000);
    c.calls[0]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('waits in chunks of at most MAX_TIMER_MS', async () => {
    const b = bed({ cron: '0 4 1 * *' }); // monthly: longer than one timer chunk
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    expect(b.time.nextDelayMs).toBe(MAX_TIMER_MS);
    await b.time.advanceTo(at('2026-03-20T00:00:00'));
    expect(c.calls).toHaveLength(0);
    expect(b.time.armed).toBe(1);
    await b.time.advanceTo(at('2026-04-01T04:00:00'));
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]?.at.toString()).toBe(at('2026-04-01T04:00:00').toString());
    c.calls[0]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('reads the clock at each wake-up: a wall clock stepped back does not make the run early', async () => {
    const b = bed();
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    await b.time.advanceTo(at('2026-03-11T03:00:00'));
    b.time.jump(-2 * 3600 * 1000); // now 01:00 again; the armed timer still fires at 04:00 - 03:00 = 1 h later
    await b.time.advanceTo(at('2026-03-11T02:00:00'));
    expect(c.calls).toHaveLength(0); // woke at wall 02:00, re-armed for 04:00
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    expect(c.calls.map((x) => x.at.toString())).toEqual([at('2026-03-11T04:00:00').toString()]);
    c.calls[0]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('a cycle that throws is logged and the daemon goes on to the next slot', async () => {
    const b = bed();
    let n = 0;
    const d = start(b, () => {
      n += 1;
      return Promise.reject(new LockHeldError('/l', 1, 'upgrade'));
    });
    await flush();
    await b.time.advanceTo(at('2026-03-12T04:00:00'));
    expect(n).toBe(2);
    const finished = b.events.filter((e) => e.type === 'cycle-finished');
    expect(finished.map((e) => e.exitCode)).toEqual([null, null]);
    expect(finished[0]?.error).toMatch(/holds the lock/);
    await b.signals.send('SIGTERM');
    await expect(d.done).resolves.toEqual({ cycles: 2, lastExitCode: null });
  });
});

describe('persistent catch-up', () => {
  const withLastRun = (b: Bed, iso: string): void => {
    b.deps.state.updateSection(CYCLE_KEY, () => ({ lastStartedAt: new Date(iso).toISOString() }));
  };

  it('runs once soon after start when a slot was missed (host off)', async () => {
    const b = bed({ randomizedDelaySec: 60 });
    withLastRun(b, '2026-03-08T04:05:00'); // missed the 9th and the 10th
    const c = manualCycles();
    const d = start(b, c.runner, () => 0.5);
    await flush();
    expect(b.events.find((e) => e.type === 'planned')).toMatchObject({
      next: { trigger: 'catch-up', delayMs: 30_000 },
    });
    await b.time.advanceTo(new Date(T0.getTime() + 30_000));
    expect(c.calls.map((x) => x.trigger)).toEqual(['catch-up']);
    c.calls[0]?.finish();
    await flush();
    // One catch-up for all missed slots; then the normal schedule.
    expect(b.events.filter((e) => e.type === 'planned').at(-1)).toMatchObject({ next: { trigger: 'schedule' } });
    await b.time.advanceTo(at('2026-03-11T03:00:00'));
    expect(c.calls).toHaveLength(1);
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('does not catch up when the last slot was served', async () => {
    const b = bed();
    withLastRun(b, '2026-03-10T04:00:05');
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    expect(b.events.find((e) => e.type === 'planned')).toMatchObject({ next: { trigger: 'schedule' } });
    await b.time.advanceTo(at('2026-03-10T23:00:00'));
    expect(c.calls).toHaveLength(0);
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('does not catch up when schedule.persistent is false', async () => {
    const b = bed({ persistent: false });
    withLastRun(b, '2026-03-01T04:00:00');
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    expect(b.events.find((e) => e.type === 'planned')).toMatchObject({ next: { trigger: 'schedule' } });
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('uses the start time the real cycle records', async () => {
    const b = bed();
    const steps: CycleStep[] = [{ name: 'upgrade', run: () => Promise.resolve({ exitCode: 0, summary: 'no-op' }) }];
    const d = start(b, (deps, o) => runCycle(deps, { steps, trigger: o.trigger, shouldStop: o.shouldStop }));
    await flush();
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    await b.signals.send('SIGTERM');
    await d.done;
    // A restart after the next slot passed catches up; before it, it does not.
    const again = (now: string) => {
      const b2 = { ...b, time: new FakeTime(at(now)), signals: new FakeSignals(), events: [] as DaemonEvent[] };
      b2.deps = { ...b.deps, clock: b2.time.clock };
      return b2;
    };
    for (const [now, trigger] of [
      ['2026-03-11T23:00:00', 'schedule'],
      ['2026-03-12T05:00:00', 'catch-up'],
    ] as const) {
      const b2 = again(now);
      const d2 = start(b2, manualCycles().runner);
      await flush();
      expect(b2.events.find((e) => e.type === 'planned')).toMatchObject({ next: { trigger } });
      await b2.signals.send('SIGTERM');
      await d2.done;
    }
  });
});

describe('SIGTERM', () => {
  it('when idle: stops at once, clears the timer, removes its handlers and releases the lock', async () => {
    const b = bed();
    const d = start(b, manualCycles().runner);
    await flush();
    expect(b.time.armed).toBe(1);
    expect(b.signals.listeners()).toBe(3);
    await b.signals.send('SIGTERM');
    await expect(d.done).resolves.toEqual({ cycles: 0, lastExitCode: null });
    expect(b.time.armed).toBe(0);
    expect(b.signals.listeners()).toBe(0);
    b.deps.lockAt(join(b.deps.paths.stateDir, 'daemon.lock'), 'probe').release(); // free again
  });

  it('during a cycle: waits for the running step, starts no further step, then stops (no half-activation)', async () => {
    const b = bed();
    const log: string[] = [];
    let finishUpgrade: () => void = () => undefined;
    const steps: CycleStep[] = [
      {
        name: 'sync',
        run: () => {
          log.push('sync');
          return Promise.resolve({ exitCode: 0, summary: 'synced' });
        },
      },
      {
        name: 'upgrade',
        run: () =>
          new Promise((resolve) => {
            log.push('upgrade:activating');
            finishUpgrade = () => {
              log.push('upgrade:activated');
              resolve({ exitCode: 0, summary: 'deployed' });
            };
          }),
      },
    ];
    const d = start(b, (deps, o) => runCycle(deps, { steps, trigger: o.trigger, shouldStop: o.shouldStop }));
    await flush();
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    expect(log).toEqual(['sync', 'upgrade:activating']);
    await b.signals.send('SIGTERM');
    await b.signals.send('SIGTERM'); // a second signal only logs
    expect(b.events.filter((e) => e.type === 'stopping')).toEqual([{ type: 'stopping', during: 'cycle' }]);
    expect(d.isSettled()).toBe(false); // still inside the activation
    finishUpgrade();
    await expect(d.done).resolves.toEqual({ cycles: 1, lastExitCode: 0 });
    expect(log).toEqual(['sync', 'upgrade:activating', 'upgrade:activated']);
    expect(b.time.armed).toBe(0);
  });

  it('during sync: the upgrade does not start', async () => {
    const b = bed();
    const log: string[] = [];
    let finishSync: () => void = () => undefined;
    const steps: CycleStep[] = [
      {
        name: 'sync',
        run: () =>
          new Promise((resolve) => {
            finishSync = () => resolve({ exitCode: 0, summary: 'synced' });
          }),
      },
      { name: 'upgrade', run: () => (log.push('upgrade'), Promise.resolve({ exitCode: 0, summary: 'deployed' })) },
    ];
    const d = start(b, (deps, o) => runCycle(deps, { steps, trigger: o.trigger, shouldStop: o.shouldStop }));
    await flush();
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    await b.signals.send('SIGTERM');
    finishSync();
    await expect(d.done).resolves.toEqual({ cycles: 1, lastExitCode: 75 });
    expect(log).toEqual([]);
  });

  it('SIGINT behaves like SIGTERM', async () => {
    const b = bed();
    const d = start(b, manualCycles().runner);
    await flush();
    await b.signals.send('SIGINT');
    await expect(d.done).resolves.toEqual({ cycles: 0, lastExitCode: null });
  });
});

describe('SIGHUP', () => {
  it('a good new config is applied: the next run follows the new schedule', async () => {
    const b = bed();
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    b.writeConfig({ cron: '30 1 * * *' });
    await b.signals.send('SIGHUP');
    expect(b.events.some((e) => e.type === 'reloaded')).toBe(true);
    await b.time.advanceTo(at('2026-03-11T01:30:00'));
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]?.deps.config.schedule.cron).toBe('30 1 * * *');
    c.calls[0]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it.each([
    ['not JSON', '{ nope'],
    ['an unknown key', JSON.stringify({ nixConfig: { path: '/etc/nixos' }, shedule: {} })],
    ['a bad cron', JSON.stringify({ nixConfig: { path: '/etc/nixos' }, schedule: { cron: 'every day' } })],
  ])('a bad new config (%s) is refused and the old one kept', async (_n, text) => {
    const b = bed();
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    writeFileSync(b.configFile, text);
    await b.signals.send('SIGHUP');
    expect(b.events.filter((e) => e.type === 'reload-refused')).toHaveLength(1);
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]?.deps.config.schedule.cron).toBe('0 4 * * *');
    c.calls[0]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('a new config that moves stateDir is refused', async () => {
    const b = bed();
    const d = start(b, manualCycles().runner);
    await flush();
    writeFileSync(
      b.configFile,
      JSON.stringify({ stateDir: join(b.dir, 'elsewhere'), nixConfig: { path: '/etc/nixos' } }),
    );
    await b.signals.send('SIGHUP');
    const refused = b.events.find((e) => e.type === 'reload-refused');
    expect(refused?.reason).toMatch(/stateDir changed/);
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('during a cycle, the reload waits for the cycle to end', async () => {
    const b = bed();
    const c = manualCycles();
    const d = start(b, c.runner);
    await flush();
    await b.time.advanceTo(at('2026-03-11T04:00:00'));
    b.writeConfig({ cron: '0 2 * * *' });
    await b.signals.send('SIGHUP');
    expect(b.events.some((e) => e.type === 'reloaded')).toBe(false);
    c.calls[0]?.finish();
    await flush();
    expect(b.events.some((e) => e.type === 'reloaded')).toBe(true);
    await b.time.advanceTo(at('2026-03-12T02:00:00'));
    expect(c.calls).toHaveLength(2);
    c.calls[1]?.finish();
    await b.signals.send('SIGTERM');
    await d.done;
  });
});

describe('one instance', () => {
  it('a second daemon is refused with LockHeldError (exit 75) and changes nothing', async () => {
    const b = bed();
    const d = start(b, manualCycles().runner);
    await flush();
    const second = bed();
    second.deps = { ...b.deps, clock: second.time.clock };
    expect(() =>
      runDaemon({
        deps: second.deps,
        reload: b.reload,
        runCycle: manualCycles().runner,
        timers: second.time,
        signals: second.signals,
      }),
    ).toThrow(LockHeldError);
    expect(second.time.armed).toBe(0);
    expect(second.signals.listeners()).toBe(0);
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('a cron with no run in 8 years fails the start with a config error (78) and releases the lock', async () => {
    const b = bed({ cron: '0 0 29 2 mon' });
    await expect(start(b, manualCycles().runner).done).rejects.toMatchObject({ kind: 'config' });
    b.deps.lockAt(join(b.deps.paths.stateDir, 'daemon.lock'), 'probe').release();
    expect(b.signals.listeners()).toBe(0);
    expect(b.time.armed).toBe(0);
  });
});

/**
 * A remote whose branch tip the test moves ("a push"), and a poll runner that
 * sees it as `git fetch --porcelain` would: a changed line for the tracking
 * ref when the tip moved since the last fetch, nothing otherwise. The
 * decision is the real decidePoll; "upgrades" are recorded with their time.
 */
function pollingRemote() {
  const trackingRef = 'refs/remotes/origin/main';
  let remoteTip = 'a'.repeat(40);
  let fetchedTip = remoteTip;
  const fetches: Date[] = [];
  const upgrades: Array<{ at: Date; tip: string | null }> = [];
  const runner: PollRunner = (deps) => {
    const now = deps.clock.now();
    fetches.push(now);
    const fetched: FetchedRef[] =
      remoteTip === fetchedTip ? [] : [{ flag: ' ', old: fetchedTip, new: remoteTip, ref: trackingRef }];
    fetchedTip = remoteTip;
    const decision = decidePoll({ fetched, trackingRef, checkoutMissing: false, state: EMPTY_POLL, now });
    if (decision.kind === 'run') upgrades.push({ at: now, tip: decision.tip });
    return Promise.resolve({ decision, trigger: null, upgrade: null, exitCode: 0, message: decision.line });
  };
  return {
    runner,
    fetches,
    upgrades,
    push: (tip: string) => {
      remoteTip = tip;
    },
  };
}

describe('poll mode (daemon.pollIntervalSec)', () => {
  it('a push reaches the host within one poll interval; a poll that finds nothing upgrades nothing', async () => {
    const b = bed({}, T0, { daemon: { pollIntervalSec: 60 } });
    const c = manualCycles();
    const r = pollingRemote();
    const d = start(b, c.runner, () => 0, r.runner);
    await flush();
    await b.time.advanceTo(at('2026-03-10T12:05:00'));
    expect(r.fetches).toHaveLength(5); // one per minute
    expect(r.upgrades).toHaveLength(0);
    const pushedAt = at('2026-03-10T12:05:17');
    await b.time.advanceTo(pushedAt);
    r.push('b'.repeat(40));
    await b.time.advanceTo(at('2026-03-10T12:07:00'));
    expect(r.upgrades).toEqual([{ at: at('2026-03-10T12:06:00'), tip: 'b'.repeat(40) }]);
    const upgradedAt = r.upgrades[0]?.at.getTime() ?? Infinity;
    expect(upgradedAt - pushedAt.getTime()).toBeLessThanOrEqual(60_000);
    expect(c.calls).toHaveLength(0); // polls are not cycles
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('is off by default: no poll timer, only the cycle', async () => {
    const b = bed();
    const c = manualCycles();
    const r = pollingRemote();
    const d = start(b, c.runner, () => 0, r.runner);
    await flush();
    expect(b.time.armed).toBe(1);
    await b.time.advanceTo(at('2026-03-10T18:00:00'));
    expect(r.fetches).toHaveLength(0);
    await b.signals.send('SIGTERM');
    await d.done;
  });

  it('a cycle slot that falls during a poll starts when the poll ends; no poll runs during a cycle', async () => {
    const b = bed({}, at('2026-03-11T03:58:30'), { daemon: { pollIntervalSec: 60 } });
    const c = manualCycles();
    let finishPoll: (() => void) | null = null;
    const polls: Date[] = [];
    const slowPoll: PollRunner = (deps) =>
      new Promise((resolve) => {
        polls.push(deps.clock.now());
        finishPoll = () =>
          resolve({
            decision: { kind: 'idle', line: 'no new tip' },
            trigger: null,
            upgrade: null,
            exitCode: 0,
            message: 'no new tip',
          });
      });
    const d = start(b, c.runner, () => 0, slowPoll);
    await flush();
    await b.time.advanceTo(at('2026-03-11T03:59:30')); // the poll starts
    expect(polls).toHaveLength(1);
    await b.time.advanceTo(at('2026-03-11T04:00:10')); // the slot passes during the poll
    expect(c.calls).toHaveLength(0);
    (finishPoll as (() => void) | null)?.();
    await flush();
    expect(c.calls.map((x) => x.trigger)).toEqual(['schedule']);
    await b.time.advanceTo(at('2026-03-11T04:10:00')); // the cycle runs: no poll
    expect(polls).toHaveLength(1);
    c.calls[0]?.finish(0);
    await flush();
    await b.time.advanceTo(at('2026-03-11T04:11:00')); // one interval after the cycle's end
    expect(polls).toHaveLength(2);
    (finishPoll as (() => void) | null)?.();
    await b.signals.send('SIGTERM');
    await expect(d.done).resolves.toMatchObject({ cycles: 1 });
  });
});
