/**
 * The argument forms that skip yargs, and which bundle runs them.
 *
 * yargs is the parser of the command line (src/cli/main.ts), but loading it
 * costs more than the commands that run most often do themselves: `status`
 * (what people type), `upgrade` (the daily job; a no-op when nothing is new),
 * `daemon` (the long-running unit), `fleet status` (a monitoring check) and
 * `fleet publish` (a heartbeat timer). Each of them accepts a strict set of
 * argument forms here; anything else (help, --log-level, unknown or repeated
 * options) returns null and goes through yargs, which gives the help or the
 * error. Both paths run the same handler and print the same thing
 * (test/unit/cli/fast-path.test.ts).
 *
 * `fastRoute` is what the bin's entry (src/cli/entry.ts) reads to choose a
 * bundle before anything else is loaded: the commands in LEAN_COMMANDS run
 * from a bundle of their own (scripts/bundle.mjs), everything else from the
 * full CLI. This module imports nothing, so the entry stays small.
 */
import type { CliArgs } from '../core/outcome.js';

/**
 * The commands that skip yargs, with their arguments: `gitopsd status
 * [--json] [--config PATH | --config=PATH]` (what people type most, B1) and
 * `gitopsd daemon [--config PATH | --config=PATH]` (what the NixOS unit
 * runs: the long-running process then never loads yargs, B7), in any order
 * and nothing else; null for yargs. Kept strict on purpose, so both paths
 * always agree (test/unit/cli/fast-path.test.ts).
 */
export function parseFastCommand(
  argv: readonly string[],
): { command: 'status' | 'daemon'; json: boolean; config: string | undefined } | null {
  const command = argv[0];
  if (command !== 'status' && command !== 'daemon') return null;
  let json = false;
  let config: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--json' && !json && command === 'status') json = true;
    else if (a === '--config' && config === undefined && i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('-')) {
      config = argv[++i];
    } else if (a.startsWith('--config=') && config === undefined && a.length > '--config='.length) {
      config = a.slice('--config='.length);
    } else return null;
  }
  return { command, json, config };
}

/** The options a fast fleet command accepts: flags (boolean, at most once), values (at most once), arrays (repeatable). */
const FAST_FLEET = {
  status: { flags: ['json'], values: ['config', 'remote', 'allowed-signers', 'html', 'commit'], arrays: ['host'] },
  publish: { flags: ['json', 'force'], values: ['config'], arrays: [] },
} as const satisfies Record<string, { flags: readonly string[]; values: readonly string[]; arrays: readonly string[] }>;

/**
 * `gitopsd fleet status` and `gitopsd fleet publish` skip yargs too: a
 * monitoring check runs the first every few minutes and a heartbeat timer the
 * second on every host, and yargs' parse was the largest single item of both
 * (docs/benchmarks.md, B8 and B9). Accepted: the options of each command in
 * the forms `--opt VALUE` and `--opt=VALUE` (a value never empty, never
 * starting with "-"), each flag and value at most once, `--host` repeatable;
 * anything else (help, --log-level, --no-force, `--host a b`, unknown
 * options) returns null and goes through yargs, so both paths always agree
 * (test/unit/cli/fast-path.test.ts). `args` has the keys yargs would give
 * the handler.
 */
export function parseFastFleetCommand(
  argv: readonly string[],
): { command: 'fleet status' | 'fleet publish'; json: boolean; config: string | undefined; args: CliArgs } | null {
  const sub = argv[1];
  if (argv[0] !== 'fleet' || (sub !== 'status' && sub !== 'publish')) return null;
  const spec: { flags: readonly string[]; values: readonly string[]; arrays: readonly string[] } = FAST_FLEET[sub];
  const args: Record<string, unknown> = {};
  for (const f of spec.flags) args[f] = false;
  const seen = new Set<string>();
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) return null;
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (spec.flags.includes(name)) {
      if (eq >= 0 || seen.has(name)) return null;
      seen.add(name);
      args[name] = true;
      continue;
    }
    const isArray = spec.arrays.includes(name);
    if (!isArray && (!spec.values.includes(name) || seen.has(name))) return null;
    const v = optionValue(argv, i, a, eq);
    if (v === null) return null;
    const value = v.value;
    i = v.at;
    seen.add(name);
    if (isArray) args[name] = [...((args[name] as string[] | undefined) ?? []), value];
    else args[name] = value;
  }
  const config = args['config'] as string | undefined;
  return { command: `fleet ${sub}`, json: args['json'] === true, config, args };
}

/**
 * The value of the option at argv[i] (`a`, with its `=` at `eq`, or -1):
 * `--opt=VALUE` or `--opt VALUE`. Null when it is missing, empty or starts
 * with "-" (yargs then gives the error). `at` is the index of the last
 * argument used. Shared by the fast paths above and below.
 */
function optionValue(argv: readonly string[], i: number, a: string, eq: number): { value: string; at: number } | null {
  const value = eq >= 0 ? a.slice(eq + 1) : argv[i + 1];
  if (value === undefined || value === '' || value.startsWith('-')) return null;
  return { value, at: eq >= 0 ? i : i + 1 };
}

/**
 * `gitopsd upgrade` skips yargs too: it is what B2 measures (a no-op upgrade
 * against one `git fetch`), and evaluating yargs' chunk cost about 70 ms of
 * CPU at load 25 (issue 19, docs/benchmarks.md). Accepted: `--json` and
 * `--dry-run` (flags, at most once, no `=`), `--config` (a value never
 * empty, never starting with "-") and `--operation` switch|boot, each at most
 * once, as `--opt VALUE` or `--opt=VALUE`. Anything else (help,
 * `--log-level`, `--no-dry-run`, `--dry-run=false`, another operation,
 * unknown options) returns null and goes through yargs, which then gives
 * the error or the help. `args` has the keys the upgrade handler reads from
 * yargs' (test/unit/cli/fast-path.test.ts).
 */
export function parseFastUpgradeCommand(
  argv: readonly string[],
): { json: boolean; config: string | undefined; args: CliArgs } | null {
  if (argv[0] !== 'upgrade') return null;
  const args: Record<string, unknown> = { json: false, 'dry-run': false };
  const seen = new Set<string>();
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) return null;
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (seen.has(name)) return null;
    seen.add(name);
    if (name === 'json' || name === 'dry-run') {
      if (eq >= 0) return null;
      args[name] = true;
      continue;
    }
    if (name !== 'config' && name !== 'operation') return null;
    const v = optionValue(argv, i, a, eq);
    if (v === null) return null;
    const value = v.value;
    i = v.at;
    if (name === 'operation' && value !== 'switch' && value !== 'boot') return null;
    args[name] = value;
  }
  return { json: args['json'] === true, config: args['config'] as string | undefined, args };
}

/** A command line that skips yargs: the command and the arguments its handler reads. */
export interface FastRoute {
  command: 'status' | 'daemon' | 'upgrade' | 'fleet status' | 'fleet publish';
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
