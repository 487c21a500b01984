/**
 * Update branches: "merge & deploy" with plain git (issue 17,
 * docs/rollout.md "Update branches").
 *
 * Contract
 * - Inputs: Deps (nixConfig.path/remote/branch/allowedSignersFile,
 *   updates.branchPatterns, paths.buildsDir, timeouts).
 * - `listUpdates`: ONE `git fetch --prune` into the checkout of the
 *   nix-config branch (its tracking ref, as the upgrade's fetch) and of the
 *   branches matching updates.branchPatterns (into refs/gitopsd/updates/*),
 *   then per branch: ancestry, changed paths, signature (the upgrade's
 *   verifySignature), both flake.lock blobs. Never touches HEAD, the index
 *   or the working tree.
 * - `mergeUpdate`: under the per-host lock: list again, decideMerge (the
 *   --sha pin), build exactly that commit in a throwaway worktree with the
 *   upgrade's build (`nh os build`, src/upgrade/system.ts), then ONE atomic
 *   push: `--force-with-lease=refs/heads/<main>:<old>` so it only lands if
 *   the branch is still where it was listed, moving main to S and deleting
 *   the update branch in the same transaction (git-push(1) --atomic). Then
 *   the rollout waves take S from there (docs/rollout.md).
 * - Failures: a refusal is a GitopsdError('refused', one line, exit 6); a
 *   failed build 'build-failed' (3, nothing pushed); the remote unreachable
 *   'temporary' (75); a rejected push (the lease: main moved) 'refused'.
 * - Crash: before the push nothing changed on the remote (the worktree and
 *   out-link are removed by the next run's cleanup); the push itself is one
 *   atomic ref transaction on the remote: both refs move, or neither.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { withHostLock, type Deps } from '../../core/deps.js';
import { CommandFailed, GitopsdError } from '../../core/errors.js';
import {
  addWorktree,
  isAncestor,
  parseFetchPorcelain,
  removeWorktree,
  trackingRef,
  verifySignature,
  type FetchedRef,
} from '../../upgrade/git.js';
import { buildToplevel } from '../../upgrade/system.js';
import type { SignatureStatus } from '../../upgrade/decide.js';
import {
  decideMerge,
  decideUpdate,
  lockChanges,
  matchesUpdatePattern,
  updateRefspecs,
  UPDATES_REF_PREFIX,
  type InputChange,
  type UpdateVerdict,
} from './decide.js';

type GitDeps = Pick<Deps, 'runner' | 'config' | 'log'>;

export interface PendingUpdate {
  branch: string;
  sha: string;
  /** The tip's committer date (ISO 8601). */
  committedAt: string;
  subject: string;
  verdict: UpdateVerdict;
  /** Each root input's old -> new revision; empty when flake.lock could not be read. */
  inputs: InputChange[];
  /** Set when a flake.lock could not be parsed (the verdict still stands). */
  lockProblem: string | null;
}

export interface UpdateListing {
  mainBranch: string;
  mainSha: string;
  updates: PendingUpdate[];
}

async function git(
  deps: GitDeps,
  dir: string,
  args: readonly string[],
  opts: { allowFailure?: boolean; mutates?: boolean } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return deps.runner.run('git', ['-C', dir, ...args], {
    timeoutMs: deps.config.timeouts.gitSec * 1000,
    env: { GIT_TERMINAL_PROMPT: '0' },
    ...(opts.allowFailure === true ? { allowFailure: true } : {}),
    ...(opts.mutates === true ? { mutates: true } : {}),
  });
}

function checkoutDir(deps: GitDeps): string {
  return deps.config.nixConfig.path;
}

/** Fetch the branch and the update branches (one process); the refs it changed. */
async function fetchUpdates(deps: GitDeps, dir: string): Promise<FetchedRef[]> {
  const { remote, branch } = deps.config.nixConfig;
  try {
    const r = await git(deps, dir, [
      'fetch',
      '--no-tags',
      '--porcelain',
      '--prune',
      '--upload-pack=git-upload-pack',
      remote,
      `+refs/heads/${branch}:${trackingRef(deps)}`,
      ...updateRefspecs(deps.config.updates.branchPatterns),
    ]);
    return parseFetchPorcelain(r.stdout);
  } catch (err) {
    if (err instanceof CommandFailed) {
      throw new GitopsdError(
        'temporary',
        `cannot fetch the update branches from ${remote} in ${dir} (${err.message}); check the network and retry`,
        { cause: err },
      );
    }
    throw err;
  }
}

