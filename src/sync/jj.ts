/**
 * The jj client of dotfile sync: every jj command line the sync runs, the
 * revsets and templates it uses, and the parsers of jj's output. The output
 * formats are jj 0.46's (templates: docs/templates.md; the snapshot warning:
 * cli/src/cli_util.rs; push errors: cli/src/commands/git/push.rs), checked
 * against the real jj in test/integration/sync and tabled in
 * test/unit/sync/jj.test.ts. Nothing here decides what the sync does next
 * (decide.ts) or runs the flow (index.ts).
 */
import type { Deps } from '../core/deps.js';
import type { Logger } from '../core/log.js';
import type { RunAs, RunResult } from '../core/runner.js';
import { CommandFailed, GitopsdError } from '../core/errors.js';
import type { UserTree } from './fs-boundary.js';

/** What a jj call needs to know about the sync it runs for. */
export interface JjCtx {
  deps: Deps;
  log: Logger;
  /** The source dir: the jj repository (colocated with git). */
  src: string;
  env: Record<string, string>;
  runAs: RunAs | undefined;
  /** dotfiles.maxNewFileSize (bytes), jj's snapshot.max-new-file-size. */
  maxNewFileSize: number;
  /** Files jj refused to snapshot during this run (too large), by source path. */
  snapshotRefusals: Map<string, SnapshotRefusal>;
  /** The user's files (fs-boundary.ts): the operation heads are read through it. */
  tree: UserTree;
}

/** The operation user our jj calls record (`--config operation.username=...`). */
export const OP_USER = 'gitopsd-sync';

export interface CallOpts {
  allowFailure?: boolean;
  network?: boolean;
  cwd?: string;
}

/**
 * jj's git backend stores commit times in whole seconds. Redoing a rewrite
 * that a killed run had already written (after `jj op restore`), within the
 * same second, yields the very same commit id, and jj stops with exit 255
 * "Newly-created commit … already exists" without changing anything. A
 * second later the ids differ, so that one error is retried.
 */
const COLLISION_RETRIES = 2;

export async function jj(ctx: JjCtx, args: readonly string[], o: CallOpts = {}): Promise<RunResult> {
  for (let attempt = 0; ; attempt++) {
    let r: RunResult;
    try {
      r = await jjOnce(ctx, args, o);
    } catch (err) {
      if (!(err instanceof CommandFailed && isSameSecondCollision(err.exitCode, err.stderrTail))) throw err;
      if (attempt >= COLLISION_RETRIES) throw err;
      ctx.log.warn('jj commit id collision after an undo; retrying in a second', { args: args.slice(0, 2) });
      await ctx.deps.clock.sleep(1100);
      continue;
    }
    if (isSameSecondCollision(r.exitCode, r.stderr) && attempt < COLLISION_RETRIES) {
      ctx.log.warn('jj commit id collision after an undo; retrying in a second', { args: args.slice(0, 2) });
      await ctx.deps.clock.sleep(1100);
      continue;
    }
    return r;
  }
}

async function jjOnce(ctx: JjCtx, args: readonly string[], o: CallOpts = {}): Promise<RunResult> {
  const cwd = o.cwd ?? ctx.src;
  const repo = o.cwd === undefined ? ['-R', ctx.src] : [];
  const call = ctx.deps.runner.run(
    'jj',
    [
      '--no-pager',
      '--color=never',
      ...repo,
      '--config',
      `operation.username=${OP_USER}`,
      '--config',
      `snapshot.max-new-file-size=${ctx.maxNewFileSize}`,
      ...args,
    ],
    {
      cwd,
      env: ctx.env,
      ...(ctx.runAs ? { user: ctx.runAs } : {}),
      ...(o.network ? { timeoutMs: ctx.deps.config.timeouts.gitSec * 1000 } : {}),
      ...(o.allowFailure ? { allowFailure: true } : {}),
    },
  );
  // Any call may snapshot the working copy; a file jj refuses (too large)
  // is only a warning to jj, and would be silently left out of the sync.
  const noted = call.then((r) => {
    for (const f of parseSnapshotRefusals(r.stderr)) ctx.snapshotRefusals.set(f.path, f);
    return r;
  });
  if (!(o.network === true && o.allowFailure === true)) return noted;
  try {
    return await noted;
  } catch (err) {
    // A remote that hangs is a remote that is unreachable: report it as a
    // failed call (the caller says "offline", 75), not as an internal failure.
    if (!(err instanceof CommandFailed && err.timedOut)) throw err;
    const sec = ctx.deps.config.timeouts.gitSec;
    return {
      exitCode: 124,
      stdout: '',
      stderr: `jj ${args.slice(0, 2).join(' ')} timed out after ${sec} s (timeouts.gitSec)`,
      durationMs: sec * 1000,
      skipped: false,
    };
  }
}

