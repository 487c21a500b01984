/**
 * The sync state: <stateDir>/sync/state.json, key "sync". It lives in its own
 * directory because the NixOS unit gitopsd-sync.service runs as the dotfiles
 * user, who cannot write root's state file. When root runs the sync (from
 * `gitopsd cycle`) the file may end up root-owned; the directory stays
 * user-writable, so the user's next atomic write (temp + rename) replaces it.
 */
import * as z from '../core/zod.js';
import type { StateStore } from '../core/state.js';

export const SYNC_KEY = 'sync';

const Parked = z.object({
  bookmark: z.string(),
  paths: z.array(z.string()),
  tip: z.string(),
  since: z.string(),
});

const Journal = z.looseObject({
  /**
   * integrate: local rewrites are under way; a crash is undone with
   * `jj op restore <op>` (nothing was pushed yet).
   * publish: the local graph is final and pushes are under way; the next
   * run just continues (pushes are idempotent).
   */
  phase: z.enum(['integrate', 'publish']),
  op: z.string(),
  startedAt: z.string(),
});

const Uncapturable = z.object({ target: z.string(), code: z.string(), why: z.string() });

export const SyncSection = z.looseObject({
  lastRun: z._default(
    z.nullable(
      z.looseObject({
        at: z.string(),
        result: z.string(),
        exitCode: z.number(),
        message: z.string(),
      }),
    ),
    null,
  ),
  lastOkAt: z._default(z.nullable(z.string()), null),
  parked: z._default(z.nullable(Parked), null),
  journal: z._default(z.nullable(Journal), null),
  /** The commit whose tree $HOME reflects (the working copy's parent after the last sync). */
  wcBase: z._default(z.nullable(z.string()), null),
  uncapturable: z._default(z.array(Uncapturable), []),
  /**
   * The jj operation the last run ended at (`jj op log -n1`): every later
   * operation recorded by gitopsd means an odd state is its own to repair.
   */
  lastOp: z._default(z.nullable(z.string()), null),
  /**
   * Targets $HOME does not fully reflect (left unapplied, or an edit
   * waiting) → the commit whose content they last had from the source:
   * their own merge base, so they hold back only themselves while wcBase
   * advances for every other target.
   */
  heldBases: z._default(z.record(z.string(), z.string()), {}),
  /**
   * The deletion step's write-ahead record (decide.ts PendingRemovals):
   * written before an integration that deletes managed entries changes the
   * source, cleared in the state write after apply; one left by a killed run
   * is finished by the next run before its capture. Holds only the targets
   * the remote's change deletes.
   */
  pendingRemovals: z._default(
    z.nullable(
      z.object({
        base: z.nullable(z.string()),
        files: z.record(z.string(), z.string()),
        edited: z.array(z.string()),
      }),
    ),
    null,
  ),
  /** Targets apply left alone because they changed in $HOME during the sync. */
  deferred: z._default(z.array(z.string()), []),
  /** $HOME targets the last sync refused to write or remove (a symlink, no permission), with why. */
  refused: z._default(z.array(z.object({ target: z.string(), why: z.string() })), []),
});
export type SyncSection = z.infer<typeof SyncSection>;
export type Journal = z.infer<typeof Journal>;

export function readSync(store: StateStore): SyncSection {
  return SyncSection.parse(store.section(SYNC_KEY) ?? {});
}

export function updateSync(store: StateStore, fn: (s: SyncSection) => SyncSection): SyncSection {
  return store.updateSection(SYNC_KEY, (cur) => fn(SyncSection.parse(cur ?? {})));
}
