/**
 * The command line. Parses arguments with yargs, builds the dependencies
 * lazily (src/core/deps.ts) and runs one command. `main` turns the command's
 * Outcome, or its error, into the exit code it returns and the one-line
 * message it prints; errors map to codes through src/core/exit.ts (the one
 * table, which the cycle uses for its steps too). The bin sets
 * process.exitCode from the returned code; nothing here calls process.exit.
 *
 * Capabilities are imported inside their handlers, so `gitopsd status` loads
 * only what status reads: of upgrade and sync their state schemas
 * (src/upgrade/state.ts, src/sync/state.ts), not the code that runs them.
 */
import type { Argv } from 'yargs';
import { GitopsdError, UsageError, type ExitCode } from '../core/errors.js';
import { exitCodeFor } from '../core/exit.js';
import type { Handler } from '../core/outcome.js';
import { BUILD, versionLine } from '../core/build-info.js';
import { fastRoute, type FastRoute } from './route.js';
import { emptyOptionValue, flagGivenValue, flagValueMessage } from './flag-values.js';
import { loadUpgradeHandler } from './upgrade-handler.js';
import {
  createSession,
  defaultIO,
  FAST_COMMAND_OPTIONS,
  runFast,
  type CommandOptions,
  type MainIO,
} from './session.js';

export { parseFastCommand, parseFastFleetCommand, parseFastUpgradeCommand } from './route.js';
export type { GlobalArgs, MainIO } from './session.js';

/** A validation failure reported by yargs, reworded in main's catch (./usage.ts). */
class YargsFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YargsFailure';
  }
}

/**
 * The programs in bin/ that are a gitopsd command under another name (their
 * bin file passes these words first). Their help and error pointers name the
 * program alone: `show-golden --help`, not `show-golden golden show --help`.
 */
export const ALIASES: Readonly<Record<string, readonly string[]>> = {
  'chezmoi-sync': ['sync'],
  'chezmoi-status': ['sync', 'status'],
  'chezmoi-show-conflicts': ['sync', 'conflicts'],
  'show-boot-status': ['boot', 'status'],
  'pin-golden': ['golden', 'pin'],
  'show-golden': ['golden', 'show'],
  'rollback-to-golden': ['golden', 'rollback'],
};

/** `show-golden golden show` -> `show-golden` in yargs' output (help, usage lines). */
function unalias(text: string, scriptName: string): string {
  const words = ALIASES[scriptName];
  return words === undefined ? text : text.replaceAll(`${scriptName} ${words.join(' ')}`, scriptName);
}

/** The shells `gitopsd completion` writes a script for (yargs' templates). */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

/**
 * `gitopsd fleet publish [--force]`: the after-run's publish step on its own
 * (src/report/after-run.ts publishNow), under the host lock (publishing
 * writes the state file, which a cycle may be writing too). Exit codes: 0
 * published or unchanged, 78 fleet.enable is false (the config's, as the
 * README's table maps config problems), 75 the publish failed.
 */
export const fleetPublishHandler: Handler = async (deps, args) => {
  const [{ publishNow }, { withHostLock }] = await Promise.all([
    import('../report/after-run.js'),
    import('../core/deps.js'),
  ]);
  const o = await withHostLock(deps, 'fleet publish', () => publishNow(deps, { force: args['force'] === true }));
  switch (o.kind) {
    case 'disabled':
      throw new GitopsdError(
        'config',
        "fleet.enable is false in the config; set it to true to publish this host's status",
      );
    case 'skipped':
      return { exitCode: 0, text: `unchanged; next heartbeat at ${o.nextHeartbeatAt}`, json: { ok: true, ...o } };
    case 'published':
      return {
        exitCode: 0,
        text: `published ${o.commit.slice(0, 12)} to ${o.ref} at ${o.remote} (${o.why}${o.signed ? ', signed' : ', unsigned'})`,
        json: { ok: true, ...o },
      };
    case 'failed':
      return { exitCode: 75, text: o.error, json: { ok: false, exitCode: 75, ...o } };
  }
};

/**
 * The handler of each command that can skip yargs (./route.ts), loaded only
 * when it runs: the same handlers as the yargs commands below.
 */