export async function commits(ctx: JjCtx, revset: string, extra: readonly string[] = []): Promise<JjCommit[]> {
  const r = await jj(ctx, ['log', '--no-graph', ...extra, '-r', revset, '-T', COMMIT_TEMPLATE]);
  return parseCommits(r.stdout);
}

/**
 * One `jj log` for a whole phase's questions: the commits of `revset`, each
 * with one flag per entry of `flags` (a revset): whether the commit is in it
 * (`self.contained_in(...)`, jj docs/templates.md, Commit type), and whether
 * its tree has a file matching `filesFlag` (a fileset, `self.files(...)`).
 * Each flag is a revset the caller would otherwise have asked in its own
 * `jj log` process; jj 0.46 evaluates it once per call. With `refs`, each
 * commit also lists the bookmarks pointing at it (`local_bookmarks`,
 * `remote_bookmarks`: CommitRef, docs/templates.md), so that a revset
 * holding `bookmarks() | remote_bookmarks()` answers `jj bookmark list`
 * too (bookmarksFromRefs).
 */
export async function flaggedCommits(
  ctx: JjCtx,
  revset: string,
  flags: readonly string[],
  o: { reversed?: boolean; filesFlag?: string; refs?: boolean; filesErrorsUnknown?: boolean } = {},
): Promise<FlaggedCommit[]> {
  const r = await jj(ctx, [
    'log',
    '--no-graph',
    ...(o.reversed === true ? ['--reversed'] : []),
    '-r',
    revset,
    '-T',
    flaggedTemplate(flags, o.filesFlag, o.refs === true),
  ]);
  return parseFlaggedCommits(r.stdout, flags.length, o.filesErrorsUnknown === true);
}

export interface FlaggedCommit extends JjCommit {
  /** One per flag revset, in order. */
  in: boolean[];
  /**
   * The tree has a file matching filesFlag (false when none was given);
   * null when jj could not read the tree and the caller asked for
   * `filesErrorsUnknown` (else that is an error, templateError).
   */
  hasFiles: boolean | null;
  /** The bookmarks pointing at this commit (empty unless asked for with `refs`). */
  refs: CommitRef[];
}

/** A bookmark at a commit, as jj log's CommitRef shows it. */
export interface CommitRef {
  name: string;
  /** '' for a local bookmark. */
  remote: string;
  conflict: boolean;
  tracked: boolean;
}

/** One CommitRef: JSON name and remote (null for a local bookmark), conflict and tracked flags. */
const REF_FIELDS =
  '|b| json(b.name()) ++ "\\x1e" ++ json(b.remote()) ++ "\\x1e" ++ if(b.conflict(), "1", "0") ++ "\\x1e" ++ if(b.tracked(), "1", "0")';

/** COMMIT_TEMPLATE with three more fields: the flags ("0"/"1" each), "1" when files matched, and the refs. */
export function flaggedTemplate(flags: readonly string[], filesFlag?: string, refs = false): string {
  const bits = flags.map((f) => `if(self.contained_in(${jjString(f)}), "1", "0")`);
  const files = filesFlag === undefined ? '"0"' : `if(self.files(${jjString(filesFlag)}), "1", "0")`;
  const refList = refs
    ? `local_bookmarks.map(${REF_FIELDS}).join("\\x1d") ++ "\\x1d" ++ remote_bookmarks.map(${REF_FIELDS}).join("\\x1d")`
    : '""';
  return `${COMMIT_FIELDS} ++ "\\x1f" ++ ${bits.length > 0 ? bits.join(' ++ ') : '""'} ++ "\\x1f" ++ ${files} ++ "\\x1f" ++ ${refList} ++ "\\n"`;
}

