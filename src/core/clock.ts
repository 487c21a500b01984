/**
 * Time, injectable. Decisions take `now` as a value; only the composition
 * root creates a clock.
 */
export interface Clock {
  now(): Date;
  monotonicMs(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * Milliseconds of CLOCK_MONOTONIC (process.hrtime: an arbitrary origin, only
 * differences mean anything). Not `performance.now()`: its first call loads
 * node's perf_hooks internals, 2.1–3.3 ms of every command's start in the
 * test bed (docs/benchmarks.md, twelfth session).
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonicMs,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A clock that starts at `start` and advances with real elapsed time. Used
 * when GITOPSD_TEST_NOW is set (tests of reboot windows and schedules).
 */
export function offsetClock(start: Date): Clock {
  const t0 = monotonicMs();
  return {
    now: () => new Date(start.getTime() + (monotonicMs() - t0)),
    monotonicMs,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
