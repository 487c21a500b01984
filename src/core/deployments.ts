/**
 * The deployment record shared by upgrade, boot validation and status: which
 * commit produced which system, and which commits must never be deployed
 * again. It lives in the state document under the "deployments" key.
 *
 * Upgrade writes deployments and build/signature/post-switch failures; boot
 * validation marks the commit of a rolled-back system bad. A bad commit is
 * skipped by upgrade without being rebuilt, until a newer commit arrives, a
 * different build of it is asked for (another flakeHost, another flake.lock),
 * or a person retracts the mark (`gitopsd bad forget`).
 *
 * Only a failure classified as caused by the commit (src/failure/classify.ts)
 * becomes a mark. Each mark keeps its class, its cause, its evidence (the
 * whole meaningful error) and what was built.
 *
 * Compatibility: marks written before issue #13 have none of these fields;
 * they read with `class: "caused-by-commit"`, `cause: null`, `build: null`
 * (applies to any build of the commit), and are re-examined by upgrade
 * (`reexamineMark`): a legacy build mark whose own log shows an
 * environmental cause is cleared. The fields are additive, so the state
 * document keeps version 1 and an older gitopsd still reads the file.
 */
import * as z from './zod.js';
import type { StateStore } from './state.js';
import { PARSE_ONCE } from './parse-once.js';

export const BadReason = z.enum([
  'build-failed',
  'post-switch-failed',
  'boot-rollback',
  'signature',
  'activation-failed',
]);
export type BadReason = z.infer<typeof BadReason>;

/**
 * What was built when the failure happened. Two builds of one commit are the
 * same attempt only when flakeHost and the flake.lock blob agree.
 */
export const BuildIdentity = z.looseObject({
  /** nixConfig.flakeHost: the `nixosConfigurations.<host>` that was built. */
  flakeHost: z.string(),
  /** The installable, `<flake dir>#nixosConfigurations.<host>.config.system.build.toplevel`. */
  flakeAttr: z.string(),
  /** `git rev-parse <commit>:flake.lock` (the locked inputs), null without a lock file. */
  lockBlob: z._default(z.nullable(z.string()), null),
  /** The toplevel's .drv (nix eval …drvPath), null when the configuration does not evaluate. */
  drvPath: z._default(z.nullable(z.string()), null),
  /** The .drv nix named as failing ("Cannot build '…'"), when it named one. */
  failedDrv: z._default(z.nullable(z.string()), null),
});
export type BuildIdentity = z.infer<typeof BuildIdentity>;

export const BadCommit = z.looseObject({
  commit: z.string(),
  reason: BadReason,
  at: z.string(),
  message: z.string(),
  storePath: z._default(z.nullable(z.string()), null),
  logTail: z._default(z.string(), ''),
  /** Marks exist only for failures caused by the commit; a legacy mark reads as such. */
  class: z._default(z.enum(['caused-by-commit']), 'caused-by-commit'),
  /** The cause (src/failure/classify.ts FailureCause), null for marks written before issue #13. */
  cause: z._default(z.nullable(z.string()), null),
  /** The whole meaningful error (for a legacy mark: empty, see logTail). */
  evidence: z._default(z.string(), ''),
  /** What was built; null: unknown (a legacy mark, a signature refusal): applies to any build. */
  build: z._default(z.nullable(BuildIdentity), null),
});
export type BadCommit = z.infer<typeof BadCommit>;
/** A mark as written: the fields added by issue #13 may be left out (they default). */
export type BadCommitInput = z.input<typeof BadCommit>;

export const Deployment = z.looseObject({
  commit: z.string(),
  storePath: z.string(),
  generation: z.nullable(z.number().check(z.int())),
  at: z.string(),
  operation: z.enum(['switch', 'boot']),
  /**
   * The commit's subject line (`git log -1 --format=%s`), recorded at deploy
   * so that `status` need not start git to show it; null when git could not
   * say, absent in records written before issue 19.
   */
  subject: z.optional(z.nullable(z.string())),
});
export type Deployment = z.infer<typeof Deployment>;

export const DeploymentsSection = z.looseObject({
  /** The commit whose system is (or is about to be, after a reboot) the host's system. */
  current: z._default(z.nullable(Deployment), null),
  /** Newest last; bounded to HISTORY_LIMIT entries. */
  history: z._default(z.array(Deployment), []),
  badCommits: z._default(z.record(z.string(), BadCommit), {}),
});
export type DeploymentsSection = z.infer<typeof DeploymentsSection>;

export const HISTORY_LIMIT = 50;
export const BAD_LIMIT = 200;
const KEY = 'deployments';

export function readDeployments(state: StateStore): DeploymentsSection {
  return DeploymentsSection.parse(state.section(KEY) ?? {}, PARSE_ONCE);
}

export function updateDeployments(
  state: StateStore,
  fn: (d: DeploymentsSection) => DeploymentsSection,
): DeploymentsSection {
  return state.updateSection(KEY, (cur) => fn(DeploymentsSection.parse(cur ?? {}, PARSE_ONCE)));
}

/** Pure: add a deployment as current, keeping the history bounded. */
export function withDeployment(d: DeploymentsSection, dep: Deployment): DeploymentsSection {
  return { ...d, current: dep, history: [...d.history, dep].slice(-HISTORY_LIMIT) };
}

/** Pure: mark a commit bad (the newest reason wins), keeping the list bounded. */
export function withBadCommit(d: DeploymentsSection, input: BadCommitInput): DeploymentsSection {
  const bad = BadCommit.parse(input);
  const entries = Object.entries({ ...d.badCommits, [bad.commit]: bad })
    .sort(([, a], [, b]) => a.at.localeCompare(b.at))
    .slice(-BAD_LIMIT);
  return { ...d, badCommits: Object.fromEntries(entries) };
}

/** Pure: retract the mark of `commit` (a person's `gitopsd bad forget`, or a re-examination). */
export function withoutBadCommit(d: DeploymentsSection, commit: string): DeploymentsSection {
  const badCommits = { ...d.badCommits };
  delete badCommits[commit];
  return { ...d, badCommits };
}

/**
 * Whether a mark applies to the build about to be made. A mark recorded for
 * another flakeHost or another flake.lock is a different attempt: it does not
 * apply. A mark without a build identity (legacy, signature, boot rollback)
 * applies to every build of the commit.
 */
export function markApplies(mark: BadCommit, next: { flakeHost: string; lockBlob: string | null }): boolean {
  if (mark.build === null) return true;
  return mark.build.flakeHost === next.flakeHost && mark.build.lockBlob === next.lockBlob;
}

/** Which commit produced this system store path, newest first. */
export function commitForStorePath(d: DeploymentsSection, storePath: string): string | null {
  for (let i = d.history.length - 1; i >= 0; i--) {
    const h = d.history[i];
    if (h?.storePath === storePath) return h.commit;
  }
  return d.current?.storePath === storePath ? d.current.commit : null;
}
