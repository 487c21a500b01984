/** The metrics text parses with a real Prometheus text-format parser. */
import { describe, it, expect } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { renderMetrics, type MetricsInput } from '../../../src/report/metrics.js';
import { hookEnv } from '../../../src/report/hooks.js';

const input: MetricsInput = {
  host: 'hosta',
  version: '0.1.0',
  runs: {
    upgrade: {
      at: '2026-11-21T04:00:00.000Z',
      ok: false,
      exitCode: 3,
      result: 'build-failed',
      durationMs: 1500,
      commit: 'abc',
      generation: null,
      error: 'x',
      invocationId: null,
    },
    sync: {
      at: '2026-11-21T03:59:00.000Z',
      ok: true,
      exitCode: 0,
      result: 'ok',
      durationMs: 200,
      commit: null,
      generation: null,
      error: null,
      invocationId: null,
    },
  },
  deployments: {
    current: {
      commit: 'c0ffee',
      storePath: '/nix/store/abc-nixos-system',
      generation: 7,
      at: '2026-11-20T04:00:00Z',
      operation: 'switch',
    },
    history: [],
    badCommits: {
      abc: {
        commit: 'abc',
        reason: 'build-failed',
        at: '2026-11-21T04:00:00Z',
        message: 'x',
        storePath: null,
        logTail: '',
        class: 'caused-by-commit',
        cause: 'build-error',
        evidence: 'x',
        build: null,
      },
    },
  },
  bootFailuresOfBooted: 1,
  goldenPinnedAt: '2026-11-20T04:00:00.000Z',
  rebootNeeded: true,
  syncConflicts: 2,
  lastBuildDurationMs: 1200,
  publish: { lastOkAt: '2026-11-21T03:00:00.000Z', lastError: 'cannot push', failures: 2 },
  now: new Date('2026-11-21T04:00:00.000Z'),
};

interface Family {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

describe('metrics', () => {
  it('renders valid Prometheus text with every family', async () => {
    const text = await renderMetrics(input);
    const families = parsePrometheusTextFormat(text) as Family[];
    const byName = new Map(families.map((f) => [f.name, f]));
    const value = (name: string, labels?: Record<string, string>): number => {
      const f = byName.get(name);
      if (!f) throw new Error(`missing ${name}`);
      const m = f.metrics.find((x) => !labels || Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      if (!m) throw new Error(`missing ${name} ${JSON.stringify(labels)}`);
      return Number(m.value);
    };
    expect(value('gitopsd_last_run_success', { step: 'upgrade' })).toBe(0);
    expect(value('gitopsd_last_run_success', { step: 'sync' })).toBe(1);
    expect(value('gitopsd_last_run_exit_code', { step: 'upgrade' })).toBe(3);
    expect(value('gitopsd_fleet_publish_success')).toBe(0);
    expect(value('gitopsd_fleet_publish_failures')).toBe(2);
    expect(value('gitopsd_fleet_publish_last_success_timestamp_seconds')).toBe(
      Date.parse('2026-11-21T03:00:00Z') / 1000,
    );
    expect(value('gitopsd_last_run_timestamp_seconds', { step: 'upgrade' })).toBe(
      Date.parse('2026-11-21T04:00:00Z') / 1000,
    );
    expect(value('gitopsd_deployed_info', { commit: 'c0ffee', generation: '7' })).toBe(1);
    expect(value('gitopsd_known_bad_commits')).toBe(1);
    expect(value('gitopsd_boot_failures')).toBe(1);
    expect(value('gitopsd_golden_age_seconds')).toBe(86400);
    expect(value('gitopsd_reboot_needed')).toBe(1);
    expect(value('gitopsd_sync_conflicts')).toBe(2);
    expect(value('gitopsd_build_duration_seconds')).toBe(1.2);
    expect(byName.get('gitopsd_last_run_success')?.type).toBe('GAUGE');
  });

  it('leaves out what is unknown', async () => {
    const text = await renderMetrics({
      ...input,
      bootFailuresOfBooted: null,
      rebootNeeded: null,
      deployments: { current: null, history: [], badCommits: {} },
    });
    const names = (parsePrometheusTextFormat(text) as Family[]).map((f) => f.name);
    expect(names).not.toContain('gitopsd_boot_failures');
    expect(names).not.toContain('gitopsd_reboot_needed');
    expect(names).not.toContain('gitopsd_deployed_info');
    expect(names).toContain('gitopsd_known_bad_commits');
  });
});

describe('hook environment', () => {
  it('carries host, step, result, commit, generation and the error tail', () => {
    const env = hookEnv('hosta', 'upgrade', { ...input.runs['upgrade']!, generation: 9, error: 'e'.repeat(5000) });
    expect(env).toMatchObject({
      GITOPSD_HOST: 'hosta',
      GITOPSD_STEP: 'upgrade',
      GITOPSD_RESULT: 'build-failed',
      GITOPSD_OK: '0',
      GITOPSD_EXIT_CODE: '3',
      GITOPSD_COMMIT: 'abc',
      GITOPSD_GENERATION: '9',
    });
    expect(env['GITOPSD_ERROR']).toHaveLength(2000);
  });
});
