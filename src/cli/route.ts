/**
 * The argument forms that skip yargs, and which bundle runs them.
 *
 * yargs is the parser of the command line (src/cli/main.ts), but loading it
 * costs more than the commands that run most often do themselves: `status`
 * (what people type), `sync` (the daily dotfile job of timer mode),
 * `upgrade` (the daily job; a no-op when nothing is new), `daemon` (the
 * long-running unit), `fleet status` (a monitoring check) and `fleet
 * publish` (a heartbeat timer). Each of them accepts a strict set of
 * argument forms here; anything else (help, --log-level, unknown or repeated
 * options) returns null and goes through yargs, which gives the help or the
 * error. Both paths run the same handler and print the same thing
 * (test/unit/cli/fast-path.test.ts).
 *
 * `fastRoute` is what the bin's entry (src/cli/entry.ts) reads to choose a
 * bundle before anything else is loaded: `status`, `sync`, `upgrade` and `fleet
 * status` run from a bundle of their own (scripts/bundle.mjs), everything else from the
 * full CLI. This module imports nothing, so the entry stays small.
 */
import type { CliArgs } from '../core/outcome.js';

/**
 * What each fast command accepts after its words: flags (no value, at most
 * once), values (`--opt VALUE` or `--opt=VALUE`, a value never empty and
 * never starting with "-", at most once), arrays (a value, repeatable), and
 * for some values the only choices. Anything else returns null and goes
 * through yargs, so both paths always agree (test/unit/cli/fast-path.test.ts).
 */
interface FastOptions {
  flags: readonly string[];
  values: readonly string[];
  arrays?: readonly string[];
  choices?: Readonly<Record<string, readonly string[]>>;
}

/**
 * - `status` (what people type most, B1) and `daemon` (what the NixOS unit
 *   runs: the long-running process then never loads yargs, B7).
 * - `sync`: what gitopsd-sync.service runs in timer mode, and what B3 and
 *   B4 measure against the bare jj and chezmoi commands; its lean bundle
 *   started the first command about 35 ms sooner than the full CLI did
 *   (docs/benchmarks.md, twenty-first session). `sync status` and `sync
 *   conflicts` go to yargs.
 * - `upgrade`: what B2 measures (a no-op upgrade against one `git fetch`);
 *   evaluating yargs' chunk cost about 70 ms of CPU at load 25 (issue 19).
 *   `--operation` is switch or boot; `--no-dry-run` and `--dry-run=false`
 *   go to yargs.
 * - `fleet status` and `fleet publish`: a monitoring check runs the first
 *   every few minutes and a heartbeat timer the second on every host, and
 *   yargs' parse was the largest single item of both (B8, B9). `--host` is
 *   repeatable; `--host a b` goes to yargs.
 */
const FAST_OPTIONS = {
  status: { flags: ['json'], values: ['config'] },
  sync: { flags: ['json'], values: ['config'] },
  daemon: { flags: [], values: ['config'] },
  upgrade: { flags: ['json', 'dry-run'], values: ['config', 'operation'], choices: { operation: ['switch', 'boot'] } },
  'fleet status': {
    flags: ['json'],
    values: ['config', 'remote', 'allowed-signers', 'html', 'commit'],
    arrays: ['host'],
  },
  'fleet publish': { flags: ['json', 'force'], values: ['config'] },
} as const satisfies Record<'status' | 'sync' | 'daemon' | 'upgrade' | 'fleet status' | 'fleet publish', FastOptions>;

/**
 * The options argv[from..] sets, by FastOptions `spec`: every flag false
 * unless given; null when any argument is not one of the accepted forms.
 */
