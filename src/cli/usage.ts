/**
 * The command tree as yargs defines it, read back from yargs' own help
 * output, and what the CLI builds on it: "did you mean" for unknown commands
 * and options, yargs' validation messages reworded into one line, and the
 * man page (scripts/gen-man.mjs). Reading the help (rather than keeping a
 * second list of commands) means a command added to src/cli/main.ts shows up
 * in all three without another edit.
 *
 * The help text parsed here is yargs 18's English help, printed without
 * wrapping (main.ts sets wrap(null) when io.columns is 0); the unit tests in
 * test/unit/cli/usage.test.ts hold real samples of it.
 */
import { distance } from 'fastest-levenshtein';
import { camelCase, flagBefore, flagGivenValue, flagValueMessage } from './flag-values.js';

export interface OptionInfo {
  /** Long name without dashes, e.g. "store-path". */
  name: string;
  /** One-letter alias, e.g. "h". */
  alias: string | null;
  describe: string;
  /** yargs' trailing notes, e.g. ["string"], ["boolean", "default: false"], ["choices: \"switch\", \"boot\""]. */
  notes: string[];
}

export interface CommandNode {
  /** Words after the script name, e.g. ["golden", "pin"]; [] for the top level. */
  path: string[];
  /** The usage line yargs prints first, e.g. "gitopsd golden pin". */
  usage: string;
  describe: string;
  /** Positional arguments in the usage line, e.g. "<shell>". */
  positionals: string[];
  /** Subcommands (a default `$0` subcommand is folded into its parent). */
  commands: CommandNode[];
  options: OptionInfo[];
}

interface HelpSections {
  usage: string;
  describe: string;
  commands: { words: string[]; describe: string }[];
  options: OptionInfo[];
}

const NOTE = /\s*((?:\[[^\]]*\]\s*)+)$/;

function splitNotes(s: string): { text: string; notes: string[] } {
  const m = NOTE.exec(s);
  if (m === null) return { text: s.trim(), notes: [] };
  const notes = [...(m[1] ?? '').matchAll(/\[([^\]]*)\]/g)].map((x) => x[1] ?? '');
  return { text: s.slice(0, m.index).trim(), notes };
}

