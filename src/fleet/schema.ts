/**
 * status.json, version 1: the document each host publishes (docs/fleet.md
 * "status.json v1"). Readers validate it with this schema; a document whose
 * `v` is not 1 is reported as an unknown schema version, never guessed at.
 *
 * Compatibility: a v1 reader accepts added fields (objects are loose); a
 * renamed or removed field, or a changed meaning, makes a v2.
 */
import * as z from '../core/zod.js';

export const SCHEMA_VERSION = 1;
/** A status.json larger than this is refused by readers and trimmed by publishers (bytes). */
export const MAX_STATUS_BYTES = 64 * 1024;
/** The same rule as the config's `hostname` (src/core/config-schema.ts). */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const STATUS_REF_PREFIX = 'refs/gitopsd/status/';
export const BRANCH_REF_PREFIX = 'refs/heads/gitopsd/status/';

const iso = z.string().check(z.refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO-8601 time' }));
const commit = z.string().check(z.regex(/^[0-9a-f]{40,64}$/, { message: 'must be a full commit id' }));

export const StatusV1 = z.looseObject({
  v: z.literal(1),
  host: z.string().check(z.regex(HOST_NAME, { message: 'must be a host name' })),
  gitopsdVersion: z.string().check(z.minLength(1), z.maxLength(64)),
  publishedAt: iso,
  /** The publisher's heartbeat (seconds): readers call the row stale after twice this. */
  heartbeatSec: z.number().check(z.int(), z.gte(60), z.lte(604800)),
  /** Since when the host has been healthy on its deployed commit; null when it is not healthy now. */
  healthySince: z.nullable(iso),
  git: z.looseObject({
    branch: z.string(),
    /** The commit checked out in the nix-config checkout. */
    checkout: z.nullable(commit),
    remoteTip: z.nullable(commit),
    relation: z.enum(['up-to-date', 'behind', 'ahead', 'diverged', 'no-checkout', 'no-remote-ref']),
    ahead: z.number().check(z.int(), z.gte(0)),
    behind: z.number().check(z.int(), z.gte(0)),
    lastFetch: z.nullable(iso),
  }),
  deployed: z.nullable(
    z.looseObject({
      commit,
      generation: z.nullable(z.number().check(z.int())),
      at: z.string(),
      subject: z.nullable(z.string()),
    }),
  ),
  lock: z.looseObject({
    newestInputAt: z.nullable(iso),
    ageDays: z.nullable(z.number().check(z.int())),
    age: z.enum(['ok', 'stale', 'old', 'unknown']),
    inputs: z.record(z.string(), z.object({ rev: z.nullable(z.string()), lastModified: z.nullable(z.string()) })),
  }),
  system: z.looseObject({
    running: z.nullable(z.string()),
    booted: z.nullable(z.string()),
    bootDefault: z.nullable(z.string()),
    deployed: z.nullable(z.string()),
    runningIsDeployed: z.nullable(z.boolean()),
    rebootNeeded: z.boolean(),
    rebootReasons: z.array(z.string()),
    activationPending: z.boolean(),
  }),
  boot: z.looseObject({
    verdict: z.enum(['ok', 'failed', 'pending', 'none']),
    attempts: z.number().check(z.int(), z.gte(0)),
    failures: z.number().check(z.int(), z.gte(0)),
    degraded: z.boolean(),
    lastRollback: z.nullable(z.looseObject({ at: z.string(), from: z.string(), to: z.string(), reason: z.string() })),
  }),
  golden: z.looseObject({
    storePath: z.nullable(z.string()),
    generation: z.nullable(z.number().check(z.int())),
    commit: z.nullable(commit),
    pinnedAt: z.nullable(iso),
    source: z.nullable(z.enum(['auto', 'manual'])),
  }),
  dotfiles: z.looseObject({
    state: z.enum(['disabled', 'never', 'in-sync', 'conflict', 'offline', 'failed']),
    lastSyncAt: z.nullable(iso),
    lastOkAt: z.nullable(iso),
    result: z.nullable(z.string()),
    parked: z.nullable(z.looseObject({ paths: z.array(z.string()), since: z.string() })),
  }),
  runs: z.record(
    z.string(),
    z.looseObject({ at: iso, ok: z.boolean(), exitCode: z.number().check(z.int()), result: z.string() }),
  ),
  lastUpgrade: z.nullable(
    z.looseObject({
      commit: z.nullable(commit),
      result: z.string(),
      at: iso,
      generation: z.nullable(z.number().check(z.int())),
    }),
  ),
  knownBadCommits: z.array(z.looseObject({ commit, reason: z.string(), at: z.string() })),
  /**
   * The error of this host's previous publish attempt, when it failed (null
   * otherwise). History: the publish that carries it succeeded, so readers
   * show it as a note, not a warning (docs/fleet.md "Notes").
   */
  previousPublishError: z.nullable(z.string()),
  /**
   * When that failed attempt was (the last of the failed ones), and how many
   * attempts in a row failed before this publish; null with
   * previousPublishError null. Added in v1 as optional fields: absent in
   * the documents of publishers before them, ignored by readers before them.
   */
  previousPublishErrorAt: z.optional(z.nullable(iso)),
  previousPublishFailures: z.optional(z.nullable(z.number().check(z.int(), z.gte(0)))),
  /**
   * The reboot announcement (docs/rollout.md "Reboots take turns"); null or
   * absent: the host holds no reboot turn. Added in v1 as an optional field
   * (readers before it ignore it: objects are loose).
   */
  reboot: z.optional(
    z.nullable(
      z.looseObject({
        group: z.string(),
        state: z.enum(['waiting', 'rebooting', 'failed']),
        announcedAt: iso,
        system: z.nullable(z.string()),
      }),
    ),
  ),
});
export type StatusV1 = z.infer<typeof StatusV1>;

/** The states of a host as the fleet view shows them (docs/fleet.md "States"), in display order. */
export const HOST_STATES = [
  'healthy',
  'warning',
  'failed',
  'reverted',
  'degraded',
  'stale',
  'unverified',
  'invalid',
] as const;
export type HostState = (typeof HOST_STATES)[number];

/** Not healthy: these make `fleet status` exit 1. */
export const UNHEALTHY: ReadonlySet<HostState> = new Set([
  'failed',
  'reverted',
  'degraded',
  'stale',
  'unverified',
  'invalid',
]);

/** What the signature check found (docs/fleet.md "Signing"). */
export type SignatureState =
  /** Good signature by the key the allowed-signers file lists for this host. */
  | 'verified'
  /** No allowed-signers file configured, and the commit is not signed. */
  | 'unsigned'
  /** No allowed-signers file configured; the commit is signed but nothing to check it against. */
  | 'not-checked'
  /** Allowed signers configured, and the commit is unsigned, signed by an unknown key, or by another host's key. */
  | 'unverified';

/** One row of `fleet status --json` (docs/fleet.md "fleet status --json"). */
export interface FleetRow {
  host: string;
  state: HostState;
  /** Why the state is what it is, one short phrase each (empty when healthy). */
  reasons: string[];
  /**
   * What is worth knowing but does not change the state, one short phrase
   * each: publishes that failed before this status was published.
   */
  notes: string[];
  signature: { state: SignatureState; signer: string | null; detail: string | null };
  ref: string;
  commit: string;
  publishedAt: string | null;
  ageSec: number | null;
  stale: boolean;
  version: string | null;
  /** A newer gitopsd version runs elsewhere in the fleet. */
  versionBehind: boolean;
  columns: {
    git: string;
    lock: string;
    system: string;
    boot: string;
    golden: string;
    dotfiles: string;
    lastRun: string;
  };
  /** The published document (null when it could not be read or validated). */
  status: StatusV1 | null;
  /**
   * Only on a row that is not trusted (unverified, among them a replay of an
   * older status, or invalid) of a host whose newest trusted status this
   * reader remembers (src/fleet/seen.ts): that status's date and known-bad
   * marks, which the rollout gate still halts on.
   */
  lastTrusted?: { publishedAt: string; knownBadCommits: { commit: string; reason: string }[] };
}

export interface FleetView {
  /** Schema of this JSON (docs/fleet.md). */
  v: 1;
  generatedAt: string;
  remote: string;
  signersConfigured: boolean;
  newestVersion: string | null;
  counts: Record<HostState, number>;
  staleHosts: number;
  /** Age of the newest status in the fleet (seconds), null when there is none. */
  newestAgeSec: number | null;
  hosts: FleetRow[];
  /**
   * Hosts expected but with no status ref at the remote, in the order given:
   * the `--host` names of a read of some hosts, else fleet.expectedHosts
   * (none when that is null). Any makes the view unhealthy (exit 1).
   */
  missingHosts: string[];
}
