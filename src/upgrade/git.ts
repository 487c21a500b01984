/**
 * The git operations of upgrade, one function each, all through the runner
 * (argv arrays, the gitSec timeout, trace checkpoints). Read-only ones never
 * change the checkout; the ones that do say so in their name.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { CommandFailed, GitopsdError } from '../core/errors.js';
import { parseFetchPorcelain, type FetchedRef } from '../core/fetch-porcelain.js';
import type { LocalCommit, SignatureStatus } from './decide.js';

type GitDeps = Pick<Deps, 'runner' | 'config' | 'log'>;

function timeoutMs(deps: GitDeps): number {
  return deps.config.timeouts.gitSec * 1000;
}

async function git(
  deps: GitDeps,
  dir: string,
  args: readonly string[],
  opts: { mutates?: boolean; allowFailure?: boolean; env?: Record<string, string> } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return deps.runner.run('git', ['-C', dir, ...args], {
    timeoutMs: timeoutMs(deps),
    env: { GIT_TERMINAL_PROMPT: '0', ...opts.env },
    ...(opts.mutates === true ? { mutates: true } : {}),
    ...(opts.allowFailure === true ? { allowFailure: true } : {}),
  });
}

/** Identity for commits gitopsd makes itself (local changes, flake.lock). */
function identity(host: string): string[] {
  return ['-c', `user.name=gitopsd (${host})`, '-c', `user.email=gitopsd@${host}`];
}

export function trackingRef(deps: GitDeps): string {
  return `refs/remotes/${deps.config.nixConfig.remote}/${deps.config.nixConfig.branch}`;
}

/**
 * Clone nixConfig.url into nixConfig.path. The clone goes to a temporary
 * sibling first and is renamed into place, so a crash never leaves a
 * half-cloned checkout that later looks real.
 */
export async function cloneCheckout(deps: GitDeps): Promise<void> {
  const { path, url, remote, branch } = deps.config.nixConfig;
  if (url === null) {
    throw new GitopsdError(
      'config',
      `nixConfig.path ${path} does not exist and nixConfig.url is not set; clone your nix-config there, or set nixConfig.url`,
    );
  }
  const tmp = join(dirname(path), `.${basename(path)}.gitopsd-clone`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    await deps.runner.run('git', ['clone', '--origin', remote, '--branch', branch, '--', url, tmp], {
      timeoutMs: timeoutMs(deps),
      env: { GIT_TERMINAL_PROMPT: '0' },
    });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof CommandFailed) {
      throw new GitopsdError(
        'temporary',
        `cannot clone ${url} into ${path} (${err.message}); check the URL and the network, the next run retries`,
        { cause: err },
      );
    }
    throw err;
  }
  renameSync(tmp, path);
}

