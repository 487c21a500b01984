/**
 * The record of each step's last run (state key "runs"): when, how it ended,
 * how long it took. `status`, the metrics and the hooks read it.
 */
import { z } from 'zod';
import type { StateStore } from '../core/state.js';

export const STEPS = [
  'cycle',
  'sync',
  'upgrade',
  'boot-validate',
  'boot-reset',
  'golden-pin',
  'golden-rollback',
] as const;
export type Step = (typeof STEPS)[number];

export const RunRecord = z
  .object({
    at: z.string(),
    ok: z.boolean(),
    exitCode: z.number().int(),
    result: z.string(),
    durationMs: z.number().nullable().default(null),
    commit: z.string().nullable().default(null),
    generation: z.number().int().nullable().default(null),
    error: z.string().nullable().default(null),
    /** Set when the fleet publish after this run failed (docs/fleet.md); the run's own result is unchanged. */
    publishError: z.string().optional(),
  })
  .loose();
export type RunRecord = z.infer<typeof RunRecord>;

export const RunsSection = z.record(z.string(), RunRecord);
export type RunsSection = z.infer<typeof RunsSection>;

const KEY = 'runs';

export function readRuns(state: StateStore): RunsSection {
  const parsed = RunsSection.safeParse(state.section(KEY) ?? {});
  return parsed.success ? parsed.data : {};
}

export function recordRun(state: StateStore, step: Step, run: RunRecord): void {
  state.updateSection(KEY, (cur) => {
    const parsed = RunsSection.safeParse(cur ?? {});
    return { ...(parsed.success ? parsed.data : {}), [step]: run };
  });
}
