/**
 * The deployment record shared by upgrade, boot validation and status: which
 * commit produced which system, and which commits must never be deployed
 * again. It lives in the state document under the "deployments" key.
 *
 * Upgrade writes deployments and build/signature/post-switch failures; boot
 * validation marks the commit of a rolled-back system bad. A bad commit is
 * skipped by upgrade without being rebuilt, until a newer commit arrives.
 */
import { z } from 'zod';
import type { StateStore } from './state.js';

export const BadReason = z.enum([
  'build-failed',
  'post-switch-failed',
  'boot-rollback',
  'signature',
  'activation-failed',
]);
export type BadReason = z.infer<typeof BadReason>;

export const BadCommit = z
  .object({
    commit: z.string(),
    reason: BadReason,
    at: z.string(),
    message: z.string(),
    storePath: z.string().nullable().default(null),
    logTail: z.string().default(''),
  })
  .loose();
export type BadCommit = z.infer<typeof BadCommit>;

export const Deployment = z
  .object({
    commit: z.string(),
    storePath: z.string(),
    generation: z.number().int().nullable(),
    at: z.string(),
    operation: z.enum(['switch', 'boot']),
  })
  .loose();
export type Deployment = z.infer<typeof Deployment>;

export const DeploymentsSection = z
  .object({
    /** The commit whose system is (or is about to be, after a reboot) the host's system. */
    current: Deployment.nullable().default(null),
    /** Newest last; bounded to HISTORY_LIMIT entries. */
    history: z.array(Deployment).default([]),
    badCommits: z.record(z.string(), BadCommit).default({}),
  })
  .loose();
export type DeploymentsSection = z.infer<typeof DeploymentsSection>;

export const HISTORY_LIMIT = 50;
export const BAD_LIMIT = 200;
const KEY = 'deployments';

export function readDeployments(state: StateStore): DeploymentsSection {
  return DeploymentsSection.parse(state.section(KEY) ?? {});
}

export function updateDeployments(
  state: StateStore,
  fn: (d: DeploymentsSection) => DeploymentsSection,
): DeploymentsSection {
  return state.updateSection(KEY, (cur) => fn(DeploymentsSection.parse(cur ?? {})));
}

/** Pure: add a deployment as current, keeping the history bounded. */
export function withDeployment(d: DeploymentsSection, dep: Deployment): DeploymentsSection {
  return { ...d, current: dep, history: [...d.history, dep].slice(-HISTORY_LIMIT) };
}

/** Pure: mark a commit bad (the newest reason wins), keeping the list bounded. */
export function withBadCommit(d: DeploymentsSection, bad: BadCommit): DeploymentsSection {
  const entries = Object.entries({ ...d.badCommits, [bad.commit]: bad })
    .sort(([, a], [, b]) => a.at.localeCompare(b.at))
    .slice(-BAD_LIMIT);
  return { ...d, badCommits: Object.fromEntries(entries) };
}

/** Which commit produced this system store path, newest first. */
export function commitForStorePath(d: DeploymentsSection, storePath: string): string | null {
  for (let i = d.history.length - 1; i >= 0; i--) {
    const h = d.history[i];
    if (h?.storePath === storePath) return h.commit;
  }
  return d.current?.storePath === storePath ? d.current.commit : null;
}
