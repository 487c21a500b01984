/**
 * Update branches (docs/rollout.md "Update branches"): the pure decisions.
 * Which branch names are update branches, which branch may be merged into
 * the nix-config branch, and what changes in flake.lock. No I/O.
 */
import { matchesUpdatePattern } from '../../core/config-schema.js';
import * as z from '../../core/zod.js';
import type { SignatureStatus } from '../../upgrade/decide.js';

/**
 * The default branch-name patterns (`*` matches any characters, `/`
 * included, as in a git refspec):
 * - `update/*`: gitopsd's own convention (a producer host, a person).
 * - `update_flake_lock_action`: DeterminateSystems/update-flake-lock's
 *   default `branch` input (its action.yml).
 * - `renovate/lock-file-maintenance`: Renovate's lockFileMaintenance branch
 *   (default branchPrefix `renovate/`, topic `lock-file-maintenance`), the
 *   one Renovate's nix manager uses to refresh flake.lock.
 */
export const DEFAULT_UPDATE_PATTERNS: readonly string[] = [
  'update/*',
  'update_flake_lock_action',
  'renovate/lock-file-maintenance',
];

/** Where `gitopsd updates` fetches the update branches to, in the nix-config checkout. */
export const UPDATES_REF_PREFIX = 'refs/gitopsd/updates/';

/**
 * The fetch refspecs that bring the update branches into UPDATES_REF_PREFIX.
 * Every refspec is a glob: git fails the whole fetch on an exact source ref
 * the remote lacks ("couldn't find remote ref"), so an exact name `p` is
 * fetched as `p*` (git's `*` also matches nothing) and the names that only
 * the glob matches are dropped by matchesUpdatePattern. Pure.
 */
export function updateRefspecs(patterns: readonly string[]): string[] {
  return patterns.map((p) => {
    const glob = p.includes('*') ? p : `${p}*`;
    return `+refs/heads/${glob}:${UPDATES_REF_PREFIX}${glob}`;
  });
}

/** Whether `branch` matches one of `patterns` (`*` = any characters); defined beside the patterns' syntax. Pure. */
export { matchesUpdatePattern };

export type UpdateRefusal = 'not-fast-forward' | 'touches-more' | 'no-change' | 'unsigned' | 'untrusted';

export type UpdateVerdict = { kind: 'eligible' } | { kind: 'refused'; reason: UpdateRefusal; line: string };

export interface UpdateFacts {
  branch: string;
  sha: string;
  /** The nix-config branch (e.g. main) and its tip on the remote. */
  mainBranch: string;
  mainSha: string;
  /** mainSha is an ancestor of sha (`git merge-base --is-ancestor`). */
  fastForwards: boolean;
  /** Paths that differ between mainSha and sha (`git diff --name-only`). */
  changedPaths: readonly string[];
  /** The tip's signature; `not-required` when nixConfig.allowedSignersFile is not set. */
  signature: SignatureStatus;
}

/**
 * Whether an update branch may be merged. Pure. In this order, so that the
 * line names the first thing a person must fix:
 * 1. it must fast-forward the branch (the merge is a fast-forward, never a
 *    merge commit nobody signed);
 * 2. it must change flake.lock and nothing else (an input bump, not code);
 * 3. where signers are configured, its tip must carry a good signature of an
 *    allowed signer, as the upgrade requires of every tip it deploys.
 */
export function decideUpdate(f: UpdateFacts): UpdateVerdict {
  const short = f.sha.slice(0, 12);
  if (!f.fastForwards) {
    return {
      kind: 'refused',
      reason: 'not-fast-forward',
      line: `${f.branch} (${short}) does not fast-forward ${f.mainBranch}: rebase it onto ${f.mainBranch} (${f.mainSha.slice(0, 12)})`,
    };
  }
  const others = f.changedPaths.filter((p) => p !== 'flake.lock');
  if (others.length > 0) {
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? `, and ${others.length - 3} more` : '');
    return {
      kind: 'refused',
      reason: 'touches-more',
      line: `${f.branch} (${short}) changes more than flake.lock (${shown}): only lock-file updates are merged this way`,
    };
  }
  if (f.changedPaths.length === 0) {
    return {
      kind: 'refused',
      reason: 'no-change',
      line: `${f.branch} (${short}) changes nothing against ${f.mainBranch}: delete it`,
    };
  }
  switch (f.signature.kind) {
    case 'not-required':
    case 'good':
      return { kind: 'eligible' };
    case 'unsigned':
      return {
        kind: 'refused',
        reason: 'unsigned',
        line: `${f.branch} (${short}) is not signed, and nixConfig.allowedSignersFile requires signed commits: sign it (git commit --amend -S) and push again`,
      };
    case 'untrusted':
      return {
        kind: 'refused',
        reason: 'untrusted',
        line: `${f.branch} (${short}) is not signed by an allowed signer (${f.signature.detail})`,
      };
  }
}

