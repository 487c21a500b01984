/**
 * Prometheus metrics in the node_exporter textfile format, written atomically
 * to `<metrics.textfileDir>/gitopsd.prom` after every run. prom-client's
 * registry renders the text format; it is loaded only here, after a run.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import type { DeploymentsSection } from '../core/deployments.js';
import type { RunsSection } from './runs.js';

export interface MetricsInput {
  host: string;
  version: string;
  runs: RunsSection;
  deployments: DeploymentsSection;
  /** Failed boots of the booted system (null: unknown). */
  bootFailuresOfBooted: number | null;
  goldenPinnedAt: string | null;
  rebootNeeded: boolean | null;
  syncConflicts: number | null;
  lastBuildDurationMs: number | null;
  /** The fleet publish record (null when fleet.enable is off). */
  publish: { lastOkAt: string | null; lastError: string | null; failures: number } | null;
  now: Date;
}

export const METRICS_FILE = 'gitopsd.prom';

export async function renderMetrics(m: MetricsInput): Promise<string> {
  const { Registry, Gauge } = await import('prom-client');
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });

  const lastRun = gauge('gitopsd_last_run_timestamp_seconds', 'Unix time of the last run of each step', ['step']);
  const lastOk = gauge('gitopsd_last_run_success', '1 if the last run of each step succeeded', ['step']);
  const lastExit = gauge('gitopsd_last_run_exit_code', 'Exit code of the last run of each step', ['step']);
  const lastDur = gauge('gitopsd_last_run_duration_seconds', 'Duration of the last run of each step', ['step']);
  const lastResult = gauge(
    'gitopsd_last_run_result',
    'The result of the last run of each step, as its label (always 1; docs/status.md "Result names")',
    ['step', 'result'],
  );
  for (const [step, r] of Object.entries(m.runs)) {
    lastResult.set({ step, result: r.result }, 1);
    lastRun.set({ step }, Date.parse(r.at) / 1000);
    lastOk.set({ step }, r.ok ? 1 : 0);
    lastExit.set({ step }, r.exitCode);
    if (r.durationMs !== null) lastDur.set({ step }, r.durationMs / 1000);
  }
  gauge('gitopsd_build_info', 'gitopsd version', ['version', 'host']).set({ version: m.version, host: m.host }, 1);
  const cur = m.deployments.current;
  if (cur !== null) {
    gauge('gitopsd_deployed_info', 'The deployed commit and system', ['commit', 'store_path', 'generation']).set(
      {
        commit: cur.commit,
        store_path: cur.storePath,
        generation: cur.generation === null ? '' : String(cur.generation),
      },
      1,
    );
  }
  gauge('gitopsd_known_bad_commits', 'Commits that will not be deployed again').set(
    Object.keys(m.deployments.badCommits).length,
  );
  if (m.bootFailuresOfBooted !== null) {
    gauge('gitopsd_boot_failures', 'Failed boots of the booted system').set(m.bootFailuresOfBooted);
  }
  if (m.goldenPinnedAt !== null) {
    gauge('gitopsd_golden_age_seconds', 'Age of the golden pin').set(
      Math.max(0, (m.now.getTime() - Date.parse(m.goldenPinnedAt)) / 1000),
    );
  }
  if (m.rebootNeeded !== null) {
    gauge('gitopsd_reboot_needed', '1 if kernel, initrd or modules differ from the booted system').set(
      m.rebootNeeded ? 1 : 0,
    );
  }
  if (m.syncConflicts !== null) {
    gauge('gitopsd_sync_conflicts', 'Paths held back by a parked dotfile conflict').set(m.syncConflicts);
  }
  if (m.lastBuildDurationMs !== null) {
    gauge('gitopsd_build_duration_seconds', 'Duration of the last build validation').set(m.lastBuildDurationMs / 1000);
  }
  if (m.publish !== null) {
    gauge('gitopsd_fleet_publish_success', '1 if the last fleet status publish succeeded').set(
      m.publish.lastError === null && m.publish.lastOkAt !== null ? 1 : 0,
    );
    gauge('gitopsd_fleet_publish_failures', 'Failed fleet status publishes since the last success').set(
      m.publish.failures,
    );
    if (m.publish.lastOkAt !== null) {
      gauge('gitopsd_fleet_publish_last_success_timestamp_seconds', 'Unix time of the last successful publish').set(
        Date.parse(m.publish.lastOkAt) / 1000,
      );
    }
  }
  return registry.metrics();
}

export async function writeMetrics(dir: string, m: MetricsInput): Promise<string> {
  const file = join(dir, METRICS_FILE);
  writeFileAtomic(file, await renderMetrics(m));
  return file;
}
