import { afterAll, describe, expect, it } from 'vitest';
import { createTask, parse } from 'node-cron';
import { createSchedule, matcherFor, type Schedule } from '../../../src/shared/cron-schedule.js';
import { prng } from '../../harness/prng.js';
import { planNextRun } from '../../../src/cycle/schedule.js';

// Local-time constructors: the schedule works in the process's local time,
// like systemd timers, so the expectations are built the same way.
const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): Date => new Date(y, mo - 1, d, h, mi, s);

const made: Schedule[] = [];
const sched = (expr: string): Schedule => {
  const s = createSchedule(expr);
  made.push(s);
  return s;
};
afterAll(() => {
  for (const s of made) s.dispose();
});

describe('nextSlotAfter', () => {
  it.each([
    // expression, from, expected next
    ['0 4 * * *', local(2026, 3, 10, 3, 59, 59), local(2026, 3, 10, 4, 0, 0)],
    ['0 4 * * *', local(2026, 3, 10, 4, 0, 0), local(2026, 3, 11, 4, 0, 0)], // strictly after
    ['0 4 * * *', local(2026, 12, 31, 5), local(2027, 1, 1, 4)], // year boundary
    ['*/15 * * * *', local(2026, 3, 10, 10, 7, 30), local(2026, 3, 10, 10, 15)],
    ['30 2 * * 1', local(2026, 3, 10, 12), local(2026, 3, 16, 2, 30)], // 2026-03-10 is a Tuesday
    ['30 2 * * mon', local(2026, 3, 10, 12), local(2026, 3, 16, 2, 30)],
    ['0 3 1,15 * *', local(2026, 3, 2), local(2026, 3, 15, 3)],
    ['0 0 29 2 *', local(2026, 3, 1), local(2028, 2, 29)], // leap day
    ['15 10 * * * *', local(2026, 3, 10, 8, 0, 20), local(2026, 3, 10, 8, 10, 15)], // with a seconds field
    ['0 4 * * *', new Date(local(2026, 3, 10, 3, 59, 59).getTime() + 999), local(2026, 3, 10, 4)], // ms ignored
  ])('%s after %s is %s', (expr, from, expected) => {
    expect(sched(expr).nextSlotAfter(from).toISOString()).toBe(expected.toISOString());
  });

  it('day-of-month and day-of-week must both match (node-cron and systemd semantics)', () => {
    // The 13th that is a Friday: 2026-02-13 and 2026-03-13 are Fridays.
    expect(
      sched('0 0 13 * fri')
        .nextSlotAfter(local(2026, 1, 1))
        .toISOString(),
    ).toBe(local(2026, 2, 13).toISOString());
  });

  it('refuses an impossible date when parsing', () => {
    expect(() => sched('0 0 30 2 *')).toThrow(/not a valid cron expression/);
  });

  it('refuses an expression with no run in the next 8 years', () => {
    // Feb 29 on a Monday: next in 2044.
    expect(() => sched('0 0 29 2 mon').nextSlotAfter(local(2026, 1, 1))).toThrow(/no run in the next/);
  });
});

