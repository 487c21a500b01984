/**
 * Helpers shared by the upgrade integration tests. They only compose the
 * harness (test/harness): a nix-config repo, simulated hosts with the first
 * generation installed and the checkout cloned, and `gitopsd upgrade` runs
 * through the built CLI, with a runner trace.
 */
import { killPoints, type TraceCheckpoint } from '../../harness/kill-points.js';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createSimHost, type ConfigOverrides, type SimHost } from '../../harness/sim-host.js';
import { buildToplevel, type NixConfigRepo, GIT_ENV } from '../../harness/nix-config.js';
import { run } from '../../harness/exec.js';
import { tempDir } from '../../harness/temp.js';
import { runCli, type CliResult } from '../../helpers/cli.js';

export const SERVICES = ['sshd.service'];

export interface TestHost {
  host: SimHost;
  config: string;
  /** The store path of the installed generation 1. */
  installed: string;
}

/**
 * A simulated host named `name` with generation 1 built from the repo's
 * current commit, the checkout cloned (unless `clone: false`), and its
 * config written with `overrides`.
 */
export async function makeHost(
  repo: NixConfigRepo,
  opts: { name: string; label: string; overrides?: ConfigOverrides; clone?: boolean },
): Promise<TestHost> {
  const dir = await tempDir(`up-${opts.label}`);
  const host = await createSimHost({ dir: join(dir, 'root'), name: opts.name, services: SERVICES });
  const installed = await buildToplevel({ flake: repo.workDir, host: opts.name, outLink: join(dir, 'gen1') });
  await host.install(installed);
  if (opts.clone !== false) await repo.cloneTo(host.paths.nixConfigDir);
  const config = await host.writeConfig({
    ...opts.overrides,
    nixConfig: { url: repo.remoteUrl, ...(opts.overrides?.['nixConfig'] as ConfigOverrides | undefined) },
  });
  return { host, config, installed };
}

export interface UpgradeRun extends CliResult {
  /** Every command the runner started, in order (from GITOPSD_TRACE). */
  commands: string[][];
  checkpoints: number;
  /** The checkpoints a crash suite kills at: all but those before a read-only command (test/harness/kill-points.ts). */
  killPoints: number[];
}

/** `gitopsd upgrade --config <host config>` against the simulated host, traced. */
export async function upgrade(
  t: TestHost,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
): Promise<UpgradeRun> {
  return traced(t, ['upgrade', ...args], env);
}

/** `gitopsd <args> --config <host config>` against the simulated host, traced (GITOPSD_TRACE). */
export async function traced(
  t: TestHost,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<UpgradeRun> {
  const traceDir = join(t.host.root, 'var/tmp');
  await mkdir(traceDir, { recursive: true });
  const trace = join(traceDir, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  const r = await runCli([...args, '--config', t.config], {
    env: { ...t.host.env, TZ: 'UTC', GITOPSD_TRACE: trace, ...env },
  });
  const events = await readTrace(trace);
  return {
    ...r,
    commands: events
      .filter((e) => e['event'] === 'start')
      .map((e) => [String(e['cmd']), ...((e['args'] as string[]) ?? [])]),
    checkpoints: events.filter((e) => e['event'] === 'checkpoint').length,
    killPoints: killPoints(events.filter((e) => e['event'] === 'checkpoint') as unknown as TraceCheckpoint[]),
  };
}

export async function readTrace(file: string): Promise<Record<string, unknown>[]> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Program names that evaluate, build or activate (prlimit: only around nix-store): none may run on a no-op or a known-bad skip. */
export function nixCommands(commands: string[][]): string[][] {
  return commands.filter((c) => {
    const cmd = c[0] ?? '';
    return /(^|\/)(nix|nh|nix-env|nix-store|nix-build|switch-to-configuration|prlimit)$/.test(cmd);
  });
}

export interface StateDoc {
  version: number;
  deployments?: {
    current: { commit: string; storePath: string; generation: number | null; operation: string } | null;
    history: unknown[];
    badCommits: Record<string, { reason: string; message: string; logTail: string }>;
  };
  upgrade?: {
    lastRun: {
      commit: string | null;
      result: string;
      exitCode: number;
      durationMs: number;
      steps: Record<string, number>;
    } | null;
    pending: unknown;
    deployedBase: { commit: string; base: string } | null;
  };
}

export async function readState(t: TestHost): Promise<StateDoc> {
  return JSON.parse(await readFile(join(t.host.paths.stateDir, 'state.json'), 'utf8')) as StateDoc;
}

export async function gitOut(dir: string, args: string[]): Promise<string> {
  return (await run('git', ['-C', dir, ...args], { env: GIT_ENV })).stdout.trim();
}

export async function checkoutHead(t: TestHost): Promise<string> {
  return gitOut(t.host.paths.nixConfigDir, ['rev-parse', 'HEAD']);
}

/** Store path the work clone's HEAD builds to for `host` (real nix; cached after the first build). */
export async function storePathOf(repo: NixConfigRepo, host: string, outLink: string): Promise<string> {
  return buildToplevel({ flake: repo.workDir, host, outLink });
}
