/**
 * What happens after every mutating command: record the run, run the user's
 * hook, write the metrics file. None of it may change the command's result:
 * each part logs its own failure and carries on.
 */
import { BUILD } from '../core/build-info.js';
import { realpathOrNull } from '../core/fs-read.js';
import type { Deps } from '../core/deps.js';
import { readDeployments } from '../core/deployments.js';
import { recordRun, readRuns, type RunRecord, type Step } from './runs.js';
import { runHooks } from './hooks.js';
import type { MetricsInput } from './metrics.js';

export interface RunSummary {
  exitCode: number;
  result: string;
  commit?: string | null | undefined;
  generation?: number | null | undefined;
  error?: string | null | undefined;
  durationMs: number;
}

/** package.json's version, embedded at build time (src/core/build-info.ts). */
export const VERSION = BUILD.version;

export async function afterRun(deps: Deps, step: Step, s: RunSummary): Promise<void> {
  const log = deps.log.child({ module: 'after-run' });
  const run: RunRecord = {
    at: deps.clock.now().toISOString(),
    ok: s.exitCode === 0,
    exitCode: s.exitCode,
    result: s.result,
    durationMs: s.durationMs,
    commit: s.commit ?? null,
    generation: s.generation ?? null,
    error: s.error ?? null,
  };
  try {
    recordRun(deps.state, step, run);
  } catch (err) {
    // The sync runs as the dotfiles user, who cannot write root's state file;
    // its own state (in the sync dir) holds its result.
    log.debug('run not recorded in the host state', { step, error: (err as Error).message });
  }
  await runHooks(deps, step, run);
  if (deps.config.metrics.textfileDir !== null) {
    try {
      const { writeMetrics } = await import('./metrics.js');
      await writeMetrics(deps.config.metrics.textfileDir, await collectMetricsInput(deps));
    } catch (err) {
      log.warn('metrics file not written', { dir: deps.config.metrics.textfileDir, error: (err as Error).message });
    }
  }
}

/** Gather the metrics from every capability's state (no git, no nix: files only). */
export async function collectMetricsInput(deps: Deps): Promise<MetricsInput> {
  const [{ bootStatus }, { readUpgrade }, { rebootReasons, readSyncSection }] = await Promise.all([
    import('../boot-validate/index.js'),
    import('../upgrade/state.js'),
    import('../status/index.js'),
  ]);
  const boot = bootStatus(deps);
  const upgrade = readUpgrade(deps.state);
  const sync = readSyncSection(deps);
  return {
    host: deps.config.hostname,
    version: VERSION,
    runs: readRuns(deps.state),
    deployments: readDeployments(deps.state),
    bootFailuresOfBooted: boot.bootedSystem === null ? null : boot.failures,
    goldenPinnedAt: boot.golden.pinnedAt,
    rebootNeeded:
      rebootReasons(realpathOrNull(deps.paths.systemProfile), realpathOrNull(deps.paths.bootedSystem)).length > 0,
    syncConflicts: deps.config.dotfiles.enable ? (sync?.parked?.paths.length ?? 0) : null,
    lastBuildDurationMs: upgrade.lastRun?.steps.buildMs ?? null,
    now: deps.clock.now(),
  };
}
