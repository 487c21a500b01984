/**
 * One run of the CLI, without yargs: what src/cli/main.ts (the full command
 * line) and the lean bundles (src/cli/lean-*.ts) share. It builds the
 * dependencies of a command (src/core/deps.ts), runs its handler, records the
 * run for the commands that have a step (src/report/after-run.ts), and turns
 * the Outcome, or the error, into the exit code and the one-line message
 * (src/core/exit.ts, the one table). Nothing here calls process.exit: the
 * bin sets process.exitCode from `result()`.
 */
import { EXIT, GitopsdError, UsageError, type ExitCode } from '../core/errors.js';
import type { LogLevel } from '../core/log.js';
import type { CliArgs, Handler, Outcome } from '../core/outcome.js';
import type { Step } from '../report/runs.js';
import { asGitopsdError, exitCodeFor, messageFor, causeChain } from '../core/exit.js';
import { printable } from '../core/printable.js';
import type { FastRoute } from './route.js';

export interface GlobalArgs {
  config?: string | undefined;
  json: boolean;
  'log-level'?: LogLevel | undefined;
}

export interface MainIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Width to wrap help at; 0 = no wrapping (the help is parsed by ./usage.ts). Default: the terminal's, at most 100. */
  columns?: number;
}

export const defaultIO: MainIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

/** How a command runs: dry-run from its arguments, the step it records, the log backend. */
export interface CommandOptions {
  dryRun?: (a: CliArgs) => boolean;
  step?: Step;
  /** The log backend (src/core/log.ts): 'plain' for the long-running and frequent commands. */
  logBackend?: 'plain';
}

export interface Session {
  /** The exit code so far (0 until a command or an error sets it). */
  result: () => ExitCode;
  /** Print an Outcome and/or an error, and set the exit code. */
  report: (code: ExitCode, out: Outcome | undefined, err?: unknown) => void;
  /** A handler with its dependencies built from the global options, its run recorded when it has a step. */
  withDeps: (command: string, handler: Handler, opts?: CommandOptions) => (args: CliArgs) => Promise<void>;
  /** A command that needs no config and no state (version, completion). */
  standalone: (run: (args: CliArgs) => Promise<Outcome>) => (args: CliArgs) => Promise<void>;
}

/** Loads the recorder of runs (src/report/after-run.ts). */
export type AfterRunLoader = () => Promise<Pick<typeof import('../report/after-run.js'), 'afterRun'>>;

/**
 * A session for one command line. `loadAfterRun` records the run of a
 * command that has a step; a session without it (the lean bundles of
 * `status` and `fleet status`, whose commands have none) does not carry the
 * recorder's code, and refuses a command with a step as an internal error.
 */
