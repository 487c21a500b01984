/**
 * The chezmoi client of dotfile sync: the command lines the sync runs
 * (always with the source and destination dirs named, as the dotfiles
 * user), and the parsers of chezmoi's output and source names. Formats are
 * chezmoi 2.73's (docs reference/commands/status.md, reference/source-state-attributes.md;
 * "inconsistent state": internal/chezmoi/sourcestate.go), tabled in
 * test/unit/sync/chezmoi.test.ts.
 */
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import type { RunAs, RunResult } from '../core/runner.js';
import { dirname } from 'node:path';
import { CommandFailed, GitopsdError } from '../core/errors.js';
import { privateTemp, type UserTree } from './fs-boundary.js';
import type { CallOpts } from './jj.js';

/** What a chezmoi call needs to know about the sync it runs for. */
export interface ChezmoiCtx {
  deps: Deps;
  src: string;
  dest: string;
  chezmoiConfig: string | null;
  env: Record<string, string>;
  runAs: RunAs | undefined;
  /** The user's files (fs-boundary.ts). */
  tree: UserTree;
}

/**
 * `status` and `apply` compute target states, and an external's is a
 * download (.chezmoiexternal): one unreachable URL fails the whole command
 * ("Get …: connection refused") and would block the capture of every other
 * edit (issue 14, input 6). So they run with `-x externals`, and externals
 * are applied on their own (applyExternals). Other commands the sync uses
 * (managed, ignored, re-add of named targets, source-path) fetch nothing.
 */
function withoutExternals(args: readonly string[]): readonly string[] {
  const [cmd, ...rest] = args;
  if ((cmd === 'status' || cmd === 'apply') && !rest.includes('-i')) return [cmd, '-x', 'externals', ...rest];
  return args;
}

export interface ChezmoiCallOpts extends CallOpts {
  /** Config arguments in place of `-c dotfiles.chezmoiConfig` (see sourceWriteConfig). */
  config?: readonly string[];
}

export function chezmoi(ctx: ChezmoiCtx, argsIn: readonly string[], o: ChezmoiCallOpts = {}): Promise<RunResult> {
  const cfg = o.config ?? (ctx.chezmoiConfig !== null ? ['-c', ctx.chezmoiConfig] : []);
  const args = withoutExternals(argsIn);
  return ctx.deps.runner.run('chezmoi', ['--no-tty', '--no-pager', '-S', ctx.src, '-D', ctx.dest, ...cfg, ...args], {
    cwd: ctx.dest,
    env: ctx.env,
    ...(ctx.runAs ? { user: ctx.runAs } : {}),
    ...(o.allowFailure ? { allowFailure: true } : {}),
  });
}

/**
 * chezmoi's `git.autoAdd`, `autoCommit` and `autoPush` run git in the source
 * dir after every command that modifies it (re-add, add, forget…;
 * internal/cmd/config.go persistentPostRunRootE), and chezmoi 2.73 has no
 * flag to turn them off. In a jj-colocated source dir they commit behind
 * jj's back, and a push or a missing git identity fails the command after
 * its work is done ("chezmoi: git: exit status 128"): every captured edit
 * first cost a failed sync (issue 14, input 7).
 *
 * So the sync's own source-modifying calls read the user's config with
 * `chezmoi dump-config --format json` (the decoded config, whatever its
 * format) and, when one of the three is on, run with `-c <that JSON with
 * the three off>`. chezmoi keeps its persistent state next to the config
 * file unless told otherwise, so `--persistent-state` names the user's own
 * state file. Checked with chezmoi 2.73.3: the JSON dump decodes back to
 * the same dump (durations, umask, data and all), and re-add with it
 * commits nothing.
 */
export async function sourceWriteConfig(ctx: ChezmoiCtx): Promise<{ config: string[] | null; done(): void }> {
  // Read in-process only when we are the user: for another user it would
  // cost a helper process, no cheaper than dump-config.
  if (
    ctx.runAs === undefined &&
    ctx.chezmoiConfig !== null &&
    cannotSetAutoGit(await ctx.tree.readText(ctx.chezmoiConfig))
  ) {
    return { config: null, done: () => undefined };
  }
  const dump = await chezmoi(ctx, ['dump-config', '--format', 'json']);
  const plan = planNoAutoGit(JSON.parse(dump.stdout) as unknown);
  if (plan === null) return { config: null, done: () => undefined };
  let state = plan.persistentState;
  if (state === null) {
    const configFile =
      ctx.chezmoiConfig ?? (await chezmoi(ctx, ['execute-template', '{{ .chezmoi.configFile }}'])).stdout.trim();
    state = join(dirname(configFile), 'chezmoistate.boltdb');
  }
  // Root-owned 0711 directory, the file the user's alone (0600): the dump
  // may hold secrets from the config's data, and no one else may swap it.
  const tmp = privateTemp({ stateDir: ctx.deps.paths.stateDir, syncDir: ctx.deps.paths.syncDir, runAs: ctx.runAs });
  const file = tmp.write('chezmoi.json', JSON.stringify(plan.config));
  return { config: ['-c', file, '--persistent-state', state], done: () => tmp.remove() };
}