export function parseFlaggedCommits(stdout: string, nFlags: number, filesErrorsUnknown = false): FlaggedCommit[] {
  const out: FlaggedCommit[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('\x1f');
    const refs = f.pop();
    const unreadable = filesErrorsUnknown && /^<Error: [^>\n]*>$/.test(f.at(-1) ?? '');
    if (unreadable) f[f.length - 1] = '0';
    templateError(f.join('\x1f'));
    const files = f.pop();
    const bits = f.pop();
    if (
      f.length !== 7 ||
      refs === undefined ||
      bits === undefined ||
      bits.length !== nFlags ||
      (files !== '0' && files !== '1')
    ) {
      throw new Error(`unexpected jj log line ${JSON.stringify(line)}`);
    }
    const [c] = parseCommits(f.join('\x1f'));
    if (c === undefined) throw new Error(`unexpected jj log line ${JSON.stringify(line)}`);
    out.push({
      ...c,
      in: [...bits].map((b) => b === '1'),
      hasFiles: unreadable ? null : files === '1',
      refs: parseRefs(refs, line),
    });
  }
  return out;
}

function parseRefs(field: string, line: string): CommitRef[] {
  const out: CommitRef[] = [];
  for (const item of field.split('\x1d')) {
    if (item === '') continue;
    const [name, remote, conflict, tracked, ...rest] = item.split('\x1e');
    let n: unknown;
    let r: unknown;
    try {
      n = JSON.parse(name ?? '');
      r = JSON.parse(remote ?? '');
    } catch {
      n = undefined;
    }
    if (typeof n !== 'string' || (r !== null && typeof r !== 'string') || rest.length > 0 || tracked === undefined) {
      throw new Error(`unexpected jj log line ${JSON.stringify(line)}`);
    }
    out.push({ name: n, remote: r ?? '', conflict: conflict === '1', tracked: tracked === '1' });
  }
  return out;
}

/**
 * The bookmark list (as `bookmarks()` would give it, without the `git`
 * pseudo-remote) from the refs of a flagged `jj log` whose revset holds
 * `bookmarks() | remote_bookmarks()`: each bookmark's targets are the
 * commits it was shown at, in log order (a conflicted bookmark is shown at
 * each of its added targets, jj cli/src/commit_templater.rs). One
 * difference to `jj bookmark list --all-remotes`: a local bookmark deleted
 * while its tracked remote one remains (listed there as "(deleted)", with
 * no target) points at no commit, so it is absent here.
 */
export function bookmarksFromRefs(seen: readonly FlaggedCommit[]): JjBookmark[] {
  const byKey = new Map<string, JjBookmark>();
  for (const c of seen) {
    for (const ref of c.refs) {
      if (ref.remote === 'git') continue;
      const key = JSON.stringify([ref.name, ref.remote]);
      const b = byKey.get(key);
      if (b === undefined) {
        byKey.set(key, {
          name: ref.name,
          remote: ref.remote,
          conflict: ref.conflict,
          targets: [c.commitId],
          tracked: ref.tracked,
        });
      } else if (!b.targets.includes(c.commitId)) {
        b.targets.push(c.commitId);
      }
    }
  }
  return [...byKey.values()];
}

/**
 * jj renders an error inside a template as `<Error: …>` in the output and
 * still exits 0 (jj docs, "Templates": errors in a keyword or method are
 * printed in place). `self.files()` does so for a tree it cannot read, such
 * as one holding a file name that is not UTF-8. Throws a one-line 'failed'
 * error (exit 1) naming the commit and jj's message; nothing has changed.
 */
export function templateError(line: string): void {
  const m = /<Error: ([^>\n]*)>/.exec(line);
  if (m === null) return;
  const commit = (line.split('\x1f')[0] ?? '').slice(0, 12);
  const why = m[1] ?? '';
  throw new GitopsdError(
    'failed',
    /utf-8/i.test(why)
      ? `jj cannot read commit ${commit}: ${why}; jj cannot represent a file name that is not UTF-8: rename or remove that file in the dotfiles remote with git, then sync again`
      : `jj cannot read commit ${commit}: ${why}; inspect it with "jj log -r ${commit}" in the source dir`,
  );
}

