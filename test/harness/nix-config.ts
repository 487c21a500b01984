/**
 * The simulated nix-config: a real git repo holding a real flake whose
 * `nixosConfigurations.<host>.config.system.build.toplevel` is built by real nix
 * (plain `derivation`s with builder /bin/sh, no nixpkgs; docs/simulated-host.md).
 *
 * Contract:
 * - `createNixConfigRepo({ dir, hosts })` makes `dir/remote.git` (a bare repo,
 *   the "remote" a host pulls from, `remoteUrl`) and `dir/work` (the producer's
 *   clone), commits the first generation spec and pushes it.
 * - A toplevel contains `bin/switch-to-configuration` (the simulated one, with
 *   its own store path embedded), `kernel`, `initrd` and `kernel-modules`
 *   (symlinks into store paths that depend only on the kernel version, so two
 *   generations with the same kernel share them), `nixos-version`, `init`,
 *   `sw/bin`, and the manifest `etc/gitopsd-sim/failing-services` (one unit a
 *   line: the units that fail when this generation is activated or booted).
 * - The store path is `nixos-system-<host>-<version>`; two commits with the same
 *   spec for a host give the same path (as an unchanged NixOS config does), so
 *   give each generation its own version label.
 * - `commitGeneration(hosts, message)` replaces the spec of the hosts it names
 *   (others keep theirs), commits and, by default, pushes. Breakage
 *   `syntax-error` writes a flake.nix that does not parse (this breaks every
 *   host: there is one flake.nix); `failing-derivation` makes that host's
 *   toplevel builder exit 1, `builder-sigbus` makes it die of SIGBUS (as an
 *   mmap on a full tmpfs build dir does), `fetcher-down` makes it depend on a
 *   fixed-output derivation whose `git clone` finds nothing listening;
 *   `activate-script-fails` builds fine, but its activate script fails when
 *   `test` or `switch` runs it (the shim, docs/simulated-host.md).
 * - A flake with no inputs needs no lock: `nix flake lock` succeeds offline and
 *   writes nothing. With `input` (see `createInputRepo`), the flake gets the
 *   input `simInput` (a local git repo), is locked at creation, and
 *   `updateInputs()` runs a real, offline `nix flake update`.
 * - Git runs with a fixed identity and without the user's or system's git
 *   config (GIT_CONFIG_GLOBAL=/dev/null, GIT_CONFIG_NOSYSTEM=1).
 *
 * Failure modes: every git or nix failure throws `HarnessCommandError` with
 * the stderr tail; a bad host name, version or unit name throws before any
 * file is written.
 */
