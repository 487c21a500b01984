/**
 * A simulated fleet: several simulated NixOS hosts that share one nix-config
 * remote and one dotfiles remote, each with its own fake root, $HOME, chezmoi
 * source dir and gitopsd config (nixConfig and dotfiles both enabled). The
 * demo, the cycle tests and the fleet benchmarks build on it.
 *
 * Contract:
 * - `createFleet` builds and installs generation 1 on every host (real nix
 *   build, real `nix-env --set`), clones nix-config into each host's checkout,
 *   and writes each host's config. The dotfiles source dirs do not exist yet:
 *   the first `gitopsd sync` clones them from `dotfilesUrl` (bootstrap).
 * - `host.gitopsd(args)` runs the built CLI (bin/gitopsd) against that host,
 *   with the host's shims (nh, systemctl) first on PATH.
 * - Everything runs as the current user (root in the test bed), with
 *   dotfiles.user = that user, so no useradd is needed.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';
import { createSimHost, type ConfigOverrides, type SimHost } from './sim-host.js';
import {
  buildToplevel,
  createNixConfigRepo,
  type GenerationSpec,
  type InputRepo,
  type NixConfigRepo,
} from './nix-config.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const SEED_ENV = {
  GIT_AUTHOR_NAME: 'fleet seed',
  GIT_AUTHOR_EMAIL: 'seed@fleet.invalid',
  GIT_COMMITTER_NAME: 'fleet seed',
  GIT_COMMITTER_EMAIL: 'seed@fleet.invalid',
};

export interface FleetHost {
  readonly name: string;
  readonly sim: SimHost;
  readonly home: string;
  readonly sourceDir: string;
  readonly config: string;
  /** The installed generation 1. */
  readonly installed: string;
  gitopsd(args: readonly string[], opts?: { env?: Record<string, string | undefined> }): Promise<CliResult>;
  /** Run with --json and parse stdout (throws with the output when it is not JSON). */
  json<T>(args: readonly string[]): Promise<T>;
  /** Write a file under $HOME (an edit a person makes). */
  editHome(target: string, content: string): Promise<void>;
  readHome(target: string): Promise<string | null>;
}

export interface Fleet {
  readonly dir: string;
  readonly nixConfig: NixConfigRepo;
  readonly dotfilesUrl: string;
  readonly hosts: readonly FleetHost[];
  host(name: string): FleetHost;
}

export interface CreateFleetOptions {
  dir: string;
  names: readonly string[];
  services?: readonly string[];
  /** Files of the dotfiles repo (chezmoi source names, e.g. `dot_bashrc`). */
  dotfiles?: Readonly<Record<string, string>>;
  /** Extra config for every host. */
  overrides?: ConfigOverrides;
  /**
   * Every host builds this one nixosConfiguration (nixConfig.flakeHost), so
   * all hosts build the same derivation of a commit and nix builds it once
   * (the rest is the store's cache): generation 1 is built once and installed
   * on every host. Default: each host its own (nixosConfigurations.<name>).
   */
  sharedFlakeHost?: string;
  /** Adds the flake input `simInput` from this repo to nix-config (a producer's `nix flake update` moves it). */
  input?: InputRepo;
  /**
   * Every host's chezmoi.toml. Default: empty (chezmoi's defaults, as the
   * demo and the benchmarks want); tests pass CHEZMOI_TEST_TOML
   * (./chezmoi-config.ts).
   */
  chezmoiToml?: string;
}

/** A bare git remote (world-writable, for hosts running as other users) seeded with `files` on main. */
export async function createDotfilesRemote(dir: string, files: Readonly<Record<string, string>>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const url = join(dir, 'dotfiles.git');
  await run('git', ['init', '-q', '--bare', '--shared=all', '-b', 'main', url]);
  const seed = join(dir, 'dotfiles-seed');
  await run('git', ['init', '-q', '-b', 'main', seed]);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(seed, name, '..'), { recursive: true });
    await writeFile(join(seed, name), content);
  }
  await run('git', ['-C', seed, 'add', '-A']);
  await run('git', ['-C', seed, 'commit', '-q', '-m', 'dotfiles: seed'], { env: SEED_ENV });
  await run('git', ['-C', seed, 'push', '-q', url, 'main']);
  return url;
}