/**
 * Extra arguments for a query about commits named by id, never `@`: no
 * snapshot of the working copy. jj's global option "--ignore-working-copy:
 * Don't snapshot the working copy, and don't update it" (`jj help`, jj
 * 0.46): the query then writes nothing, neither a snapshot operation nor
 * the working-copy state. An edit a person makes in the source dir
 * meanwhile is snapshotted by the next jj command that changes the repo,
 * and every one of those snapshots as it starts, as before. Nor does it
 * import git's refs: a ref a `git` command in the colocated source dir
 * moved (a `git fetch` there moves main@origin) is seen from that next
 * command on, as if it had moved just before it. Used by the
 * split (src/sync/index.ts), whose queries are all of fixed commits between
 * its own rebases, restores and abandons; not where the answer is about @
 * or feeds restorePoint's count of snapshot operations.
 */
export const NO_SNAPSHOT: readonly string[] = ['--ignore-working-copy'];

export async function one(ctx: JjCtx, revset: string, extra: readonly string[] = []): Promise<JjCommit> {
  const list = await commits(ctx, revset, extra);
  const c = list[0];
  if (c === undefined || list.length !== 1) {
    throw new GitopsdError(
      'failed',
      `jj revset ${revset} names ${list.length} commits, expected 1; inspect the repo with "jj log"`,
    );
  }
  return c;
}

/**
 * The repo's current operation id, read from jj's operation-heads store
 * when it can be (headOperation), without a process; else `jj op log -n1`,
 * which snapshots first. Read from the store, it is taken without a
 * snapshot: an edit a person made in the source dir since the last jj
 * command is not in this operation. The sync records it as the
 * integration's journal operation (beginIntegration) after `chezmoi
 * status` and `chezmoi managed` when remote changes come in, and every
 * `jj op restore` to it goes through restorePoint (decide.ts), which moves
 * past the snapshot operation the next jj command records of such an edit
 * before its own: the restore keeps the edit in the working copy (review
 * 6, D1; test/integration/sync/conflict.test.ts). An edit made after that
 * next command's snapshot is still undone on disk by a restore
 * (docs/sync.md, "Known limits").
 */
export async function currentOp(ctx: JjCtx): Promise<string> {
  const head = await headOperation(ctx);
  if (head !== null) return head;
  const r = await jj(ctx, ['op', 'log', '--no-graph', '-n', '1', '-T', 'id']);
  return r.stdout.trim();
}

/**
 * The operation the repo is at, as `jj --ignore-working-copy op log -n1 -T
 * id` prints it (null when jj cannot say): from the operation-heads store
 * when it can be read, else from that command.
 */
export async function lastOperation(ctx: JjCtx): Promise<string | null> {
  const head = await headOperation(ctx);
  if (head !== null) return head;
  const op = await jj(ctx, ['--ignore-working-copy', 'op', 'log', '--no-graph', '-n', '1', '-T', 'id'], {
    allowFailure: true,
  });
  return op.exitCode === 0 && op.stdout.trim() !== '' ? op.stdout.trim() : null;
}

/**
 * The current operation id from jj's operation-heads store, without a jj
 * process, or null when it cannot be told that way. jj 0.46's store
 * (lib/src/simple_op_heads_store.rs; `type` holds "simple_op_heads_store")
 * keeps one empty file per head in `.jj/repo/op_heads/heads/`, named by the
 * operation id in hex (64 bytes: 128 digits), the id `jj op log -T id`
 * prints. A writer adds its new head before it removes the old one, and two
 * concurrent writers leave two heads that the next jj command merges: only
 * exactly one head is an answer. Null as well for another store, a
 * secondary workspace (`.jj/repo` is then a file), names of another form
 * (a later jj) and a privilege boundary (UserTree.namesInProcess).
 * test/integration/sync/basic.test.ts compares it with `jj op log`.
 */
