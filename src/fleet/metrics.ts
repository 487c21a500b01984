/**
 * The fleet view's own metrics, for node_exporter's textfile collector:
 * written atomically to `<metrics.textfileDir>/gitopsd-fleet.prom` by every
 * `fleet status` (and each refresh of `fleet serve`). prom-client renders
 * the text format. All gauges:
 *
 * - gitopsd_fleet_hosts{state}: hosts in each state (every state listed, 0 included)
 * - gitopsd_fleet_stale_hosts: hosts whose status is older than twice their heartbeat
 * - gitopsd_fleet_missing_hosts: expected hosts (fleet.expectedHosts) with no status at the remote
 * - gitopsd_fleet_newest_status_age_seconds: age of the newest status (absent when none)
 * - gitopsd_fleet_read_timestamp_seconds: when the view was read
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import type { FleetView } from './schema.js';

export const FLEET_METRICS_FILE = 'gitopsd-fleet.prom';

export async function renderFleetMetrics(view: FleetView): Promise<string> {
  const { Registry, Gauge } = await import('prom-client');
  const registry = new Registry();
  const hosts = new Gauge({
    name: 'gitopsd_fleet_hosts',
    help: 'Hosts in each state of the fleet view',
    labelNames: ['state'],
    registers: [registry],
  });
  for (const [state, n] of Object.entries(view.counts)) hosts.set({ state }, n);
  new Gauge({
    name: 'gitopsd_fleet_stale_hosts',
    help: 'Hosts whose status is older than twice their heartbeat',
    registers: [registry],
  }).set(view.staleHosts);
  new Gauge({
    name: 'gitopsd_fleet_missing_hosts',
    help: 'Expected hosts (fleet.expectedHosts) with no status at the remote',
    registers: [registry],
  }).set(view.missingHosts.length);
  if (view.newestAgeSec !== null) {
    new Gauge({
      name: 'gitopsd_fleet_newest_status_age_seconds',
      help: 'Age of the newest status in the fleet',
      registers: [registry],
    }).set(Math.max(0, view.newestAgeSec));
  }
  new Gauge({
    name: 'gitopsd_fleet_read_timestamp_seconds',
    help: 'Unix time the fleet view was read',
    registers: [registry],
  }).set(Date.parse(view.generatedAt) / 1000);
  return registry.metrics();
}

export async function writeFleetMetrics(dir: string, view: FleetView): Promise<string> {
  const file = join(dir, FLEET_METRICS_FILE);
  writeFileAtomic(file, await renderFleetMetrics(view));
  return file;
}
