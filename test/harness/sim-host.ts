/**
 * A simulated NixOS host: a fake root directory that gitopsd is pointed at
 * through its config `paths.*` values (docs/simulated-host.md).
 *
 * Real: the system profile and its generations (`nix-env -p <profile> --set`,
 * `nix build --profile`, `nix-env --list-generations`), the store paths, and
 * GC roots made with `nix-store --add-root`. Simulated (they cannot run in the
 * test bed): systemd (unit states are files; test/shims/systemctl reads them),
 * the boot loader (`boot/default`, a symlink), activation (the generation's
 * own simulated bin/switch-to-configuration), and reboots (`boot()`).
 *
 * Layout under `root` (see `SimHostPaths`):
 *   nix/var/nix/profiles/system[-N-link]   real profile
 *   nix/var/nix/gcroots/                   gcRootsDir (booted-system root lives here)
 *   run/current-system, run/booted-system  symlinks to store paths
 *   run/systemd/units/<unit>               unit state (active|failed|...)
 *   run/systemd/system-state               optional override of is-system-running
 *   run/systemd/reboot-requests            one ISO time a line, from `systemctl reboot`
 *   run/activations.log                    "<time> <action> <store path>" per switch-to-configuration call
 *   boot/default                           the boot loader's default entry
 *   etc/sim/services                       units this host runs, one a line
 *   etc/nixos                              where the nix-config checkout goes (not created)
 *   etc/gitopsd/config.json                written by writeConfig()
 *   proc-uptime                            like /proc/uptime
 *   var/lib/gitopsd                        gitopsd's stateDir
 *   var/lib/sim/boot-count, var/log/sim/boot.log   the harness's own boot records
 *
 * Contract:
 * - `createSimHost` only makes directories and files; it runs nothing.
 * - `install(storePath)` makes generation 1 with `nix-env --set`, points the
 *   boot default at it and boots it (boot count 1). Uptime stays as it was.
 * - `boot()` is a reboot into `boot/default`: /run is emptied (except
 *   activations.log, kept for tests), booted-system and current-system point at
 *   the boot default, units in etc/sim/services become active and the units in
 *   that system's failing-services manifest become failed, reboot requests move
 *   into the boot log, the boot count goes up and uptime restarts.
 * - `env` is what a command against this host needs: test/shims first on PATH,
 *   and SIM_ROOT. Run gitopsd with it.
 * - Every method throws with a message naming the file or command on failure;
 *   none ever touches the real /run, /boot or /nix/var/nix/profiles/system.
 */
import {
  appendFile,
  mkdir,
  readFile,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, tryRun, type RunOptions, type RunResult } from './exec.js';

export type UnitState =
  'active' | 'reloading' | 'refreshing' | 'inactive' | 'failed' | 'activating' | 'deactivating' | 'maintenance';
const UNIT_STATES: readonly string[] = [
  'active',
  'reloading',
  'refreshing',
  'inactive',
  'failed',
  'activating',
  'deactivating',
  'maintenance',
];

export type SystemState = 'initializing' | 'starting' | 'running' | 'degraded' | 'maintenance' | 'stopping' | 'offline';

/** The directory holding the nh and systemctl shims. */
export const SHIMS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'shims');

export interface SimHostPaths {
  root: string;
  profilesDir: string;
  systemProfile: string;
  gcRootsDir: string;
  currentSystem: string;
  bootedSystem: string;
  uptimeFile: string;
  stateDir: string;
  nixConfigDir: string;
  configFile: string;
  bootDefault: string;
  servicesFile: string;
  unitsDir: string;
  systemStateFile: string;
  rebootRequestsFile: string;
  activationsLog: string;
  bootCountFile: string;
  bootLogFile: string;
}

/** Exactly gitopsd's config `paths` object for this host. */
export interface SimConfigPaths {
  systemProfile: string;
  currentSystem: string;
  bootedSystem: string;
  gcRootsDir: string;
  uptimeFile: string;
}

export interface Generation {
  number: number;
  /** As nix-env prints it: "YYYY-MM-DD HH:MM:SS". */
  date: string;
  current: boolean;
  /** Resolved target of `system-N-link`. */
  storePath: string;
}

export interface BootRecord {
  boot: number;
  at: string;
  system: string;
  /** The `systemctl reboot` requests made during the previous boot. */
  rebootRequests: string[];
}

export interface Activation {
  at: string;
  action: string;
  system: string;
}

/** A JSON value in a config override. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };
/** Nested partial config: objects merge key by key, arrays and scalars replace. */
export type ConfigOverrides = { readonly [k: string]: JsonValue | ConfigOverrides | undefined };

