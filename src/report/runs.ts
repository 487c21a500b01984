/**
 * The record of each step's last run (state key "runs"): when, how it ended,
 * how long it took. `status`, the metrics and the hooks read it.
 */
import * as z from '../core/zod.js';
import type { StateStore } from '../core/state.js';
import { PARSE_ONCE } from '../core/parse-once.js';

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

export const RunRecord = z.looseObject({
  at: z.string(),
  ok: z.boolean(),
  exitCode: z.number().check(z.int()),
  result: z.string(),
  durationMs: z._default(z.nullable(z.number()), null),
  commit: z._default(z.nullable(z.string()), null),
  generation: z._default(z.nullable(z.number().check(z.int())), null),
  error: z._default(z.nullable(z.string()), null),
  /**
   * systemd's $INVOCATION_ID of the unit run that made this record
   * (systemd.exec(5): 32 lowercase hex digits); null when the command did
   * not run under systemd (its log went to the terminal that started it).
   */
  invocationId: z._default(z.nullable(z.string()), null),
  /** Set when the fleet publish after this run failed (docs/fleet.md); the run's own result is unchanged. */
  publishError: z.optional(z.string()),
});
export type RunRecord = z.infer<typeof RunRecord>;

export const RunsSection = z.record(z.string(), RunRecord);
export type RunsSection = z.infer<typeof RunsSection>;

const KEY = 'runs';

/** The $INVOCATION_ID systemd sets for a unit's processes, when it is well formed (systemd.exec(5)). */
export function invocationIdOf(env: NodeJS.ProcessEnv): string | null {
  const id = env['INVOCATION_ID'];
  return id !== undefined && /^[0-9a-f]{32}$/.test(id) ? id : null;
}

/**
 * The journalctl command that shows the log of a run: by its invocation ID
 * (a journal field of every entry a unit's processes write, systemd.journal-fields(7)),
 * else null.
 */
export function journalCommandOf(run: Pick<RunRecord, 'invocationId'>): string | null {
  return run.invocationId === null ? null : `journalctl _SYSTEMD_INVOCATION_ID=${run.invocationId}`;
}

/**
 * The systemd unit that runs each step unattended (nix/module.nix): its
 * journal holds the nightly runs. Steps run only by hand have none.
 */
export const UNIT_OF_STEP: Partial<Record<Step, string>> = {
  cycle: 'gitopsd.service',
  upgrade: 'gitopsd-upgrade.service',
  sync: 'gitopsd-sync.service',
  'boot-validate': 'gitopsd-boot-validate.service',
};

export function readRuns(state: StateStore): RunsSection {
  const parsed = RunsSection.safeParse(state.section(KEY) ?? {}, PARSE_ONCE);
  return parsed.success ? parsed.data : {};
}

export function recordRun(state: StateStore, step: Step, run: RunRecord): void {
  state.updateSection(KEY, (cur) => {
    const parsed = RunsSection.safeParse(cur ?? {}, PARSE_ONCE);
    return { ...(parsed.success ? parsed.data : {}), [step]: run };
  });
}
