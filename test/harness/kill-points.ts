/**
 * Which checkpoints of a traced run a crash-injection suite must kill at.
 *
 * A kill at checkpoint N (GITOPSD_FAULT_KILL_AT=N, src/core/faults.ts) stops
 * the run before step N starts, so it leaves the durable state that steps
 * 1..N-1 made. When step N is a command that writes nothing at all, a kill at
 * N leaves exactly the state a kill at N+1 leaves: the process dies before it
 * does anything else, so nothing in memory survives to tell the two apart.
 * Killing at such a checkpoint only repeats the next kill point. A suite may
 * therefore skip it, and spend its time on the steps that change something.
 *
 * The classification reads the command line from the trace, never a flag of
 * our own code, so a call that gitopsd believes read-only is not taken on its
 * word. Only commands whose writes were checked against the real tools are
 * listed (test/integration/harness/kill-points.test.ts runs each listed form
 * on a dirty repository and requires every file under it to stay the same):
 * - jj with `--ignore-working-copy` and a query subcommand. jj's docs
 *   (`jj help`, global options): "Don't snapshot the working copy, and don't
 *   update it". A jj command without it may snapshot the working copy and
 *   import git refs into a new operation, so it always counts.
 * - chezmoi's status, managed, ignored, dump-config, cat, source-path and
 *   data: they print the target or source state and open the persistent
 *   state read-only (chezmoi's `persistentStateModeReadOnly` annotation).
 * - git's object and ref queries (rev-parse, cat-file, log, show,
 *   for-each-ref, ls-tree, rev-list, merge-base). `git status` is not one: it
 *   refreshes and rewrites the index (git-status(1), "background refresh").
 * - getent, which reads NSS only.
 * Everything else (atomic writes, every other command) is a kill point.
 *
 * Preconditions, true of the suites that use this and not checked here: the
 * process under test runs one command at a time, so a jj repository has one
 * operation head (with two, even `jj --ignore-working-copy log` merges them
 * and writes a new one); and the chezmoi config has no `hooks.*` and no
 * template calling `output` (chezmoi runs those on status and cat too).
 * git's `--output` option writes a file, so a command that carries it counts.
 */

export interface TraceCheckpoint {
  n: number;
  label: string;
  cmd?: string;
  args?: readonly string[];
}

/** Global options of each tool that take a value, so the subcommand can be found after them. */
const VALUE_OPTIONS: Record<string, ReadonlySet<string>> = {
  jj: new Set(['-R', '--repository', '--config', '--config-file', '--at-op', '--at-operation', '--color']),
  chezmoi: new Set([
    '-S',
    '--source',
    '-D',
    '--destination',
    '-c',
    '--config',
    '--config-format',
    '--persistent-state',
    '--cache',
    '--color',
    '--mode',
  ]),
  git: new Set(['-C', '-c', '--git-dir', '--work-tree', '--namespace', '--exec-path']),
};

/** The positional words of `args` after the tool's global options (`--x=v` counts as one option). */
function words(cmd: string, args: readonly string[]): string[] {
  const takesValue = VALUE_OPTIONS[cmd] ?? new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (out.length === 0 && a.startsWith('-')) {
      if (takesValue.has(a)) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

const JJ_QUERIES = [
  ['log'],
  ['op', 'log'],
  ['operation', 'log'],
  ['bookmark', 'list'],
  ['diff'],
  ['show'],
  ['file', 'show'],
];
const CHEZMOI_QUERIES = new Set(['status', 'managed', 'ignored', 'dump-config', 'cat', 'source-path', 'data']);
const GIT_QUERIES = new Set([
  'rev-parse',
  'cat-file',
  'log',
  'show',
  'for-each-ref',
  'ls-tree',
  'rev-list',
  'merge-base',
]);

/** True when running `cmd args` can write nothing (see the module comment for the sources). */
export function isReadOnlyCommand(cmd: string, args: readonly string[]): boolean {
  const w = words(cmd, args);
  switch (cmd) {
    case 'jj': {
      // Before the subcommand or after it: jj accepts its global options anywhere.
      if (!args.includes('--ignore-working-copy')) return false;
      return JJ_QUERIES.some((q) => q.every((part, i) => w[i] === part));
    }
    case 'chezmoi':
      return CHEZMOI_QUERIES.has(w[0] ?? '');
    case 'git':
      return GIT_QUERIES.has(w[0] ?? '') && !args.some((a) => a === '--output' || a.startsWith('--output='));
    case 'getent':
      return true;
    default:
      return false;
  }
}

/**
 * The checkpoints to kill at: every one but those right before a read-only
 * command. Shape: checkpoint numbers (1-based, as GITOPSD_FAULT_KILL_AT
 * takes them), ascending.
 */
export function killPoints(checkpoints: readonly TraceCheckpoint[]): number[] {
  return checkpoints
    .filter((c) => !(c.cmd !== undefined && c.args !== undefined && isReadOnlyCommand(c.cmd, c.args)))
    .map((c) => c.n);
}