/**
 * Whether a chezmoi config file's text proves that git.autoAdd, autoCommit
 * and autoPush are all off, without a `chezmoi dump-config` process: each
 * key must be spelled out in the file (TOML, YAML, JSON; chezmoi reads no
 * other source for them), so a text with no "auto" in any case cannot set
 * one. A backslash could hide the word in an escaped key ("\u0061uto"), so
 * any backslash sends the caller to dump-config too; so does an unreadable
 * file (null).
 */
export function cannotSetAutoGit(text: string | null): boolean {
  return text !== null && !/auto|\\/i.test(text);
}

/** chezmoi's config keys are matched without regard to case (mapstructure); dump-config writes `autocommit`. */
const AUTO_GIT = new Set(['autoadd', 'autocommit', 'autopush']);

/**
 * From `chezmoi dump-config --format json`: the same config with every
 * spelling of git.autoAdd/autoCommit/autoPush set to false, and the
 * persistent state file it names (null: chezmoi's default, next to the
 * config file). Null when none of the three is on (nothing to change).
 */
export function planNoAutoGit(
  dump: unknown,
): { config: Record<string, unknown>; persistentState: string | null } | null {
  if (typeof dump !== 'object' || dump === null || Array.isArray(dump)) {
    throw new GitopsdError(
      'internal',
      'chezmoi dump-config printed no JSON object; this chezmoi version is not supported',
    );
  }
  const config = { ...(dump as Record<string, unknown>) };
  const git = config['git'];
  if (typeof git !== 'object' || git === null) return null;
  const entries = Object.entries(git as Record<string, unknown>);
  if (!entries.some(([k, v]) => AUTO_GIT.has(k.toLowerCase()) && v === true)) return null;
  config['git'] = Object.fromEntries(entries.map(([k, v]) => [k, AUTO_GIT.has(k.toLowerCase()) ? false : v]));
  const ps = config['persistentState'];
  return { config, persistentState: typeof ps === 'string' && ps !== '' ? ps : null };
}

/**
 * `chezmoi status`, with one failure explained: two source entries for one
 * target (pushed by another tool or an older gitopsd) make chezmoi refuse
 * everything; say which and how to keep one.
 */
export async function statusOrExplain(ctx: ChezmoiCtx): Promise<RunResult> {
  try {
    return await chezmoi(ctx, ['status']);
  } catch (err) {
    const two = err instanceof CommandFailed ? parseInconsistentState(err.stderrTail) : null;
    if (two === null) throw err;
    throw new GitopsdError(
      'failed',
      `the source state has ${two.sources.length} entries for ~/${two.target} (${two.sources.join(', ')}); delete the one you do not want (rm ${two.sources[0] ?? ''} or the other) and run "gitopsd sync" again, which pushes the fix`,
      { cause: err },
    );
  }
}

/** Target → source path (relative to the source dir) for the targets chezmoi knows. */
export async function sourcePathMap(ctx: ChezmoiCtx, targets: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (targets.length === 0) return out;
  const found = await sourcePaths(ctx, targets);
  for (const [i, t] of targets.entries()) {
    const s = found[i];
    if (s !== undefined) out.set(t, s);
  }
  return out;
}

export async function sourcePaths(ctx: ChezmoiCtx, targets: readonly string[]): Promise<(string | undefined)[]> {
  const r = await chezmoi(ctx, ['source-path', '--', ...targets.map((t) => join(ctx.dest, t))], { allowFailure: true });
  if (r.exitCode !== 0) return targets.map(() => undefined);
  const prefix = `${ctx.src}/`;
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (l.startsWith(prefix) ? l.slice(prefix.length) : undefined));
}

/**
 * The targets the source state still keeps: managed ones, and ignored ones
 * (.chezmoiignore): chezmoi leaves an ignored target alone, so one that
 * became ignored is never taken for a deletion (issue 14, input 5).
 */
export async function keptTargets(
  ctx: ChezmoiCtx,
  include: 'files' | 'all' = 'files',
): Promise<{ has(t: string): boolean }> {
  const managed = new Set(await managedTargets(ctx, include));
  const r = await chezmoi(ctx, ['ignored']);
  const ignored = new Set(r.stdout.split('\n').filter((l) => l !== ''));
  return { has: (t: string) => managed.has(t) || isIgnored(t, ignored) };
}