function parseOptions(argv: readonly string[], from: number, spec: FastOptions): Record<string, unknown> | null {
  const args: Record<string, unknown> = {};
  for (const f of spec.flags) args[f] = false;
  const seen = new Set<string>();
  for (let i = from; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) return null;
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const isArray = spec.arrays?.includes(name) ?? false;
    if (seen.has(name) && !isArray) return null;
    seen.add(name);
    if (spec.flags.includes(name)) {
      if (eq >= 0) return null;
      args[name] = true;
      continue;
    }
    if (!isArray && !spec.values.includes(name)) return null;
    const value = eq >= 0 ? a.slice(eq + 1) : argv[i + 1];
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    if (spec.choices?.[name]?.includes(value) === false) return null;
    if (eq < 0) i += 1;
    args[name] = isArray ? [...((args[name] as string[] | undefined) ?? []), value] : value;
  }
  return args;
}

/**
 * `gitopsd status [--json] [--config PATH | --config=PATH]`, `gitopsd sync`
 * with the same options, and `gitopsd daemon [--config PATH |
 * --config=PATH]`, in any order and nothing else; null for yargs (`sync
 * status` and `sync conflicts` too).
 */
export function parseFastCommand(
  argv: readonly string[],
): { command: 'status' | 'sync' | 'daemon'; json: boolean; config: string | undefined } | null {
  const command = argv[0];
  if (command !== 'status' && command !== 'sync' && command !== 'daemon') return null;
  const args = parseOptions(argv, 1, FAST_OPTIONS[command]);
  if (args === null) return null;
  return { command, json: args['json'] === true, config: args['config'] as string | undefined };
}

/**
 * `gitopsd fleet status` and `gitopsd fleet publish` with their options
 * (FAST_OPTIONS); null for yargs. `args` has the keys yargs would give the
 * handler.
 */
export function parseFastFleetCommand(
  argv: readonly string[],
): { command: 'fleet status' | 'fleet publish'; json: boolean; config: string | undefined; args: CliArgs } | null {
  const sub = argv[1];
  if (argv[0] !== 'fleet' || (sub !== 'status' && sub !== 'publish')) return null;
  const command = `fleet ${sub}` as const;
  const args = parseOptions(argv, 2, FAST_OPTIONS[command]);
  if (args === null) return null;
  return { command, json: args['json'] === true, config: args['config'] as string | undefined, args };
}

/**
 * `gitopsd upgrade` with `--json`, `--dry-run`, `--config` and `--operation
 * switch|boot` (FAST_OPTIONS); null for yargs. `args` has the keys the
 * upgrade handler reads from yargs'.
 */
export function parseFastUpgradeCommand(
  argv: readonly string[],
): { json: boolean; config: string | undefined; args: CliArgs } | null {
  if (argv[0] !== 'upgrade') return null;
  const args = parseOptions(argv, 1, FAST_OPTIONS.upgrade);
  if (args === null) return null;
  return { json: args['json'] === true, config: args['config'] as string | undefined, args };
}

/** A command line that skips yargs: the command and the arguments its handler reads. */
export interface FastRoute {
  command: 'status' | 'sync' | 'daemon' | 'upgrade' | 'fleet status' | 'fleet publish';
  /** `--json` was given. */
  json: boolean;
  /** `--config`'s value, if given. */
  config: string | undefined;
  /** The keys yargs would give the handler (json and config included). */
  args: CliArgs;
}

/**
 * The route of `argv` when gitopsd runs under its own name and the arguments
 * are one of the forms above; null otherwise (yargs, src/cli/main.ts). An
 * alias (`show-golden`, ...) always goes through yargs: its help and errors
 * name the alias.
 */
export function fastRoute(argv: readonly string[], scriptName: string): FastRoute | null {
  if (scriptName !== 'gitopsd') return null;
  const fast = parseFastCommand(argv);
  if (fast !== null) {
    const { command, json, config } = fast;
    const args: CliArgs = command === 'status' ? { json, config, 'check-drift': false } : { json, config };
    return { command, json, config, args };
  }
  const upgrade = parseFastUpgradeCommand(argv);
  if (upgrade !== null) {
    return { command: 'upgrade', ...upgrade, args: { ...upgrade.args, json: upgrade.json, config: upgrade.config } };
  }
  const fleet = parseFastFleetCommand(argv);
  if (fleet !== null) return { ...fleet, args: { ...fleet.args, json: fleet.json, config: fleet.config } };
  return null;
}