export const FAST_HANDLERS: Readonly<Record<FastRoute['command'], () => Promise<Handler>>> = {
  status: async () => (await import('../status/cli.js')).statusCommand,
  sync: async () => (await import('../sync/cli.js')).syncCommand,
  daemon: async () => (await import('../cycle/cli.js')).daemonCommand,
  upgrade: loadUpgradeHandler,
  'fleet status': async () => (await import('../fleet/cli.js')).fleetStatusCommand,
  'fleet publish': () => Promise.resolve(fleetPublishHandler),
};

/** Run the CLI; resolves to the exit code (also set on process.exitCode by the bin). */
export async function main(argv: string[], scriptName = 'gitopsd', io: MainIO = defaultIO): Promise<ExitCode> {
  const session = createSession(argv, scriptName, io, () => import('../report/after-run.js'));
  const { report, withDeps, standalone } = session;

  /** A handler that lives in a capability's cli.ts, loaded only when its command runs. */
  const lazy = (command: string, load: () => Promise<Handler>, opts: CommandOptions = {}) =>
    withDeps(command, async (deps, args) => (await load())(deps, args), opts);

  // The commands people and timers run most skip yargs entirely (./route.ts;
  // start-up B1, B2, daemon memory B7 in docs/benchmarks.md). Only the exact
  // forms fastRoute accepts take this path; anything else, --help included,
  // goes through yargs below. The bin's entry (./entry.ts) runs some of them
  // from a lean bundle instead, with the same route and handler.
  const route = fastRoute(argv, scriptName);
  if (route !== null) return runFast(session, route, FAST_HANDLERS[route.command]);

  // `gitopsd upgrade`, the same handler as the fast route's.
  const upgradeHandler = lazy('upgrade', loadUpgradeHandler, {
    dryRun: (a) => a['dry-run'] === true,
    step: 'upgrade',
    logBackend: 'plain',
  });

  const { default: yargs } = await import('yargs');
  const cli = yargs(argv)
    .scriptName(scriptName)
    // Messages in English whatever $LANG says: ./usage.ts rewords them.
    .locale('en')
    .usage(
      `$0 <command> [options]\n\nPull-based GitOps for NixOS: build-validated upgrades, rollback to a pinned\ngolden generation after failed boots, and jj+chezmoi dotfile sync.`,
    )
    // Every option that takes a value has requiresArg: `--store-path` or
    // `--generation` with nothing after it was read as "not given" (or as ""),
    // so `boot reset --store-path` reset the booted system and `fleet status
    // --allowed-signers` read the fleet unverified (review 12). yargs then
    // fails with "Not enough arguments following", which ./usage.ts words as
    // "--X needs a value".
    .option('config', {
      requiresArg: true,
      type: 'string',
      describe: 'Config file (else $GITOPSD_CONFIG, else /etc/gitopsd/config.json)',
      global: true,
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Machine-readable output on stdout',
      global: true,
    })
    .option('log-level', {
      requiresArg: true,
      choices: ['error', 'warn', 'info', 'debug'] as const,
      describe: 'Log verbosity on stderr (default: config log.level)',
      global: true,
    })
    .command(
      'cycle',
      'The daily job: sync dotfiles (when enabled), then upgrade',
      (y: Argv) =>
        y.option('trigger', {
          requiresArg: true,
          choices: ['manual', 'schedule', 'catch-up'] as const,
          default: 'manual' as const,
          hidden: true,
          describe: 'What started the cycle (set by gitopsd daemon for its cycle process; recorded in the state)',
        }),
      lazy('cycle', async () => (await import('../cycle/cli.js')).cycleCommand, { step: 'cycle' }),
    )
    .command(
      'daemon',
      'Run the cycle on schedule.cron until stopped (SIGTERM stops, SIGHUP reloads)',
      (y: Argv) => y,
      // The long-running daemon logs without winston (src/core/log.ts, B7/B11).
      lazy('daemon', async () => (await import('../cycle/cli.js')).daemonCommand, { logBackend: 'plain' }),
    )
    .command(
      'trigger',
      'Run the upgrade now: systemctl start --no-block gitopsd-upgrade.service (root, or the gitopsd group through polkit); with --fleet, sign and push a trigger that every polling host follows',
      (y: Argv) =>
        y
          .option('fleet', {
            type: 'boolean',
            describe:
              'Fleet-wide: push a signed trigger to refs/gitopsd/trigger of the nix-config remote; hosts in poll mode upgrade at their next poll (docs/rollout.md)',
          })
          .option('expires', {
            requiresArg: true,
            type: 'string',
            describe: 'With --fleet: how long the trigger counts, 1m to 24h (e.g. 30m, 1h; default 1h)',
          })
          .option('host', {
            requiresArg: true,
            type: 'string',
            array: true,
            describe: 'With --fleet: only this host (repeat for several; default: every host)',
          })
          .option('signing-key', {
            requiresArg: true,
            type: 'string',
            describe:
              "With --fleet: private SSH key to sign with; its public key must be in the hosts' daemon.triggerSignersFile (else nixConfig.allowedSignersFile)",
          })
          .option('reason', {
            requiresArg: true,
            type: 'string',
            describe: 'With --fleet: why, in a few words (kept in the trigger)',
          })
          .option('remote', {
            requiresArg: true,
            type: 'string',
            describe:
              "With --fleet: nix-config remote URL or path (default: nixConfig.url, else the checkout's remote)",
          })
          .option('allowed-signers', {
            requiresArg: true,
            type: 'string',
            describe:
              'With --fleet: check the signature against this file before pushing (default: daemon.triggerSignersFile, else nixConfig.allowedSignersFile)',
          }),
      lazy('trigger', async () => (await import('../cycle/cli.js')).triggerCommand),
    )
    .command(
      'poll',
      'Fetch nix-config once; upgrade only when the branch has a new tip (what the daemon does every daemon.pollIntervalSec)',
      (y: Argv) => y,
      lazy('poll', async () => (await import('../cycle/cli.js')).pollCommand),
    )
    .command('sync', 'Sync dotfiles: re-add, commit, fetch, rebase, push, apply (also: chezmoi-sync)', (y: Argv) =>
      y
        .command('$0', 'Run one sync now', (s: Argv) => s, lazy('sync', FAST_HANDLERS.sync, FAST_COMMAND_OPTIONS.sync))
        .command(
          'status',
          'Last sync, unpushed commits, parked conflicts (also: chezmoi-status)',
          (s: Argv) => s,
          lazy('sync status', async () => (await import('../sync/cli.js')).syncStatusCommand),
        )
        .command(
          'conflicts',
          'Parked conflicts and how to resolve them (also: chezmoi-show-conflicts)',
          (s: Argv) => s,
          lazy('sync conflicts', async () => (await import('../sync/cli.js')).syncConflictsCommand),
        ),
    )
    .command(
      'upgrade',
      'Fetch nix-config, validate by building, activate; never deploy a broken commit',
      (y: Argv) =>
        y
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe: 'Fetch, decide and build; print what would be activated; change nothing',
          })
          .option('operation', {
            requiresArg: true,
            choices: ['switch', 'boot'] as const,
            describe: 'Override nixConfig.operation for this run',
          }),
      upgradeHandler,
    )
    .command('boot', 'Boot validation', (y: Argv) =>
      y
        .command(
          'validate',
          'Validate this boot (run once per boot by a systemd unit)',
          (s: Argv) => s,
          lazy('boot validate', async () => (await import('../boot-validate/cli.js')).bootValidateCommand, {
            step: 'boot-validate',
          }),
        )
        .command(
          'status',
          'Boot attempts, verdicts, rollbacks (also: show-boot-status)',
          (s: Argv) => s,
          lazy('boot status', async () => (await import('../boot-validate/cli.js')).bootStatusCommand),
        )
        .command(
          'reset',
          'Clear the boot failure counters of a store path',
          (s: Argv) =>
            s.option('store-path', {
              requiresArg: true,
              type: 'string',
              describe: 'Path to reset (default: the booted system)',
            }),
          lazy('boot reset', async () => (await import('../boot-validate/cli.js')).bootResetCommand, {
            step: 'boot-reset',
          }),
        )
        .demandCommand(1, 'name a boot subcommand: validate, status or reset'),
    )
    .command('golden', 'The golden (known-good) generation', (y: Argv) =>
      y
        .command(
          'pin',
          'Pin a validated system as golden (default: the booted system; also: pin-golden)',
          (s: Argv) =>
            s
              .option('store-path', { requiresArg: true, type: 'string', describe: 'Pin this system store path' })
              .option('generation', {
                requiresArg: true,
                type: 'number',
                describe: 'Pin the system profile generation N',
              })
              .option('force', {
                type: 'boolean',
                default: false,
                describe: 'Pin a path that has no ok boot verdict',
              })
              .conflicts('store-path', 'generation'),
          lazy('golden pin', async () => (await import('../golden/cli.js')).goldenPinCommand, { step: 'golden-pin' }),
        )
        .command(
          'show',
          'Show the golden generation (also: show-golden)',
          (s: Argv) => s,
          lazy('golden show', async () => (await import('../golden/cli.js')).goldenShowCommand),
        )
        .command(
          'rollback',
          'Roll back to the golden generation (also: rollback-to-golden)',
          (s: Argv) =>
            s
              .option('now', {
                type: 'boolean',
                describe: 'Switch live and set the boot default (default)',
              })
              .option('reboot', {
                type: 'boolean',
                describe: 'Set the boot default and reboot',
              })
              .option('yes', {
                type: 'boolean',
                default: false,
                describe: 'Do not ask for confirmation',
              })
              .conflicts('now', 'reboot'),
          lazy('golden rollback', async () => (await import('../golden/cli.js')).goldenRollbackCommand, {
            step: 'golden-rollback',
          }),
        )
        .demandCommand(1, 'name a golden subcommand: pin, show or rollback'),
    )
    .command('bad', 'Bad marks: commits upgrade will not build again, with their evidence', (y: Argv) =>
      y
        .command(
          'list',
          'Bad marks and retry records, with class, cause, evidence and what was built',
          (s: Argv) => s,
          lazy('bad list', async () => (await import('../upgrade/bad-cli.js')).badListCommand),
        )
        .command(
          'forget <commit>',
          'Retract the bad mark (and retry records) of a commit; the next upgrade builds it again',
          (s: Argv) =>
            s.positional('commit', { type: 'string', describe: 'Commit id, or a unique prefix of 7+ hex digits' }),
          lazy('bad forget', async () => (await import('../upgrade/bad-cli.js')).badForgetCommand),
        )
        .demandCommand(1, 'name a bad subcommand: list or forget'),
    )
    .command(
      'status',
      'One screen for this host: git, lock, system, boot, golden, dotfiles, last runs',
      (y: Argv) =>
        y.option('check-drift', {
          type: 'boolean',
          default: false,
          describe: 'Also evaluate the checkout (slow)',
        }),
      lazy('status', async () => (await import('../status/cli.js')).statusCommand, { logBackend: 'plain' }),
    )
    .command(
      'version',
      'Print the version and the git commit this gitopsd was built from',
      (y: Argv) => y,
      standalone(() =>
        Promise.resolve({
          exitCode: 0,
          text: `${scriptName} ${versionLine()}`,
          json: { ok: true, version: BUILD.version, commit: BUILD.commit, dirty: BUILD.dirty, node: process.version },
        }),
      ),
    )
    .command(
      'completion <shell>',
      'Print the shell completion script (bash, zsh or fish); e.g. gitopsd completion bash > /etc/bash_completion.d/gitopsd',
      (y: Argv) =>
        y.positional('shell', { choices: COMPLETION_SHELLS, describe: 'The shell to complete in', demandOption: true }),
      standalone(async (args) => {
        const { completionScript } = await import('./completion.js');
        const text = await completionScript(scriptName, String(args['shell']) as (typeof COMPLETION_SHELLS)[number]);
        return { exitCode: 0, text: text.trimEnd(), json: { ok: true, shell: args['shell'], script: text } };
      }),
    )
    .command('fleet', 'The whole fleet, through git: every host publishes its status (docs/fleet.md)', (y: Argv) =>
      y
        .command(
          'status',
          'One row per host from the status remote; exit 0 all healthy, 1 some host not, 75 remote unreadable',
          (s: Argv) =>
            s
              .option('host', {
                requiresArg: true,
                type: 'string',
                array: true,
                describe: 'Only these hosts (repeat or comma-separate)',
              })
              .option('remote', {
                requiresArg: true,
                type: 'string',
                describe: 'Status remote URL or path (default: fleet.statusRemote)',
              })
              .option('allowed-signers', {
                requiresArg: true,
                type: 'string',
                describe: 'Allowed signers file (default: fleet.allowedSignersFile)',
              })
              .option('html', {
                requiresArg: true,
                type: 'string',
                describe: 'Also write the fleet page (static HTML) to this file',
              })
              .option('commit', {
                requiresArg: true,
                type: 'string',
                describe: "Show the rollout of this nix-config commit (default: the checkout's remote-tracking branch)",
              }),
          lazy('fleet status', async () => (await import('../fleet/cli.js')).fleetStatusCommand, {
            logBackend: 'plain',
          }),
        )
        .command(
          'publish',
          "Publish this host's status now if it changed or the heartbeat is due",
          (s: Argv) =>
            s.option('force', { type: 'boolean', default: false, describe: 'Publish even when nothing changed' }),
          withDeps('fleet publish', fleetPublishHandler, { logBackend: 'plain' }),
        )
        .command(
          'serve',
          'A read-only web page of the fleet, refreshed from the status remote (loopback by default)',
          (s: Argv) =>
            s
              .option('listen', {
                requiresArg: true,
                type: 'string',
                describe: 'HOST:PORT (default: fleet.serve.listen, 127.0.0.1:8080)',
              })
              .option('refresh', {
                requiresArg: true,
                type: 'number',
                describe: 'Seconds between reads, 5 to 86400 (default: fleet.serve.refreshSec)',
              })
              .option('host', { requiresArg: true, type: 'string', array: true, describe: 'Only these hosts' })
              .option('remote', { requiresArg: true, type: 'string', describe: 'Status remote URL or path' })
              .option('allowed-signers', { requiresArg: true, type: 'string', describe: 'Allowed signers file' }),
          lazy('fleet serve', async () => (await import('../fleet/cli.js')).fleetServeCommand),
        )
        .command(
          'promote <commit>',
          "Sign and push a promote marker: the commit skips the rollout waves' gates (docs/rollout.md)",
          (s: Argv) => markerOptions(s),
          lazy('fleet promote', async () => (await import('../fleet/cli.js')).fleetMarkerCommand('promote')),
        )
        .command(
          'halt <commit>',
          'Sign and push a halt marker: no host deploys the commit any more (docs/rollout.md)',
          (s: Argv) => markerOptions(s),
          lazy('fleet halt', async () => (await import('../fleet/cli.js')).fleetMarkerCommand('halt')),
        )
        .demandCommand(1, 'name a fleet subcommand: status, publish, serve, promote or halt'),
    )
    .command(
      'updates',
      'Update branches of nix-config: list them, or build and merge one (docs/rollout.md)',
      (y: Argv) =>
        y
          .command(
            '$0',
            'List the pending update branches: their input changes, and whether they can be merged',
            (s: Argv) => s,
            lazy('updates', async () => (await import('../fleet/updates/cli.js')).updatesListCommand),
          )
          .command(
            'merge <branch>',
            'Build the branch here, then fast-forward the nix-config branch to it and delete it, in one atomic push',
            (s: Argv) =>
              s
                .positional('branch', { type: 'string', describe: 'The update branch, as gitopsd updates lists it' })
                .option('sha', {
                  requiresArg: true,
                  type: 'string',
                  describe: 'The commit gitopsd updates listed: refuse if the branch moved since',
                }),
            lazy('updates merge', async () => (await import('../fleet/updates/cli.js')).updatesMergeCommand),
          ),
    )
    .command('config', 'Configuration', (y: Argv) =>
      y
        .command(
          'check',
          'Validate the config and print the effective config with defaults filled in',
          (s: Argv) =>
            s.option('rollout', {
              requiresArg: true,
              type: 'string',
              describe:
                'Also validate gitopsd-rollout.json in this checkout, file, or nix-config revision (docs/rollout.md)',
            }),
          withDeps('config check', async (deps, args) => {
            const { checkConfig } = await import('./config-check.js');
            const rollout = args['rollout'];
            return checkConfig(deps, typeof rollout === 'string' && rollout !== '' ? { rollout } : {});
          }),
        )
        .demandCommand(1, 'name a config subcommand: check'),
    )
    .demandCommand(1, 'name a command')
    // yargs makes an array of a repeated option; the config loader then
    // failed on it with a message about a JavaScript type (review 10).
    .check((a: Record<string, unknown>, options: unknown) => {
      for (const k of ['config', 'log-level']) {
        const v = a[k];
        // Thrown as yargs' own failure (returned, yargs would wrap it in a plain Error: exit 70).
        if (Array.isArray(v)) throw new YargsFailure(`--${k} is given ${v.length} times; give it once`);
      }
      // yargs read `--force=maybe` as false, silently (review 12): the
      // command's own flags, from yargs' options of the command that runs.
      const isFlag = isFlagOf(options as YargsOptions);
      const flag = flagGivenValue(argv, isFlag);
      if (flag !== null) throw new YargsFailure(flagValueMessage(flag));
      // An option given "" (`--allowed-signers=`), which the handlers read as not given.
      const keys = (options as YargsOptions).key ?? {};
      const empty = emptyOptionValue(argv, (n) => Object.hasOwn(keys, n) && !isFlag(n));
      if (empty !== null) throw new YargsFailure(`--${empty} needs a value`);
      return true;
    })
    .strict()
    .help()
    .alias('h', 'help')
    .version('version', 'Show the version and the commit it was built from', `${scriptName} ${versionLine()}`)
    .alias('V', 'version')
    .wrap(io.columns === 0 ? null : Math.min(100, io.columns ?? (process.stdout.columns || 100)))
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      // yargs-parser's own errors ("Not enough arguments following: X", from
      // requiresArg) come as a YError, not as a message: a usage error too.
      if (err?.name === 'YError') throw new YargsFailure(err.message);
      throw err ?? new YargsFailure(msg ?? 'invalid usage');
    });

  try {
    // With a callback, yargs hands its own output (--help, --version,
    // completions) back instead of printing it, so io.stdout gets it too.
    await cli.parseAsync(argv, {}, (_err: Error | undefined, _argv: unknown, output: string) => {
      if (output !== '') io.stdout(`${unalias(output, scriptName)}\n`);
    });
  } catch (err) {
    const e = err instanceof YargsFailure ? await usageError(err.message, argv, scriptName, io) : err;
    report(exitCodeFor(e), undefined, e);
  }
  return session.result();
}