/** `chezmoi managed`: the managed files (`-i files`), or every managed entry (symlinks, directories…). */
export async function managedTargets(ctx: ChezmoiCtx, include: 'files' | 'all' = 'files'): Promise<string[]> {
  const r = await chezmoi(ctx, include === 'files' ? ['managed', '-i', 'files'] : ['managed']);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/**
 * The managed files, each with its source path relative to the source dir
 * (the repository, as jj names paths; null when chezmoi names none there):
 * `chezmoi managed -i files -p all`, one process as `managedTargets`, in
 * JSON (target → absolute, sourceAbsolute, sourceRelative; chezmoi 2.73).
 */
export async function managedSources(ctx: ChezmoiCtx): Promise<Map<string, string | null>> {
  const r = await chezmoi(ctx, ['managed', '-i', 'files', '-p', 'all', '-f', 'json']);
  return parseManagedAll(r.stdout, ctx.src);
}

export function parseManagedAll(stdout: string, src: string): Map<string, string | null> {
  let doc: unknown;
  try {
    doc = stdout.trim() === '' ? {} : JSON.parse(stdout);
  } catch {
    doc = null;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new GitopsdError(
      'internal',
      `chezmoi managed -p all printed no JSON object (${JSON.stringify(stdout.slice(0, 200))}); this chezmoi version is not supported`,
    );
  }
  const prefix = `${src}/`;
  const out = new Map<string, string | null>();
  for (const [target, paths] of Object.entries(doc as Record<string, unknown>)) {
    const abs =
      typeof paths === 'object' && paths !== null ? (paths as Record<string, unknown>)['sourceAbsolute'] : null;
    out.set(target, typeof abs === 'string' && abs.startsWith(prefix) ? abs.slice(prefix.length) : null);
  }
  return out;
}

// ---------------------------------------------------------------- chezmoi status

export interface StatusEntry {
  /** Last written vs actual: a non-space means $HOME changed since chezmoi wrote it. */
  x: string;
  /** Actual vs target: a non-space means apply would change $HOME. */
  y: string;
  /** Target path relative to the destination dir. */
  target: string;
}

/** Parse `chezmoi status` ("XY path" per line, see tools.md §2). */
export function parseChezmoiStatus(stdout: string): StatusEntry[] {
  const out: StatusEntry[] = [];
  for (const line of stdout.split('\n')) {
    if (line.length < 4) continue;
    const x = line.charAt(0);
    const y = line.charAt(1);
    if (line.charAt(2) !== ' ') throw new Error(`unexpected chezmoi status line ${JSON.stringify(line)}`);
    out.push({ x, y, target: line.slice(3) });
  }
  return out;
}

/**
 * chezmoi's "inconsistent state" error: one target with two source entries
 * (`chezmoi: .tool: inconsistent state (/src/dot_tool, /src/executable_dot_tool)`).
 */
export function parseInconsistentState(stderr: string): { target: string; sources: string[] } | null {
  const m = /chezmoi: (.+?): inconsistent state \(([^)]*)\)/.exec(stderr);
  if (m?.[1] === undefined || m[2] === undefined) return null;
  return { target: m[1], sources: m[2].split(', ').filter((x) => x !== '') };
}

// ---------------------------------------------------------------- source names

const ATTRIBUTE_PREFIXES = [
  'encrypted_',
  'private_',
  'readonly_',
  'empty_',
  'executable_',
  'symlink_',
  'create_',
  'modify_',
  'remove_',
  'exact_',
  'external_',
] as const;

/**
 * The target (relative to the destination) a source path stands for, with
 * chezmoi's attributes stripped (docs reference/source-state-attributes.md:
 * prefixes `encrypted_ private_ readonly_ empty_ executable_ symlink_
 * create_ modify_ remove_ exact_ external_`, then `dot_` → `.`, `literal_`
 * ends the parsing; suffixes `.tmpl`, and `.age`/`.asc` of an encrypted
 * file). Null for names that are no target (`.chezmoi*`, scripts `run_`).
 * Two source paths with one target are one unit: an attribute change
 * (`chmod +x` → `executable_`) is a rename to jj.
 */
export function targetOfSource(srcRel: string): string | null {
  const out: string[] = [];
  const parts = srcRel.split('/');
  for (const [i, part] of parts.entries()) {
    if (part.startsWith('.') || part.startsWith('run_')) return null;
    let name = part;
    let encrypted = false;
    let literal = false;
    for (let again = true; again && !literal;) {
      again = false;
      if (name.startsWith('literal_')) {
        name = name.slice('literal_'.length);
        literal = true;
        break;
      }
      for (const pre of ATTRIBUTE_PREFIXES) {
        if (name.startsWith(pre)) {
          if (pre === 'encrypted_') encrypted = true;
          name = name.slice(pre.length);
          again = true;
        }
      }
    }
    if (!literal && name.startsWith('dot_')) name = `.${name.slice(4)}`;
    if (i === parts.length - 1) {
      if (name.endsWith('.tmpl')) name = name.slice(0, -'.tmpl'.length);
      if (encrypted) name = name.replace(/\.(age|asc)$/, '');
    }
    out.push(name);
  }
  return out.join('/');
}

/**
 * Whether `target` is ignored by `.chezmoiignore`, given `chezmoi ignored`'s
 * lines (targets relative to the destination; a directory stands for
 * everything below it). chezmoi leaves an ignored target alone, so the sync
 * must never take one for a source entry deleted on another host.
 */
export function isIgnored(target: string, ignored: ReadonlySet<string>): boolean {
  const parts = target.split('/');
  for (let i = 1; i <= parts.length; i++) if (ignored.has(parts.slice(0, i).join('/'))) return true;
  return false;
}