export interface CreateSimHostOptions {
  /** The fake root (created if missing). */
  dir: string;
  /** Host name; also the default `nixConfig.flakeHost`. */
  name: string;
  /** Units the host runs (etc/sim/services), e.g. ["sshd.service"]. */
  services: readonly string[];
  /** Initial uptime in seconds (default 100000). */
  uptimeSec?: number;
}

export interface SimHost {
  readonly name: string;
  readonly root: string;
  readonly services: readonly string[];
  readonly paths: SimHostPaths;
  readonly configPaths: SimConfigPaths;
  /** Environment additions for commands against this host (PATH, SIM_ROOT). */
  readonly env: Readonly<Record<string, string>>;
  /** Runs a command with `env`; returns the result whatever the exit code. */
  exec(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  install(storePath: string): Promise<void>;
  boot(opts?: { uptimeSec?: number }): Promise<BootRecord>;
  setUnitState(unit: string, state: UnitState): Promise<void>;
  /**
   * Declares `systemctl show` properties of a unit (etc/sim/unit-props/<unit>,
   * test/shims/systemctl): e.g. { Type: 'oneshot', Result: 'success' }, or
   * { SimCrashLoop: '0.2 1' } for a unit that is active 0.2 s, then activating
   * 1 s, restarting forever from now on. null removes the declaration.
   */
  setUnitProps(unit: string, props: Record<string, string> | null): Promise<void>;
  unitStates(): Promise<Record<string, UnitState>>;
  rebootRequests(): Promise<string[]>;
  generations(): Promise<Generation[]>;
  bootDefault(): Promise<string | null>;
  currentSystem(): Promise<string | null>;
  bootedSystem(): Promise<string | null>;
  /** Resolved store path of the system profile, or null before install. */
  profileSystem(): Promise<string | null>;
  /** Overrides `systemctl is-system-running`; null goes back to deriving it from unit states. */
  setSystemState(state: SystemState | null): Promise<void>;
  setUptime(sec: number): Promise<void>;
  bootCount(): Promise<number>;
  bootLog(): Promise<BootRecord[]>;
  activations(): Promise<Activation[]>;
  /** Writes the gitopsd config for this host (deep-merging `overrides`); returns its path. */
  writeConfig(overrides?: ConfigOverrides): Promise<string>;
}

const UNIT_RE = /^[A-Za-z0-9:_.@-]+$/;
const DEFAULT_UPTIME_SEC = 100_000;
const BOOT_UPTIME_SEC = 10;

function checkUnit(unit: string): void {
  if (!UNIT_RE.test(unit) || unit === '.' || unit === '..')
    throw new Error(`harness: bad unit name ${JSON.stringify(unit)}`);
}

async function readlinkOrNull(p: string): Promise<string | null> {
  try {
    return await readlink(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function readOrNull(p: string): Promise<string | null> {
  try {
    return await readFile(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes `content` to `p` atomically (temp file in the same dir, rename). */
async function writeAtomic(p: string, content: string): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  const tmp = `${p}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, content);
  await rename(tmp, p);
}

/** Points `link` at `target` atomically. */
async function symlinkAtomic(target: string, link: string): Promise<void> {
  await mkdir(dirname(link), { recursive: true });
  const tmp = `${link}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await symlink(target, tmp);
  await rename(tmp, link);
}

function lines(s: string | null): string[] {
  return (s ?? '').split('\n').filter((l) => l.trim() !== '');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merges `over` into `base`: objects key by key, anything else replaces; undefined is skipped. */
export function deepMerge(base: Record<string, unknown>, over: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? deepMerge(b, v) : structuredClone(v);
  }
  return out;
}

/**
 * Parses `nix-env --list-generations` output ("   1   2026-11-21 23:24:45   (current)").
 * Store paths are filled in by the caller.
 */
export function parseGenerations(stdout: string): Array<Omit<Generation, 'storePath'>> {
  const out: Array<Omit<Generation, 'storePath'>> = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^\s*(\d+)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*(\(current\))?\s*$/.exec(line);
    if (m === null) throw new Error(`harness: cannot parse nix-env --list-generations line ${JSON.stringify(line)}`);
    out.push({ number: Number(m[1]), date: m[2] ?? '', current: m[3] !== undefined });
  }
  return out;
}

export async function createSimHost(opts: CreateSimHostOptions): Promise<SimHost> {
  const root = resolve(opts.dir);
  for (const s of opts.services) checkUnit(s);
  const p: SimHostPaths = {
    root,
    profilesDir: join(root, 'nix/var/nix/profiles'),
    systemProfile: join(root, 'nix/var/nix/profiles/system'),
    gcRootsDir: join(root, 'nix/var/nix/gcroots'),
    currentSystem: join(root, 'run/current-system'),
    bootedSystem: join(root, 'run/booted-system'),
    uptimeFile: join(root, 'proc-uptime'),
    stateDir: join(root, 'var/lib/gitopsd'),
    nixConfigDir: join(root, 'etc/nixos'),
    configFile: join(root, 'etc/gitopsd/config.json'),
    bootDefault: join(root, 'boot/default'),
    servicesFile: join(root, 'etc/sim/services'),
    unitsDir: join(root, 'run/systemd/units'),
    systemStateFile: join(root, 'run/systemd/system-state'),
    rebootRequestsFile: join(root, 'run/systemd/reboot-requests'),
    activationsLog: join(root, 'run/activations.log'),
    bootCountFile: join(root, 'var/lib/sim/boot-count'),
    bootLogFile: join(root, 'var/log/sim/boot.log'),
  };
  const configPaths: SimConfigPaths = {
    systemProfile: p.systemProfile,
    currentSystem: p.currentSystem,
    bootedSystem: p.bootedSystem,
    gcRootsDir: p.gcRootsDir,
    uptimeFile: p.uptimeFile,
  };
  for (const d of [p.profilesDir, p.gcRootsDir, p.unitsDir, join(root, 'boot'), join(root, 'etc/sim'), p.stateDir]) {
    await mkdir(d, { recursive: true });
  }
  await mkdir(dirname(p.bootCountFile), { recursive: true });
  await mkdir(dirname(p.bootLogFile), { recursive: true });
  await writeAtomic(p.servicesFile, opts.services.map((s) => `${s}\n`).join(''));

  const env: Record<string, string> = {
    SIM_ROOT: root,
    PATH: [SHIMS_DIR, process.env['PATH'] ?? '/usr/bin:/bin'].join(':'),
  };

  const setUptime = async (sec: number): Promise<void> => {
    if (!Number.isFinite(sec) || sec < 0) throw new Error(`harness: bad uptime ${sec}`);
    await writeAtomic(p.uptimeFile, `${sec.toFixed(2)} 0.00\n`);
  };
  await setUptime(opts.uptimeSec ?? DEFAULT_UPTIME_SEC);

  const setUnitState = async (unit: string, state: UnitState): Promise<void> => {
    checkUnit(unit);
    if (!UNIT_STATES.includes(state)) throw new Error(`harness: bad unit state ${JSON.stringify(state)}`);
    await writeAtomic(join(p.unitsDir, unit), `${state}\n`);
  };

  const setUnitProps = async (unit: string, props: Record<string, string> | null): Promise<void> => {
    checkUnit(unit);
    const file = join(root, 'etc/sim/unit-props', unit);
    if (props === null) {
      await rm(file, { force: true });
      return;
    }
    await mkdir(dirname(file), { recursive: true });
    await writeAtomic(
      file,
      Object.entries(props)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
  };

  const bootCount = async (): Promise<number> => {
    const s = await readOrNull(p.bootCountFile);
    return s === null ? 0 : Number(s.trim());
  };

  /** The reboot itself; `uptimeSec: null` keeps the current uptime (install). */
  const performBoot = async (uptimeSec: number | null): Promise<BootRecord> => {
    const target = await readlinkOrNull(p.bootDefault);
    if (target === null)
      throw new Error(`harness: cannot boot ${opts.name}: ${p.bootDefault} does not exist (nothing installed)`);
    const system = await realpath(target);
    const requests = lines(await readOrNull(p.rebootRequestsFile));
    const failing = lines(await readOrNull(join(system, 'etc/gitopsd-sim/failing-services')));

    // /run is a tmpfs: a reboot empties it. activations.log stays so tests can
    // see the whole history.
    const runDir = join(root, 'run');
    for (const e of await readdir(runDir)) {
      if (e !== 'activations.log') await rm(join(runDir, e), { recursive: true, force: true });
    }
    await mkdir(p.unitsDir, { recursive: true });
    await symlinkAtomic(system, p.bootedSystem);
    await symlinkAtomic(system, p.currentSystem);
    for (const s of opts.services) if (!failing.includes(s)) await setUnitState(s, 'active');
    for (const s of failing) await setUnitState(s, 'failed');
    // Stage 2 roots the booted system; here the root is registered with nix
    // (gcroots/auto) so it holds on the real store.
    await run('nix-store', ['--add-root', join(p.gcRootsDir, 'booted-system'), '--indirect', '--realise', system]);

    const record: BootRecord = {
      boot: (await bootCount()) + 1,
      at: new Date().toISOString(),
      system,
      rebootRequests: requests,
    };
    await writeAtomic(p.bootCountFile, `${record.boot}\n`);
    await appendFile(p.bootLogFile, `${JSON.stringify(record)}\n`);
    if (uptimeSec !== null) await setUptime(uptimeSec);
    return record;
  };

  const host: SimHost = {
    name: opts.name,
    root,
    services: [...opts.services],
    paths: p,
    configPaths,
    env,
    exec: (cmd, args, o = {}) => tryRun(cmd, args, { ...o, env: { ...env, ...o.env } }),

    async install(storePath) {
      const existing = await readlinkOrNull(p.systemProfile);
      if (existing !== null) throw new Error(`harness: ${opts.name} is already installed (${p.systemProfile} exists)`);
      const system = await realpath(storePath);
      if (!system.startsWith('/nix/store/')) throw new Error(`harness: ${storePath} is not a store path`);
      await run('nix-env', ['-p', p.systemProfile, '--set', system]);
      await symlinkAtomic(system, p.bootDefault);
      await performBoot(null);
    },

    boot: (o = {}) => performBoot(o.uptimeSec ?? BOOT_UPTIME_SEC),

    setUnitState,
    setUnitProps,

    async unitStates() {
      const out: Record<string, UnitState> = {};
      let names: string[];
      try {
        names = await readdir(p.unitsDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
        throw err;
      }
      for (const n of names.sort()) {
        if (n.includes('.tmp')) continue;
        const s = (await readFile(join(p.unitsDir, n), 'utf8')).trim();
        if (!UNIT_STATES.includes(s)) throw new Error(`harness: ${join(p.unitsDir, n)} holds ${JSON.stringify(s)}`);
        out[n] = s as UnitState;
      }
      return out;
    },

    rebootRequests: async () => lines(await readOrNull(p.rebootRequestsFile)),

    async generations() {
      if ((await readlinkOrNull(p.systemProfile)) === null) return [];
      const r = await run('nix-env', ['-p', p.systemProfile, '--list-generations']);
      const gens: Generation[] = [];
      for (const g of parseGenerations(r.stdout)) {
        gens.push({ ...g, storePath: await realpath(`${p.systemProfile}-${g.number}-link`) });
      }
      return gens;
    },

    bootDefault: () => readlinkOrNull(p.bootDefault),
    currentSystem: () => readlinkOrNull(p.currentSystem),
    bootedSystem: () => readlinkOrNull(p.bootedSystem),

    async profileSystem() {
      if ((await readlinkOrNull(p.systemProfile)) === null) return null;
      return realpath(p.systemProfile);
    },

    async setSystemState(state) {
      if (state === null) await rm(p.systemStateFile, { force: true });
      else await writeAtomic(p.systemStateFile, `${state}\n`);
    },

    setUptime,
    bootCount,

    bootLog: async () => lines(await readOrNull(p.bootLogFile)).map((l) => JSON.parse(l) as BootRecord),

    async activations() {
      return lines(await readOrNull(p.activationsLog)).map((l) => {
        const [at = '', action = '', system = ''] = l.split(' ');
        return { at, action, system };
      });
    },

    async writeConfig(overrides = {}) {
      const base: Record<string, unknown> = {
        hostname: opts.name,
        stateDir: p.stateDir,
        nixConfig: {
          path: p.nixConfigDir,
          url: null,
          remote: 'origin',
          branch: 'main',
          flakeHost: opts.name,
          operation: 'switch',
        },
        validation: {
          services: [...opts.services],
          checks: [],
          timeoutSec: 30,
          // The shim's units do not restart by themselves: tests that are not
          // about the settle time (src/health/unit.ts) keep the verdict at the
          // first active sample. Tests of settling set it.
          settleSeconds: 0,
          maxBootFailures: 2,
          autoPinGolden: true,
          onFirstFailure: 'reboot',
        },
        paths: { ...configPaths },
        // diskPaths is the fake root, so the check sees the test machine's disk;
        // 1% keeps a nearly full CI disk from failing unrelated tests.
        preflight: { minFreeDiskPercent: 1, allowDegraded: false, minUptimeSec: 0, diskPaths: [root] },
      };
      await writeAtomic(p.configFile, `${JSON.stringify(deepMerge(base, overrides), null, 2)}\n`);
      return p.configFile;
    },
  };
  return host;
}
