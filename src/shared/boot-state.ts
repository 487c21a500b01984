/**
 * The "boot" section of the state document: boot attempts, verdicts, per-path
 * counters, rollbacks. Pure helpers only; every change is one atomic state
 * write done by the caller (src/boot-validate/index.ts, src/golden/index.ts).
 *
 * It sits in the shared layer, below golden and boot validation (docs/design.md
 * "Layers"): golden records its rollbacks here and reads the verdicts
 * (`hasOkVerdict`) without importing boot validation, which sits above it.
 */
import * as z from '../core/zod.js';
import type { StateDoc, StateStore } from '../core/state.js';
import { PARSE_ONCE } from '../core/parse-once.js';

export const BOOT_KEY = 'boot';
export const ATTEMPT_HISTORY_LIMIT = 50;
export const PATHS_LIMIT = 30;
export const ROLLBACK_LIMIT = 20;
export const EVENT_LIMIT = 50;

export const Verdict = z.enum(['pending', 'ok', 'failed']);
export type Verdict = z.infer<typeof Verdict>;

export const CheckResultSchema = z.looseObject({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
  kind: z.optional(z.string()),
});

/** What the verdict decided to do; kept so a re-run in the same boot can finish it. */
export const ActionKind = z.enum(['none', 'pin', 'reboot', 'wait', 'rollback', 'degraded']);
export type ActionKind = z.infer<typeof ActionKind>;

export const Attempt = z.looseObject({
  id: z.number().check(z.int()),
  storePath: z.string(),
  /** Identity of the boot (src/golden/nix.ts readBootKey). */
  bootKey: z.string(),
  startedAt: z.string(),
  verdict: Verdict,
  verdictAt: z._default(z.nullable(z.string()), null),
  /** Why it failed, in words; null while pending or when ok. */
  reason: z._default(z.nullable(z.string()), null),
  checks: z._default(z.array(CheckResultSchema), []),
  action: z._default(z.nullable(ActionKind), null),
  actionDone: z._default(z.boolean(), false),
  /** For a rollback: where to; for any reboot: whether one was requested. */
  rollbackTo: z._default(z.nullable(z.string()), null),
  reboot: z._default(z.boolean(), false),
  actionError: z._default(z.nullable(z.string()), null),
  /** The decision (src/boot-validate/decide.ts BootDecision), kept to finish it after a crash in the same boot. */
  decision: z._default(z.nullable(z.record(z.string(), z.unknown())), null),
});
export type Attempt = z.infer<typeof Attempt>;

/**
 * Fills the counters that state written before issue 13 lacks: a record
 * with `failures` on it had at least that many failed attempts, and one
 * whose last verdict was ok had (at least) that ok boot in a row.
 */
function migratePathRecord(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as Record<string, unknown>;
  const out: Record<string, unknown> = { ...r };
  if (out['failedAttempts'] === undefined)
    out['failedAttempts'] = typeof r['failures'] === 'number' ? r['failures'] : 0;
  if (out['okStreak'] === undefined) out['okStreak'] = r['lastVerdict'] === 'ok' ? 1 : 0;
  return out;
}

// classic zod's z.preprocess(fn, schema): a pipe from a transform (core $ZodPreprocess is $ZodPipe).
export const PathRecord = z.pipe(
  z.transform(migratePathRecord),
  z.looseObject({
    attempts: z._default(z.number().check(z.int()), 0),
    /** Failed verdicts (and attempts without one) since the last ok verdict or reset: counts toward maxBootFailures. */
    failures: z._default(z.number().check(z.int()), 0),
    /**
     * Failed attempts since the last `boot reset`; an ok verdict does not
     * clear them. While > 0, auto-pin needs okStreak >= maxBootFailures.
     */
    failedAttempts: z._default(z.number().check(z.int()), 0),
    /** Ok verdicts in a row (a failed attempt sets it to 0). */
    okStreak: z._default(z.number().check(z.int()), 0),
    /** Automatic reboots requested while this path was booted, since the last ok verdict or reset. */
    reboots: z._default(z.number().check(z.int()), 0),
    lastVerdict: z._default(z.nullable(Verdict), null),
    lastOkAt: z._default(z.nullable(z.string()), null),
    lastFailedAt: z._default(z.nullable(z.string()), null),
    touchedAt: z._default(z.string(), ''),
  }),
);
export type PathRecord = z.infer<typeof PathRecord>;

export const Rollback = z.looseObject({
  at: z.string(),
  from: z.string(),
  to: z.string(),
  reason: z.string(),
  source: z.enum(['auto', 'manual']),
  /** started: decided and recorded; done: boot default (or live system) set. */
  status: z.enum(['started', 'done', 'failed']),
  targetSource: z._default(z.enum(['golden', 'last-ok']), 'golden'),
  commit: z._default(z.nullable(z.string()), null),
});
export type Rollback = z.infer<typeof Rollback>;

export const Degraded = z.looseObject({
  at: z.string(),
  storePath: z.string(),
  reason: z.enum(['golden-failed', 'no-target', 'reboot-bound', 'action-failed']),
  message: z.string(),
});
export type Degraded = z.infer<typeof Degraded>;

