/**
 * Reading the rollout policy (gitopsd-rollout.json) from a commit of the
 * nix-config checkout, or from a file: what `gitopsd config check
 * --rollout` and every upgrade's gate do before anything is built.
 *
 * Sources: git-ls-tree(1) (`<mode> SP <type> SP <object> SP <size> TAB
 * <path>` with --long) and git-cat-file(1) (`blob <object>`), both
 * read-only; nothing in the checkout changes.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Deps } from '../../core/deps.js';
import { MAX_POLICY_BYTES, POLICY_FILE, parsePolicy, type PolicyParse } from './policy.js';

type GitDeps = Pick<Deps, 'runner' | 'config'>;

export type PolicyRead = { kind: 'none'; source: string } | ({ source: string } & PolicyParse & { kind: 'read' });

/**
 * The policy at commit `rev` of the checkout `dir`: `none` when the commit
 * has no gitopsd-rollout.json (no waves: every host deploys at once), else
 * the parse (one-line error when malformed). Throws only when git itself
 * cannot read the commit (a CommandFailed).
 */
export async function readPolicyAt(deps: GitDeps, dir: string, rev: string): Promise<PolicyRead> {
  const timeoutMs = deps.config.timeouts.gitSec * 1000;
  const env = { GIT_TERMINAL_PROMPT: '0' };
  const source = `${POLICY_FILE} at ${rev.slice(0, 12)}`;
  const ls = await deps.runner.run('git', ['-C', dir, 'ls-tree', '--long', '--full-tree', rev, '--', POLICY_FILE], {
    timeoutMs,
    env,
  });
  const line = ls.stdout.split('\n').find((l) => l.endsWith(`\t${POLICY_FILE}`));
  if (line === undefined) return { kind: 'none', source };
  const [mode, type, object, size] = line.split('\t')[0]?.split(/\s+/) ?? [];
  if (type !== 'blob' || object === undefined || mode === '120000') {
    return {
      kind: 'read',
      source,
      ok: false,
      error: `${source} is not a regular file (${type ?? '?'} ${mode ?? '?'}); make it a plain JSON file`,
    };
  }
  if (Number(size) > MAX_POLICY_BYTES) {
    return {
      kind: 'read',
      source,
      ok: false,
      error: `${source} is ${size} bytes, over the ${MAX_POLICY_BYTES}-byte limit; a rollout policy is a short list`,
    };
  }
  const blob = await deps.runner.run('git', ['-C', dir, 'cat-file', 'blob', object], { timeoutMs, env });
  return { kind: 'read', source, ...parsePolicy(blob.stdout, source) };
}

/** The policy in a plain file (a working tree, or a draft before it is committed). */
export function readPolicyFile(path: string): PolicyRead {
  const source = path;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none', source };
    return { kind: 'read', source, ok: false, error: `${path} cannot be read (${code ?? (err as Error).message})` };
  }
  if (size > MAX_POLICY_BYTES) {
    return {
      kind: 'read',
      source,
      ok: false,
      error: `${path} is ${size} bytes, over the ${MAX_POLICY_BYTES}-byte limit`,
    };
  }
  return { kind: 'read', source, ...parsePolicy(readFileSync(path, 'utf8'), source) };
}