export async function revParse(deps: GitDeps, dir: string, rev: string): Promise<string | null> {
  const r = await git(deps, dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/** A commit's subject line (`git log -1 --format=%s`), or null when git cannot say. */
export async function commitSubject(deps: GitDeps, dir: string, commit: string): Promise<string | null> {
  const r = await git(deps, dir, ['log', '-1', '--format=%s', commit, '--'], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/** Fetch the branch into its remote-tracking ref. Never touches HEAD, the index or the working tree. */
export async function fetchBranch(deps: GitDeps, dir: string): Promise<void> {
  const { remote, branch } = deps.config.nixConfig;
  try {
    await git(deps, dir, [
      'fetch',
      '--no-tags',
      '--quiet',
      // For a local or file:// remote, git runs the upload-pack program
      // itself, through the shell: the default, not the checkout's
      // remote.<name>.uploadpack (docs/security.md).
      '--upload-pack=git-upload-pack',
      remote,
      `+refs/heads/${branch}:${trackingRef(deps)}`,
    ]);
  } catch (err) {
    throw fetchError(deps, dir, err);
  }
}

// Moved down to core: the fleet reader parses the same output (src/fleet/git.ts).
export { parseFetchPorcelain, type FetchedRef };

/**
 * The poll's fetch (src/cycle/poll.ts): the branch into its remote-tracking
 * ref, plus `extraRefspecs`, in ONE git process, with --porcelain so that
 * what changed is read from its output and a no-op poll needs no second
 * process (no rev-parse). Never touches HEAD, the index or the working tree.
 * Errors as fetchBranch's (temporary, or failed for a missing branch).
 *
 * `--no-auto-maintenance`: git-fetch(1) runs `git maintenance run --auto`
 * after every fetch by default, a second git process that checks the loose
 * objects and packs against gc.auto and gc.autoPackLimit. At one poll a
 * minute that is 1,440 checks a day, each costing more CPU than the node
 * side of the poll (bench B11, docs/benchmarks.md: a no-op fetch 40 ms of
 * CPU without it, 55-72 ms with it, git 2.55). The checkout's maintenance is
 * left to the daily run's fetch (fetchBranch), which keeps git's default;
 * a poll that finds a new tip runs the upgrade, whose fetch keeps it too.
 */
export async function fetchPorcelain(
  deps: GitDeps,
  dir: string,
  extraRefspecs: readonly string[] = [],
): Promise<FetchedRef[]> {
  const { remote, branch } = deps.config.nixConfig;
  try {
    const r = await git(deps, dir, [
      'fetch',
      '--no-tags',
      '--porcelain',
      '--no-auto-maintenance',
      '--upload-pack=git-upload-pack',
      remote,
      `+refs/heads/${branch}:${trackingRef(deps)}`,
      ...extraRefspecs,
    ]);
    return parseFetchPorcelain(r.stdout);
  } catch (err) {
    throw fetchError(deps, dir, err);
  }
}

function fetchError(deps: GitDeps, dir: string, err: unknown): unknown {
  const { remote, branch } = deps.config.nixConfig;
  if (!(err instanceof CommandFailed)) return err;
  if (/couldn't find remote ref/i.test(err.stderrTail)) {
    return new GitopsdError(
      'failed',
      `the remote "${remote}" has no branch "${branch}"; fix nixConfig.branch or push the branch`,
      { cause: err },
    );
  }
  return new GitopsdError(
    'temporary',
    `cannot fetch ${remote}/${branch} in ${dir} (${err.message}); nothing was changed, the next run retries`,
    { cause: err },
  );
}

/** Whether `a` is an ancestor of (or equal to) `b`. An unknown commit is "no". */
export async function isAncestor(deps: GitDeps, dir: string, a: string, b: string): Promise<boolean> {
  const r = await git(deps, dir, ['merge-base', '--is-ancestor', a, b], { allowFailure: true });
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1) return false;
  deps.log.warn('git merge-base failed; treating the commits as unrelated', { a, b, stderr: r.stderr.trim() });
  return false;
}

/** Commits in HEAD that none of `exclude` contain, oldest first. */
export async function commitsNotIn(deps: GitDeps, dir: string, exclude: readonly string[]): Promise<LocalCommit[]> {
  const r = await git(deps, dir, ['log', '--reverse', '--format=%H%x09%s', 'HEAD', '--not', ...exclude, '--']);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const tab = l.indexOf('\t');
      return { sha: l.slice(0, tab), subject: l.slice(tab + 1) };
    });
}

/** Uncommitted changes: tracked and untracked files, not ignored ones. */
export async function dirtyFiles(deps: GitDeps, dir: string): Promise<string[]> {
  const r = await git(deps, dir, ['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  const out: string[] = [];
  const parts = r.stdout.split('\0');
  for (let i = 0; i < parts.length; i++) {
    const e = parts[i] ?? '';
    if (e.length < 4) continue;
    out.push(e.slice(3));
    // A rename or copy is followed by its source path.
    if (e[0] === 'R' || e[0] === 'C') i++;
  }
  return out;
}

/** The armour line an SSH signature starts with (git's gpg-interface.c, ssh_sigs). */
const SSH_SIGNATURE_BEGIN = '-----BEGIN SSH SIGNATURE-----';

/** The signature formats git knows by their first line (gpg-interface.c: openpgp_sigs, x509_sigs). */
function signatureFormat(firstLine: string): string {
  if (firstLine === SSH_SIGNATURE_BEGIN) return 'SSH';
  if (firstLine === '-----BEGIN PGP SIGNATURE-----' || firstLine === '-----BEGIN PGP MESSAGE-----') return 'OpenPGP';
  if (firstLine === '-----BEGIN SIGNED MESSAGE-----') return 'X.509';
  return 'unknown';
}

/**
 * The first line of each signature header of a raw commit object
 * (`gpgsig`, and `gpgsig-sha256` of the other hash algorithm; git's
 * commit.c gpg_sig_headers). Headers end at the first empty line; a header's
 * continuation lines start with a space (gitformat-signature(5)).
 */
export function signatureHeaders(rawCommit: string): string[] {
  const out: string[] = [];
  for (const line of rawCommit.split('\n')) {
    if (line === '') break;
    const m = /^gpgsig(?:-sha256)? (.*)$/.exec(line);
    if (m) out.push(m[1] ?? '');
  }
  return out;
}

/**
 * Whether `commit` carries an SSH signature from an allowed signer, and
 * nothing else.
 *
 * 1. The raw commit is read first: a signature in any other format
 *    (OpenPGP, X.509, unknown) is refused here, before git picks a
 *    verification backend from it. git chooses the backend from the
 *    signature itself, so without this an OpenPGP signature from a key in
 *    root's keyring would verify (issue 11).
 * 2. git's own verification against the allowed signers file: %G? tells
 *    unsigned (N) apart from bad or untrusted; the exit code of verify-commit
 *    is the verdict. The runner's git settings (src/core/git-hardening.ts)
 *    make the OpenPGP and X.509 programs `false` and the SSH one ssh-keygen,
 *    whatever the repository's config says.
 *
 * ssh-keygen checks the key's valid-after/valid-before against the
 * committer date that git passes (-Overify-time): a date the signer chose.
 * Revoking a key means removing it from the file (docs/upgrade.md).
 */
export async function verifySignature(
  deps: GitDeps,
  dir: string,
  commit: string,
  allowedSignersFile: string,
): Promise<SignatureStatus> {
  const raw = await git(deps, dir, ['cat-file', 'commit', commit]);
  const formats = signatureHeaders(raw.stdout).map(signatureFormat);
  if (formats.length === 0) return { kind: 'unsigned' };
  const foreign = formats.find((f) => f !== 'SSH');
  if (foreign !== undefined) {
    return {
      kind: 'untrusted',
      detail: `it is ${foreign === 'unknown' ? 'a signature of unknown format' : `an ${foreign} signature`}, and only SSH signatures are accepted`,
    };
  }
  const cfg = ['-c', `gpg.ssh.allowedSignersFile=${allowedSignersFile}`];
  const show = await git(deps, dir, [...cfg, 'log', '-1', '--format=%G?%x09%GS', commit]);
  const [code = '', signer = ''] = show.stdout.trim().split('\t');
  if (code === 'N') return { kind: 'unsigned' };
  const v = await git(deps, dir, [...cfg, 'verify-commit', commit], { allowFailure: true });
  if (v.exitCode === 0 && code === 'G') return { kind: 'good', signer };
  const detail = (v.stderr.trim().split('\n').at(-1) ?? '').trim() || `git says %G?=${code}`;
  return { kind: 'untrusted', detail };
}

/**
 * The text of `path` in `commit`, or null when it is missing or larger than
 * `maxBytes` (`git cat-file -s`, then `-p`; git-cat-file(1)). Read-only.
 */
export async function readFileAt(
  deps: GitDeps,
  dir: string,
  commit: string,
  path: string,
  maxBytes: number,
): Promise<string | null> {
  const size = await git(deps, dir, ['cat-file', '-s', `${commit}:${path}`], { allowFailure: true });
  if (size.exitCode !== 0 || Number(size.stdout.trim()) > maxBytes) return null;
  const r = await git(deps, dir, ['cat-file', '-p', `${commit}:${path}`], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout : null;
}

export async function commitAll(deps: GitDeps, dir: string, message: string): Promise<string> {
  await git(deps, dir, ['add', '--all']);
  await git(deps, dir, [...identity(deps.config.hostname), 'commit', '--quiet', '--no-verify', '-m', message]);
  return (await revParse(deps, dir, 'HEAD')) ?? '';
}

export async function commitPaths(deps: GitDeps, dir: string, paths: string[], message: string): Promise<string> {
  await git(deps, dir, ['add', '--', ...paths]);
  await git(deps, dir, [
    ...identity(deps.config.hostname),
    'commit',
    '--quiet',
    '--no-verify',
    '-m',
    message,
    '--',
    ...paths,
  ]);
  return (await revParse(deps, dir, 'HEAD')) ?? '';
}

/**
 * Move the branch to `commit` keeping the working tree safe: `reset --keep`
 * refuses rather than overwrite a local modification.
 */
export async function moveCheckoutTo(deps: GitDeps, dir: string, commit: string): Promise<void> {
  await git(deps, dir, ['reset', '--quiet', '--keep', commit]);
}

/** Rebase HEAD onto `onto`; on a conflict abort (HEAD as before) and return the conflicted files. */
export async function rebaseOnto(
  deps: GitDeps,
  dir: string,
  onto: string,
): Promise<{ ok: true; head: string } | { ok: false; conflicts: string[] }> {
  const r = await git(deps, dir, [...identity(deps.config.hostname), 'rebase', '--quiet', onto], {
    allowFailure: true,
  });
  if (r.exitCode === 0) return { ok: true, head: (await revParse(deps, dir, 'HEAD')) ?? '' };
  const u = await git(deps, dir, ['diff', '--name-only', '--diff-filter=U'], { allowFailure: true });
  await git(deps, dir, ['rebase', '--abort'], { allowFailure: true });
  const conflicts = u.stdout.split('\n').filter((l) => l !== '');
  return {
    ok: false,
    conflicts: conflicts.length > 0 ? conflicts : [`(git rebase: ${r.stderr.trim().split('\n').at(-1) ?? ''})`],
  };
}

export async function restoreFile(deps: GitDeps, dir: string, file: string): Promise<void> {
  await git(deps, dir, ['checkout', '--quiet', 'HEAD', '--', file]);
}

export type PushResult = { pushed: true; head: string; to: string } | { pushed: false; why: string };

/**
 * Push HEAD to the branch, never forced. If the remote moved: fetch, rebase
 * our commits onto it and retry (bounded). A rebase conflict or an
 * unreachable remote leaves the commits local for the next run.
 */
export async function pushWithRetry(deps: GitDeps, dir: string, attempts = 3): Promise<PushResult> {
  const { remote, branch, proposeBranch } = deps.config.nixConfig;
  if (proposeBranch !== null) return proposeHead(deps, dir, proposeBranch);
  let why = '';
  for (let i = 0; i < attempts; i++) {
    // --receive-pack: as --upload-pack in fetchBranch.
    const r = await git(
      deps,
      dir,
      ['push', '--quiet', '--receive-pack=git-receive-pack', remote, `HEAD:refs/heads/${branch}`],
      {
        mutates: true,
        allowFailure: true,
      },
    );
    if (r.exitCode === 0) return { pushed: true, head: (await revParse(deps, dir, 'HEAD')) ?? '', to: branch };
    why = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`;
    if (!/\[rejected\]|non-fast-forward|fetch first/i.test(r.stderr)) return { pushed: false, why };
    deps.log.info('push rejected because the remote moved; rebasing and retrying', { attempt: i + 1 });
    try {
      await fetchBranch(deps, dir);
    } catch (err) {
      return { pushed: false, why: (err as Error).message };
    }
    const rb = await rebaseOnto(deps, dir, trackingRef(deps));
    if (!rb.ok) return { pushed: false, why: `rebase onto the new remote tip conflicts in ${rb.conflicts.join(', ')}` };
  }
  return { pushed: false, why };
}

/**
 * The producer's proposal (nixConfig.proposeBranch): HEAD (the deployed
 * branch's tip plus our flake.lock commit) force-pushed to the update
 * branch, never to the deployed branch. Forced because the branch is this
 * producer's proposal, replaced by each run's; a person merges it with
 * `gitopsd updates merge`, which deletes it (docs/rollout.md "Update
 * branches"). One attempt: a failure is retried by the next run.
 */
async function proposeHead(deps: GitDeps, dir: string, proposeBranch: string): Promise<PushResult> {
  const r = await git(
    deps,
    dir,
    [
      'push',
      '--quiet',
      '--receive-pack=git-receive-pack',
      deps.config.nixConfig.remote,
      `+HEAD:refs/heads/${proposeBranch}`,
    ],
    { mutates: true, allowFailure: true },
  );
  if (r.exitCode !== 0) return { pushed: false, why: r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}` };
  return { pushed: true, head: (await revParse(deps, dir, 'HEAD')) ?? '', to: proposeBranch };
}

export async function addWorktree(deps: GitDeps, dir: string, path: string, commit: string): Promise<void> {
  await removeWorktree(deps, dir, path);
  await git(deps, dir, ['worktree', 'add', '--quiet', '--detach', path, commit]);
}

export async function removeWorktree(deps: GitDeps, dir: string, path: string): Promise<void> {
  if (existsSync(path)) await git(deps, dir, ['worktree', 'remove', '--force', path], { allowFailure: true });
  rmSync(path, { recursive: true, force: true });
  await git(deps, dir, ['worktree', 'prune'], { allowFailure: true });
}

/**
 * The blob id of `path` at `commit` (`git rev-parse <commit>:<path>`), or
 * null when the commit has no such file. For flake.lock, it names the
 * locked inputs of a build (src/core/deployments.ts BuildIdentity).
 */
export async function blobId(deps: GitDeps, dir: string, commit: string, path: string): Promise<string | null> {
  const r = await git(deps, dir, ['rev-parse', '--verify', '--quiet', `${commit}:${path}`], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}
