/**
 * Promote and halt markers (docs/rollout.md "Halt and promote"): a person
 * overrides the gates with a signed commit at the status remote,
 *
 *     refs/gitopsd/rollout/<promote|halt>/<commit>
 *
 * pointing at a parentless commit whose tree holds only `marker.json`
 * (`{"v":1,"action":…,"commit":…,"at":…,"reason":…}`), SSH-signed.
 * Only a good signature by a key of the allowed-signers file counts
 * (nixConfig.allowedSignersFile); anything else is ignored with its reason.
 *
 * Effects go through the runner only: `writeMarker` builds the commit with
 * plumbing in a temporary bare repository and pushes it; `readMarkers`
 * fetches the marker refs into a temporary bare repository and checks the
 * signatures with git (`%G?`/`%GS`, git-log(1) pretty formats, which run
 * `ssh-keygen -Y verify` against gpg.ssh.allowedSignersFile). Sources:
 * git-hash-object(1), git-mktree(1), git-commit-tree(1) (-S), git-push(1),
 * git-fetch(1), git-for-each-ref(1), git-cat-file(1).
 *
 * Failure modes: an unreadable remote is a GitopsdError 'temporary' (75); a
 * key that cannot sign is 'failed' (1); a bad marker never fails a read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from '../../core/zod.js';
import type { Deps } from '../../core/deps.js';
import { CommandFailed, GitopsdError } from '../../core/errors.js';
import type { GateMarker } from './gate.js';

export const MARKER_REF_PREFIX = 'refs/gitopsd/rollout/';
const LOCAL_PREFIX = 'refs/rollout/';
const MAX_MARKER_BYTES = 4096;

export type MarkerAction = 'promote' | 'halt';

export const MarkerDoc = z.strictObject({
  v: z.literal(1),
  action: z.enum(['promote', 'halt']),
  commit: z.string().check(z.regex(/^[0-9a-f]{40,64}$/)),
  at: z.string().check(z.refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO-8601 time' })),
  reason: z._default(z.string().check(z.maxLength(500)), ''),
});
export type MarkerDoc = z.infer<typeof MarkerDoc>;

export interface IgnoredMarker {
  ref: string;
  why: string;
}

type GitDeps = Pick<Deps, 'runner'>;

async function git(
  deps: GitDeps,
  dir: string,
  args: readonly string[],
  o: { timeoutMs: number; input?: string; env?: Record<string, string>; config?: readonly string[] },
) {
  return deps.runner.run('git', [...(o.config ?? []).flatMap((c) => ['-c', c]), '--git-dir', dir, ...args], {
    timeoutMs: o.timeoutMs,
    env: { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', ...o.env },
    ...(o.input !== undefined ? { input: o.input } : {}),
  });
}

async function withTempRepo<T>(deps: GitDeps, timeoutMs: number, fn: (dir: string) => Promise<T>): Promise<T> {
  const base = mkdtempSync(join(tmpdir(), 'gitopsd-rollout-'));
  const dir = join(base, 'repo.git');
  try {
    await deps.runner.run('git', ['init', '--bare', '--quiet', dir], { timeoutMs });
    return await fn(dir);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Pure: a marker ref, its signature verdict and its document, judged.
 * `signersConfigured` false: no marker counts (there is nobody to trust).
 */
