/**
 * The composition root. It reads the config file and the machine's hostname,
 * takes the environment (`opts.env`, else process.env; it reads the trace and
 * fault variables and $GITOPSD_TEST_NOW from it), chooses the clock (the
 * system clock, or one that starts at $GITOPSD_TEST_NOW), builds the real
 * runner, logger, tracer, the host state store (`paths.stateFile`) and the
 * lock functions, and hands them to the capabilities as one `Deps` value;
 * tests build Deps with other values.
 *
 * What the capabilities and status decide with comes from Deps: the config
 * and its host paths (`deps.paths`), the time (`deps.clock`), the
 * environment (`deps.env`), the user (`deps.isRoot`). The few reads below
 * this file that do not go through it, each for a reason:
 * - the runner (src/core/runner.ts) passes process.env on to the programs it
 *   starts (all of it, or RUN_AS_ENV of it for another user), and reads
 *   /proc/<pid>/stat to kill a timed-out command's process tree;
 * - atomic writes (src/core/atomic.ts) name their temp file with the pid and
 *   Date.now(): uniqueness only, never a decision;
 * - sync (src/sync/index.ts, fs-boundary.ts) compares process.getuid() with
 *   the dotfiles user's uid and a file's owner;
 * - the sync state store (`paths.syncStateFile`) is built by sync
 *   (`syncStore`) and read by status, not here.
 */
import { hostname as osHostname } from 'node:os';
import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger, type LogLevel } from './log.js';
import { createRunner, type Runner } from './runner.js';
import { createProgress } from './progress.js';
import { createTracer, type Tracer } from './faults.js';
import { systemClock, offsetClock, type Clock } from './clock.js';
import { pathsFor, type Paths } from './paths.js';
import { StateStore } from './state.js';
import { acquireLock, type HeldLock } from './lock.js';
import { UsageError } from './errors.js';

export interface Deps {
  config: Config;
  configPath: string;
  paths: Paths;
  log: Logger;
  runner: Runner;
  clock: Clock;
  tracer: Tracer;
  state: StateStore;
  env: NodeJS.ProcessEnv;
  isRoot: boolean;
  /** Whether stdout is an interactive terminal (colour, prompts). */
  interactive: boolean;
  /** Take the per-host lock for a mutating command; release it when done. */
  lock(command: string): HeldLock;
  lockAt(path: string, command: string): HeldLock;
}

/** Run `fn` under the per-host lock; the lock is released however fn ends. */
export async function withHostLock<T>(deps: Deps, command: string, fn: () => Promise<T>): Promise<T> {
  const held = deps.lock(command);
  try {
    return await fn();
  } finally {
    held.release();
  }
}

export interface DepsOptions {
  configPath: string;
  logLevel?: LogLevel | undefined;
  dryRun?: boolean;
  env?: NodeJS.ProcessEnv;
  /** The log backend (src/core/log.ts): winston unless 'plain' (the daemon). */
  logBackend?: 'winston' | 'plain';
}

export function createDeps(opts: DepsOptions): Deps {
  const env = opts.env ?? process.env;
  const config = loadConfig(opts.configPath, osHostname());
  return buildDeps({ ...opts, config, env });
}

export function buildDeps(opts: DepsOptions & { config: Config; env: NodeJS.ProcessEnv }): Deps {
  const { config, env } = opts;
  const level = opts.logLevel ?? config.log.level;
  const log = createLogger({ level, format: config.log.format, backend: opts.logBackend ?? 'winston' }).child({
    host: config.hostname,
  });
  const clock = clockFrom(env);
  const killAt = env['GITOPSD_FAULT_KILL_AT'];
  const tracer = createTracer({
    traceFile: env['GITOPSD_TRACE'] || undefined,
    killAt: killAt ? Number.parseInt(killAt, 10) : undefined,
    stopAt: env['GITOPSD_FAULT_STOP_AT'] || undefined,
  });
  const runner = createRunner({
    log,
    tracer,
    defaultTimeoutMs: config.timeouts.commandSec * 1000,
    dryRun: opts.dryRun ?? false,
    monotonicMs: () => clock.monotonicMs(),
    progress: createProgress({ log, stream: process.stderr, monotonicMs: () => clock.monotonicMs() }),
  });
  const paths = pathsFor(config);
  const state = new StateStore({
    file: paths.stateFile,
    log,
    now: () => clock.now(),
    checkpoint: tracer.checkpoint,
  });
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const lockAt = (path: string, command: string): HeldLock =>
    acquireLock({ path, command, log, now: () => clock.now(), uid });
  return {
    config,
    configPath: opts.configPath,
    paths,
    log,
    runner,
    clock,
    tracer,
    state,
    env,
    isRoot: uid === 0,
    interactive: process.stdout.isTTY === true && process.stdin.isTTY === true,
    lock: (command) => lockAt(paths.lockFile, command),
    lockAt,
  };
}

function clockFrom(env: NodeJS.ProcessEnv): Clock {
  const fixed = env['GITOPSD_TEST_NOW'];
  if (fixed === undefined || fixed === '') return systemClock;
  const d = new Date(fixed);
  if (Number.isNaN(d.getTime())) throw new UsageError(`GITOPSD_TEST_NOW="${fixed}" is not an ISO-8601 time; unset it`);
  return offsetClock(d);
}
