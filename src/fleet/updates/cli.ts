/**
 * CLI handlers: `gitopsd updates` (list) and `gitopsd updates merge BRANCH
 * [--sha S]`. The work is in ./index.ts; exit codes come from the errors'
 * kinds (src/core/exit.ts): 6 refused, 3 build failed, 75 remote unreachable.
 */
import type { Handler } from '../../core/outcome.js';
import { UsageError } from '../../core/errors.js';
import { formatChange } from './decide.js';
import { listUpdates, mergeUpdate, type PendingUpdate } from './index.js';

function describe(u: PendingUpdate): string[] {
  const head = `${u.branch} ${u.sha.slice(0, 12)} (${u.committedAt.slice(0, 10)}) ${u.subject}`;
  const verdict =
    u.verdict.kind === 'eligible'
      ? `  mergeable: gitopsd updates merge ${u.branch} --sha ${u.sha.slice(0, 12)}`
      : `  refused: ${u.verdict.line}`;
  const inputs = u.inputs.map((c) => `  ${formatChange(c)}`);
  const problem = u.lockProblem === null ? [] : [`  flake.lock: ${u.lockProblem}`];
  return [head, ...inputs, ...problem, verdict];
}

export const updatesListCommand: Handler = async (deps) => {
  const l = await listUpdates(deps);
  const text =
    l.updates.length === 0
      ? `no pending update branches (patterns: ${deps.config.updates.branchPatterns.join(', ')}); ${l.mainBranch} is at ${l.mainSha.slice(0, 12)}`
      : [
          `${l.mainBranch} is at ${l.mainSha.slice(0, 12)}; pending update branches:`,
          ...l.updates.flatMap(describe),
        ].join('\n');
  return { exitCode: 0, text, json: { ok: true, ...l } };
};

export const updatesMergeCommand: Handler = async (deps, args) => {
  const branch = args['branch'];
  if (typeof branch !== 'string' || branch === '') throw new UsageError('name the update branch to merge');
  const sha = args['sha'];
  if (sha !== undefined && (typeof sha !== 'string' || !/^[0-9a-fA-F]{7,64}$/.test(sha))) {
    throw new UsageError(
      `--sha ${JSON.stringify(sha)} is not a commit id (7 to 64 hex digits), as gitopsd updates prints it`,
    );
  }
  const r = await mergeUpdate(deps, { branch, pinned: typeof sha === 'string' ? sha : null });
  const text = [
    `merged ${r.branch}: ${deps.config.nixConfig.branch} ${r.previousMain.slice(0, 12)} -> ${r.sha.slice(0, 12)} (built here: ${r.storePath}); ${r.branch} deleted`,
    ...r.inputs.map((c) => `  ${formatChange(c)}`),
  ].join('\n');
  return { exitCode: 0, text, json: { ok: true, ...r } };
};