export function judgeMarker(i: {
  ref: string;
  signersConfigured: boolean;
  verdict: { code: string; signer: string } | undefined;
  doc: string | null;
}): { marker: GateMarker } | { ignored: IgnoredMarker } {
  const ignore = (why: string) => ({ ignored: { ref: i.ref, why } });
  const m = /^refs\/gitopsd\/rollout\/(promote|halt)\/([0-9a-f]{40,64})$/.exec(i.ref);
  if (m === null) return ignore('not a marker ref (refs/gitopsd/rollout/<promote|halt>/<full commit id>)');
  const [, action, commit] = m;
  if (!i.signersConfigured)
    return ignore('no allowed signers configured (nixConfig.allowedSignersFile): no marker counts');
  const v = i.verdict;
  switch (v?.code) {
    case 'G':
      break;
    case 'N':
    case undefined:
      return ignore('not signed');
    case 'U':
      return ignore('signed by a key that is not in the allowed signers file');
    case 'B':
      return ignore('bad signature');
    default:
      return ignore(`the signature cannot be checked (git %G? = ${v?.code ?? '?'})`);
  }
  if (i.doc === null) return ignore('the marker commit has no marker.json');
  let raw: unknown;
  try {
    raw = JSON.parse(i.doc);
  } catch {
    return ignore('marker.json is not valid JSON');
  }
  const p = MarkerDoc.safeParse(raw);
  if (!p.success) return ignore(`marker.json is malformed (${p.error.issues[0]?.message ?? 'invalid'})`);
  if (p.data.action !== action || p.data.commit !== commit) {
    return ignore(
      `marker.json says ${p.data.action} ${p.data.commit.slice(0, 12)}, its ref says ${action} ${commit?.slice(0, 12) ?? ''}`,
    );
  }
  return { marker: { action: p.data.action, commit: p.data.commit, signer: v?.signer ?? '', at: p.data.at } };
}

/**
 * Write and push a marker: `gitopsd fleet promote|halt C`. Returns the
 * marker commit. An existing marker of the same action and commit is
 * replaced (a new time and reason); nothing else at the remote is touched.
 */
export async function writeMarker(
  deps: GitDeps,
  i: {
    remote: string;
    action: MarkerAction;
    commit: string;
    reason: string;
    at: Date;
    signingKey: string;
    who: string;
    timeoutMs: number;
    /**
     * When given, the signed marker is checked against this file before it
     * is pushed, as the hosts will check it; a marker that would not count
     * is refused ('refused', exit 6) and never reaches the remote.
     */
    allowedSignersFile?: string | null;
  },
): Promise<{ ref: string; marker: string; signer: string | null }> {
  const ref = `${MARKER_REF_PREFIX}${i.action}/${i.commit}`;
  const doc: MarkerDoc = { v: 1, action: i.action, commit: i.commit, at: i.at.toISOString(), reason: i.reason };
  return withTempRepo(deps, i.timeoutMs, async (dir) => {
    const t = { timeoutMs: i.timeoutMs };
    const blob = (
      await git(deps, dir, ['hash-object', '-w', '--stdin'], { ...t, input: `${JSON.stringify(doc)}\n` })
    ).stdout.trim();
    const tree = (
      await git(deps, dir, ['mktree'], { ...t, input: `100644 blob ${blob}\tmarker.json\n` })
    ).stdout.trim();
    const date = `@${Math.floor(i.at.getTime() / 1000)} +0000`;
    const env = {
      GIT_AUTHOR_NAME: i.who,
      GIT_AUTHOR_EMAIL: 'gitopsd-rollout@invalid',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: i.who,
      GIT_COMMITTER_EMAIL: 'gitopsd-rollout@invalid',
      GIT_COMMITTER_DATE: date,
    };
    let marker: string;
    try {
      marker = (
        await git(deps, dir, ['commit-tree', '-S', '-m', `gitopsd: ${i.action} ${i.commit}`, tree], {
          ...t,
          env,
          config: ['gpg.format=ssh', `user.signingKey=${i.signingKey}`],
        })
      ).stdout.trim();
    } catch (err) {
      if (err instanceof CommandFailed) {
        throw new GitopsdError(
          'failed',
          `cannot sign the ${i.action} marker with ${i.signingKey} (${err.message}); pass a private SSH key whose public key is in the hosts' nixConfig.allowedSignersFile (--signing-key)`,
          { cause: err },
        );
      }
      throw err;
    }
    let signer: string | null = null;
    if (i.allowedSignersFile !== undefined && i.allowedSignersFile !== null) {
      const v = await git(deps, dir, ['log', '-1', '--format=%G?%x09%GS', marker], {
        ...t,
        config: [`gpg.ssh.allowedSignersFile=${i.allowedSignersFile}`],
      });
      const [code, name] = v.stdout.trim().split('\t');
      const j = judgeMarker({
        ref,
        signersConfigured: true,
        verdict: { code: code ?? 'E', signer: name ?? '' },
        doc: `${JSON.stringify(doc)}\n`,
      });
      if ('ignored' in j) {
        throw new GitopsdError(
          'refused',
          `not pushing the ${i.action} marker: the hosts would ignore it (${j.ignored.why}; checked against ${i.allowedSignersFile}); sign with a key listed there (--signing-key)`,
        );
      }
      signer = j.marker.signer;
    }
    try {
      await git(deps, dir, ['push', '--quiet', '--no-verify', '--', i.remote, `+${marker}:${ref}`], t);
    } catch (err) {
      if (err instanceof CommandFailed) {
        throw new GitopsdError(
          'temporary',
          `cannot push ${ref} to ${i.remote} (${err.message}); check the URL, the network and write access`,
          { cause: err },
        );
      }
      throw err;
    }
    return { ref, marker, signer };
  });
}

