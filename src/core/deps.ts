/**
 * The composition root. It reads the config, the environment and the clock
 * once, builds the real runner, logger and state stores, and hands them to
 * the capabilities as one `Deps` value. Nothing below this file reads
 * process.env, the wall clock or host paths on its own; tests build Deps with
 * other values.
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
}

export function createDeps(opts: DepsOptions): Deps {
  const env = opts.env ?? process.env;
  const config = loadConfig(opts.configPath, osHostname());
  return buildDeps({ ...opts, config, env });
}

export function buildDeps(opts: DepsOptions & { config: Config; env: NodeJS.ProcessEnv }): Deps {
  const { config, env } = opts;
  const level = opts.logLevel ?? config.log.level;
  const log = createLogger({ level, format: config.log.format }).child({
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
  const lockAt = (path: string, command: string): HeldLock =>
    acquireLock({ path, command, log, now: () => clock.now() });
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
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
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
