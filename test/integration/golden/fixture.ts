/**
 * Shared fixture of the golden/boot-validate integration tests: one nix-config
 * repo whose generations are built once per file, simulated hosts, and a
 * thin wrapper to run the built gitopsd against a host.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { createSimHost, type ConfigOverrides, type SimHost } from '../../harness/sim-host.js';
import { buildToplevel, createNixConfigRepo, type NixConfigRepo } from '../../harness/nix-config.js';
import { tempDir } from '../../harness/temp.js';
import { run } from '../../harness/exec.js';
import { parseBoot, type BootSection } from '../../../src/shared/boot-state.js';
import { parseGolden, type GoldenSection } from '../../../src/golden/state.js';
import { DeploymentsSection } from '../../../src/core/deployments.js';

export const SERVICES = ['sshd.service', 'nginx.service'];

export interface Fixture {
  base: string;
  repo: NixConfigRepo;
  nonce: string;
  /** Build the current commit's toplevel with an out-link under base/<name>. */
  build(name: string): Promise<string>;
}

export async function createFixture(label: string): Promise<Fixture> {
  const base = await tempDir(label);
  // Unique version labels: these store paths belong to this file alone, so
  // deleting or collecting them cannot touch another test's paths.
  const nonce = randomBytes(5).toString('hex');
  const repo = await createNixConfigRepo({
    dir: join(base, 'config'),
    hosts: { hosta: { version: `g1-${nonce}`, kernelVersion: '6.6.1' } },
    message: 'G1',
  });
  return {
    base,
    repo,
    nonce,
    build: (name) => buildToplevel({ flake: repo.workDir, host: 'hosta', outLink: join(base, 'out', name) }),
  };
}

export interface Host {
  sim: SimHost;
  config: string;
  gitopsd(args: string[], opts?: { env?: Record<string, string>; bin?: string }): Promise<CliResult>;
  json<T = Record<string, unknown>>(args: string[]): Promise<T>;
  /** The state sections this capability reads and writes, parsed. */
  state(): Promise<{ boot: BootSection; golden: GoldenSection; deployments: DeploymentsSection }>;
}

export async function createHost(label: string, overrides: ConfigOverrides = {}): Promise<Host> {
  return hostAt(await tempDir(`host-${label}`), overrides);
}

/**
 * A copy of `from` as a host of its own: its whole fake root (`cp -a`: the
 * profile's generation links, the GC root links, the state, the boot log and
 * the uptime, timestamps kept), with the config written anew for the copy's
 * root. For a crash suite that drives a fresh host through the same steps
 * before every kill point: it takes those steps once and copies the result.
 * The copy's links in gcroots/ are not registered in nix's gcroots/auto, so
 * they hold nothing against a GC: not for the GC tests. The store paths they
 * point at are held by the fixture's out-links (Fixture.build).
 */
export async function copyHost(from: Host, label: string, overrides: ConfigOverrides = {}): Promise<Host> {
  const dir = await tempDir(`host-${label}`);
  await run('cp', ['-a', `${from.sim.root}/.`, dir]);
  // createSimHost writes the uptime file: keep the one copied from `from`.
  const uptime = await readFile(from.sim.paths.uptimeFile, 'utf8');
  return hostAt(dir, overrides, Number(uptime.split(' ')[0]));
}

async function hostAt(dir: string, overrides: ConfigOverrides, uptimeSec?: number): Promise<Host> {
  const sim = await createSimHost({
    dir,
    name: 'hosta',
    services: SERVICES,
    ...(uptimeSec === undefined ? {} : { uptimeSec }),
  });
  const config = await sim.writeConfig(overrides);
  const gitopsd = (args: string[], opts: { env?: Record<string, string>; bin?: string } = {}): Promise<CliResult> =>
    runCli([...args, '--config', config], {
      env: { ...sim.env, ...opts.env },
      ...(opts.bin !== undefined ? { bin: opts.bin } : {}),
    });
  return {
    sim,
    config,
    gitopsd,
    async json<T>(args: string[]): Promise<T> {
      const r = await gitopsd([...args, '--json']);
      try {
        return JSON.parse(r.stdout) as T;
      } catch {
        throw new Error(
          `gitopsd ${args.join(' ')} --json printed no JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`,
        );
      }
    },
    async state() {
      const doc = JSON.parse(await readFile(join(sim.paths.stateDir, 'state.json'), 'utf8')) as Record<string, unknown>;
      return {
        boot: parseBoot(doc['boot']),
        golden: parseGolden(doc['golden']),
        deployments: DeploymentsSection.parse(doc['deployments'] ?? {}),
      };
    },
  };
}

/**
 * The GC tests' starting point: G1 installed and validated (so pinned as
 * golden), then the profile set to `bad` and the host rebooted into it, so
 * the booted-system root points at the bad system and only the golden root
 * keeps G1 alive.
 */
export async function validateThenBootInto(h: Host, g1: string, bad: string): Promise<void> {
  await h.sim.install(g1);
  const v = await h.gitopsd(['boot', 'validate']);
  if (v.exitCode !== 0) throw new Error(`boot validate of G1 exited ${v.exitCode}: ${v.stderr}`);
  await run('nix-env', ['-p', h.sim.paths.systemProfile, '--set', bad], { env: h.sim.env });
  await run(join(bad, 'bin/switch-to-configuration'), ['boot'], { env: h.sim.env });
  await h.sim.boot();
}
