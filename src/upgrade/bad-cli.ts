/**
 * `gitopsd bad list` and `gitopsd bad forget <commit>`: the bad marks (and
 * the retry records of failures that were not a commit's fault), shown with
 * their evidence, and retracted by a person (issue #13).
 *
 * - list: read-only; marks from src/core/deployments.ts, retry records from
 *   src/upgrade/state.ts.
 * - forget: under the per-host lock, ONE atomic write removes the mark and
 *   the retry records of the commit; the next upgrade builds it again.
 *   A commit may be named by a unique prefix (7 hex digits or more).
 *   Errors: no such mark, an ambiguous prefix: exit 1 with the fix.
 */
import type { Handler } from '../core/outcome.js';
import { withHostLock } from '../core/deps.js';
import { GitopsdError, UsageError } from '../core/errors.js';
import { readDeployments, withoutBadCommit, type BadCommit } from '../core/deployments.js';
import { readUpgrade, updateBoth, type RetryRecord } from './state.js';
import { withoutRetries } from './blame.js';

const short = (sha: string): string => sha.slice(0, 12);

function indent(text: string, by = '      '): string {
  return text
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');
}

function markText(b: BadCommit): string {
  const lines = [`${short(b.commit)}  ${b.reason}${b.cause !== null ? ` (${b.cause})` : ''}  at ${b.at}`];
  lines.push(`    ${b.message}`);
  if (b.build !== null) {
    lines.push(
      `    built: ${b.build.flakeAttr}; flake.lock ${b.build.lockBlob === null ? '(none)' : short(b.build.lockBlob)}${b.build.drvPath !== null ? `; ${b.build.drvPath}` : ''}${b.build.failedDrv !== null ? `; failed: ${b.build.failedDrv}` : ''}`,
    );
  } else {
    lines.push(
      '    built: not recorded (a mark from before issue 13, or not a build): applies to every build of the commit',
    );
  }
  const evidence = b.evidence !== '' ? b.evidence : b.logTail;
  if (evidence.trim() !== '') lines.push('    evidence:', indent(evidence.trimEnd()));
  return lines.join('\n');
}

function retryText(r: RetryRecord): string {
  return [
    `${short(r.commit)}  ${r.stage} ${r.class} (${r.cause})  ${r.failures} failure(s), last at ${r.lastAt}, not before ${r.notBefore}`,
    `    ${r.summary}`,
    `    build: ${r.flakeHost}; flake.lock ${r.lockBlob === null ? '(none)' : short(r.lockBlob)}`,
    ...(r.evidence.trim() !== '' ? ['    evidence:', indent(r.evidence.trimEnd())] : []),
  ].join('\n');
}

export const badListCommand: Handler = (deps) => {
  const marks = Object.values(readDeployments(deps.state).badCommits).sort((a, b) => a.at.localeCompare(b.at));
  const retries = readUpgrade(deps.state).retries;
  const parts: string[] = [];
  parts.push(
    marks.length === 0
      ? 'no bad marks'
      : `bad marks (never rebuilt until a newer commit, another build, or "gitopsd bad forget"):\n${marks.map(markText).join('\n')}`,
  );
  if (retries.length > 0) {
    parts.push(
      `failures that were not the commit's fault (nothing marked; retried after the backoff):\n${retries.map(retryText).join('\n')}`,
    );
  }
  return Promise.resolve({ exitCode: 0, text: parts.join('\n\n'), json: { ok: true, marks, retries } });
};

/** The full commit id a (unique, >= 7 hex digit) prefix names among `known`. */
export function resolveCommit(prefix: string, known: readonly string[]): string {
  const p = prefix.trim().toLowerCase();
  if (!/^[0-9a-f]{7,64}$/.test(p)) {
    throw new UsageError(`"${prefix}" is not a commit id; give at least 7 hex digits (gitopsd bad list shows them)`);
  }
  const hits = [...new Set(known.filter((c) => c.startsWith(p)))];
  if (hits.length === 1 && hits[0] !== undefined) return hits[0];
  if (hits.length === 0) {
    throw new GitopsdError(
      'failed',
      `no bad mark or retry record for commit ${prefix}; "gitopsd bad list" shows what is recorded`,
    );
  }
  throw new GitopsdError(
    'failed',
    `commit prefix ${prefix} is ambiguous (${hits.map(short).join(', ')}); give more digits`,
  );
}

export const badForgetCommand: Handler = (deps, args) =>
  withHostLock(deps, 'bad forget', () => {
    const raw = args['commit'];
    const prefix = typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : '';
    const marks = readDeployments(deps.state).badCommits;
    const retries = readUpgrade(deps.state).retries;
    const commit = resolveCommit(prefix, [...Object.keys(marks), ...retries.map((r) => r.commit)]);
    const mark = marks[commit] ?? null;
    const dropped = retries.filter((r) => r.commit === commit).length;
    updateBoth(deps.state, (d, u) => ({
      deployments: withoutBadCommit(d, commit),
      upgrade: { ...u, retries: withoutRetries(u.retries, commit) },
    }));
    deps.log.info('bad mark retracted by hand', { commit, mark, retries: dropped });
    const what = [
      mark !== null ? `the bad mark (${mark.reason})` : null,
      dropped > 0 ? `${dropped} retry record(s)` : null,
    ]
      .filter((x) => x !== null)
      .join(' and ');
    return Promise.resolve({
      exitCode: 0,
      text: `forgot ${what} of ${short(commit)}; the next upgrade builds it again if it is still the remote tip`,
      json: { ok: true, commit, forgotMark: mark, forgotRetries: dropped },
      run: { result: 'forgotten', commit },
    });
  });