import { mkdir, readFile, readlink, readdir, realpath, writeFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './exec.js';

export type Breakage =
  | 'none'
  | 'syntax-error'
  | 'failing-derivation'
  | 'builder-sigbus'
  | 'child-killed-early'
  | 'fetcher-down'
  | 'activate-script-fails';

export interface HostGeneration {
  /** The NixOS version label: goes into `nixos-version` and the store path name. */
  version: string;
  /** Same version, same kernel/initrd/kernel-modules store paths. */
  kernelVersion: string;
  /** Units that fail when this generation is activated or booted. */
  failingServices?: readonly string[];
  /**
   * systemd's init interface version, written as `init-interface-version`
   * ("systemd <n>", as nixpkgs' top-level.nix writes it). Default 2. Another
   * value than the running system's makes switch-to-configuration exit 100.
   */
  initInterfaceVersion?: number;
  breakage?: Breakage;
}

/** Per host name, the generation to commit. */
export type GenerationSpec = Readonly<Record<string, HostGeneration>>;

export interface InputRepo {
  /** The input's name in the nix-config flake. */
  readonly name: 'simInput';
  readonly dir: string;
  /** A `git+file://` flake URL. */
  readonly url: string;
  /** Commits a new `value` (which the toplevels embed); returns the commit id. */
  commitValue(value: string, message?: string): Promise<string>;
}

export interface NixConfigRepo {
  /** The producer's working clone. */
  readonly workDir: string;
  /** The bare repo hosts pull from. */
  readonly remoteDir: string;
  /** `file://` URL of `remoteDir`, usable as `nixConfig.url`. */
  readonly remoteUrl: string;
  readonly branch: string;
  /** The Nix system the derivations are for, e.g. x86_64-linux. */
  readonly system: string;
  /** The spec of the latest commit (all hosts). */
  spec(): GenerationSpec;
  /**
   * Replaces the named hosts' specs, commits, and pushes unless `push: false`.
   * Returns the new commit id.
   */
  commitGeneration(hosts: GenerationSpec, message: string, opts?: { push?: boolean }): Promise<string>;
  /** Writes extra files (paths relative to the repo), commits, pushes unless `push: false`. */
  commitFiles(files: Readonly<Record<string, string>>, message: string, opts?: { push?: boolean }): Promise<string>;
  /** Runs `nix flake update` (offline), commits flake.lock, pushes unless `push: false`. */
  updateInputs(message?: string, opts?: { push?: boolean }): Promise<string>;
  push(opts?: { force?: boolean }): Promise<void>;
  /** Commit id of the working clone's HEAD. */
  head(): Promise<string>;
  /** Commit id of `branch` in the bare remote. */
  remoteHead(): Promise<string>;
  /** `git clone` of the remote into `dest` (e.g. a simulated host's etc/nixos). */
  cloneTo(dest: string): Promise<void>;
}

export interface CreateNixConfigRepoOptions {
  /** A directory for `remote.git` and `work` (created if missing). */
  dir: string;
  /** The first generation. */
  hosts: GenerationSpec;
  branch?: string;
  /** Adds the flake input `simInput` from this repo. */
  input?: InputRepo;
  message?: string;
}

/** The toplevel the real nh builds for `host`. */
export interface ToplevelInfo {
  storePath: string;
  host: string;
  version: string;
  kernel: string;
  initrd: string;
  kernelModules: string;
  failingServices: string[];
  inputValue: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const FLAKE_TEMPLATE = join(HERE, 'assets', 'flake.nix.in');
const STC_SOURCE = join(HERE, 'assets', 'switch-to-configuration.sh');

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;
const UNIT_RE = /^[A-Za-z0-9:_.@-]+$/;

/** Git identity and isolation from the user's git config. */
export const GIT_ENV: Readonly<Record<string, string>> = {
  GIT_AUTHOR_NAME: 'gitopsd test',
  GIT_AUTHOR_EMAIL: 'test@gitopsd.invalid',
  GIT_COMMITTER_NAME: 'gitopsd test',
  GIT_COMMITTER_EMAIL: 'test@gitopsd.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

async function git(cwd: string, args: readonly string[]): Promise<string> {
  const r = await run('git', args, { cwd, env: GIT_ENV });
  return r.stdout.trim();
}

/** The attribute nh builds for `host`. */
export function toplevelAttr(host: string): string {
  return `nixosConfigurations.${host}.config.system.build.toplevel`;
}

/** The Nix system string for this machine. */
export function nixSystem(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : null;
  if (arch === null || process.platform !== 'linux') {
    throw new Error(`harness: no Nix system for ${process.platform}/${process.arch}; the simulated host needs Linux`);
  }
  return `${arch}-linux`;
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The PATH the derivation builders get: the directories (resolved, so stable
 * across PATH spellings) holding mkdir, ln, cat and chmod on this machine.
 */
export async function builderPath(): Promise<string> {
  const dirs: string[] = [];
  // git: the fetcher of breakage `fetcher-down` (in the test bed, the same directory as coreutils).
  for (const tool of ['mkdir', 'ln', 'cat', 'chmod', 'git']) {
    let found: string | null = null;
    for (const d of (process.env['PATH'] ?? '').split(delimiter)) {
      if (d === '') continue;
      const p = join(d, tool);
      if (await isExecutable(p)) {
        found = dirname(await realpath(p));
        break;
      }
    }
    if (found === null) throw new Error(`harness: ${tool} is not on PATH; the simulated derivations need coreutils`);
    if (!dirs.includes(found)) dirs.push(found);
  }
  return dirs.join(':');
}

function validateSpec(hosts: GenerationSpec): void {
  for (const [host, h] of Object.entries(hosts)) {
    if (!NAME_RE.test(host)) throw new Error(`harness: bad host name ${JSON.stringify(host)}`);
    if (!VERSION_RE.test(h.version))
      throw new Error(`harness: bad version label ${JSON.stringify(h.version)} for ${host}`);
    if (!VERSION_RE.test(h.kernelVersion)) {
      throw new Error(`harness: bad kernel version ${JSON.stringify(h.kernelVersion)} for ${host}`);
    }
    for (const u of h.failingServices ?? []) {
      if (!UNIT_RE.test(u)) throw new Error(`harness: bad unit name ${JSON.stringify(u)} for ${host}`);
    }
  }
}

function normalize(h: HostGeneration): Required<HostGeneration> {
  return {
    version: h.version,
    kernelVersion: h.kernelVersion,
    failingServices: [...(h.failingServices ?? [])],
    breakage: h.breakage ?? 'none',
    initInterfaceVersion: h.initInterfaceVersion ?? 2,
  };
}

async function renderFlake(opts: {
  system: string;
  builderPath: string;
  input: InputRepo | undefined;
}): Promise<string> {
  const template = await readFile(FLAKE_TEMPLATE, 'utf8');
  const inputs =
    opts.input === undefined ? '' : `  inputs.${opts.input.name}.url = ${JSON.stringify(opts.input.url)};\n`;
  return template
    .replace('@INPUTS@\n', inputs)
    .replace('@SYSTEM@', opts.system)
    .replace('@BUILDER_PATH@', opts.builderPath);
}

const BROKEN_FLAKE = `# Deliberately broken by gitopsd's test harness (breakage: syntax-error).
{
  outputs = { self }: {
    nixosConfigurations = ;
  };
}
`;

/** Creates the bare remote and the producer's clone, and commits `hosts`. */
export async function createNixConfigRepo(opts: CreateNixConfigRepoOptions): Promise<NixConfigRepo> {
  validateSpec(opts.hosts);
  const branch = opts.branch ?? 'main';
  const root = resolve(opts.dir);
  const remoteDir = join(root, 'remote.git');
  const workDir = join(root, 'work');
  const remoteUrl = `file://${remoteDir}`;
  const system = nixSystem();
  const bpath = await builderPath();
  const input = opts.input;
  let current: Record<string, Required<HostGeneration>> = {};

  await mkdir(root, { recursive: true });
  await git(root, ['init', '--quiet', '--bare', `--initial-branch=${branch}`, remoteDir]);
  await git(root, ['init', '--quiet', `--initial-branch=${branch}`, workDir]);
  await git(workDir, ['remote', 'add', 'origin', remoteUrl]);

  async function writeTree(): Promise<void> {
    const broken = Object.values(current).some((h) => h.breakage === 'syntax-error');
    const flake = broken ? BROKEN_FLAKE : await renderFlake({ system, builderPath: bpath, input });
    await writeFile(join(workDir, 'flake.nix'), flake);
    await writeFile(join(workDir, 'hosts.json'), `${JSON.stringify(current, null, 2)}\n`);
    await mkdir(join(workDir, 'sim'), { recursive: true });
    await writeFile(join(workDir, 'sim', 'switch-to-configuration.sh'), await readFile(STC_SOURCE, 'utf8'));
  }

  async function commit(message: string): Promise<string> {
    await git(workDir, ['add', '--all']);
    await git(workDir, ['commit', '--quiet', '--allow-empty', '-m', message]);
    return git(workDir, ['rev-parse', 'HEAD']);
  }

  async function push(o: { force?: boolean } = {}): Promise<void> {
    await git(workDir, [
      'push',
      '--quiet',
      ...(o.force === true ? ['--force'] : []),
      'origin',
      `HEAD:refs/heads/${branch}`,
    ]);
  }

  current = Object.fromEntries(Object.entries(opts.hosts).map(([k, v]) => [k, normalize(v)]));
  await writeTree();
  if (input !== undefined) {
    // Nix reads only tracked files of a git flake: add before locking.
    await git(workDir, ['add', '--all']);
    await run('nix', ['flake', 'lock'], { cwd: workDir });
  }
  await commit(opts.message ?? 'initial generation');
  await push();
  await git(workDir, ['branch', '--quiet', `--set-upstream-to=origin/${branch}`]);

  const repo: NixConfigRepo = {
    workDir,
    remoteDir,
    remoteUrl,
    branch,
    system,
    spec: () => structuredClone(current),
    async commitGeneration(hosts, message, o = {}) {
      validateSpec(hosts);
      current = { ...current, ...Object.fromEntries(Object.entries(hosts).map(([k, v]) => [k, normalize(v)])) };
      await writeTree();
      const id = await commit(message);
      if (o.push !== false) await push();
      return id;
    },
    async commitFiles(files, message, o = {}) {
      for (const [rel, content] of Object.entries(files)) {
        const p = resolve(workDir, rel);
        if (!p.startsWith(`${workDir}/`)) throw new Error(`harness: ${rel} is outside the repo`);
        await mkdir(dirname(p), { recursive: true });
        await writeFile(p, content);
      }
      const id = await commit(message);
      if (o.push !== false) await push();
      return id;
    },
    async updateInputs(message = 'flake.lock: update inputs', o = {}) {
      if (input === undefined) throw new Error('harness: this nix-config has no inputs to update');
      await run('nix', ['flake', 'update', '--flake', workDir], { cwd: workDir });
      const id = await commit(message);
      if (o.push !== false) await push();
      return id;
    },
    push,
    head: () => git(workDir, ['rev-parse', 'HEAD']),
    remoteHead: () => git(remoteDir, ['rev-parse', `refs/heads/${branch}`]),
    async cloneTo(dest) {
      await mkdir(dirname(resolve(dest)), { recursive: true });
      await git(root, ['clone', '--quiet', '--branch', branch, remoteUrl, resolve(dest)]);
    },
  };
  return repo;
}

/**
 * Creates a local git repo that is a flake with one output, `value` (read from
 * value.txt), for use as the nix-config's input `simInput`. Each
 * `commitValue` is a new upstream commit that `nix flake update` picks up.
 */
export async function createInputRepo(opts: { dir: string; value?: string }): Promise<InputRepo> {
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
  await writeFile(
    join(dir, 'flake.nix'),
    '# A trivial flake input for the simulated nix-config (gitopsd test harness).\n' +
      '{\n  outputs = { self }: { value = builtins.readFile ./value.txt; };\n}\n',
  );
  const commitValue = async (value: string, message?: string): Promise<string> => {
    await writeFile(join(dir, 'value.txt'), value);
    await git(dir, ['add', '--all']);
    await git(dir, ['commit', '--quiet', '--allow-empty', '-m', message ?? `value: ${value}`]);
    return git(dir, ['rev-parse', 'HEAD']);
  };
  await commitValue(opts.value ?? 'input v1', 'initial input');
  return { name: 'simInput', dir, url: `git+file://${dir}`, commitValue };
}

/**
 * Builds `host`'s toplevel from `flake` (a directory or flake ref) with real
 * `nix build --out-link outLink`; returns the store path. The out-link is a GC
 * root for as long as it exists.
 */
export async function buildToplevel(opts: { flake: string; host: string; outLink: string }): Promise<string> {
  await run('nix', ['build', `${opts.flake}#${toplevelAttr(opts.host)}`, '--out-link', opts.outLink]);
  return realpath(opts.outLink);
}

/** Reads what the harness put into a toplevel store path. */
export async function readToplevel(storePath: string): Promise<ToplevelInfo> {
  const text = async (rel: string): Promise<string> => readFile(join(storePath, rel), 'utf8');
  const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
  // The directory listing proves storePath is a toplevel before we parse it.
  const entries = await readdir(storePath);
  if (!entries.includes('nixos-version')) throw new Error(`harness: ${storePath} is not a simulated toplevel`);
  return {
    storePath,
    host: (await text('etc/gitopsd-sim/host')).trim(),
    version: (await text('nixos-version')).trim(),
    kernel: await readlink(join(storePath, 'kernel')),
    initrd: await readlink(join(storePath, 'initrd')),
    kernelModules: await readlink(join(storePath, 'kernel-modules')),
    failingServices: lines(await text('etc/gitopsd-sim/failing-services')),
    inputValue: (await text('etc/gitopsd-sim/input')).trim(),
  };
}