/** Parse one `--help` page of yargs 18 (unwrapped). */
export function parseHelp(text: string): HelpSections {
  const lines = text.replace(/\r/g, '').split('\n');
  const out: HelpSections = { usage: (lines[0] ?? '').trim(), describe: '', commands: [], options: [] };
  let section: 'head' | 'commands' | 'positionals' | 'options' | 'other' = 'head';
  const describe: string[] = [];
  for (const line of lines.slice(1)) {
    if (/^Commands:$/.test(line)) section = 'commands';
    else if (/^Positionals:$/.test(line)) section = 'positionals';
    else if (/^Options:$/.test(line)) section = 'options';
    else if (/^\S.*:$/.test(line) && section !== 'head') section = 'other';
    else if (section === 'head') describe.push(line);
    else if (section === 'commands') {
      const m = /^ {2}(\S+(?: \S+)*?) {2,}(.*)$/.exec(line) ?? /^ {2}(\S+(?: \S+)*)$/.exec(line);
      if (m === null) continue;
      const { text: desc, notes } = splitNotes(m[2] ?? '');
      const words = (m[1] ?? '').split(' ').filter((w) => !/^[<[]/.test(w));
      out.commands.push({ words, describe: notes.includes('default') ? `${desc} (default)` : desc });
    } else if (section === 'options') {
      const m = /^ {2}(?:-(\w), | {4})--([\w-]+)(?: {2,}(.*))?$/.exec(line);
      if (m === null) continue;
      const { text: desc, notes } = splitNotes(m[3] ?? '');
      out.options.push({ name: m[2] ?? '', alias: m[1] ?? null, describe: desc, notes });
    }
  }
  out.describe = describe.join('\n').trim();
  return out;
}

/**
 * Walk the tree: `helpFor(path)` returns the `--help` page of that command
 * (main.ts runs itself in-process with output captured).
 */
export async function commandTree(helpFor: (path: string[]) => Promise<string>): Promise<CommandNode> {
  const visit = async (path: string[], depth: number): Promise<CommandNode> => {
    const h = parseHelp(await helpFor(path));
    const usageWords = h.usage.split(' ');
    const node: CommandNode = {
      path,
      usage: h.usage,
      describe: h.describe,
      positionals: usageWords.filter((w) => /^[<[]/.test(w) && !/^\[(options|command)\]$/.test(w)),
      commands: [],
      options: h.options,
    };
    for (const c of h.commands) {
      const sub = c.words.slice(1); // drop the script name
      // A default subcommand (`$0`) prints as its parent's own path: fold it in.
      if (sub.length <= path.length || depth > 4) {
        if (node.describe === '') node.describe = c.describe;
        continue;
      }
      const child = await visit(sub, depth + 1);
      if (child.describe === '') child.describe = c.describe;
      node.commands.push(child);
    }
    return node;
  };
  return visit([], 0);
}

/** Every node of the tree, depth first, the root included. */
export function allCommands(tree: CommandNode): CommandNode[] {
  return [tree, ...tree.commands.flatMap(allCommands)];
}

/** The deepest command named by the leading words of `argv` (options skipped). */
export function commandAt(tree: CommandNode, argv: readonly string[]): CommandNode {
  let node = tree;
  for (const a of argv) {
    if (a.startsWith('-')) continue;
    const next = node.commands.find((c) => c.path.at(-1) === a);
    if (next === undefined) break;
    node = next;
  }
  return node;
}

/**
 * The closest candidate within a typo's reach (Levenshtein distance at most
 * a third of the word, at least 1; case-insensitive), or null.
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  const max = Math.max(1, Math.floor(word.length / 3));
  let best: { c: string; d: number } | null = null;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d <= max && (best === null || d < best.d)) best = { c, d };
  }
  return best?.c ?? null;
}

function suggestCommand(word: string, at: CommandNode, tree: CommandNode, scriptName: string): string {
  const here = at.commands.map((c) => c.path.at(-1) ?? '');
  const near = closest(word, here);
  if (near !== null) return ` (did you mean "${[scriptName, ...at.path, near].join(' ')}"?)`;
  // `gitopsd rollback` means `gitopsd golden rollback`: a subcommand elsewhere.
  const elsewhere = allCommands(tree).filter((c) => c.path.length > 0 && !at.commands.includes(c));
  const exact = elsewhere.find((c) => c.path.at(-1) === word);
  const leaf = exact ?? elsewhere.find((c) => closest(word, [c.path.at(-1) ?? '']) !== null);
  if (leaf !== undefined) return ` (did you mean "${[scriptName, ...leaf.path].join(' ')}"?)`;
  return here.length > 0 ? ` (commands: ${here.join(', ')})` : '';
}

function suggestOption(word: string, at: CommandNode): string {
  const names = at.options.flatMap((o) => (o.alias === null ? [o.name] : [o.name, o.alias]));
  // -v is --version's lower-case cousin: compare case-sensitively first.
  const near = names.find((n) => n !== word && n.toLowerCase() === word.toLowerCase()) ?? closest(word, names);
  if (near === null) return '';
  return ` (did you mean ${near.length === 1 ? `-${near}` : `--${near}`}?)`;
}

const dashed = (k: string): string => (k.length === 1 ? `-${k}` : `--${k}`);

/** Options typed in argv (before a `--`) that the command does not define. */
function unknownOptions(argv: readonly string[], at: CommandNode): string[] {
  const known = new Set(at.options.flatMap((o) => (o.alias === null ? [o.name] : [o.name, o.alias])));
  const out: string[] = [];
  for (const a of argv) {
    if (a === '--') break;
    let names: string[] = [];
    if (a.startsWith('--')) names = [a.slice(2).split('=')[0] ?? ''];
    else if (/^-[A-Za-z]+$/.test(a)) names = [...a.slice(1)];
    for (const n of names) {
      const base = n.startsWith('no-') && known.has(n.slice(3)) ? n.slice(3) : n;
      if (base !== '' && !known.has(base) && !out.includes(n)) out.push(n);
    }
  }
  return out;
}

/**
 * yargs' validation message (English, possibly several lines) as one line
 * that names the problem and a fix, followed by one pointer to the help of
 * the command being parsed. `argv` is what the person typed.
 */
export function rewordUsageFailure(
  msg: string,
  ctx: { scriptName: string; argv: readonly string[]; tree: CommandNode },
): string {
  const at = commandAt(ctx.tree, ctx.argv);
  const help = `see ${[ctx.scriptName, ...at.path].join(' ')} --help`;
  const text = msg.trim();
  let m: RegExpExecArray | null;
  let line: string;
  // yargs checks demandCommand before unknown options: `gitopsd -v` would
  // read "name a command". An option the command does not know comes first.
  const unknown = unknownOptions(ctx.argv, at);
  // A flag given a value (./flag-values.ts). yargs' own check (src/cli/main.ts)
  // words `--force=maybe`; yargs' strict mode fails first on `--no-force=maybe`
  // ("Unknown arguments: no-force, noForce") and on `--force maybe` ("Unknown
  // argument: maybe"), so those are recognised here from what was typed.
  const isFlag = (n: string): boolean =>
    at.options.some((o) => (o.name === n || o.alias === n) && o.notes.includes('boolean'));
  const flagValue = flagGivenValue(ctx.argv, isFlag);
  if (unknown.length > 0) {
    line = unknown.map((o) => `unknown option ${dashed(o)}${suggestOption(o, at)}`).join('; ');
  } else if ((m = /^Unknown arguments?: (.*)$/s.exec(text)) !== null) {
    const typed = new Set(ctx.argv);
    const parts = (m[1] ?? '')
      .split(', ')
      .map((w) => w.trim())
      // yargs' names for the flag given a value (both spellings): said once, below.
      .filter((w) => flagValue === null || (w !== flagValue.typed && w !== camelCase(flagValue.typed)))
      .map((w) => {
        // yargs names options without dashes: look at what was typed.
        const asOption = typed.has(`--${w}`) || typed.has(`-${w}`) || [...typed].some((t) => t.startsWith(`--${w}=`));
        if (asOption) return `unknown option ${dashed(w)}${suggestOption(w, at)}`;
        const after = flagBefore(ctx.argv, w, isFlag);
        if (after !== null) return flagValueMessage(after);
        return `unknown command "${w}"${suggestCommand(w, at, ctx.tree, ctx.scriptName)}`;
      });
    line = [...new Set([...parts, ...(flagValue === null ? [] : [flagValueMessage(flagValue)])])].join('; ');
  } else if (flagValue !== null) {
    line = flagValueMessage(flagValue);
  } else if ((m = /^Invalid values:\s*Argument: (\S+), Given: (.*?), Choices: (.*)$/s.exec(text)) !== null) {
    const choices = (m[3] ?? '').split(', ').map((c) => c.trim());
    const given = m[2] ?? '';
    const near = closest(
      given.replace(/^"|"$/g, ''),
      choices.map((c) => c.replace(/^"|"$/g, '')),
    );
    const arg = m[1] ?? '';
    const name = at.positionals.some((p) => p.slice(1, -1) === arg) ? `<${arg}>` : `--${arg}`;
    line = `${name} ${given} is not allowed; use one of ${choices.join(', ')}${near === null ? '' : ` (did you mean "${near}"?)`}`;
  } else if ((m = /^Arguments (\S+) and (\S+) are mutually exclusive$/.exec(text)) !== null) {
    line = `${dashed(m[1] ?? '')} and ${dashed(m[2] ?? '')} cannot be used together; pass only one`;
  } else if ((m = /^Not enough arguments following: (\S+)$/.exec(text)) !== null) {
    line = `${dashed(m[1] ?? '')} needs a value`;
  } else if ((m = /^Missing required arguments?: (.*)$/.exec(text)) !== null) {
    line = `missing ${(m[1] ?? '')
      .split(', ')
      .map((a) => (at.positionals.some((p) => p.includes(a)) ? `<${a}>` : dashed(a)))
      .join(', ')}; usage: ${at.usage}`;
  } else if (/^Not enough non-option arguments/.test(text)) {
    line = `missing an argument; usage: ${at.usage}`;
  } else if (/^Too many non-option arguments/.test(text)) {
    line = `too many arguments; usage: ${at.usage}`;
  } else {
    line = text.replace(/\s*\n\s*/g, '; ');
  }
  return `${line}; ${help}`;
}