export async function headOperation(ctx: JjCtx): Promise<string | null> {
  const store = `${ctx.src}/.jj/repo/op_heads`;
  const names = ctx.tree.namesInProcess(`${store}/heads`);
  if (names === null || names.length !== 1) return null;
  const [id] = names;
  if (id === undefined || !/^[0-9a-f]{128}$/.test(id)) return null;
  if ((await ctx.tree.readText(`${store}/type`))?.trim() !== 'simple_op_heads_store') return null;
  return id;
}

export async function bookmarks(ctx: JjCtx): Promise<JjBookmark[]> {
  const r = await jj(ctx, ['bookmark', 'list', '--all-remotes', '-T', BOOKMARK_TEMPLATE]);
  return parseBookmarks(r.stdout).filter((b) => b.remote !== 'git');
}

/**
 * `jj new --no-edit PARENT -m MSG`; returns the new commit's change id (the
 * full one). jj prints "Created new commit <summary>" (cli/src/commands/
 * new.rs, jj 0.46) with the `templates.commit_summary` template, set here
 * to COMMIT_SUMMARY as for commitWorkingCopy, so the full change id is read
 * from that line and no `jj log` of the new commit is needed. Output in
 * jj's default form (a later jj that ignores the template) costs that query;
 * no "Created new commit" line at all is an unsupported jj (internal error).
 */
export async function newCommit(ctx: JjCtx, parent: string, message: string): Promise<string> {
  const r = await jj(ctx, [
    '--config',
    `templates.commit_summary='${COMMIT_SUMMARY}'`,
    'new',
    '--no-edit',
    '-r',
    parent,
    '-m',
    message,
  ]);
  const made = parseCreatedSummary(r.stderr);
  if (made !== null) return made.changeId;
  const prefix = parseCreatedCommit(r.stderr);
  if (prefix === null) {
    throw new GitopsdError(
      'internal',
      `jj new printed no "Created new commit" line (jj ${r.stderr.trim()}); this jj version is not supported`,
    );
  }
  return (await one(ctx, prefix, NO_SNAPSHOT)).changeId;
}

/** The commit of "Created new commit gitopsd-commit <id> <change> <flags> <json description>" in `jj new`'s output, or null. */
export function parseCreatedSummary(stderr: string): Committed | null {
  return parseSummaryAfter('Created new commit ', stderr);
}

/** The commit `jj commit` made (the working copy's parent now). */
export type Committed = Pick<JjCommit, 'commitId' | 'changeId' | 'conflict' | 'empty' | 'description'>;

/**
 * `jj commit -m MSG`; returns the new commit (the working copy's parent
 * now). jj prints the new @- as "Parent commit (@-)      : <summary>"
 * (cli/src/description_util.rs and commands/commit.rs, jj 0.46), and the
 * summary is the `templates.commit_summary` template, set here to a fixed
 * word, the full commit id, the change id and the conflict and empty flags,
 * so no `jj log -r @-` process is needed. Output in another form (a later
 * jj) costs that query instead.
 */
export async function commitWorkingCopy(ctx: JjCtx, message: string): Promise<Committed> {
  const r = await jj(ctx, ['--config', `templates.commit_summary='${COMMIT_SUMMARY}'`, 'commit', '-m', message]);
  return parseCommittedParent(r.stderr) ?? (await one(ctx, '@-'));
}

const SUMMARY_WORD = 'gitopsd-commit';

/** The summary template of commitWorkingCopy: word, commit id, change id, then "1"/"0" for conflict and empty. */
const COMMIT_SUMMARY = `"${SUMMARY_WORD} " ++ commit_id ++ " " ++ change_id ++ " " ++ if(conflict, "1", "0") ++ if(empty, "1", "0") ++ " " ++ json(description)`;

/** The commit of "Parent commit (@-) : gitopsd-commit <id> <change> <flags> <json description>" in `jj commit`'s output, or null. */
export function parseCommittedParent(stderr: string): Committed | null {
  return parseSummaryAfter('Parent commit \\(@-\\)\\s*: ', stderr);
}

