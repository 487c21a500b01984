/**
 * The cycle: the daily job. Sync the dotfiles (when enabled), then upgrade
 * the system, under one lock, and report one line per step (issue #6;
 * docs/nixos.md "The cycle").
 *
 * Contract
 * - Inputs: Deps, the steps to run (src/cycle/steps.ts builds the real sync
 *   and upgrade steps), the trigger (manual, schedule, catch-up) and
 *   `shouldStop`, asked before each step (the daemon's SIGTERM).
 * - Locks: the per-host lock for the whole cycle (a held lock: exit 75,
 *   nothing ran); the sync step takes the sync lock itself. A held sync lock
 *   (someone is running `chezmoi-sync` by hand) makes the sync step
 *   "temporary" (75) and the upgrade still runs: the two are independent.
 * - Steps run in order and every step runs whatever the previous one
 *   returned: a dotfile conflict must not hold back a security upgrade, and
 *   a broken nix-config commit must not hold back the dotfiles.
 * - A step that throws becomes a failed step with the exit code its error
 *   maps to (src/core/exit.ts); the cycle itself only throws when it cannot
 *   take the host lock or record its state.
 * - Exit code: the worst step's, by `EXIT_SEVERITY` (below).
 * - Side effects: those of the steps, plus the state section "cycle"
 *   (written when the cycle starts and when it ends; the daemon's catch-up
 *   reads `lastStartedAt`).
 * - Crash at any point: the host and sync locks are taken over by the next
 *   run (their holder is dead); the "cycle" section then shows a start with
 *   no end (`gitopsd status` reports it as interrupted); each step recovers
 *   its own half-done work on its next run (see src/upgrade/index.ts,
 *   src/sync/index.ts).
 */
import * as z from '../core/zod.js';
import type { Deps } from '../core/deps.js';
import { EXIT, LockHeldError, type ExitCode } from '../core/errors.js';
import { exitCodeFor, messageFor } from '../core/exit.js';
import { printable } from '../core/printable.js';

export type StepName = 'sync' | 'upgrade';
/** ok: exit 0; failed: non-zero; skipped: not applicable (disabled); stopped: not run because of a stop request. */
export type StepStatus = 'ok' | 'failed' | 'skipped' | 'stopped';
export type CycleTrigger = 'manual' | 'schedule' | 'catch-up';

/** What a step reports: its exit code and one line. */
export interface StepReport {
  exitCode: ExitCode;
  summary: string;
  /** The step's own --json result, passed through. */
  json?: unknown;
}

export interface CycleStep {
  name: StepName;
  /** When set, the step is skipped with this reason (exit 0). */
  skipReason?: string | undefined;
  run(): Promise<StepReport>;
}

export interface StepResult {
  step: StepName;
  status: StepStatus;
  exitCode: ExitCode;
  summary: string;
  durationMs: number;
  json?: unknown;
}

export interface CycleResult {
  exitCode: ExitCode;
  trigger: CycleTrigger;
  startedAt: string;
  finishedAt: string;
  stopped: boolean;
  steps: StepResult[];
}

/**
 * Exit codes from most to least severe. "Worst" means first in this list:
 * - 70 internal and 78 config first: nothing works until a person fixes them;
 *   64 usage cannot come from a step but would be a bug of the same kind.
 * - 5 boot-failed, 4 reverted: the system was touched and had to be undone.
 * - 6 refused: a policy stopped a deployment (signature, force-push,
 *   preflight); a person must look.
 * - 3 build-failed: the commit is broken; nothing was touched.
 * - 1 failed: a step failed for another reason.
 * - 75 temporary: busy or offline; the next run retries by itself.
 */
export const EXIT_SEVERITY: readonly ExitCode[] = [
  EXIT.internal,
  EXIT.config,
  EXIT.usage,
  EXIT.bootFailed,
  EXIT.reverted,
  EXIT.refused,
  EXIT.buildFailed,
  EXIT.failed,
  EXIT.temporary,
  EXIT.ok,
];

/** The worst of some exit codes (0 for none). Pure. */
export function worstExitCode(codes: readonly ExitCode[]): ExitCode {
  let best = EXIT_SEVERITY.length - 1;
  for (const c of codes) {
    const i = EXIT_SEVERITY.indexOf(c);
    // An unknown code can only be a bug: treat it as internal.
    const rank = i < 0 ? 0 : i;
    if (rank < best) best = rank;
  }
  return EXIT_SEVERITY[best] ?? EXIT.internal;
}

/** One summary line per step, e.g. "upgrade: failed (exit 3): build of 1a2b3c failed". Pure. */
export function formatStepLine(r: StepResult): string {
  switch (r.status) {
    case 'ok':
      return `${r.step}: ok: ${r.summary}`;
    case 'skipped':
      return `${r.step}: skipped: ${r.summary}`;
    case 'stopped':
      return `${r.step}: not run (exit ${r.exitCode}): ${r.summary}`;
    case 'failed':
      return `${r.step}: failed (exit ${r.exitCode}): ${r.summary}`;
  }
}

/** The lines for a terminal: a sync step's summary quotes the dotfiles user's file names (printable, review 16). */
export function formatCycle(r: CycleResult): string {
  return r.steps.map((s) => printable(formatStepLine(s))).join('\n');
}

// ---------------------------------------------------------------------------
// State: the "cycle" section.

export const CYCLE_KEY = 'cycle';

