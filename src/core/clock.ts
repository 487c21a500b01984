/**
 * Time, injectable. Decisions take `now` as a value; only the composition
 * root creates a clock.
 */
export interface Clock {
  now(): Date;
  monotonicMs(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonicMs: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A clock that starts at `start` and advances with real elapsed time. Used
 * when GITOPSD_TEST_NOW is set (tests of reboot windows and schedules).
 */
export function offsetClock(start: Date): Clock {
  const t0 = performance.now();
  return {
    now: () => new Date(start.getTime() + (performance.now() - t0)),
    monotonicMs: () => performance.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}
