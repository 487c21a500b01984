/**
 * User hooks: `hooks.onSuccess` / `hooks.onFailure`, argv arrays run after a
 * step with GITOPSD_* variables. A failing hook is logged and never changes
 * the run's result.
 */
import type { Deps } from '../core/deps.js';
import type { Step, RunRecord } from './runs.js';

export const HOOK_TIMEOUT_MS = 60_000;

/** Pure: the environment a hook receives. */
export function hookEnv(host: string, step: Step, run: RunRecord): Record<string, string> {
  return {
    GITOPSD_HOST: host,
    GITOPSD_STEP: step,
    GITOPSD_RESULT: run.result,
    GITOPSD_OK: run.ok ? '1' : '0',
    GITOPSD_EXIT_CODE: String(run.exitCode),
    GITOPSD_COMMIT: run.commit ?? '',
    GITOPSD_GENERATION: run.generation === null ? '' : String(run.generation),
    GITOPSD_ERROR: (run.error ?? '').slice(-2000),
    GITOPSD_AT: run.at,
    GITOPSD_DURATION_MS: run.durationMs === null ? '' : String(run.durationMs),
  };
}

export async function runHooks(deps: Deps, step: Step, run: RunRecord): Promise<void> {
  const argv = run.ok ? deps.config.hooks.onSuccess : deps.config.hooks.onFailure;
  if (argv === null) return;
  const [cmd, ...args] = argv;
  if (cmd === undefined) return;
  const log = deps.log.child({ module: 'hooks' });
  try {
    await deps.runner.run(cmd, args, { env: hookEnv(deps.config.hostname, step, run), timeoutMs: HOOK_TIMEOUT_MS });
    log.info('hook ran', { hook: run.ok ? 'onSuccess' : 'onFailure', cmd, step });
  } catch (err) {
    // A hook is a notification: its failure must never turn a good run bad
    // (or a bad one good).
    log.warn('hook failed; the run result is unchanged', {
      hook: run.ok ? 'onSuccess' : 'onFailure',
      cmd,
      step,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
