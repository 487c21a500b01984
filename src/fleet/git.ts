/**
 * The git operations of the fleet, one function each, all through the
 * runner (argv arrays, a timeout on every call). They work on a bare
 * repository of gitopsd's own (`--git-dir`), never on a work tree: the status
 * commit is built with plumbing (hash-object, mktree, commit-tree) and
 * pushed from there; the reader fetches into another one.
 *
 * Sources: git-hash-object(1), git-mktree(1), git-commit-tree(1) (-S and
 * gpg.format=ssh, user.signingKey as a key file), git-push(1)
 * (--force-with-lease=<ref>:<expect>, --porcelain), git-fetch(1) (refspecs;
 * with protocol v2 the server lists only the refs under the refspecs'
 * prefixes; --porcelain --verbose lists every ref it holds after), git-cat-file(1) (--batch-check, --batch, --filter), and pretty-formats
 * %G? / %GS (G good, U good but unknown key, B bad, N none, E cannot check).
 */
import { existsSync, lstatSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { CommandFailed, GitopsdError } from '../core/errors.js';
import { parseFetchPorcelain, type FetchedRef } from '../core/fetch-porcelain.js';
import { mkdirParents } from '../core/atomic.js';
import { stdoutOverflowed } from '../core/runner.js';

type GitDeps = Pick<Deps, 'runner'>;

interface GitCall {
  timeoutMs: number;
  input?: string;
  env?: Record<string, string>;
  allowFailure?: boolean;
  config?: readonly string[];
  binaryStdout?: boolean;
}

async function git(deps: GitDeps, dir: string, args: readonly string[], o: GitCall) {
  // gc.auto=0: never an automatic gc in the middle of a publish or a read
  // (git-gc(1) "--auto"), on every call rather than written into the
  // repository's config, which would cost one more process per new repository.
  const config = ['gc.auto=0', ...(o.config ?? [])].flatMap((c) => ['-c', c]);
  return deps.runner.run('git', [...config, '--git-dir', dir, ...args], {
    timeoutMs: o.timeoutMs,
    cwd: dir,
    // No prompt for a password, no pager, no user or system config surprises
    // in how objects are written; transport settings (ssh keys) still apply.
    env: { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', ...o.env },
    ...(o.input !== undefined ? { input: o.input } : {}),
    ...(o.allowFailure === true ? { allowFailure: true } : {}),
    ...(o.binaryStdout === true ? { binaryStdout: true } : {}),
  });
}

/**
 * A bare repository at `dir`, created if missing. It is made under a
 * temporary name and renamed into place, so a crash never leaves a
 * half-initialised repository that later looks real; the parent is made
 * 0700 (the repository is gitopsd's alone).
 */
export async function ensureBareRepo(deps: GitDeps, dir: string, timeoutMs: number): Promise<void> {
  if (existsSync(join(dir, 'HEAD'))) return;
  mkdirParents(dirname(dir), 0o700);
  const tmp = join(dirname(dir), `.${basename(dir)}.init-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  // cwd: the parent, so git never looks at whatever repository the caller's cwd is in.
  await deps.runner.run('git', ['init', '--bare', '--quiet', tmp], { timeoutMs, cwd: dirname(dir) });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/**
 * In a view repository of the files format: the git that made it could not
 * make a reftable one (./git.ts ensureViewRepo), so it is kept as it is.
 */
export const FILES_REFS_MARKER = 'gitopsd-files-refs';

/**
 * Pure: did `git init --ref-format=reftable` fail only because this git has
 * no such option (git < 2.45, which added it: git-init(1))? git 2.39.5 says
 * "error: unknown option `ref-format=reftable'" and exits 129 (parse-options'
 * usage exit), checked on this machine's Debian git.
 */
export function refFormatUnsupported(exitCode: number | undefined, stderr: string): boolean {
  return exitCode === 129 && /unknown option [`']ref-format/.test(stderr);
}

/**
 * The fleet reader's bare repository at `dir`, created if missing, with the
 * reftable ref backend (gitformat-reftable(5)) where git has it.
 *
 * Why reftable: a fetch reads every loose ref file of the files backend on
 * each run, even with nothing new, and the first fetch of a fleet writes one
 * file per host. At 1,000 hosts (git 2.55, docs/benchmarks.md "B8, tenth
 * session"): a fetch with nothing new took 132 ms with the refs loose and
 * 98 ms with reftable; the first fetch 278 ms against 224 ms. Packing the
 * loose refs after the first fetch (`git pack-refs --all`) would match the
 * warm figure but cost 110 ms more on every first read. reftable writes one
 * table per fetch and compacts them itself.
 *
 * - A git without reftable (before 2.45; gitopsd needs 2.41) makes a files
 *   repository, marked with FILES_REFS_MARKER so that it is kept.
 * - A view of the files format without the marker was made by a gitopsd
 *   before this one: it is a cache (the refs and documents are fetched
 *   again), so it is removed and made again.
 * - Made under a temporary name and renamed into place, as ensureBareRepo,
 *   so a crash never leaves a half-made repository that looks real.
 */
export async function ensureViewRepo(deps: GitDeps, dir: string, timeoutMs: number): Promise<'reftable' | 'files'> {
  if (existsSync(join(dir, 'HEAD'))) {
    if (existsSync(join(dir, 'reftable'))) return 'reftable';
    if (existsSync(join(dir, FILES_REFS_MARKER))) return 'files';
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirParents(dirname(dir), 0o700);
  const tmp = join(dirname(dir), `.${basename(dir)}.init-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const cwd = dirname(dir);
  const r = await deps.runner.run('git', ['init', '--bare', '--quiet', '--ref-format=reftable', tmp], {
    timeoutMs,
    cwd,
    allowFailure: true,
  });
  let format: 'reftable' | 'files' = 'reftable';
  if (r.exitCode !== 0) {
    if (!refFormatUnsupported(r.exitCode, r.stderr)) {
      throw new GitopsdError(
        'temporary',
        `cannot create the fleet view repository ${dir} (${gitErrorLine(r.stderr) ?? `git init exited ${r.exitCode}`}); check the disk and the permissions of ${cwd}`,
      );
    }
    rmSync(tmp, { recursive: true, force: true });
    await deps.runner.run('git', ['init', '--bare', '--quiet', tmp], { timeoutMs, cwd });
    writeFileSync(join(tmp, FILES_REFS_MARKER), 'git has no --ref-format=reftable (git < 2.45): files backend\n');
    format = 'files';
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return format;
}

export interface StatusCommitInput {
  dir: string;
  /** The status.json text. */
  json: string;
  host: string;
  message: string;
  at: Date;
  /** Private SSH key file that signs the commit, or null for unsigned. */
  signingKey: string | null;
  timeoutMs: number;
}

/**
 * Write status.json as a blob, a tree holding only it, and a parentless
 * commit of that tree; returns the commit id. Author and committer are
 * "gitopsd (<host>)" at `at` (so the commit depends only on its inputs).
 */
export async function writeStatusCommit(deps: GitDeps, i: StatusCommitInput): Promise<string> {
  return writeDocCommit(deps, {
    dir: i.dir,
    file: 'status.json',
    content: i.json,
    who: { name: `gitopsd (${i.host})`, email: `gitopsd@${i.host}` },
    message: i.message,
    at: i.at,
    signingKey: i.signingKey,
    timeoutMs: i.timeoutMs,
    signFix: 'check that the key exists, is readable by root and is a private SSH key (fleet.signingKey)',
    what: 'the status commit',
  });
}

export interface DocCommitInput {
  dir: string;
  /** The one file of the commit's tree, e.g. status.json, trigger.json. */
  file: string;
  content: string;
  who: { name: string; email: string };
  message: string;
  /** Author and committer date. */
  at: Date;
  /** Private SSH key file that signs the commit (gpg.format=ssh), or null for unsigned. */
  signingKey: string | null;
  timeoutMs: number;
  /** What the commit is, and what to do when the key cannot sign, for the one-line error. */
  what: string;
  signFix: string;
}

/**
 * A parentless commit whose tree holds only `file`, built with plumbing
 * (hash-object, mktree, commit-tree [-S]) in the bare repository `dir`;
 * returns its id. The status commits (issue 15) and the fleet trigger
 * (src/fleet/trigger) are such commits. Errors: a key that cannot sign is a
 * GitopsdError 'failed' naming `what` and `signFix`.
 */
export async function writeDocCommit(deps: GitDeps, i: DocCommitInput): Promise<string> {
  const blob = (
    await git(deps, i.dir, ['hash-object', '-w', '--stdin'], { timeoutMs: i.timeoutMs, input: i.content })
  ).stdout.trim();
  const tree = (
    await git(deps, i.dir, ['mktree'], { timeoutMs: i.timeoutMs, input: `100644 blob ${blob}\t${i.file}\n` })
  ).stdout.trim();
  const date = `@${Math.floor(i.at.getTime() / 1000)} +0000`;
  const env = {
    GIT_AUTHOR_NAME: i.who.name,
    GIT_AUTHOR_EMAIL: i.who.email,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: i.who.name,
    GIT_COMMITTER_EMAIL: i.who.email,
    GIT_COMMITTER_DATE: date,
  };
  const sign = i.signingKey === null ? [] : ['-S'];
  const config = i.signingKey === null ? [] : ['gpg.format=ssh', `user.signingKey=${i.signingKey}`];
  try {
    const r = await git(deps, i.dir, ['commit-tree', ...sign, '-m', i.message, tree], {
      timeoutMs: i.timeoutMs,
      env,
      config,
    });
    return r.stdout.trim();
  } catch (err) {
    if (err instanceof CommandFailed && i.signingKey !== null) {
      throw new GitopsdError('failed', `cannot sign ${i.what} with ${i.signingKey} (${err.message}); ${i.signFix}`, {
        cause: err,
      });
    }
    throw err;
  }
}

export type PushResult =
  | { ok: true }
  /** The remote's ref was not what we expected (someone else wrote it, or our record is old). */
  | { ok: false; lease: true; message: string }
  | { ok: false; lease: false; message: string };

/**
 * Push `commit` to `ref` at `remote`, forcing only that ref and only if the
 * remote still has `expect` there (`''`: the ref must not exist yet; null:
 * no lease, the ref is replaced whatever it holds).
 */
export async function pushStatus(
  deps: GitDeps,
  i: { dir: string; remote: string; ref: string; commit: string; expect: string | null; timeoutMs: number },
): Promise<PushResult> {
  const r = await git(
    deps,
    i.dir,
    [
      'push',
      '--porcelain',
      '--no-verify',
      ...(i.expect === null ? [] : [`--force-with-lease=${i.ref}:${i.expect}`]),
      '--',
      i.remote,
      `${i.expect === null ? '+' : ''}${i.commit}:${i.ref}`,
    ],
    { timeoutMs: i.timeoutMs, allowFailure: true },
  );
  if (r.exitCode === 0) return { ok: true };
  const text = `${r.stdout}\n${r.stderr}`;
  if (/stale info/.test(text)) {
    return { ok: false, lease: true, message: `the remote's ${i.ref} changed under this host (stale info)` };
  }
  return { ok: false, lease: false, message: gitErrorLine(text) ?? `git push exited ${r.exitCode}` };
}

/**
 * The line of git's output that says what went wrong: the first "fatal:" or
 * "error:" line, else a porcelain rejection ("!" line), else the last line.
 */
export function gitErrorLine(text: string): string | null {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'Done' && !l.startsWith('To '));
  const pick =
    lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.find((l) => l.startsWith('!')) ?? lines.at(-1) ?? null;
  return pick === null ? null : pick.replace(/\s+/g, ' ').slice(0, 300);
}

/** The commit `ref` points at in `remote`, or '' when the ref does not exist there. */
export async function lsRemoteRef(
  deps: GitDeps,
  i: { dir: string; remote: string; ref: string; timeoutMs: number },
): Promise<string> {
  const r = await git(deps, i.dir, ['ls-remote', '--', i.remote, i.ref], {
    timeoutMs: i.timeoutMs,
    allowFailure: true,
  });
  if (r.exitCode !== 0) {
    throw new GitopsdError(
      'temporary',
      `cannot read ${i.ref} at ${i.remote}: ${gitErrorLine(r.stderr) ?? `git ls-remote exited ${r.exitCode}`}`,
    );
  }
  for (const line of r.stdout.split('\n')) {
    const [sha, name] = line.split('\t');
    if (name === i.ref && sha !== undefined) return sha;
  }
  return '';
}

/** Where fetched status refs go in the reader's repository. */
export const VIEW_PREFIX = { refs: 'refs/fleet/refs/', heads: 'refs/fleet/heads/' } as const;

/**
 * The reader's fetch (git-fetch(1)), after `git --git-dir <view>` and with
 * `-c protocol.version=2`: every status ref of both layouts into the view's
 * refs/fleet/, pruned, each ref listed in `--porcelain` lines (`--verbose`:
 * the unchanged ones too), no FETCH_HEAD, no auto-gc. B8's floor runs the
 * same argv (bench/b8-fleet-read.ts).
 */
export function statusFetchArgs(remote: string): string[] {
  return [
    'fetch',
    '--porcelain',
    '--verbose',
    '--no-tags',
    '--prune',
    '--no-write-fetch-head',
    '--no-auto-gc',
    '--',
    remote,
    `+refs/gitopsd/status/*:${VIEW_PREFIX.refs}*`,
    `+refs/heads/gitopsd/status/*:${VIEW_PREFIX.heads}*`,
  ];
}

/**
 * Fetch every host's status ref (both layouts) into the reader's repository,
 * pruning the refs of hosts that are gone, and return the refs it then holds
 * (`ref` the full name there, `commit` its id), ordered by ref name as
 * git-for-each-ref(1) lists them. Only these refspecs are asked for, so a
 * protocol-v2 server lists only the status refs.
 *
 * The list comes from the fetch itself: with `--porcelain --verbose`
 * (git >= 2.41, git-fetch(1) OUTPUT) git prints one line for every ref the
 * refspecs match, unchanged ones too (flag '='), and one for every ref it
 * pruned (flag '-'). So no `git for-each-ref` after it (docs/benchmarks.md,
 * B8): a read with nothing new is this one git process. Nothing else writes
 * under refs/fleet/ of the reader's own repository, and every ref there
 * matches one of the two refspecs, so the list is the repository's.
 */
export async function fetchStatusRefs(
  deps: GitDeps,
  i: { dir: string; remote: string; timeoutMs: number },
): Promise<{ ref: string; commit: string }[]> {
  let r: Awaited<ReturnType<typeof git>>;
  try {
    r = await git(deps, i.dir, statusFetchArgs(i.remote), {
      timeoutMs: i.timeoutMs,
      config: ['protocol.version=2'],
      allowFailure: true,
    });
  } catch (err) {
    // Timed out (or git could not start): the remote is as unreadable as when it refuses.
    if (err instanceof CommandFailed) {
      throw new GitopsdError(
        'temporary',
        `cannot read the status remote ${i.remote} (${err.message}); check the URL, the network and read access (fleet.statusRemote or --remote)`,
        { cause: err },
      );
    }
    throw err;
  }
  if (r.exitCode !== 0 && viewLocked(r.stderr)) {
    throw new GitopsdError(
      'temporary',
      `the fleet reader's repository ${i.dir} is locked (${gitErrorLine(r.stderr) ?? 'a lock file exists'}): another fleet read is running, or a git killed with -9 left its lock, which a read removes once it is older than timeouts.gitSec; retry later`,
    );
  }
  if (r.exitCode !== 0 && viewDamaged(r.stderr, i.dir)) {
    throw new GitopsdError(
      'temporary',
      `the fleet reader's repository ${i.dir} is damaged (${gitErrorLine(r.stderr) ?? `git fetch exited ${r.exitCode}`}); it holds only a copy of the status refs: remove it (rm -rf ${i.dir}) and the next read fetches them again`,
      { detail: { viewDamaged: true } },
    );
  }
  if (r.exitCode !== 0) {
    throw new GitopsdError(
      'temporary',
      `cannot read the status remote ${i.remote} (${gitErrorLine(r.stderr) ?? `git fetch exited ${r.exitCode}`}); check the URL, the network and read access (fleet.statusRemote or --remote)`,
    );
  }
  return viewRefsOf(parseFetchPorcelain(r.stdout));
}

/**
 * Pure: the refs the reader's repository holds after a fetch, from the
 * fetch's porcelain lines: every line under refs/fleet/ but the pruned ones
 * ('-'), at the commit it now points at, ordered by ref name as
 * git-for-each-ref(1) lists them (by code unit here, by byte there: the same
 * order for ASCII names; the order decides only which of a host's two refs
 * wins a tie, and refs/fleet/heads/ sorts before refs/fleet/refs/ either way).
 * A fetch that exits 0 has updated every one of them (a ref it could not
 * update fails the fetch).
 */
export function viewRefsOf(lines: readonly FetchedRef[]): { ref: string; commit: string }[] {
  return lines
    .filter((l) => l.flag !== '-' && (l.ref.startsWith(VIEW_PREFIX.refs) || l.ref.startsWith(VIEW_PREFIX.heads)))
    .map((l) => ({ ref: l.ref, commit: l.new }))
    .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}

/**
 * Pure: did a fetch into the reader's repository fail on a lock of that
 * repository, not on the remote? The files backend says "Unable to create
 * '<file>.lock': File exists" (git's lockfile.c), reftable "cannot lock
 * references" (git 2.55, a tables.list.lock left in place, checked here).
 */
/**
 * Pure: whether a failed fetch's stderr is about an object of the reader's
 * own repository `dir`, not the remote: git names a corrupt local object by
 * its file ("fatal: loose object <id> (stored in <dir>/objects/…) is
 * corrupt", "… packed object <id> (stored in <dir>/objects/pack/…) is
 * corrupt"; git's object-file.c and packfile.c; the loose one captured with
 * git 2.55). The path is absolute: the remote's own errors never name it.
 */
export function viewDamaged(stderr: string, dir: string): boolean {
  return stderr.includes(`(stored in ${join(dir, 'objects')}/`);
}

export function viewLocked(stderr: string): boolean {
  return /Unable to create '[^']+\.lock': File exists|cannot lock references/.test(stderr);
}

/**
 * Pure: which lock files (`mtimeMs` each, by the file system's clock) are
 * stale at `nowMs`: those older than `olderThanMs`. git holds a lock for
 * the milliseconds of a ref update and removes it when it ends or is
 * stopped (SIGTERM included). Only a git killed with -9 (with the reader's
 * process group: systemd stopping `fleet serve`, `timeout -s KILL`, a
 * machine that lost power) leaves one, and git never removes it: every
 * later fetch that writes a ref then fails. Every git of a read runs under
 * the runner's timeout, so a lock older than that is held by no live read.
 */
export function decideStaleLocks(
  locks: readonly { file: string; mtimeMs: number }[],
  nowMs: number,
  olderThanMs: number,
): string[] {
  return locks.filter((l) => nowMs - l.mtimeMs > olderThanMs).map((l) => l.file);
}

/**
 * Remove the lock files of the reader's repository `dir` older than
 * `olderThanMs` (decideStaleLocks) and return them: reftable's
 * `reftable/tables.list.lock` (gitformat-reftable(5)), and for a files
 * repository `packed-refs.lock` and the `*.lock` of each status ref. The
 * repository is the reader's own cache under its 0700 state directory:
 * nothing but this reader's git takes these locks. The age is against the
 * real clock (`Date.now()`), the clock the file system stamps mtimes with.
 */
export function removeStaleViewLocks(dir: string, olderThanMs: number): string[] {
  const candidates: string[] = [join(dir, 'reftable', 'tables.list.lock'), join(dir, 'packed-refs.lock')];
  for (const prefix of [VIEW_PREFIX.refs, VIEW_PREFIX.heads]) {
    try {
      for (const name of readdirSync(join(dir, prefix))) {
        if (name.endsWith('.lock')) candidates.push(join(dir, prefix, name));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const locks = candidates.flatMap((file) => {
    try {
      return [{ file, mtimeMs: lstatSync(file).mtimeMs }];
    } catch {
      return [];
    }
  });
  const stale = decideStaleLocks(locks, Date.now(), olderThanMs);
  for (const file of stale) rmSync(file, { force: true });
  return stale;
}

/**
 * `git cat-file --batch-check` of each object name: its type and size, or
 * null when missing. With `--buffer` (git-cat-file(1)): every name is written
 * at once and stdin closed, so nothing waits for an answer, and git need not
 * flush its output after each object (one write per object otherwise).
 */
export async function batchCheck(
  deps: GitDeps,
  i: { dir: string; names: readonly string[]; timeoutMs: number },
): Promise<Map<string, { type: string; size: number } | null>> {
  const out = new Map<string, { type: string; size: number } | null>();
  if (i.names.length === 0) return out;
  const r = await git(
    deps,
    i.dir,
    ['cat-file', '--buffer', '--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)'],
    {
      timeoutMs: i.timeoutMs,
      // %(rest) echoes the input after the first space: names are "<sha>:status.json" (no space),
      // so the object name is echoed through a second column instead.
      input: i.names.map((n) => `${n} ${n}`).join('\n') + '\n',
    },
  );
  const lines = r.stdout.split('\n');
  for (const line of lines) {
    if (line === '') continue;
    const parts = line.split(' ');
    if (parts[1] === 'missing') {
      out.set(parts[0] ?? '', null);
      continue;
    }
    const [, type, size, name] = parts;
    if (name !== undefined && type !== undefined) out.set(name, { type, size: Number(size) });
  }
  return out;
}

/**
 * `git cat-file --batch` of each object name: its type (`commit`, `tree`,
 * `blob`, `tag`, as git's header line says) and its content as bytes (framed
 * by the byte counts git prints, so any content, valid UTF-8 or not, stays
 * in its frame). A name git does not have is left out ("<name> missing").
 * `--buffer` as in batchCheck: at 1,000 hosts (2,000 objects) git alone took
 * 41-44 ms without it and 34-36 ms with it (docs/benchmarks.md B8).
 */
export async function batchRead(
  deps: GitDeps,
  i: { dir: string; names: readonly string[]; timeoutMs: number },
): Promise<Map<string, { type: string; bytes: Buffer }>> {
  if (i.names.length === 0) return new Map();
  const r = await git(deps, i.dir, ['cat-file', '--buffer', '--batch=%(objectname) %(objecttype) %(objectsize)'], {
    timeoutMs: i.timeoutMs,
    input: i.names.join('\n') + '\n',
    binaryStdout: true,
  });
  return parseBatch(r.stdoutBytes, i.names).objects;
}

/**
 * One `git cat-file --batch` that leaves out every blob of `blobLimit` bytes
 * or more (`--filter=blob:limit=<n>`, git-cat-file(1): "Omit objects from the
 * list of printed objects … reported as `<object-name> excluded`"; git >=
 * 2.50). Commits, trees and tags are read whatever their size. The reader's
 * one process for what took two (batchCheck for the sizes, then batchRead of
 * the small ones): the size limit is applied by git, so an oversized status
 * (or a ref that points straight at a huge blob) is never read into memory.
 *
 * Returns the objects read, the names git excluded (each a blob of at
 * least `blobLimit` bytes) and the names that are a submodule (a gitlink:
 * git answers `<its commit id> submodule`, whether or not it has that
 * commit); a name git does not have is in none of them. Returns
 * null when this git does not know `--filter` for cat-file (older than 2.50:
 * exit 129, git's usage error), so the caller reads in two steps instead.
 * Also null when the output went over the runner's 64 MiB limit: the filter
 * leaves out only blobs, so a tree named status.json is read whole, and a
 * hostile one of 64 MiB would fail the read of every host; the two steps
 * read no tree but a ref's own object (review 19).
 */
export async function batchReadFiltered(
  deps: GitDeps,
  i: { dir: string; names: readonly string[]; timeoutMs: number; blobLimit: number },
): Promise<{
  objects: Map<string, { type: string; bytes: Buffer }>;
  excluded: Set<string>;
  submodules: Set<string>;
} | null> {
  if (i.names.length === 0) return parseBatch(undefined, []);
  let r: Awaited<ReturnType<typeof git>>;
  try {
    r = await git(
      deps,
      i.dir,
      [
        'cat-file',
        '--buffer',
        `--filter=blob:limit=${String(i.blobLimit)}`,
        '--batch=%(objectname) %(objecttype) %(objectsize)',
      ],
      { timeoutMs: i.timeoutMs, input: i.names.join('\n') + '\n', binaryStdout: true, allowFailure: true },
    );
  } catch (err) {
    if (stdoutOverflowed(err)) return null;
    throw err;
  }
  if (r.exitCode === 129) return null;
  if (r.exitCode !== 0) {
    throw new CommandFailed({
      cmd: 'git',
      args: ['cat-file', '--batch'],
      exitCode: r.exitCode,
      signal: undefined,
      timedOut: false,
      stderrTail: r.stderr,
      stdout: '',
    });
  }
  return parseBatch(r.stdoutBytes, i.names);
}

/**
 * Pure: the answer of `git cat-file --batch` to `names`, in their order
 * (git-cat-file(1) BATCH OUTPUT): per name either "<id> <type> <size>", the
 * content and a newline, or one line of two words: "<name> missing",
 * "<name> excluded" (--filter), "<gitlink's id> submodule". Content is
 * framed by git's byte count, so any bytes stay in their frame; the
 * objects are views of `bytes`, not copies. A header that does not parse
 * ends the reading (the names after it count as missing).
 */
export function parseBatch(
  bytes: Uint8Array | undefined,
  names: readonly string[],
): {
  objects: Map<string, { type: string; bytes: Buffer }>;
  excluded: Set<string>;
  submodules: Set<string>;
} {
  const objects = new Map<string, { type: string; bytes: Buffer }>();
  const excluded = new Set<string>();
  const submodules = new Set<string>();
  const b = bytes ?? new Uint8Array();
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  for (const name of names) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const header = buf.subarray(pos, nl).toString('utf8').split(' ');
    pos = nl + 1;
    if (header.length === 2) {
      if (header[1] === 'excluded') excluded.add(name);
      if (header[1] === 'submodule') submodules.add(name);
      continue;
    }
    const size = Number(header[2]);
    if (header.length !== 3 || !Number.isSafeInteger(size) || size < 0) break;
    objects.set(name, { type: header[1] ?? '', bytes: buf.subarray(pos, pos + size) });
    pos += size + 1; // content, then a newline
  }
  return { objects, excluded, submodules };
}

/**
 * git's own check of SSH signatures against an allowed-signers file, for
 * many commits in one git process: %G? (G good, U good signature but the key
 * is not in the file, B bad, E cannot check, N none) and %GS (the principal
 * the file names for the key).
 */
export async function verifyCommits(
  deps: GitDeps,
  i: { dir: string; commits: readonly string[]; allowedSignersFile: string; timeoutMs: number },
): Promise<Map<string, { code: string; signer: string }>> {
  const out = new Map<string, { code: string; signer: string }>();
  if (i.commits.length === 0) return out;
  const r = await git(deps, i.dir, ['log', '--no-walk=unsorted', '--stdin', '--format=%H%x09%G?%x09%GS'], {
    timeoutMs: i.timeoutMs,
    input: i.commits.join('\n') + '\n',
    config: [`gpg.ssh.allowedSignersFile=${i.allowedSignersFile}`],
  });
  for (const line of r.stdout.split('\n')) {
    const [sha, code, signer] = line.split('\t');
    if (sha !== undefined && /^[0-9a-f]{40,64}$/.test(sha)) out.set(sha, { code: code ?? 'E', signer: signer ?? '' });
  }
  return out;
}
