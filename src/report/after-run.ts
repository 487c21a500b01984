/**
 * What happens after every mutating command: record the run, publish the
 * fleet status (when fleet.enable), run the user's hook, write the metrics
 * file. None of it may change the command's result: each part logs its own
 * failure and carries on. A failed publish is also written into the run
 * record (`publishError`), the fleet record (status's `publish`) and the
 * metrics (`gitopsd_fleet_publish_success`).
 */
import { VERSION } from '../core/build-info.js';
import { realpathOrNull } from '../core/fs-read.js';
import type { Deps } from '../core/deps.js';
import { readDeployments } from '../core/deployments.js';
import { invocationIdOf, recordRun, readRuns, type RunRecord, type Step } from './runs.js';
import { runHooks } from './hooks.js';
import type { MetricsInput } from './metrics.js';
import { readPublishRecord, type PublishRecord } from '../shared/publish-record.js';

const publishMetrics = (r: PublishRecord): NonNullable<MetricsInput['publish']> => ({
  lastOkAt: r.lastOk?.at ?? null,
  lastError: r.lastError,
  failures: r.failures,
});

export interface RunSummary {
  exitCode: number;
  result: string;
  commit?: string | null | undefined;
  generation?: number | null | undefined;
  error?: string | null | undefined;
  durationMs: number;
}

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
    invocationId: invocationIdOf(deps.env),
  };
  try {
    recordRun(deps.state, step, run);
  } catch (err) {
    // The sync runs as the dotfiles user, who cannot write root's state file;
    // its own state (in the sync dir) holds its result.
    log.debug('run not recorded in the host state', { step, error: (err as Error).message });
  }
  await publishAfterRun(deps, step, run);
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

/**
 * The fleet publish step. The dotfile sync alone runs as the dotfiles user,
 * who can neither read the host key nor write root's state: its result is
 * published by the next root run.
 */
async function publishAfterRun(deps: Deps, step: Step, run: RunRecord): Promise<void> {
  if (!deps.config.fleet.enable || (step === 'sync' && !deps.isRoot)) return;
  const log = deps.log.child({ module: 'after-run' });
  try {
    const [{ collectStatus }, { publishStatus }] = await Promise.all([
      import('../status/index.js'),
      import('../fleet/publish.js'),
    ]);
    const outcome = await publishStatus(deps, await collectStatus(deps));
    if (outcome.kind === 'failed') {
      try {
        recordRun(deps.state, step, { ...run, publishError: outcome.error });
      } catch {
        // recorded in the fleet record already (or the state is not ours)
      }
    }
  } catch (err) {
    log.warn('fleet status not published', { step, error: (err as Error).message });
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
      rebootReasons(
        realpathOrNull(deps.paths.systemProfile),
        realpathOrNull(deps.paths.bootedSystem),
        realpathOrNull(deps.paths.currentSystem),
      ).length > 0,
    syncConflicts: deps.config.dotfiles.enable ? (sync?.parked?.paths.length ?? 0) : null,
    lastBuildDurationMs: upgrade.lastRun?.steps.buildMs ?? null,
    publish: deps.config.fleet.enable ? publishMetrics(readPublishRecord(deps.state)) : null,
    now: deps.clock.now(),
  };
}

/**
 * `gitopsd fleet publish [--force]`: the fleet publish step on its own,
 * for a timer that keeps the heartbeat between runs. It publishes only when
 * the status changed or the heartbeat is due, unless forced.
 */
export async function publishNow(
  deps: Deps,
  opts: { force: boolean },
): Promise<import('../fleet/publish.js').PublishOutcome> {
  const [{ collectStatus }, { publishStatus }] = await Promise.all([
    import('../status/index.js'),
    import('../fleet/publish.js'),
  ]);
  return publishStatus(deps, await collectStatus(deps), { force: opts.force });
}