/** What yargs passes a check as its second argument: its options of the command being run (`getOptions()`). */
interface YargsOptions {
  boolean?: readonly string[];
  /** Every option of the command, by name. */
  key?: Readonly<Record<string, unknown>>;
  alias?: Readonly<Record<string, readonly string[]>>;
}

/** Whether a name, or an alias of it (`-h`, `dryRun`), is a boolean option in yargs' `options`. */
function isFlagOf(options: YargsOptions): (name: string) => boolean {
  const flags = new Set(options.boolean ?? []);
  for (const [name, aliases] of Object.entries(options.alias ?? {})) {
    if (flags.has(name) || aliases.some((x) => flags.has(x))) for (const x of [name, ...aliases]) flags.add(x);
  }
  return (name) => flags.has(name);
}

/** The options of `fleet promote` and `fleet halt`. */
function markerOptions(s: Argv): Argv {
  return s
    .positional('commit', { type: 'string', describe: 'nix-config commit id, or a unique prefix of 7+ hex digits' })
    .option('signing-key', {
      requiresArg: true,
      type: 'string',
      describe: "Private SSH key to sign with; its public key must be in the hosts' nixConfig.allowedSignersFile",
    })
    .option('reason', { requiresArg: true, type: 'string', describe: 'Why, in a few words (kept in the marker)' })
    .option('remote', {
      requiresArg: true,
      type: 'string',
      describe: 'Status remote URL or path (default: fleet.statusRemote)',
    })
    .option('checkout', {
      requiresArg: true,
      type: 'string',
      describe: 'nix-config checkout that holds the commit (default: nixConfig.path)',
    })
    .option('allowed-signers', {
      requiresArg: true,
      type: 'string',
      describe: 'Check the signature against this file before pushing (default: nixConfig.allowedSignersFile)',
    });
}

/** The command tree, read from the help of each command (./usage.ts), in-process. */
export async function readCommandTree(scriptName = 'gitopsd', env: NodeJS.ProcessEnv = process.env) {
  const { commandTree } = await import('./usage.js');
  return commandTree(async (path) => {
    let out = '';
    await main([...path, '--help'], scriptName, {
      stdout: (s) => (out += s),
      stderr: () => undefined,
      env,
      columns: 0,
    });
    return out;
  });
}

/** yargs' validation message as one line with a "did you mean" (./usage.ts). */
async function usageError(msg: string, argv: string[], scriptName: string, io: MainIO): Promise<UsageError> {
  const { rewordUsageFailure } = await import('./usage.js');
  // The tree is read under gitopsd's own name: an alias's help hides its path.
  const tree = await readCommandTree('gitopsd', io.env);
  return new UsageError(unalias(rewordUsageFailure(msg, { scriptName, argv, tree }), scriptName));
}

/** The build's identity (src/core/build-info.ts), for scripts/gen-man.mjs. */
export function buildInfo(): typeof BUILD {
  return BUILD;
}