export type MergeDecision =
  { kind: 'merge'; sha: string } | { kind: 'refused'; reason: UpdateRefusal | 'moved' | 'not-found'; line: string };

/**
 * Whether `gitopsd updates merge BRANCH [--sha S]` goes ahead. Pure.
 * `pinned` is the S a person saw in `gitopsd updates`: a branch that moved
 * since (a bot pushed again) is refused, so nobody merges what they did not
 * look at.
 */
export function decideMerge(input: {
  branch: string;
  /** The branch's tip now; null when the remote has no such update branch. */
  sha: string | null;
  pinned: string | null;
  verdict: UpdateVerdict | null;
  patterns: readonly string[];
}): MergeDecision {
  if (!matchesUpdatePattern(input.branch, input.patterns)) {
    return {
      kind: 'refused',
      reason: 'not-found',
      line: `${input.branch} is not an update branch (updates.branchPatterns: ${input.patterns.join(', ')})`,
    };
  }
  if (input.sha === null || input.verdict === null) {
    return {
      kind: 'refused',
      reason: 'not-found',
      line: `the remote has no branch ${input.branch}: run gitopsd updates to list the pending ones`,
    };
  }
  if (input.pinned !== null && !input.sha.startsWith(input.pinned.toLowerCase())) {
    return {
      kind: 'refused',
      reason: 'moved',
      line: `${input.branch} moved since it was listed (now ${input.sha.slice(0, 12)}, --sha ${input.pinned}): run gitopsd updates again and check the new inputs`,
    };
  }
  if (input.verdict.kind === 'refused')
    return { kind: 'refused', reason: input.verdict.reason, line: input.verdict.line };
  return { kind: 'merge', sha: input.sha };
}

// ---------------------------------------------------------------------------
// flake.lock (nix's lock file, version 7: nodes, root; `nix flake metadata`).

const LockedNode = z.looseObject({
  locked: z.optional(
    z.looseObject({
      rev: z.optional(z.string()),
      narHash: z.optional(z.string()),
      lastModified: z.optional(z.number()),
    }),
  ),
  inputs: z.optional(z.record(z.string(), z.union([z.string(), z.array(z.string())]))),
});

export const FlakeLock = z.looseObject({
  nodes: z.record(z.string(), LockedNode),
  root: z.string(),
  version: z.number(),
});

export interface InputRevision {
  rev: string | null;
  /** lastModified as ISO 8601 (nix writes seconds since the epoch). */
  date: string | null;
}

export interface InputChange {
  input: string;
  old: InputRevision | null;
  new: InputRevision | null;
}

/**
 * The root inputs of a flake.lock and their locked revisions. Inputs that
 * `follows` another are left out (their revision is the other's). A text that
 * is not a flake.lock throws a one-line error. Pure.
 */
export function lockInputs(text: string, what: string): Map<string, InputRevision> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = FlakeLock.safeParse(raw);
  if (!parsed.success) throw new Error(`${what} is not a flake.lock (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  const lock = parsed.data;
  const out = new Map<string, InputRevision>();
  const root = lock.nodes[lock.root];
  for (const [name, ref] of Object.entries(root?.inputs ?? {})) {
    if (typeof ref !== 'string') continue;
    const locked = lock.nodes[ref]?.locked;
    out.set(name, {
      rev: locked?.rev ?? locked?.narHash ?? null,
      date: locked?.lastModified === undefined ? null : new Date(locked.lastModified * 1000).toISOString(),
    });
  }
  return out;
}

/** Each root input whose revision differs between two flake.lock texts (null: no flake.lock), by name. Pure. */
export function lockChanges(oldText: string | null, newText: string | null): InputChange[] {
  const before = oldText === null ? new Map<string, InputRevision>() : lockInputs(oldText, 'the old flake.lock');
  const after = newText === null ? new Map<string, InputRevision>() : lockInputs(newText, 'the new flake.lock');
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: InputChange[] = [];
  for (const input of names) {
    const o = before.get(input) ?? null;
    const n = after.get(input) ?? null;
    if (o?.rev === n?.rev && o?.date === n?.date) continue;
    out.push({ input, old: o, new: n });
  }
  return out;
}

/** "nixpkgs: 1a2b3c4d5e6f (2026-03-01) -> 9f8e7d6c5b4a (2026-03-09)". Pure. */
export function formatChange(c: InputChange): string {
  const side = (r: InputRevision | null): string =>
    r === null ? '(none)' : `${(r.rev ?? '?').slice(0, 12)} (${r.date?.slice(0, 10) ?? 'no date'})`;
  return `${c.input}: ${side(c.old)} -> ${side(c.new)}`;
}
