/**
 * Poll mode with real git and nix: `gitopsd poll` (one poll) on a simulated
 * host, counted with the runner's trace (GITOPSD_TRACE), then the daemon as a
 * real process polling every daemon.pollIntervalSec. One nix-config repo and
 * one host for the whole file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNixConfigRepo, type NixConfigRepo } from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { repoRoot } from '../../helpers/cli.js';
import { makeHost, readState, traced, upgrade, type TestHost } from '../upgrade/fixture.js';

let repo: NixConfigRepo;
let t: TestHost;
const gen = (version: string) => ({ hosta: { version, kernelVersion: '6.6.1' } });

beforeAll(async () => {
  await requireTools();
  const base = await tempDir('poll');
  repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
  t = await makeHost(repo, {
    name: 'hosta',
    label: 'poll',
    overrides: { daemon: { pollIntervalSec: 10 }, log: { level: 'info', format: 'json' } },
  });
  const first = await upgrade(t);
  expect(first.exitCode, first.stderr).toBe(0);
});
afterAll(removeTempDirs);

describe('gitopsd poll', () => {
  it('a poll that finds nothing spends exactly one git process (git fetch --porcelain) and writes no state', async () => {
    const stateFile = join(t.host.paths.stateDir, 'state.json');
    const before = readFileSync(stateFile, 'utf8');
    const r = await traced(t, ['poll']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('no new tip');
    expect(r.commands).toHaveLength(1);
    expect(r.commands[0]?.[0]).toBe('git');
    expect(r.commands[0]).toContain('fetch');
    expect(r.commands[0]).toContain('--porcelain');
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
  });

  it('a push is deployed by the next poll, which then records it; the poll after that is one fetch again', async () => {
    const c2 = await repo.commitGeneration(gen('v2'), 'v2');
    const r = await traced(t, ['poll', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      decision: { kind: string; reason: string; tip: string };
      upgrade: { kind: string };
    };
    expect(out.decision).toMatchObject({ kind: 'run', reason: 'new-tip', tip: c2 });
    expect(out.upgrade.kind).toBe('deployed');
    const s = await readState(t);
    expect(s.deployments?.current?.commit).toBe(c2);
    expect((s as unknown as { poll: unknown }).poll).toMatchObject({
      lastTip: c2,
      lastResult: 'deployed',
      retryAt: null,
    });
    expect((s as unknown as { runs: { upgrade: unknown } }).runs.upgrade).toMatchObject({ ok: true, commit: c2 });

    const again = await traced(t, ['poll']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.commands).toHaveLength(1);
  });

  it('the daemon polls every daemon.pollIntervalSec: a push reaches the host at the next poll', async () => {
    const proc = execa('node', [join(repoRoot, 'bin/gitopsd'), 'daemon', '--config', t.config], {
      reject: false,
      env: { ...t.host.env, TZ: 'UTC', GITOPSD_TEST_NOW: '2026-03-10T12:00:00Z', GITOPSD_CONFIG: undefined },
      stdin: 'ignore',
      timeout: 120_000,
    });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    let onLine: (() => void) | null = null;
    proc.stderr?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          lines.push({ message: text });
        }
        onLine?.();
      }
    });
    const waitFor = (pred: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${what}; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)),
          90_000,
        );
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit === undefined) return;
          clearTimeout(timer);
          onLine = null;
          resolve(hit);
        };
        onLine = check;
        check();
      });

    const started = await waitFor((l) => l['message'] === 'daemon started', 'daemon started');
    expect(started['pollIntervalSec']).toBe(10);
    // The first poll (10 s after start) finds nothing.
    await waitFor((l) => l['message'] === 'poll finished' && l['decision'] === 'idle', 'an idle poll');
    const c3 = await repo.commitGeneration(gen('v3'), 'v3');
    const pushedAt = Date.now();
    const linesAtPush = lines.length;
    const ran = await waitFor(
      (l) => l['message'] === 'poll finished' && l['decision'] === 'run',
      'a poll that upgrades',
    );
    expect(ran['exitCode']).toBe(0);
    // The next poll after the push deploys it: at most one poll (one already
    // under way when the push landed) finished idle in between.
    const between = lines.slice(linesAtPush, lines.indexOf(ran));
    expect(between.filter((l) => l['message'] === 'poll finished').length).toBeLessThanOrEqual(1);
    expect((await readState(t)).deployments?.current?.commit).toBe(c3);
    // Measured, not asserted: how long the push took to be deployed, in real time.
    console.log(`poll daemon: push to deployed in ${Date.now() - pushedAt} ms (interval 10 s)`);
    proc.kill('SIGTERM');
    const r = await proc;
    expect(r.exitCode).toBe(0);
    expect(lines.filter((l) => l['message'] === 'poll finished' && l['decision'] === 'run')).toHaveLength(1);
  });
});
