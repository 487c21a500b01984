/**
 * The status report: what `gitopsd status --json` prints (docs/status.md) and
 * what `fleet` publishes (docs/fleet.md, as status.json v1). It sits below
 * both readers so that neither imports the other (house style: a shared
 * schema moves down a layer). `src/status` builds it; `src/fleet` turns it
 * into the published document.
 *
 * The JSON is a public contract: fields may be added, never renamed or
 * removed. Times are ISO-8601 strings, store paths absolute, commits full
 * 40-character ids; null means unknown or not applicable.
 */

export type GitRelation = 'up-to-date' | 'behind' | 'ahead' | 'diverged' | 'no-checkout' | 'no-remote-ref';
export type LockAge = 'ok' | 'stale' | 'old' | 'unknown';
export type BootVerdict = 'ok' | 'failed' | 'pending' | 'none';

/** One locked input of flake.lock (`nodes.<name>.locked`, nix's lock file format). */
export interface LockedInput {
  /** The locked revision (`locked.rev`); null for inputs without one (a path, a tarball). */
  rev: string | null;
  /** `locked.lastModified` as ISO time; null when absent. */
  lastModified: string | null;
}

/** The last publish of this host's status to the fleet remote (docs/fleet.md). */
export interface PublishReport {
  enabled: boolean;
  lastAttemptAt: string | null;
  lastOkAt: string | null;
  /** The one-line error of the last attempt, or null when it succeeded. */
  lastError: string | null;
  /** Failed attempts since the last success. */
  failures: number;
  ref: string | null;
}

export interface StatusReport {
  hostname: string;
  version: string;
  generatedAt: string;
  git: {
    path: string;
    remote: string;
    branch: string;
    head: string | null;
    remoteTip: string | null;
    relation: GitRelation;
    ahead: number;
    behind: number;
    lastFetch: string | null;
    deployed: { commit: string; subject: string | null; at: string } | null;
    /**
     * Why the checkout is not at the deployed commit, and what happens next
     * (issue 13, input 8), e.g. after a rollback to the golden; null when it
     * is at the deployed commit or nothing was deployed.
     */
    checkoutNote: string | null;
  };
  lock: {
    newestInputAt: string | null;
    newestInputAgeDays: number | null;
    age: LockAge;
    /** Every locked input of flake.lock by node name (the root node excluded). */
    inputs: Record<string, LockedInput>;
    gitopsd: { running: string; deployed: string | null; differs: boolean | null };
  };
  system: {
    current: string | null;
    booted: string | null;
    profile: string | null;
    deployed: string | null;
    deployedGeneration: number | null;
    runningIsDeployed: boolean | null;
    rebootNeeded: boolean;
    rebootReasons: string[];
    activationPending: boolean;
  };
  boot: {
    bootedSystem: string | null;
    verdict: BootVerdict;
    attempts: number;
    failures: number;
    degraded: boolean;
    lastRollback: { at: string; from: string; to: string; reason: string } | null;
  };
  golden: {
    storePath: string | null;
    generation: number | null;
    pinnedAt: string | null;
    source: 'auto' | 'manual' | null;
    gcRootIntact: boolean;
    gcRoot: string;
    ageSec: number | null;
  };
  dotfiles: {
    enabled: boolean;
    lastSync: { at: string; result: string; exitCode: number; message: string } | null;
    lastOkAt: string | null;
    parked: { bookmark: string; paths: string[]; since: string } | null;
    uncapturable: { target: string; why: string }[];
    unpushed: boolean | null;
  };
  lastUpgrade: {
    commit: string | null;
    result: string;
    at: string;
    generation: number | null;
    durationMs: number;
    /** The rollout gate's line when the run was gated or halted (docs/rollout.md), else null. */
    gate: string | null;
  } | null;
  /** The bad marks (gitopsd bad list shows their evidence). */
  knownBadCommits: {
    commit: string;
    reason: string;
    /** src/failure/classify.ts FailureCause; null for a mark from before issue 13. */
    cause: string | null;
    /** The flakeHost the mark was recorded for; null: every build of the commit. */
    flakeHost: string | null;
    at: string;
    message: string;
  }[];
  /** Failures that were not a commit's fault: nothing marked, retried after notBefore. */
  retrying: { commit: string; stage: string; cause: string; failures: number; notBefore: string; summary: string }[];
  /**
   * The last run of each step. `log`: the journalctl command that shows its
   * log (by systemd invocation ID), or null when it ran outside systemd.
   */
  runs: Record<
    string,
    { at: string; ok: boolean; exitCode: number; result: string; durationMs: number | null; log: string | null }
  >;
  schedule: { cron: string; nextRun: string | null };
  /** The fleet publish of this host (docs/fleet.md); `enabled: false` when fleet.enable is off. */
  publish: PublishReport;
  /**
   * This host's reboot announcement (docs/rollout.md "Reboots take turns"):
   * waiting for a turn, rebooting, or failed; null when it holds no turn.
   */
  rebootTurn: {
    group: string;
    state: 'waiting' | 'rebooting' | 'failed';
    announcedAt: string;
    system: string;
    since: string;
  } | null;
}
