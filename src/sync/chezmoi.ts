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
import { CommandFailed, GitopsdError } from '../core/errors.js';
import type { CallOpts } from './jj.js';

/** What a chezmoi call needs to know about the sync it runs for. */
export interface ChezmoiCtx {
  deps: Deps;
  src: string;
  dest: string;
  chezmoiConfig: string | null;
  env: Record<string, string>;
  runAs: RunAs | undefined;
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

export function chezmoi(ctx: ChezmoiCtx, argsIn: readonly string[], o: CallOpts = {}): Promise<RunResult> {
  const cfg = ctx.chezmoiConfig !== null ? ['-c', ctx.chezmoiConfig] : [];
  const args = withoutExternals(argsIn);
  return ctx.deps.runner.run('chezmoi', ['--no-tty', '--no-pager', '-S', ctx.src, '-D', ctx.dest, ...cfg, ...args], {
    cwd: ctx.dest,
    env: ctx.env,
    ...(ctx.runAs ? { user: ctx.runAs } : {}),
    ...(o.allowFailure ? { allowFailure: true } : {}),
  });
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
export async function keptTargets(ctx: ChezmoiCtx): Promise<{ has(t: string): boolean }> {
  const managed = new Set(await managedTargets(ctx));
  const r = await chezmoi(ctx, ['ignored']);
  const ignored = new Set(r.stdout.split('\n').filter((l) => l !== ''));
  return { has: (t: string) => managed.has(t) || isIgnored(t, ignored) };
}

export async function managedTargets(ctx: ChezmoiCtx): Promise<string[]> {
  const r = await chezmoi(ctx, ['managed', '-i', 'files']);
  return r.stdout.split('\n').filter((l) => l !== '');
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