const StepRecord = z.looseObject({
  step: z.enum(['sync', 'upgrade']),
  status: z.enum(['ok', 'failed', 'skipped', 'stopped']),
  exitCode: z.number().check(z.int()),
  summary: z.string(),
});

export const CycleSection = z.looseObject({
  lastStartedAt: z._default(z.nullable(z.string()), null),
  lastTrigger: z._default(z.nullable(z.enum(['manual', 'schedule', 'catch-up'])), null),
  lastFinishedAt: z._default(z.nullable(z.string()), null),
  lastExitCode: z._default(z.nullable(z.number().check(z.int())), null),
  lastSteps: z._default(z.array(StepRecord), []),
});
export type CycleSection = z.infer<typeof CycleSection>;

const EMPTY: CycleSection = {
  lastStartedAt: null,
  lastTrigger: null,
  lastFinishedAt: null,
  lastExitCode: null,
  lastSteps: [],
};

/** The "cycle" section; a section that does not validate reads as empty (it only feeds catch-up and status). */
export function readCycleSection(deps: Pick<Deps, 'state' | 'log'>): CycleSection {
  const raw = deps.state.section(CYCLE_KEY);
  if (raw === undefined) return EMPTY;
  const parsed = CycleSection.safeParse(raw);
  if (!parsed.success) {
    deps.log.warn('state section "cycle" is malformed; treating it as empty', { issues: parsed.error.issues });
    return EMPTY;
  }
  return parsed.data;
}

/** When the last cycle started, for the daemon's catch-up; null when never or unreadable. */
export function lastCycleStart(deps: Pick<Deps, 'state' | 'log'>): Date | null {
  const s = readCycleSection(deps).lastStartedAt;
  if (s === null) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

// ---------------------------------------------------------------------------

export interface CycleOptions {
  steps: readonly CycleStep[];
  trigger: CycleTrigger;
  /** Asked before each step; true stops the cycle at that step boundary. */
  shouldStop?: () => boolean;
}

export async function runCycle(deps: Deps, opts: CycleOptions): Promise<CycleResult> {
  const log = deps.log.child({ module: 'cycle' });
  const host = deps.lock('cycle');
  try {
    const startedAt = deps.clock.now().toISOString();
    // Recorded before any step: the daemon's catch-up must see that this
    // slot was served even if the cycle is killed halfway.
    deps.state.updateSection(CYCLE_KEY, (cur) => ({
      ...(isObject(cur) ? cur : {}),
      lastStartedAt: startedAt,
      lastTrigger: opts.trigger,
    }));
    log.info('cycle started', { trigger: opts.trigger, steps: opts.steps.map((s) => s.name) });

    const results: StepResult[] = [];
    let stopped = false;
    for (const step of opts.steps) {
      if (!stopped && opts.shouldStop?.() === true) {
        stopped = true;
        log.warn('stop requested; the remaining steps do not run', { next: step.name });
      }
      const r = stopped ? stoppedStep(step.name) : await runStep(deps, step);
      results.push(r);
      log.info('cycle step finished', { step: r.step, status: r.status, exitCode: r.exitCode, summary: r.summary });
    }

    const result: CycleResult = {
      exitCode: worstExitCode(results.map((r) => r.exitCode)),
      trigger: opts.trigger,
      startedAt,
      finishedAt: deps.clock.now().toISOString(),
      stopped,
      steps: results,
    };
    deps.state.updateSection(CYCLE_KEY, (cur) => ({
      ...(isObject(cur) ? cur : {}),
      lastFinishedAt: result.finishedAt,
      lastExitCode: result.exitCode,
      lastSteps: results.map(({ step, status, exitCode, summary }) => ({ step, status, exitCode, summary })),
    }));
    log.info('cycle finished', { exitCode: result.exitCode, stopped });
    return result;
  } finally {
    host.release();
  }
}

function stoppedStep(step: StepName): StepResult {
  return {
    step,
    status: 'stopped',
    exitCode: EXIT.temporary,
    summary: 'gitopsd was asked to stop before this step; the next cycle runs it',
    durationMs: 0,
  };
}

async function runStep(deps: Deps, step: CycleStep): Promise<StepResult> {
  if (step.skipReason !== undefined) {
    return { step: step.name, status: 'skipped', exitCode: EXIT.ok, summary: step.skipReason, durationMs: 0 };
  }
  const t0 = deps.clock.monotonicMs();
  const ms = (): number => Math.round(deps.clock.monotonicMs() - t0);
  try {
    const rep = await step.run();
    return {
      step: step.name,
      status: rep.exitCode === EXIT.ok ? 'ok' : 'failed',
      exitCode: rep.exitCode,
      summary: oneLine(rep.summary),
      durationMs: ms(),
      ...(rep.json === undefined ? {} : { json: rep.json }),
    };
  } catch (err) {
    const exitCode = exitCodeFor(err);
    deps.log.error('cycle step failed', { step: step.name, exitCode, err });
    // A busy lock (a sync started by hand) is not a failure of the step's work.
    const summary = err instanceof LockHeldError ? `skipped this time: ${messageFor(err)}` : messageFor(err);
    return { step: step.name, status: 'failed', exitCode, summary: oneLine(summary), durationMs: ms() };
  }
}

function oneLine(s: string): string {
  const first = s.split('\n').find((l) => l.trim() !== '') ?? '';
  return first.trim() === '' ? '(no message)' : first.trim();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