export const DEFAULT_DOTFILES: Readonly<Record<string, string>> = {
  dot_bashrc: '# ~/.bashrc\nexport EDITOR=vi\nalias ll="ls -l"\n',
  dot_gitconfig: '[user]\n\tname = Fleet User\n',
  'dot_config/starship.toml': 'add_newline = false\n',
};

export async function createFleet(opts: CreateFleetOptions): Promise<Fleet> {
  const services = opts.services ?? ['sshd.service'];
  await mkdir(opts.dir, { recursive: true });
  await chmod(opts.dir, 0o755);
  const shared = opts.sharedFlakeHost;
  const spec: Record<string, GenerationSpec[string]> = {};
  for (const name of shared === undefined ? opts.names : [shared])
    spec[name] = { version: 'v1', kernelVersion: '6.6.1' };
  const nixConfig = await createNixConfigRepo({
    dir: join(opts.dir, 'nix-config'),
    hosts: spec,
    message: 'fleet: v1',
    ...(opts.input === undefined ? {} : { input: opts.input }),
  });
  const dotfilesUrl = await createDotfilesRemote(join(opts.dir, 'remotes'), opts.dotfiles ?? DEFAULT_DOTFILES);
  const user = userInfo().username;

  const hosts: FleetHost[] = [];
  const sharedGen1 =
    shared === undefined
      ? null
      : await buildToplevel({ flake: nixConfig.workDir, host: shared, outLink: join(opts.dir, 'gen1') });
  for (const name of opts.names) {
    const base = join(opts.dir, 'hosts', name);
    const sim = await createSimHost({ dir: join(base, 'root'), name, services });
    const installed =
      sharedGen1 ?? (await buildToplevel({ flake: nixConfig.workDir, host: name, outLink: join(base, 'gen1') }));
    await sim.install(installed);
    await nixConfig.cloneTo(sim.paths.nixConfigDir);
    const home = join(base, 'home');
    const chezmoiConfig = join(home, '.config', 'chezmoi', 'chezmoi.toml');
    await mkdir(join(home, '.config', 'chezmoi'), { recursive: true });
    await writeFile(chezmoiConfig, opts.chezmoiToml ?? '');
    const sourceDir = join(home, '.local', 'share', 'chezmoi');
    const config = await sim.writeConfig({
      nixConfig: { url: nixConfig.remoteUrl, ...(shared === undefined ? {} : { flakeHost: shared }) },
      dotfiles: { enable: true, user, sourceDir, destDir: home, url: dotfilesUrl, chezmoiConfig },
      log: { level: 'warn', format: 'json' },
      ...opts.overrides,
    });
    const gitopsd = (args: readonly string[], o: { env?: Record<string, string | undefined> } = {}) =>
      runCli([...args, '--config', config], { env: { ...sim.env, ...o.env } });
    hosts.push({
      name,
      sim,
      home,
      sourceDir,
      config,
      installed,
      gitopsd,
      async json<T>(args: readonly string[]): Promise<T> {
        const r = await gitopsd([...args, '--json']);
        try {
          return JSON.parse(r.stdout) as T;
        } catch {
          throw new Error(`gitopsd ${args.join(' ')} on ${name} printed no JSON (exit ${r.exitCode}): ${r.stderr}`);
        }
      },
      async editHome(target: string, content: string): Promise<void> {
        await mkdir(join(home, target, '..'), { recursive: true });
        await writeFile(join(home, target), content);
      },
      async readHome(target: string): Promise<string | null> {
        const p = join(home, target);
        return existsSync(p) ? readFile(p, 'utf8') : null;
      },
    });
  }
  return {
    dir: opts.dir,
    nixConfig,
    dotfilesUrl,
    hosts,
    host(name: string): FleetHost {
      const h = hosts.find((x) => x.name === name);
      if (h === undefined) throw new Error(`fleet: no host ${name}`);
      return h;
    },
  };
}
