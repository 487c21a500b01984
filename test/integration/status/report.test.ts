/**
 * After every mutating run: the metrics file (parsed with a real Prometheus
 * text parser) and the hooks (documented GITOPSD_* variables; a failing hook
 * never changes the result). Real upgrade on the simulated host.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { createNixConfigRepo, buildToplevel, type NixConfigRepo } from '../../harness/nix-config.js';
import { tempDir } from '../../harness/temp.js';
import { runCli } from '../../helpers/cli.js';

let host: SimHost;
let repo: NixConfigRepo;
let dir: string;
let metricsDir: string;

interface Family {
  name: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

async function metrics(): Promise<Map<string, Family>> {
  const text = await readFile(join(metricsDir, 'gitopsd.prom'), 'utf8');
  return new Map((parsePrometheusTextFormat(text) as Family[]).map((f) => [f.name, f]));
}

function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name);
  const x = f?.metrics.find((mm) => Object.entries(labels).every(([k, v]) => mm.labels?.[k] === v));
  if (x === undefined) throw new Error(`no ${name} ${JSON.stringify(labels)}`);
  return Number(x.value);
}

async function hookEnv(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.startsWith('GITOPSD_'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

beforeAll(async () => {
  dir = await tempDir('gitopsd-report-');
  metricsDir = join(dir, 'textfiles');
  await mkdir(metricsDir);
  repo = await createNixConfigRepo({
    dir: join(dir, 'nix-config'),
    hosts: { rep: { version: 'v1', kernelVersion: 'k1' } },
  });
  host = await createSimHost({ dir: join(dir, 'host'), name: 'rep', services: ['sshd.service'] });
  await host.install(await buildToplevel({ flake: repo.workDir, host: 'rep', outLink: join(dir, 'g1') }));
  await repo.cloneTo(host.paths.nixConfigDir);
});

const config = (hooks: Record<string, unknown>) =>
  host.writeConfig({
    nixConfig: { url: repo.remoteUrl },
    metrics: { textfileDir: metricsDir },
    hooks: hooks as never,
    validation: { services: ['sshd.service'], timeoutSec: 5 },
  });

describe('metrics and hooks after a run', () => {
  it('a deploy writes valid metrics and runs onSuccess with the documented variables', async () => {
    const out = join(dir, 'success.env');
    const cfg = await config({ onSuccess: ['/bin/sh', '-c', `env > '${out}'`], onFailure: null });
    const c2 = await repo.commitGeneration({ rep: { version: 'v2', kernelVersion: 'k1' } }, 'v2');
    const r = await runCli(['upgrade', '--config', cfg], { env: host.env });
    expect(r.exitCode, r.stderr).toBe(0);
    const env = await hookEnv(out);
    expect(env).toMatchObject({
      GITOPSD_HOST: 'rep',
      GITOPSD_STEP: 'upgrade',
      GITOPSD_OK: '1',
      GITOPSD_EXIT_CODE: '0',
      GITOPSD_COMMIT: c2,
      GITOPSD_GENERATION: '2',
      GITOPSD_ERROR: '',
    });
    expect(env['GITOPSD_RESULT']).toBe('deployed');
    const m = await metrics();
    expect(value(m, 'gitopsd_last_run_success', { step: 'upgrade' })).toBe(1);
    expect(value(m, 'gitopsd_deployed_info', { commit: c2, generation: '2' })).toBe(1);
    expect(value(m, 'gitopsd_known_bad_commits')).toBe(0);
    expect(value(m, 'gitopsd_reboot_needed')).toBe(0);
    expect(value(m, 'gitopsd_build_duration_seconds')).toBeGreaterThan(0);
  });

  it('a broken commit runs onFailure; a failing hook does not change the exit code', async () => {
    const out = join(dir, 'failure.env');
    const cfg = await config({
      onSuccess: null,
      onFailure: ['/bin/sh', '-c', `env > '${out}'; exit 9`],
    });
    const bad = await repo.commitGeneration(
      { rep: { version: 'v3', kernelVersion: 'k1', breakage: 'failing-derivation' } },
      'v3 broken',
    );
    const r = await runCli(['upgrade', '--config', cfg], { env: host.env });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('hook failed; the run result is unchanged');
    const env = await hookEnv(out);
    expect(env).toMatchObject({
      GITOPSD_STEP: 'upgrade',
      GITOPSD_OK: '0',
      GITOPSD_EXIT_CODE: '3',
      GITOPSD_COMMIT: bad,
    });
    expect(env['GITOPSD_ERROR']).not.toBe('');
    const m = await metrics();
    expect(value(m, 'gitopsd_last_run_success', { step: 'upgrade' })).toBe(0);
    expect(value(m, 'gitopsd_last_run_exit_code', { step: 'upgrade' })).toBe(3);
    expect(value(m, 'gitopsd_known_bad_commits')).toBe(1);
    expect(env['GITOPSD_RESULT']).toBe('build-failed');
    expect(value(m, 'gitopsd_last_run_result', { step: 'upgrade', result: 'build-failed' })).toBe(1);
  });

  it('the known-bad tip again: one result name, skipped-bad, in text, JSON, hooks and metrics', async () => {
    const out = join(dir, 'skipped.env');
    const cfg = await config({ onSuccess: null, onFailure: ['/bin/sh', '-c', `env > '${out}'`] });
    const r = await runCli(['upgrade', '--config', cfg], { env: host.env });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain('is known bad');
    expect((await hookEnv(out))['GITOPSD_RESULT']).toBe('skipped-bad');
    const m = await metrics();
    expect(value(m, 'gitopsd_last_run_result', { step: 'upgrade', result: 'skipped-bad' })).toBe(1);
    expect(m.get('gitopsd_last_run_result')?.metrics.filter((x) => x.labels?.['step'] === 'upgrade')).toHaveLength(1);
    // Documented: present only when the last upgrade built something (this one built nothing).
    expect(m.has('gitopsd_build_duration_seconds')).toBe(false);
    const s = await runCli(['status', '--json', '--config', cfg], { env: host.env });
    const json = JSON.parse(s.stdout) as { lastUpgrade: { result: string }; runs: Record<string, { result: string }> };
    expect(json.lastUpgrade.result).toBe('skipped-bad');
    expect(json.runs['upgrade']?.result).toBe('skipped-bad');
    const text = await runCli(['status', '--config', cfg], { env: host.env });
    expect(text.stdout).toMatch(/last upgrade\s+.*: skipped-bad /);
    expect(text.stdout).not.toMatch(/refused/);
  });

  it('a hook that cannot even start does not change a successful result', async () => {
    const cfg = await config({ onSuccess: ['/nonexistent/notify'], onFailure: null });
    const r = await runCli(['boot', 'validate', '--config', cfg], { env: host.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('hook failed; the run result is unchanged');
    const m = await metrics();
    expect(value(m, 'gitopsd_last_run_success', { step: 'boot-validate' })).toBe(1);
    expect(value(m, 'gitopsd_golden_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(m, 'gitopsd_boot_failures')).toBe(0);
  });
});