/** The COMMIT_SUMMARY of the line starting with `lead` (a regular expression), or null. */
function parseSummaryAfter(lead: string, stderr: string): Committed | null {
  const m = new RegExp(`^${lead}${SUMMARY_WORD} ([0-9a-f]{40}) ([k-z]+) ([01])([01]) (".*")$`, 'm').exec(stderr);
  if (m === null) return null;
  let description: unknown;
  try {
    description = JSON.parse(m[5] ?? '');
  } catch {
    return null;
  }
  if (typeof description !== 'string') return null;
  return { commitId: m[1] ?? '', changeId: m[2] ?? '', conflict: m[3] === '1', empty: m[4] === '1', description };
}

export async function restore(ctx: JjCtx, from: string, into: string, fileset: string): Promise<void> {
  await jj(ctx, ['restore', '--from', from, '--into', into, fileset]);
}

export async function conflictedFiles(ctx: JjCtx, rev: string, extra: readonly string[] = []): Promise<string[]> {
  const r = await jj(ctx, [
    ...extra,
    'log',
    '--no-graph',
    '-r',
    rev,
    '-T',
    'conflicted_files.map(|e| json(e.path().display()) ++ "\\n").join("")',
  ]);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as string);
}

export async function opLog(ctx: JjCtx): Promise<OpEntry[]> {
  const r = await jj(ctx, ['--ignore-working-copy', 'op', 'log', '--no-graph', '-n', '500', '-T', OP_TEMPLATE]);
  return parseOps(r.stdout);
}

