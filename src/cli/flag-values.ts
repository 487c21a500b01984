/**
 * A flag (a boolean option) given a value it cannot mean. yargs reads
 * `--force=maybe` as "not given" (yargs-parser turns any string but "true"
 * into false), so `gitopsd fleet publish --force=maybe` published without
 * --force, and `golden rollback --yes=yes` asked for a confirmation
 * (review 12). `--X=true` and `--X=false` stay accepted (yargs' own forms);
 * any other value, and any value of a negated flag (`--no-force=…`), is a
 * usage error. Pure and without imports: src/cli/main.ts's check runs it on
 * every command line yargs parses, and ./usage.ts words its failure.
 */

/** A flag given a value, as typed. */
export interface FlagValue {
  /** What was typed before the value, without dashes: "force", "no-force", "h", "dryRun". */
  typed: string;
  value: string;
  /** `--force=maybe`, or `--force maybe` (yargs then fails on "maybe" as an unknown word). */
  sep: '=' | ' ';
}

/** yargs' camel-case form of an option name: "no-force" -> "noForce". */
export const camelCase = (name: string): string => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** yargs' kebab-case form of a camel-case option name: "dryRun" -> "dry-run". */
const kebabCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The first argument of `argv` (before a `--`) that gives a flag a value it
 * cannot take with "=", or null. `isFlag(name)` says whether a name (long,
 * or a one-letter alias) is a boolean option of the command.
 */
export function flagGivenValue(argv: readonly string[], isFlag: (name: string) => boolean): FlagValue | null {
  const flag = (n: string): boolean => isFlag(n) || isFlag(kebabCase(n));
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--?([^=\s-][^=]*)=(.*)$/s.exec(a);
    if (m === null) continue;
    const typed = m[1] ?? '';
    const value = m[2] ?? '';
    const bool = value === 'true' || value === 'false';
    if (a.startsWith('--')) {
      if (flag(typed) && !bool) return { typed, value, sep: '=' };
      // yargs has no `--no-X=V` form: strict mode calls it an unknown option.
      if (/^no-?[A-Za-z]/.test(typed) && flag(typed.replace(/^no-?/, '').replace(/^[A-Z]/, (c) => c.toLowerCase()))) {
        return { typed, value, sep: '=' };
      }
    } else if (typed.length === 1 && isFlag(typed) && !bool) {
      return { typed, value, sep: '=' };
    }
  }
  return null;
}

/**
 * `word`, an argument yargs did not know, when it follows a flag (`--force
 * maybe`): that flag given a value; else null.
 */
export function flagBefore(argv: readonly string[], word: string, isFlag: (name: string) => boolean): FlagValue | null {
  const i = argv.indexOf(word);
  const prev = i > 0 ? argv[i - 1] : undefined;
  const m = prev === undefined ? null : /^--?([^=\s-][^=]*)$/.exec(prev);
  if (m === null || argv.slice(0, i).includes('--')) return null;
  const typed = m[1] ?? '';
  if (prev?.startsWith('--') !== true && typed.length !== 1) return null;
  return isFlag(typed) || isFlag(kebabCase(typed)) ? { typed, value: word, sep: ' ' } : null;
}

/** The one line (without the --help pointer) for a flag given a value. */
export function flagValueMessage(f: FlagValue): string {
  const dashed = f.typed.length === 1 ? `-${f.typed}` : `--${f.typed}`;
  return `${dashed} is a flag and takes no value (got ${dashed}${f.sep}${f.value}); write ${dashed} alone, or leave it out`;
}

/**
 * The first option of `argv` (before a `--`) given an empty value
 * (`--allowed-signers=`, `--store-path ""`), or null. yargs' requiresArg
 * stops `--X` with nothing after it, but not these: the handlers read "" as
 * "not given", so `fleet status --allowed-signers=` read the fleet
 * unverified and `golden pin --store-path=` tried to pin the current
 * directory (review 12). `isOption(name)`: a non-flag option of the command.
 */
export function emptyOptionValue(argv: readonly string[], isOption: (name: string) => boolean): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') break;
    const m = /^--([^=\s-][^=]*)(=?)$/.exec(a);
    if (m === null) continue;
    const name = m[1] ?? '';
    const empty = m[2] === '=' || argv[i + 1] === '';
    if (empty && isOption(name)) return name;
  }
  return null;
}