export function createSession(
  argv: readonly string[],
  scriptName: string,
  io: MainIO,
  loadAfterRun?: AfterRunLoader,
): Session {
  const recorder = async (): Promise<Awaited<ReturnType<AfterRunLoader>>> => {
    if (loadAfterRun === undefined) throw new Error('this bundle cannot record a run (no after-run recorder)');
    return loadAfterRun();
  };
  let result: ExitCode = EXIT.ok;
  let jsonMode = argv.includes('--json');
  let debug = false;
  const report = (code: ExitCode, out: Outcome | undefined, err?: unknown): void => {
    result = code;
    if (out !== undefined) {
      if (jsonMode) {
        const json = out.json ?? { ok: code === 0, exitCode: code, message: out.text };
        io.stdout(`${out.compactJson === true ? JSON.stringify(json) : JSON.stringify(json, null, 2)}\n`);
      } else if (out.text !== '') io.stdout(`${out.text}\n`);
    }
    if (err !== undefined) {
      err = asGitopsdError(err);
      const msg = messageFor(err);
      if (jsonMode) io.stdout(`${JSON.stringify({ ok: false, exitCode: code, error: msg })}\n`);
      // A message of several lines (every problem of a config file) is one
      // line per problem, each with the prefix. Each line printable: an
      // error may quote a command's stderr, and a command run as the
      // dotfiles user (a chezmoi template's `fail`) chose it (review 16).
      for (const line of msg.split('\n')) io.stderr(`${scriptName}: ${printable(line)}\n`);
      if (debug || !(err instanceof GitopsdError)) {
        // A stack trace keeps its lines.
        for (const entry of causeChain(err)) for (const line of entry.split('\n')) io.stderr(`${printable(line)}\n`);
      }
    }
  };

  /**
   * A usage error a handler finds (`golden pin --generation 0`, `fleet serve
   * --refresh 1`) ends with the one --help to read, as yargs' own do
   * (README "Exit codes"); an alias names itself (`pin-golden --help`).
   */
  const withHelpPointer = (err: unknown, command: string): unknown => {
    if (exitCodeFor(err) !== EXIT.usage) return err;
    const msg = messageFor(err);
    if (/--help$/.test(msg)) return err;
    return new UsageError(`${msg}; see ${scriptName === 'gitopsd' ? `gitopsd ${command}` : scriptName} --help`);
  };

  const withDeps =
    (command: string, handler: Handler, opts: CommandOptions = {}) =>
    async (args: CliArgs): Promise<void> => {
      const g = args as unknown as GlobalArgs;
      jsonMode = g.json;
      debug = g['log-level'] === 'debug';
      // `--config=` (empty) read as not given, so another file was used (review 12).
      if (g.config === '') throw withHelpPointer(new UsageError('--config needs a value'), command);
      const [{ createDeps }, { resolveConfigPath }] = await Promise.all([
        import('../core/deps.js'),
        import('../core/config.js'),
      ]);
      const deps = createDeps({
        configPath: resolveConfigPath(g.config, io.env),
        logLevel: g['log-level'],
        dryRun: opts.dryRun?.(args) ?? false,
        env: io.env,
        ...(opts.logBackend === undefined ? {} : { logBackend: opts.logBackend }),
      });
      deps.log.debug('command started', { command });
      const started = deps.clock.monotonicMs();
      const step = opts.dryRun?.(args) === true ? undefined : opts.step;
      let out: Outcome;
      try {
        out = await handler(deps, args);
      } catch (err) {
        // A usage error (`golden pin --generation 0`), a question nobody
        // said yes to (`golden rollback` without --yes), the host lock held
        // by another run, or a user who cannot write stateDir (the last
        // three set detail.notARun, src/core/errors.ts) changed nothing: it
        // is no run of the step. Recorded, it failed the
        // host in fleet status and ran hooks.onFailure until the step next
        // succeeded (review 12).
        const notARun =
          exitCodeFor(err) === EXIT.usage || (err instanceof GitopsdError && err.detail['notARun'] === true);
        if (step !== undefined && !notARun) {
          const { afterRun } = await recorder();
          await afterRun(deps, step, {
            exitCode: exitCodeFor(err),
            result: 'error',
            error: messageFor(err),
            durationMs: Math.round(deps.clock.monotonicMs() - started),
          });
        }
        throw withHelpPointer(err, command);
      }
      if (step !== undefined) {
        const { afterRun } = await recorder();
        await afterRun(deps, step, {
          exitCode: out.exitCode,
          result: out.run?.result ?? (out.exitCode === 0 ? 'ok' : 'failed'),
          commit: out.run?.commit,
          generation: out.run?.generation,
          error: out.run?.error ?? (out.exitCode === 0 ? null : out.text.split('\n').at(-1)),
          durationMs: Math.round(deps.clock.monotonicMs() - started),
        });
      }
      report(out.exitCode, out);
    };

  const standalone =
    (run: (args: CliArgs) => Promise<Outcome>) =>
    async (args: CliArgs): Promise<void> => {
      jsonMode = (args as unknown as GlobalArgs).json;
      report(0, await run(args));
    };

  return { result: () => result, report, withDeps, standalone };
}

/**
 * How each command of a fast route runs (the same options as its yargs
 * command in src/cli/main.ts): `sync` and `upgrade` record their run, and
 * `upgrade` honours --dry-run. Every one of them logs without winston
 * (src/core/log.ts): the daemon for its memory and its polls' CPU
 * (B7/B11); `status`, `sync`, `upgrade` and `fleet status` because they
 * run from a lean bundle, whose process has
 * V8's checksum flag on (src/cli/code-cache.ts verifyChecksums), and winston
 * loaded there through node's loader had its compile-cache entries rejected
 * by every full-CLI command and the other way round.
 */
export const FAST_COMMAND_OPTIONS: Readonly<Record<FastRoute['command'], CommandOptions>> = {
  status: { logBackend: 'plain' },
  sync: { step: 'sync', logBackend: 'plain' },
  daemon: { logBackend: 'plain' },
  upgrade: { dryRun: (a) => a['dry-run'] === true, step: 'upgrade', logBackend: 'plain' },
  'fleet status': { logBackend: 'plain' },
  'fleet publish': { logBackend: 'plain' },
};

/** Run a fast route's handler (`load` gives it) in `session`; errors become the exit code and message. */
export async function runFast(session: Session, route: FastRoute, load: () => Promise<Handler>): Promise<ExitCode> {
  try {
    await session.withDeps(
      route.command,
      async (deps, args) => (await load())(deps, args),
      FAST_COMMAND_OPTIONS[route.command],
    )(route.args);
  } catch (err) {
    session.report(exitCodeFor(err), undefined, err);
  }
  return session.result();
}
