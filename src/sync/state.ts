/**
 * The sync state: <stateDir>/sync/state.json, key "sync". It lives in its own
 * directory because the NixOS unit gitopsd-sync.service runs as the dotfiles
 * user, who cannot write root's state file. When root runs the sync (from
 * `gitopsd cycle`) the file may end up root-owned; the directory stays
 * user-writable, so the user's next atomic write (temp + rename) replaces it.
 */
import { z } from 'zod';
import type { StateStore } from '../core/state.js';

export const SYNC_KEY = 'sync';

const Parked = z.object({
  bookmark: z.string(),
  paths: z.array(z.string()),
  tip: z.string(),
  since: z.string(),
});

const Journal = z
  .object({
    /**
     * integrate: local rewrites are under way; a crash is undone with
     * `jj op restore <op>` (nothing was pushed yet).
     * publish: the local graph is final and pushes are under way; the next
     * run just continues (pushes are idempotent).
     */
    phase: z.enum(['integrate', 'publish']),
    op: z.string(),
    startedAt: z.string(),
  })
  .loose();

const Uncapturable = z.object({ target: z.string(), code: z.string(), why: z.string() });

export const SyncSection = z
  .object({
    lastRun: z
      .object({
        at: z.string(),
        result: z.string(),
        exitCode: z.number(),
        message: z.string(),
      })
      .loose()
      .nullable()
      .default(null),
    lastOkAt: z.string().nullable().default(null),
    parked: Parked.nullable().default(null),
    journal: Journal.nullable().default(null),
    /** The commit whose tree $HOME reflects (the working copy's parent after the last sync). */
    wcBase: z.string().nullable().default(null),
    uncapturable: z.array(Uncapturable).default([]),
    /**
     * The jj operation the last run ended at (`jj op log -n1`): every later
     * operation recorded by gitopsd means an odd state is its own to repair.
     */
    lastOp: z.string().nullable().default(null),
    /**
     * Targets $HOME does not fully reflect (left unapplied, or an edit
     * waiting) → the commit whose content they last had from the source:
     * their own merge base, so they hold back only themselves while wcBase
     * advances for every other target.
     */
    heldBases: z.record(z.string(), z.string()).default({}),
    /** Targets apply left alone because they changed in $HOME during the sync. */
    deferred: z.array(z.string()).default([]),
    /** $HOME targets the last sync refused to write or remove (a symlink, no permission), with why. */
    refused: z.array(z.object({ target: z.string(), why: z.string() })).default([]),
  })
  .loose();
export type SyncSection = z.infer<typeof SyncSection>;
export type Journal = z.infer<typeof Journal>;

export function readSync(store: StateStore): SyncSection {
  return SyncSection.parse(store.section(SYNC_KEY) ?? {});
}

export function updateSync(store: StateStore, fn: (s: SyncSection) => SyncSection): SyncSection {
  return store.updateSection(SYNC_KEY, (cur) => fn(SyncSection.parse(cur ?? {})));
}