async function blob(deps: GitDeps, dir: string, rev: string, path: string): Promise<string | null> {
  const r = await git(deps, dir, ['cat-file', 'blob', `${rev}:${path}`], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout : null;
}

/**
 * The pending update branches on the nix-config remote, each with its
 * verdict and its input changes. Throws 'failed' when there is no checkout.
 */
export async function listUpdates(deps: Deps): Promise<UpdateListing> {
  const dir = checkoutDir(deps);
  const head = await git(deps, dir, ['rev-parse', '--git-dir'], { allowFailure: true });
  if (head.exitCode !== 0) {
    throw new GitopsdError(
      'failed',
      `${dir} is not a git checkout; gitopsd updates needs the nix-config checkout (nixConfig.path): run gitopsd upgrade once to clone it`,
    );
  }
  await fetchUpdates(deps, dir);
  const mainBranch = deps.config.nixConfig.branch;
  const mainRef = trackingRef(deps);
  const refs = await git(deps, dir, [
    'for-each-ref',
    '--format=%(objectname)%09%(committerdate:iso-strict)%09%(refname)%09%(subject)',
    mainRef,
    UPDATES_REF_PREFIX,
  ]);
  let mainSha = '';
  const tips: Array<{ branch: string; sha: string; committedAt: string; subject: string }> = [];
  for (const line of refs.stdout.split('\n')) {
    if (line === '') continue;
    const [sha = '', committedAt = '', ref = '', ...subject] = line.split('\t');
    if (ref === mainRef) mainSha = sha;
    else if (ref.startsWith(UPDATES_REF_PREFIX)) {
      const branch = ref.slice(UPDATES_REF_PREFIX.length);
      if (matchesUpdatePattern(branch, deps.config.updates.branchPatterns))
        tips.push({ branch, sha, committedAt, subject: subject.join('\t') });
    }
  }
  if (mainSha === '') throw new GitopsdError('failed', `fetched, but ${mainRef} does not exist; please report`);

  const mainLock = await blob(deps, dir, mainSha, 'flake.lock');
  const signers = deps.config.nixConfig.allowedSignersFile;
  const updates: PendingUpdate[] = [];
  for (const t of tips) {
    const fastForwards = await isAncestor(deps, dir, mainSha, t.sha);
    const diff = await git(deps, dir, ['diff', '--name-only', '-z', '--no-renames', mainSha, t.sha, '--']);
    const changedPaths = diff.stdout.split('\0').filter((p) => p !== '');
    const signature: SignatureStatus =
      signers === null ? { kind: 'not-required' } : await verifySignature(deps, dir, t.sha, signers);
    const verdict = decideUpdate({
      branch: t.branch,
      sha: t.sha,
      mainBranch,
      mainSha,
      fastForwards,
      changedPaths,
      signature,
    });
    let inputs: InputChange[] = [];
    let lockProblem: string | null = null;
    try {
      inputs = lockChanges(mainLock, await blob(deps, dir, t.sha, 'flake.lock'));
    } catch (err) {
      lockProblem = (err as Error).message;
    }
    updates.push({ ...t, verdict, inputs, lockProblem });
  }
  return { mainBranch, mainSha, updates };
}

export interface MergeResult {
  branch: string;
  sha: string;
  previousMain: string;
  storePath: string;
  inputs: InputChange[];
}

/**
 * Build exactly the listed tip of `branch` here, then fast-forward the
 * nix-config branch to it and delete `branch` in one atomic push.
 */
export async function mergeUpdate(deps: Deps, opts: { branch: string; pinned: string | null }): Promise<MergeResult> {
  const log = deps.log.child({ module: 'updates' });
  return withHostLock(deps, 'updates merge', async () => {
    const listing = await listUpdates(deps);
    const u = listing.updates.find((x) => x.branch === opts.branch) ?? null;
    const d = decideMerge({
      branch: opts.branch,
      sha: u?.sha ?? null,
      pinned: opts.pinned,
      verdict: u?.verdict ?? null,
      patterns: deps.config.updates.branchPatterns,
    });
    if (d.kind === 'refused') {
      // The error is the one line a person sees (README "Exit codes"); at warn this
      // printed the same refusal a second time before it.
      log.debug('update merge refused', { branch: opts.branch, reason: d.reason, line: d.line });
      throw new GitopsdError('refused', d.line, { detail: { reason: d.reason } });
    }
    const dir = checkoutDir(deps);

    // Build exactly S, in a throwaway worktree: the checkout is never touched.
    const wt = join(deps.paths.buildsDir, 'update-src');
    const outLink = join(deps.paths.buildsDir, 'update-candidate');
    await addWorktree(deps, dir, wt, d.sha);
    let built;
    try {
      built = await buildToplevel(deps, { flakeDir: wt, outLink });
    } finally {
      await removeWorktree(deps, dir, wt);
    }
    if (!built.ok) {
      const last = built.stderr.trim().split('\n').at(-1) ?? '';
      throw new GitopsdError(
        'build-failed',
        `${opts.branch} (${d.sha.slice(0, 12)}) does not build for ${deps.config.nixConfig.flakeHost}: ${last}; nothing was pushed`,
        { detail: { logTail: built.stderr } },
      );
    }
    log.info('update built', { branch: opts.branch, sha: d.sha, storePath: built.storePath });

    const { remote, branch } = deps.config.nixConfig;
    const r = await git(
      deps,
      dir,
      [
        'push',
        '--atomic',
        '--porcelain',
        '--receive-pack=git-receive-pack',
        `--force-with-lease=refs/heads/${branch}:${listing.mainSha}`,
        remote,
        `${d.sha}:refs/heads/${branch}`,
        `:refs/heads/${opts.branch}`,
      ],
      { allowFailure: true, mutates: true },
    );
    rmSync(outLink, { force: true });
    if (r.exitCode !== 0) {
      const why =
        (r.stderr.trim() || r.stdout.trim())
          .split('\n')
          .filter((l) => l !== '')
          .at(-1) ?? `exit ${r.exitCode}`;
      if (/stale info|rejected|fetch first|non-fast-forward/i.test(r.stdout + r.stderr)) {
        throw new GitopsdError(
          'refused',
          `${branch} on ${remote} moved since it was listed (the push's lease on ${listing.mainSha.slice(0, 12)} failed: ${why}); nothing changed: run gitopsd updates again`,
        );
      }
      throw new GitopsdError('temporary', `cannot push to ${remote} (${why}); nothing changed, retry`);
    }
    log.info('update merged', { branch: opts.branch, sha: d.sha, previousMain: listing.mainSha });
    return {
      branch: opts.branch,
      sha: d.sha,
      previousMain: listing.mainSha,
      storePath: built.storePath,
      inputs: u?.inputs ?? [],
    };
  });
}