export async function changedPaths(ctx: JjCtx, rev: string, extra: readonly string[] = []): Promise<string[]> {
  const r = await jj(ctx, [...extra, 'diff', '-r', rev, '--name-only']);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/**
 * The source paths the remote's side removed and the ones it has after:
 * `jj diff` from the fork point of `local` and `remote` to `remote`, one
 * entry per changed path (jj 0.46 TreeDiffEntry: `status` is modified,
 * added, removed, copied or renamed; a rename has both paths). From the fork
 * point, not from `local`: a file only the local side added is no deletion.
 * `--ignore-working-copy`: two commits, no snapshot, nothing written.
 * With more than one fork point (a criss-cross history) jj refuses the
 * revset, and the diff is taken from `local`: a path only the local side
 * has then counts as removed, which integration keeps managed anyway.
 */
export async function remoteRemovals(
  ctx: JjCtx,
  local: string,
  remote: string,
): Promise<{ removed: string[]; present: string[] }> {
  const args = (from: string): string[] => [
    '--ignore-working-copy',
    'diff',
    '--from',
    from,
    '--to',
    remote,
    '-T',
    DIFF_ENTRY_TEMPLATE,
  ];
  let r = await jj(ctx, args(`fork_point(${local} | ${remote})`), { allowFailure: true });
  if (r.exitCode !== 0) r = await jj(ctx, args(local));
  return parseDiffEntries(r.stdout);
}

/** Per changed path: status, source path and target path, each NUL-terminated (no path holds a NUL). */
export const DIFF_ENTRY_TEMPLATE = 'status ++ "\\0" ++ source.path() ++ "\\0" ++ target.path() ++ "\\0"';

/**
 * Parse DIFF_ENTRY_TEMPLATE's output: `removed` are the paths gone on the
 * remote's side (removed, and a rename's source); `present` those it has
 * (every other entry's target path). Output of another shape fails loudly.
 */
export function parseDiffEntries(stdout: string): { removed: string[]; present: string[] } {
  const fields = stdout.split('\0');
  const tail = fields.pop();
  if (tail !== '' || fields.length % 3 !== 0) {
    throw new GitopsdError(
      'internal',
      `jj diff printed output this gitopsd cannot read (${JSON.stringify(stdout.slice(0, 200))}); please report`,
    );
  }
  const removed: string[] = [];
  const present: string[] = [];
  for (let i = 0; i < fields.length; i += 3) {
    const status = fields[i] ?? '';
    const source = fields[i + 1] ?? '';
    const target = fields[i + 2] ?? '';
    switch (status) {
      case 'removed':
        removed.push(source);
        break;
      case 'renamed':
        removed.push(source);
        present.push(target);
        break;
      case 'added':
      case 'modified':
      case 'copied':
        present.push(target);
        break;
      default:
        throw new GitopsdError(
          'internal',
          `jj diff printed the status ${JSON.stringify(status)}, unknown to this gitopsd; please report`,
        );
    }
  }
  return { removed, present };
}

// ---------------------------------------------------------------- jj output

export interface SnapshotRefusal {
  /** Path relative to the repo root, as jj prints it. */
  path: string;
  bytes: number;
  limit: number;
}

/**
 * jj's "Refused to snapshot some files" warning (snapshot.max-new-file-size,
 * jj 0.46 `cli/src/cli_util.rs`): one line per file,
 * `  big: 1.1MiB (1200000 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)`.
 * jj goes on without the file (exit 0), so the caller must report it.
 */
export function parseSnapshotRefusals(stderr: string): SnapshotRefusal[] {
  if (!stderr.includes('Refused to snapshot some files')) return [];
  const out: SnapshotRefusal[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^ {2}(.+): [^(]*\((\d+) bytes\); the maximum size allowed is [^(]*\((\d+) bytes\)$/.exec(line);
    if (m?.[1] !== undefined) out.push({ path: m[1], bytes: Number(m[2]), limit: Number(m[3]) });
  }
  return out;
}

export interface JjCommit {
  commitId: string;
  changeId: string;
  parents: string[];
  conflict: boolean;
  empty: boolean;
  workingCopy: boolean;
  description: string;
}

/** The fields of COMMIT_TEMPLATE, separated by \x1f. */
const COMMIT_FIELDS =
  'commit_id ++ "\\x1f" ++ change_id ++ "\\x1f" ++ parents.map(|c| c.commit_id()).join(",") ++ "\\x1f" ++ ' +
  'if(conflict, "1", "0") ++ "\\x1f" ++ if(empty, "1", "0") ++ "\\x1f" ++ if(current_working_copy, "1", "0") ++ ' +
  '"\\x1f" ++ json(description)';

/** The template that matches parseCommits. Fields separated by \x1f. */
export const COMMIT_TEMPLATE = `${COMMIT_FIELDS} ++ "\\n"`;

export function parseCommits(stdout: string): JjCommit[] {
  const out: JjCommit[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('\x1f');
    if (f.length !== 7) throw new Error(`unexpected jj log line ${JSON.stringify(line)}`);
    const [commitId, changeId, parents, conflict, empty, wc, desc] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    out.push({
      commitId,
      changeId,
      parents: parents === '' ? [] : parents.split(','),
      conflict: conflict === '1',
      empty: empty === '1',
      workingCopy: wc === '1',
      description: JSON.parse(desc) as string,
    });
  }
  return out;
}

export interface JjBookmark {
  name: string;
  /** '' for the local bookmark. */
  remote: string;
  conflict: boolean;
  /** Targets (one unless conflicted; none when deleted). */
  targets: string[];
  /** A remote bookmark the local one follows (always false for a local bookmark). */
  tracked: boolean;
}

/** `tracked` is false for a local bookmark (jj docs/templates.md, CommitRef). */
export const BOOKMARK_TEMPLATE =
  'name ++ "\\x1f" ++ remote ++ "\\x1f" ++ if(conflict, "1", "0") ++ "\\x1f" ++ ' +
  'added_targets.map(|c| c.commit_id()).join(",") ++ "\\x1f" ++ if(tracked, "1", "0") ++ "\\n"';

export function parseBookmarks(stdout: string): JjBookmark[] {
  const out: JjBookmark[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('\x1f');
    if (f.length !== 5) throw new Error(`unexpected jj bookmark line ${JSON.stringify(line)}`);
    const [name, remote, conflict, targets, tracked] = f as [string, string, string, string, string];
    out.push({
      name,
      remote,
      conflict: conflict === '1',
      targets: targets === '' ? [] : targets.split(','),
      tracked: tracked === '1',
    });
  }
  return out;
}

/** Quote a string for a jj revset/fileset string literal. */
export function jjString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A fileset naming exactly these repo-relative paths. */
export function filesetOf(paths: readonly string[]): string {
  if (paths.length === 0) return 'none()';
  return paths.map((p) => `root-file:${jjString(p)}`).join(' | ');
}

/** A fileset of every path except these. */
export function filesetExcept(paths: readonly string[]): string {
  if (paths.length === 0) return 'all()';
  return `~(${filesetOf(paths)})`;
}

/**
 * The new commit's change id (prefix) from `jj new`'s "Created new commit
 * <change> <commit>" line. The change id, not the commit id: every later
 * restore or rebase rewrites the commit, and naming the old commit id would
 * resurrect the hidden version as a divergent twin.
 */
export function parseCreatedCommit(stderr: string): string | null {
  const m = /Created new commit ([k-z]+) ([0-9a-f]+)/.exec(stderr);
  return m?.[1] ?? null;
}

/** One operation of `jj op log -T OP_TEMPLATE`. */
export interface OpEntry {
  /** The operation id in hex (128 digits in jj 0.46). */
  id: string;
  /** `user@host` of the jj command that recorded it (`operation.username`, OP_USER for ours). */
  user: string;
  /**
   * Whether it only records a snapshot of the working copy ("snapshot working
   * copy"): the operation-template keyword `snapshot` (jj 0.46
   * docs/templates.md, Operation type). A jj command that finds the working
   * copy changed records such an operation before its own, under its own
   * user: a snapshot taken by our command holds a person's edit.
   */
  snapshot: boolean;
}

export const OP_TEMPLATE = 'id ++ "\\x1f" ++ user ++ "\\x1f" ++ if(snapshot, "1", "0") ++ "\\n"';

export function parseOps(stdout: string): OpEntry[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, user, snapshot] = l.split('\x1f') as [string, string | undefined, string | undefined];
      return { id, user: user ?? '', snapshot: snapshot === '1' };
    });
}