/**
 * Fetch every marker at the remote and judge each. Markers of other
 * commits are returned too (fleet status shows them); the gate picks C's.
 */
export async function readMarkers(
  deps: GitDeps,
  i: { remote: string; allowedSignersFile: string | null; timeoutMs: number },
): Promise<{ markers: GateMarker[]; ignored: IgnoredMarker[] }> {
  return withTempRepo(deps, i.timeoutMs, async (dir) => {
    const t = { timeoutMs: i.timeoutMs };
    try {
      await git(
        deps,
        dir,
        [
          'fetch',
          '--quiet',
          '--no-tags',
          '--no-write-fetch-head',
          '--',
          i.remote,
          `+${MARKER_REF_PREFIX}*:${LOCAL_PREFIX}*`,
        ],
        { ...t, config: ['protocol.version=2'] },
      );
    } catch (err) {
      if (err instanceof CommandFailed) {
        throw new GitopsdError(
          'temporary',
          `cannot read the rollout markers at ${i.remote} (${err.message}); check the URL, the network and read access`,
          { cause: err },
        );
      }
      throw err;
    }
    const refs = (await git(deps, dir, ['for-each-ref', '--format=%(objectname) %(refname)', LOCAL_PREFIX], t)).stdout
      .split('\n')
      .flatMap((l) => {
        const sp = l.indexOf(' ');
        return sp > 0
          ? [{ commit: l.slice(0, sp), ref: MARKER_REF_PREFIX + l.slice(sp + 1 + LOCAL_PREFIX.length) }]
          : [];
      });
    const out = { markers: [] as GateMarker[], ignored: [] as IgnoredMarker[] };
    if (refs.length === 0) return out;
    const verdicts = new Map<string, { code: string; signer: string }>();
    if (i.allowedSignersFile !== null) {
      const r = await git(deps, dir, ['log', '--no-walk=unsorted', '--stdin', '--format=%H%x09%G?%x09%GS'], {
        ...t,
        input: refs.map((r) => r.commit).join('\n') + '\n',
        config: [`gpg.ssh.allowedSignersFile=${i.allowedSignersFile}`],
      });
      for (const line of r.stdout.split('\n')) {
        const [sha, code, signer] = line.split('\t');
        if (sha !== undefined && sha !== '') verdicts.set(sha, { code: code ?? 'E', signer: signer ?? '' });
      }
    }
    for (const r of refs) {
      const blob = await deps.runner.run('git', ['--git-dir', dir, 'cat-file', '-p', `${r.commit}:marker.json`], {
        ...t,
        allowFailure: true,
        env: { GIT_TERMINAL_PROMPT: '0' },
      });
      const doc = blob.exitCode === 0 && blob.stdout.length <= MAX_MARKER_BYTES ? blob.stdout : null;
      const j = judgeMarker({
        ref: r.ref,
        signersConfigured: i.allowedSignersFile !== null,
        verdict: verdicts.get(r.commit),
        doc,
      });
      if ('marker' in j) out.markers.push(j.marker);
      else out.ignored.push(j.ignored);
    }
    return out;
  });
}
