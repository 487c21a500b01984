/**
 * Pure decisions about blame in upgrade (issue #13; docs/upgrade.md "What
 * gets blamed"): which failure becomes a bad mark, which becomes a retry
 * record, when a retry is due, and whether a mark written by an older
 * gitopsd still stands. No I/O; the table tests are in
 * test/unit/upgrade/blame.test.ts.
 */
import { classifyFailure, retryDelayMs, type FailureCause, type FailureVerdict } from '../failure/classify.js';
import type { BadCommit } from '../core/deployments.js';
import { RETRY_LIMIT, type RetryRecord } from './state.js';

export interface AttemptKey {
  commit: string;
  flakeHost: string;
  lockBlob: string | null;
}

function sameAttempt(r: AttemptKey, k: AttemptKey): boolean {
  return r.commit === k.commit && r.flakeHost === k.flakeHost && r.lockBlob === k.lockBlob;
}

export function findRetry(records: readonly RetryRecord[], k: AttemptKey): RetryRecord | null {
  return records.find((r) => sameAttempt(r, k)) ?? null;
}

export type RetryGate = { kind: 'go' } | { kind: 'wait'; record: RetryRecord; until: string };

/** Whether the attempt may be built now, given its retry record (none: go). */
export function decideRetry(record: RetryRecord | null, now: Date): RetryGate {
  if (record === null) return { kind: 'go' };
  if (now.getTime() >= Date.parse(record.notBefore)) return { kind: 'go' };
  return { kind: 'wait', record, until: record.notBefore };
}

/**
 * Pure: record one more failure of an attempt that was not the commit's
 * fault. The same cause again counts up (and the backoff grows); another
 * cause starts the count over. Bounded to RETRY_LIMIT records.
 */
export function withRetry(
  records: readonly RetryRecord[],
  a: AttemptKey & { stage: RetryRecord['stage']; verdict: FailureVerdict; now: Date },
): RetryRecord[] {
  if (a.verdict.class === 'caused-by-commit') throw new Error('withRetry: a failure caused by the commit is a mark');
  const prev = findRetry(records, a);
  const failures = prev !== null && prev.cause === a.verdict.cause ? prev.failures + 1 : 1;
  const at = a.now.toISOString();
  const rec: RetryRecord = {
    commit: a.commit,
    flakeHost: a.flakeHost,
    lockBlob: a.lockBlob,
    stage: a.stage,
    class: a.verdict.class,
    cause: a.verdict.cause,
    failures,
    firstAt: prev !== null && prev.cause === a.verdict.cause ? prev.firstAt : at,
    lastAt: at,
    notBefore: new Date(a.now.getTime() + retryDelayMs(a.verdict.cause, failures)).toISOString(),
    summary: a.verdict.summary,
    evidence: a.verdict.evidence,
  };
  return [...records.filter((r) => !sameAttempt(r, a)), rec].slice(-RETRY_LIMIT);
}

/** Pure: forget every retry record of a commit (it deployed, or a person said so). */
export function withoutRetries(records: readonly RetryRecord[], commit: string): RetryRecord[] {
  return records.filter((r) => r.commit !== commit);
}

/**
 * Re-examine a mark written before issue #13 (no cause on record): every
 * failure was blamed then. A build mark whose own log does not classify as
 * caused by the commit (a full disk, a fetch, a timeout, or an error too
 * short to tell, such as the bare "error:" older versions kept) is cleared,
 * so the commit is built once more and, if it is at fault, marked again
 * with the whole error. Other marks stand (a person can `gitopsd bad forget`).
 * `fixedOutputDrvs`: the failed derivations its log names that are fetchers
 * (FailureEvidence.fixedOutputDrvs, read by the caller).
 */
export function reexamineMark(
  mark: BadCommit,
  fixedOutputDrvs: readonly string[] = [],
): { keep: true } | { keep: false; cause: FailureCause; why: string } {
  if (mark.cause !== null || mark.reason !== 'build-failed') return { keep: true };
  const v = classifyFailure({
    stage: 'build',
    tool: 'nh',
    exitCode: 1,
    signal: null,
    timedOut: false,
    output: `${mark.logTail}\n${mark.message}`,
    fixedOutputDrvs,
  });
  if (v.class === 'caused-by-commit') return { keep: true };
  return { keep: false, cause: v.cause, why: v.summary };
}

/** The .drv nix named as failing ("Cannot build '…'" / "builder for '…'"), or null. */
export function failedDrvOf(evidence: string): string | null {
  const m = /(?:Cannot build|builder for|hash mismatch in fixed-output derivation) '(\/nix\/store\/[^']+\.drv)'/.exec(
    evidence,
  );
  return m?.[1] ?? null;
}