describe('planNextRun', () => {
  const daily = sched('0 4 * * *');
  const base = {
    schedule: daily,
    persistent: true,
    randomizedDelaySec: 1800,
    random: 0,
    startingUp: true,
  };

  it.each([
    // name, now, lastRunAt, persistent, startingUp, expected trigger, expected slot
    [
      'no run recorded: wait for the next slot',
      local(2026, 3, 10, 12),
      null,
      true,
      true,
      'schedule',
      local(2026, 3, 11, 4),
    ],
    [
      'ran today after the slot: next slot',
      local(2026, 3, 10, 12),
      local(2026, 3, 10, 4, 10),
      true,
      true,
      'schedule',
      local(2026, 3, 11, 4),
    ],
    [
      'missed today: catch up',
      local(2026, 3, 10, 12),
      local(2026, 3, 9, 4, 10),
      true,
      true,
      'catch-up',
      local(2026, 3, 10, 4),
    ],
    [
      'missed many: one catch-up, for the first missed slot',
      local(2026, 3, 10, 12),
      local(2026, 3, 1, 4),
      true,
      true,
      'catch-up',
      local(2026, 3, 2, 4),
    ],
    [
      'missed but not persistent',
      local(2026, 3, 10, 12),
      local(2026, 3, 9, 4, 10),
      false,
      true,
      'schedule',
      local(2026, 3, 11, 4),
    ],
    [
      'missed but not starting up',
      local(2026, 3, 10, 12),
      local(2026, 3, 9, 4, 10),
      true,
      false,
      'schedule',
      local(2026, 3, 11, 4),
    ],
    [
      "started before today's slot: nothing missed",
      local(2026, 3, 10, 3),
      local(2026, 3, 9, 4, 10),
      true,
      true,
      'schedule',
      local(2026, 3, 10, 4),
    ],
    [
      'exactly at the slot counts as missed',
      local(2026, 3, 10, 4),
      local(2026, 3, 9, 4, 10),
      true,
      true,
      'catch-up',
      local(2026, 3, 10, 4),
    ],
  ] as const)('%s', (_name, now, lastRunAt, persistent, startingUp, trigger, slot) => {
    const r = planNextRun({ ...base, now, lastRunAt, persistent, startingUp });
    expect(r.trigger).toBe(trigger);
    expect(r.slot.toISOString()).toBe(slot.toISOString());
    // random = 0: no delay; a catch-up runs now, a scheduled run at its slot.
    expect(r.at.toISOString()).toBe((trigger === 'catch-up' ? now : slot).toISOString());
  });

  it.each([
    [0, 0],
    [0.5, 900_000],
    [0.999999, 1_799_998],
    [1, 1_799_999], // out of range is clamped below the bound
    [-3, 0],
    [Number.NaN, 0],
  ])('random %s gives a delay of %s ms, always in [0, randomizedDelaySec)', (random, delayMs) => {
    const now = local(2026, 3, 10, 12);
    const r = planNextRun({ ...base, now, lastRunAt: null, random });
    expect(r.delayMs).toBe(delayMs);
    expect(r.delayMs).toBeGreaterThanOrEqual(0);
    expect(r.delayMs).toBeLessThan(1800 * 1000);
    expect(r.at.getTime() - r.slot.getTime()).toBe(delayMs);
  });

  it('the delay also applies to a catch-up', () => {
    const now = local(2026, 3, 10, 12);
    const r = planNextRun({ ...base, now, lastRunAt: local(2026, 3, 9, 4), random: 0.5 });
    expect(r.trigger).toBe('catch-up');
    expect(r.at.getTime() - now.getTime()).toBe(900_000);
  });

  it('randomizedDelaySec 0 means no delay whatever the random value', () => {
    const r = planNextRun({
      ...base,
      now: local(2026, 3, 10, 12),
      lastRunAt: null,
      random: 0.7,
      randomizedDelaySec: 0,
    });
    expect(r.delayMs).toBe(0);
  });
});

describe("the Intl-free matcher agrees with node-cron's own", () => {
  // node-cron's task.match is the reference (it reads the date through Intl).
  const expressions = [
    '0 4 * * *',
    '*/15 * * * *',
    '30 2 * * 1',
    '30 2 * * mon-fri',
    '0 3 1,15 * *',
    '0 0 29 2 *',
    '15 10 * * * *',
    '0 4 * * 7', // Sunday written as 7
    '0 0-23/5 */3 jan,jul *',
    '0 4 13 * fri',
    '@daily',
    '@hourly',
  ];
  it.each(expressions)('%s: same answer on 3,000 random local times', (expr) => {
    const fields = parse(expr);
    const ours = matcherFor(expr, fields);
    const task = createTask(expr, () => undefined);
    const rand = prng(7);
    const start = new Date(2026, 0, 1).getTime();
    let matches = 0;
    try {
      for (let i = 0; i < 3000; i++) {
        // Random instants over two years, snapped to whole seconds; every
        // fifth one is moved to a slot of the expression so that matches occur.
        let t = new Date(Math.floor((start + rand() * 2 * 365 * 86_400_000) / 1000) * 1000);
        if (i % 5 === 0) t = createSchedule(expr).nextSlotAfter(t);
        const want = task.match(t);
        expect(ours.test(t), `${expr} at ${t.toString()}`).toBe(want);
        if (want) matches++;
      }
    } finally {
      ours.dispose();
      void Promise.resolve(task.destroy()).catch(() => undefined);
    }
    expect(matches).toBeGreaterThan(0);
  });

  it("expressions with L, W or # tokens go to node-cron's matcher", () => {
    const expr = '0 4 L * *';
    const m = matcherFor(expr, parse(expr));
    try {
      expect(m.test(new Date(2026, 1, 28, 4))).toBe(true); // last day of February 2026
      expect(m.test(new Date(2026, 1, 27, 4))).toBe(false);
    } finally {
      m.dispose();
    }
  });
});