export const BootEvent = z.looseObject({
  at: z.string(),
  event: z.string(),
  storePath: z._default(z.nullable(z.string()), null),
  detail: z._default(z.string(), ''),
});
export type BootEvent = z.infer<typeof BootEvent>;

export const BadPath = z.looseObject({ at: z.string(), commit: z.nullable(z.string()), reason: z.string() });

export const BootSection = z.looseObject({
  nextAttemptId: z._default(z.number().check(z.int()), 1),
  /** The newest attempt (possibly still pending). */
  current: z._default(z.nullable(Attempt), null),
  /** Older attempts, newest last, bounded. */
  history: z._default(z.array(Attempt), []),
  paths: z._default(z.record(z.string(), PathRecord), {}),
  lastRollback: z._default(z.nullable(Rollback), null),
  rollbacks: z._default(z.array(Rollback), []),
  degraded: z._default(z.nullable(Degraded), null),
  /** Systems that were rolled back from: never auto-pinned. */
  badPaths: z._default(z.record(z.string(), BadPath), {}),
  events: z._default(z.array(BootEvent), []),
});
export type BootSection = z.infer<typeof BootSection>;

export function parseBoot(raw: unknown): BootSection {
  return BootSection.parse(raw ?? {}, PARSE_ONCE);
}
export function readBoot(state: StateStore): BootSection {
  return parseBoot(state.section(BOOT_KEY));
}
export function bootOf(doc: StateDoc): BootSection {
  return parseBoot(doc[BOOT_KEY]);
}

export function pathRecord(s: BootSection, storePath: string): PathRecord {
  return PathRecord.parse(s.paths[storePath] ?? {});
}

/** Whether this path ever had an ok verdict (still remembered). */
export function hasOkVerdict(s: BootSection, storePath: string): boolean {
  if (s.paths[storePath]?.lastOkAt) return true;
  if (s.current?.storePath === storePath && s.current.verdict === 'ok') return true;
  return s.history.some((a) => a.storePath === storePath && a.verdict === 'ok');
}

/** Pure: replace one path's record, keeping the map bounded (least recently touched go first). */
export function withPath(
  s: BootSection,
  storePath: string,
  fn: (r: PathRecord) => PathRecord,
  now: string,
): BootSection {
  const next = { ...fn(pathRecord(s, storePath)), touchedAt: now };
  const entries = Object.entries({ ...s.paths, [storePath]: next })
    .sort(([, a], [, b]) => (a.touchedAt ?? '').localeCompare(b.touchedAt ?? ''))
    .slice(-PATHS_LIMIT);
  return { ...s, paths: Object.fromEntries(entries) };
}

export function withEvent(s: BootSection, e: BootEvent): BootSection {
  return { ...s, events: [...s.events, e].slice(-EVENT_LIMIT) };
}

export function withRollback(s: BootSection, r: Rollback): BootSection {
  // Replace the entry of the same rollback (same at/from/to) instead of appending a duplicate.
  const same = (x: Rollback): boolean => x.at === r.at && x.from === r.from && x.to === r.to;
  const rest = s.rollbacks.filter((x) => !same(x));
  return { ...s, lastRollback: r, rollbacks: [...rest, r].slice(-ROLLBACK_LIMIT) };
}

export const ABANDONED_REASON =
  'no verdict: the boot hung, crashed, lost power, or validation was killed before it finished';

/**
 * Pure: start a new attempt. An earlier attempt still `pending` belongs to a
 * boot that never reached a verdict: it is closed as failed and counted here,
 * in the same write, so the count can neither be lost nor doubled.
 */
export function withAttemptStarted(
  s: BootSection,
  a: { storePath: string; bootKey: string; now: string },
): { section: BootSection; attempt: Attempt; abandoned: Attempt | null } {
  let next = s;
  let abandoned: Attempt | null = null;
  const history = [...s.history];
  if (s.current !== null) {
    if (s.current.verdict === 'pending') {
      abandoned = {
        ...s.current,
        verdict: 'failed',
        verdictAt: a.now,
        reason: ABANDONED_REASON,
        action: 'none',
        actionDone: true,
      };
      next = withPath(
        next,
        abandoned.storePath,
        (r) => ({
          ...r,
          failures: r.failures + 1,
          failedAttempts: r.failedAttempts + 1,
          okStreak: 0,
          lastVerdict: 'failed',
          lastFailedAt: a.now,
        }),
        a.now,
      );
      history.push(abandoned);
    } else {
      history.push(s.current);
    }
  }
  const attempt: Attempt = {
    id: s.nextAttemptId,
    storePath: a.storePath,
    bootKey: a.bootKey,
    startedAt: a.now,
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
  };
  next = withPath(next, a.storePath, (r) => ({ ...r, attempts: r.attempts + 1 }), a.now);
  return {
    section: {
      ...next,
      nextAttemptId: s.nextAttemptId + 1,
      current: attempt,
      history: history.slice(-ATTEMPT_HISTORY_LIMIT),
    },
    attempt,
    abandoned,
  };
}

/** All remembered attempts, oldest first (history then current). */
export function allAttempts(s: BootSection): Attempt[] {
  return s.current === null ? [...s.history] : [...s.history, s.current];
}
