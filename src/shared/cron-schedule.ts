/**
 * `schedule.cron` read with node-cron: the slots of the expression. Used by
 * the daemon (src/cycle/schedule.ts plans its next run from them) and by
 * `status` (the next scheduled run), so it sits below both (docs/design.md
 * "Layers").
 *
 * node-cron decides what a cron expression means (its parser and its
 * matcher, `task.match(date)`, the same code the config schema validates
 * with). Its own scheduler is not used: it reads the wall clock, while the
 * daemon must run on an injected clock (GITOPSD_TEST_NOW, unit tests) and
 * must know the next slot *before* arming a timer, to add the random delay
 * and to detect a missed run. So `nextSlotAfter` walks days and the
 * expression's hours/minutes/seconds and asks node-cron whether each
 * candidate matches.
 *
 * Semantics (node-cron 4, kept in the docs/nixos.md table):
 * - local time of the process (the host's TZ), as systemd timers use;
 * - day-of-month AND day-of-week must both match (systemd's OnCalendar
 *   semantics too; classic Vixie cron ORs them);
 * - an optional leading seconds field.
 */
import { createTask, parse, type ScheduledTask } from 'node-cron';
import { GitopsdError } from '../core/errors.js';

export interface Schedule {
  readonly expression: string;
  /** The first matching instant strictly after `from` (whole seconds). */
  nextSlotAfter(from: Date): Date;
  /** Release node-cron's task object (it never runs; it is only a matcher). */
  dispose(): void;
}

/** Years searched before giving up (covers Feb 29 and "5th Monday" patterns). */
const MAX_DAYS = 366 * 8;

export function createSchedule(expression: string): Schedule {
  let fields: ReturnType<typeof parse>;
  try {
    fields = parse(expression);
  } catch (err) {
    throw new GitopsdError(
      'config',
      `schedule.cron "${expression}" is not a valid cron expression (${(err as Error).message}); fix schedule.cron`,
    );
  }
  const match = matcherFor(expression, fields);
  const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
  const hours = sortNum(fields.hour);
  const minutes = sortNum(fields.minute);
  const seconds = sortNum(fields.second);
  const firstMinute = minutes[0] ?? 0;
  const firstSecond = seconds[0] ?? 0;

  const nextSlotAfter = (from: Date): Date => {
    const fromMs = Math.floor(from.getTime() / 1000) * 1000;
    const start = new Date(fromMs);
    let y = start.getFullYear();
    let m = start.getMonth();
    let d = start.getDate();
    for (let i = 0; i < MAX_DAYS; i++) {
      // Cheap day filter first: the fields are ANDed, so a day can match only
      // if some hour at the earliest minute and second matches.
      const dayMatches = hours.some((h) => match.test(new Date(y, m, d, h, firstMinute, firstSecond)));
      if (dayMatches) {
        for (const h of hours) {
          for (const mi of minutes) {
            for (const s of seconds) {
              const t = new Date(y, m, d, h, mi, s);
              // A local time that does not exist (DST gap) is normalised by
              // Date into another hour; match() then rejects it.
              if (t.getTime() > fromMs && match.test(t)) return t;
            }
          }
        }
      }
      const next = new Date(y, m, d + 1);
      y = next.getFullYear();
      m = next.getMonth();
      d = next.getDate();
    }
    throw new GitopsdError(
      'config',
      `schedule.cron "${expression}" has no run in the next ${MAX_DAYS} days (a date that never comes, like Feb 30?); fix schedule.cron`,
    );
  };

  return {
    expression,
    nextSlotAfter,
    dispose: () => match.dispose(),
  };
}

type Fields = ReturnType<typeof parse>;

interface Matcher {
  test(date: Date): boolean;
  dispose(): void;
}

/** The parsed fields when every one is a plain list of numbers (no `L`, `W` or `#` tokens). */
function numericFields(fields: Fields): Record<keyof Fields, ReadonlySet<number>> | null {
  const out: Partial<Record<keyof Fields, ReadonlySet<number>>> = {};
  for (const [k, v] of Object.entries(fields) as [keyof Fields, readonly unknown[]][]) {
    if (!v.every((x) => typeof x === 'number')) return null;
    out[k] = new Set(v as number[]);
  }
  return out as Record<keyof Fields, ReadonlySet<number>>;
}

/**
 * Whether a local time matches the expression. node-cron's own matcher
 * (`task.match`) reads the date through `Intl.DateTimeFormat`, whose first
 * use costs 20-40 ms of ICU start-up, on every `status` (docs/benchmarks.md
 * B1). When node-cron's parse gives plain number lists (every expression
 * without `L`, `W` or `#`), matching is set membership of the local date's
 * fields, which is what node-cron's matcher does with them (node-cron 4
 * src/time/time-matcher.ts: every field must contain the date's value; the
 * weekday 7 is folded to 0 by its parser). Other expressions go to
 * node-cron's matcher. test/unit/cycle/schedule.test.ts checks the two agree
 * on random expressions and dates.
 */
export function matcherFor(expression: string, fields: Fields): Matcher {
  const n = numericFields(fields);
  if (n !== null) {
    return {
      test: (t) =>
        n.second.has(t.getSeconds()) &&
        n.minute.has(t.getMinutes()) &&
        n.hour.has(t.getHours()) &&
        n.dayOfMonth.has(t.getDate()) &&
        n.month.has(t.getMonth() + 1) &&
        n.dayOfWeek.has(t.getDay()),
      dispose: () => undefined,
    };
  }
  // A task that is never started: node-cron's matcher, with its handling of
  // names, steps, L/W tokens and nth weekdays. Its function must not run.
  const task: ScheduledTask = createTask(expression, () => undefined);
  return {
    test: (t) => task.match(t),
    dispose: () => {
      void Promise.resolve(task.destroy()).catch(() => undefined);
    },
  };
}