/**
 * `jj git fetch` found no ref to update: jj 0.46 prints "Nothing changed."
 * then (cli/src/commands/git/fetch.rs, print of an empty ref update list)
 * and records no operation. Any other output means something may have moved.
 */
export function fetchChangedNothing(r: { stdout: string; stderr: string }): boolean {
  return /^Nothing changed\.$/m.test(r.stderr) || /^Nothing changed\.$/m.test(r.stdout);
}

// ---------------------------------------------------------------- push

export type PushFailure = 'stale' | 'offline' | 'refused';

/** Why `jj git push` failed: the lease (remote moved), the network, or a refusal. */
export function classifyPushFailure(stderr: string): PushFailure {
  // Two forms of the same race. jj's lease check finds the remote ref moved
  // since our fetch ("unexpectedly moved", git's "stale info"); or another
  // push lands after the remote advertised its refs but before it updates
  // them, and receive-pack refuses ours ("cannot lock ref ... but expected",
  // reported by jj 0.46 as "remote rejected ... incorrect old value provided").
  if (
    /unexpectedly moved on the remote|stale info|reason: stale|incorrect old value provided|cannot lock ref .* but expected/i.test(
      stderr,
    )
  )
    return 'stale';
  if (
    /Could not read from remote|Could not find repository|unable to access|Connection|resolve host|timed out|does not appear to be a git repository|No such file or directory/i.test(
      stderr,
    )
  )
    return 'offline';
  return 'refused';
}

/**
 * The line of a failed `jj git push` that says why: the remote's own reason
 * ("refs/heads/main (reason: pre-receive hook declined)"), else the last
 * "remote:" line a hook printed, else the last line.
 */
export function pushFailureReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const reason = lines.find((l) => /\(reason: /.test(l));
  const remote = lines.filter((l) => l.startsWith('remote:') && l.slice(7).trim() !== '').at(-1);
  const parts = [reason, remote?.replace(/^remote:\s*/, 'remote says: ')].filter((x) => x !== undefined);
  return parts.length > 0 ? parts.join('; ') : (lines.at(-1) ?? 'no output');
}

/**
 * jj's "Newly-created commit <id> already exists" (exit 255): a rewrite
 * redone within the same second as an undone one produced the same commit
 * id. Nothing was changed; the same command succeeds a second later.
 */
export function isSameSecondCollision(exitCode: number | undefined, stderr: string): boolean {
  return exitCode === 255 && /Newly-created commit [0-9a-f]+ already exists/.test(stderr);
}
