/**
 * The fleet's pure decisions: what a host publishes (`toStatusV1`), whether
 * it publishes now (`decidePublish`), and how a reader classifies each host
 * (`classifyStatus`, `decideRow`). No I/O, no clock: `now` and randomness
 * come in as values. docs/fleet.md states the same rules in words.
 */
import { createRequire } from 'node:module';
import type { StatusReport } from '../shared/status-report.js';
import type { PublishRecord } from '../shared/publish-record.js';
import type { FleetRow, HostState, SignatureState, StatusV1 } from './schema.js';

/**
 * Upgrade results that leave a host as it should be. `gated` (waiting for
 * its wave) and `halted` (the rollout of that commit was stopped fleet-wide,
 * docs/rollout.md) build nothing and change nothing: the host still runs
 * what it ran, so neither makes it "failed".
 */
const GOOD_UPGRADE = new Set(['deployed', 'no-op', 'reboot-pending', 'gated', 'halted']);

export interface PublishExtras {
  publishedAt: Date;
  heartbeatSec: number;
  /** The commit the golden system was built from (core/deployments history), when known. */
  goldenCommit: string | null;
  /** The publish attempts that failed since the last success (the publish record), or null. */
  previousPublishFailure: { error: string; at: string | null; failures: number } | null;
}

function dotfilesState(r: StatusReport): StatusV1['dotfiles']['state'] {
  const d = r.dotfiles;
  if (!d.enabled) return 'disabled';
  if (d.parked !== null) return 'conflict';
  if (d.lastSync === null) return 'never';
  if (d.unpushed === true) return 'offline';
  if (d.lastSync.exitCode !== 0) return 'failed';
  return 'in-sync';
}

/** A time as the reader's schema takes it (Date.parse), at most 40 characters; else null. */
const timeOrNull = (s: string | null | undefined): string | null =>
  typeof s === 'string' && s.length <= 40 && !Number.isNaN(Date.parse(s)) ? s : null;

/**
 * Pure: `s` cut to at most `chars` UTF-16 code units, and to at most 3 bytes
 * a unit once JSON-encoded (whole code points: a pair is never split). A
 * name of 200 characters in any script keeps them all (a BMP character is
 * at most 3 bytes of UTF-8); control characters, which JSON writes as 6
 * bytes each (`\u0001`), are cut at half as many. Bounded by characters
 * alone, the dotfiles user's paths of control characters still made the
 * status of a host with a 30-input flake.lock 66,764 bytes, over the
 * readers' 64 KiB, and every publish failed (review 17).
 */
export function clipText(s: string, chars: number): string {
  let units = 0;
  let bytes = 0;
  let out = '';
  for (const ch of s) {
    units += ch.length;
    bytes += Buffer.byteLength(JSON.stringify(ch)) - 2;
    if (units > chars || bytes > 3 * chars) break;
    out += ch;
  }
  return out;
}

const fullCommit = (s: string | null | undefined): string | null =>
  s !== null && s !== undefined && /^[0-9a-f]{40,64}$/.test(s) ? s : null;

/**
 * Pure: the status.json v1 document of a status report (docs/fleet.md).
 * Lists are bounded (20 known-bad commits, 50 parked paths, 50 inputs) so
 * the document stays far below MAX_STATUS_BYTES; `healthySince` is filled in
 * by the caller (it depends on the previous publish record).
 */
export function toStatusV1(r: StatusReport, x: PublishExtras): StatusV1 {
  const cur = r.git.deployed;
  const deployed =
    cur === null || fullCommit(cur.commit) === null
      ? null
      : {
          commit: cur.commit,
          generation: r.system.deployedGeneration,
          at: cur.at,
          subject: cur.subject === null ? null : cur.subject.slice(0, 200),
        };
  return {
    v: 1,
    host: r.hostname,
    gitopsdVersion: r.version,
    publishedAt: x.publishedAt.toISOString(),
    heartbeatSec: x.heartbeatSec,
    healthySince: null,
    git: {
      branch: r.git.branch,
      checkout: fullCommit(r.git.head),
      remoteTip: fullCommit(r.git.remoteTip),
      relation: r.git.relation,
      ahead: r.git.ahead,
      behind: r.git.behind,
      lastFetch: r.git.lastFetch,
    },
    deployed,
    lock: {
      newestInputAt: r.lock.newestInputAt,
      ageDays: r.lock.newestInputAgeDays,
      age: r.lock.age,
      inputs: Object.fromEntries(Object.entries(r.lock.inputs).slice(0, 50)),
    },
    system: {
      running: r.system.current,
      booted: r.system.booted,
      bootDefault: r.system.profile,
      deployed: r.system.deployed,
      runningIsDeployed: r.system.runningIsDeployed,
      rebootNeeded: r.system.rebootNeeded,
      rebootReasons: r.system.rebootReasons,
      activationPending: r.system.activationPending,
    },
    boot: {
      verdict: r.boot.verdict,
      attempts: r.boot.attempts,
      failures: r.boot.failures,
      degraded: r.boot.degraded,
      lastRollback:
        r.boot.lastRollback === null
          ? null
          : {
              at: r.boot.lastRollback.at,
              from: r.boot.lastRollback.from,
              to: r.boot.lastRollback.to,
              reason: r.boot.lastRollback.reason.slice(0, 500),
            },
    },
    golden: {
      storePath: r.golden.storePath,
      generation: r.golden.generation,
      commit: fullCommit(x.goldenCommit),
      pinnedAt: r.golden.pinnedAt,
      source: r.golden.source,
    },
    // From the sync state, which the dotfiles user writes (<stateDir>/sync):
    // bounded, and times that readers take, or null. Unbounded, a 70 kB
    // result made every publish fail (over MAX_STATUS_BYTES), and a time
    // that is no time made the signed status invalid at every reader: an
    // unprivileged user could take the host out of the fleet's count and
    // its reboot turns (review 16).
    dotfiles: {
      state: dotfilesState(r),
      lastSyncAt: timeOrNull(r.dotfiles.lastSync?.at),
      lastOkAt: timeOrNull(r.dotfiles.lastOkAt),
      result: r.dotfiles.lastSync === null ? null : clipText(r.dotfiles.lastSync.result, 200),
      parked:
        r.dotfiles.parked === null
          ? null
          : {
              paths: r.dotfiles.parked.paths.slice(0, 50).map((p) => clipText(p, 200)),
              since: clipText(r.dotfiles.parked.since, 40),
            },
    },
    runs: Object.fromEntries(
      Object.entries(r.runs).map(([k, v]) => [k, { at: v.at, ok: v.ok, exitCode: v.exitCode, result: v.result }]),
    ),
    lastUpgrade:
      r.lastUpgrade === null
        ? null
        : {
            commit: fullCommit(r.lastUpgrade.commit),
            result: r.lastUpgrade.result,
            at: r.lastUpgrade.at,
            generation: r.lastUpgrade.generation,
          },
    knownBadCommits: r.knownBadCommits
      .filter((b) => fullCommit(b.commit) !== null)
      .slice(-20)
      .map((b) => ({ commit: b.commit, reason: b.reason, at: b.at })),
    previousPublishError: x.previousPublishFailure === null ? null : x.previousPublishFailure.error.slice(0, 500),
    previousPublishErrorAt: x.previousPublishFailure?.at ?? null,
    previousPublishFailures: x.previousPublishFailure?.failures ?? null,
    reboot:
      r.rebootTurn === null
        ? null
        : {
            group: r.rebootTurn.group,
            state: r.rebootTurn.state,
            announcedAt: r.rebootTurn.announcedAt,
            system: r.rebootTurn.system,
          },
  };
}

/**
 * Pure: the "result" of a status, as a sha256 key. Two statuses with the
 * same key differ only in volatile fields (when it was published, when runs
 * happened, fetch times, ages, healthySince), so publishing again would tell
 * a reader nothing new: only the heartbeat does then.
 */
export function resultKey(s: StatusV1): string {
  const stable = {
    ...s,
    publishedAt: null,
    healthySince: null,
    // Earlier failed publishes are history (a note to readers), not a
    // result: no push only to drop them. (It was a change of key, so the
    // next run pushed again, and a reader showed a warning until then.)
    previousPublishError: null,
    previousPublishErrorAt: null,
    previousPublishFailures: null,
    git: { ...s.git, lastFetch: null },
    lock: { ...s.lock, ageDays: null },
    dotfiles: { ...s.dotfiles, lastSyncAt: null, lastOkAt: null },
    runs: Object.fromEntries(
      Object.entries(s.runs)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, { ok: v.ok, exitCode: v.exitCode, result: v.result }]),
    ),
  };
  // node:crypto on first use: the reader imports this module too, and needs no hash (docs/benchmarks.md B8).
  const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(JSON.stringify(stable)).digest('hex');
}

/**
 * Runs of commands only a person starts (`gitopsd golden pin`, `gitopsd boot
 * reset`; src/cli/main.ts `step`, no unit of nix/module.nix runs them) whose
 * failure is no sign about the deployed system: a refused pin ("that system
 * was rolled back; pass --force"), a path that is not a system. Counted as
 * failed, one such refusal on a canary made the host `failed`, restarted its
 * soak and halted the rollout of the commit it runs (the gate's
 * `failuresOf`), for a typing error. They are a warning instead; a boot
 * validation (`boot-validate`) and a golden rollback stay failures.
 */
const PERSONS_STEPS: ReadonlySet<string> = new Set(['golden-pin', 'boot-reset']);

/** Pure: classify a status by its content alone (no age, no signature). */
export function classifyStatus(s: StatusV1): { state: HostState; reasons: string[] } {
  const bad: { state: HostState; reason: string }[] = [];
  const warn: string[] = [];
  if (s.boot.degraded) bad.push({ state: 'degraded', reason: 'degraded: the golden system failed validation' });
  const lu = s.lastUpgrade;
  const rb = s.boot.lastRollback;
  if (lu?.result === 'reverted') bad.push({ state: 'reverted', reason: 'the last upgrade was reverted' });
  else if (rb !== null && (lu === null || Date.parse(rb.at) > Date.parse(lu.at)))
    bad.push({ state: 'reverted', reason: `rolled back to the golden system: ${rb.reason}` });
  if (lu !== null && !GOOD_UPGRADE.has(lu.result) && lu.result !== 'reverted')
    bad.push({ state: 'failed', reason: `last upgrade: ${lu.result}` });
  if (s.boot.verdict === 'failed' && !s.boot.degraded)
    bad.push({ state: 'failed', reason: `boot verdict failed (${s.boot.failures} failures)` });
  for (const [step, run] of Object.entries(s.runs)) {
    // A sync's parked conflict or offline remote is a warning (below), and a
    // cycle that ended so only repeats it; the upgrade has its own result.
    if (run.ok || step === 'sync' || step === 'cycle' || step === 'upgrade') continue;
    // A person's own upkeep command (PERSONS_STEPS) that failed or was
    // refused says nothing of the deployed system: a warning.
    if (PERSONS_STEPS.has(step)) warn.push(`${step}: ${run.result} (exit ${run.exitCode})`);
    else bad.push({ state: 'failed', reason: `${step}: ${run.result} (exit ${run.exitCode})` });
  }
  // A halted upgrade exits 3, so the cycle around it ended non-zero: that is the halt, not another failure.
  const cycle = s.runs['cycle'];
  if (
    cycle !== undefined &&
    !cycle.ok &&
    s.dotfiles.state === 'in-sync' &&
    (lu === null || (GOOD_UPGRADE.has(lu.result) && lu.result !== 'halted'))
  )
    bad.push({ state: 'failed', reason: `cycle: ${cycle.result} (exit ${cycle.exitCode})` });
  switch (s.dotfiles.state) {
    case 'conflict':
      warn.push(`dotfiles conflict parked: ${(s.dotfiles.parked?.paths ?? []).join(', ')}`);
      break;
    case 'offline':
      warn.push('dotfiles: local commits wait for the remote');
      break;
    case 'failed':
      warn.push(`dotfiles sync failed: ${s.dotfiles.result ?? '?'}`);
      break;
    case 'disabled':
    case 'never':
    case 'in-sync':
      break;
  }
  if (lu?.result === 'halted')
    warn.push(`the rollout of ${lu.commit === null ? 'the newest commit' : lu.commit.slice(0, 8)} is halted`);
  if (s.system.rebootNeeded) warn.push(`reboot needed (${s.system.rebootReasons.join(', ')})`);
  // The reboot turn (docs/rollout.md "Reboots take turns"); a failed one halts its group.
  const turn = s.reboot ?? null;
  if (turn?.state === 'failed')
    bad.push({ state: 'failed', reason: `its reboot turn failed: the reboots of group ${turn.group} are halted` });
  else if (turn !== null)
    warn.push(`${turn.state === 'rebooting' ? 'rebooting' : 'waiting for a reboot turn'} (group ${turn.group})`);
  if (s.git.relation === 'behind')
    warn.push(`behind ${s.git.remoteTip === null ? 'the remote' : 'main'} by ${s.git.behind}`);
  if (s.git.relation === 'diverged') warn.push('the checkout diverged from the remote');
  if (s.lock.age === 'old') warn.push(`flake.lock ${s.lock.ageDays ?? '?'} days old`);
  // The most severe bad state wins; every reason is kept.
  const order: HostState[] = ['degraded', 'reverted', 'failed'];
  for (const st of order) {
    if (bad.some((b) => b.state === st)) return { state: st, reasons: [...bad.map((b) => b.reason), ...warn] };
  }
  return warn.length > 0 ? { state: 'warning', reasons: warn } : { state: 'healthy', reasons: [] };
}

/**
 * Pure: what a reader notes about a status without it changing the row's
 * state. Publishes that failed before this one: the status exists, so the
 * publish that carries them succeeded and the host publishes again; while
 * it cannot, its row goes stale (2 x heartbeat), which is the warning that
 * matters. Before, they made the row a warning until the host's next
 * publish (about an hour with the NixOS timer, a day with a daily cycle
 * alone) after it had healed. No Intl here (the reader's hot path,
 * docs/benchmarks.md B8).
 */
export function statusNotes(s: StatusV1): string[] {
  if (s.previousPublishError === null) return [];
  const n = s.previousPublishFailures ?? null;
  const at = s.previousPublishErrorAt ?? null;
  const failed = n === null || n <= 1 ? 'a failed publish attempt' : `${n} failed publish attempts`;
  const last = at === null ? '' : ` (${n !== null && n > 1 ? 'the last ' : ''}at ${at})`;
  return [`published after ${failed}${last}: ${s.previousPublishError}`];
}

/**
 * Pure: `healthySince` for the next record: kept while the host stays
 * healthy on the same deployed commit, set to `now` when it becomes healthy
 * (or healthy on a new commit), null while it is not healthy.
 *
 * "On the deployed commit" means running it: the running system is the
 * deployed one, no reboot is still needed to boot it, and its boot verdict is
 * neither failed nor pending, the same conditions the rollout gate asks of a
 * soaking host (src/fleet/rollout/gate.ts healthyOn). The rollout's soak is
 * publishedAt - healthySince: before review 14, a canary that set a new
 * kernel as its boot default at 04:00 and rebooted into it at 05:30 attested
 * 90 minutes of soak a minute after its reboot, and the next wave deployed a
 * commit that had run for one minute.
 */
export function nextHealthySince(
  prev: Pick<PublishRecord, 'healthySince' | 'healthyCommit'>,
  s: StatusV1,
  now: Date,
): { healthySince: string | null; healthyCommit: string | null } {
  const state = classifyStatus(s).state;
  if (state !== 'healthy' && state !== 'warning') return { healthySince: null, healthyCommit: null };
  const running =
    s.deployed === null ||
    (s.system.runningIsDeployed === true &&
      !s.system.rebootNeeded &&
      s.boot.verdict !== 'failed' &&
      s.boot.verdict !== 'pending');
  if (!running) return { healthySince: null, healthyCommit: null };
  const commit = s.deployed?.commit ?? null;
  if (prev.healthySince !== null && prev.healthyCommit === commit)
    return { healthySince: prev.healthySince, healthyCommit: commit };
  return { healthySince: now.toISOString(), healthyCommit: commit };
}

/**
 * How far ahead of the reader's clock a status may be dated (seconds) and
 * still have a known age: ordinary clock skew between hosts with NTP. A
 * status dated further ahead is stale (decideRow).
 */
export const FUTURE_TOLERANCE_SEC = 300;

export type PublishDecision =
  | { publish: true; why: 'first' | 'changed' | 'heartbeat' | 'retry' | 'forced' | 'moved' | 'clock' }
  | { publish: false; why: 'unchanged'; nextHeartbeatAt: string };

/**
 * Pure: publish now? Yes on the first publish, a forced one, a change of
 * result (`key`), a change of remote or ref, after a failed attempt (retried
 * at the next run), when the heartbeat is due, or when the last status was
 * dated more than FUTURE_TOLERANCE_SEC ahead of `now` (`clock`: this host's
 * clock was ahead and has been set back; readers count that status as stale,
 * and its heartbeat, planned by the wrong clock, would come late by as much).
 */
export function decidePublish(i: {
  record: PublishRecord;
  key: string;
  remote: string;
  ref: string;
  now: Date;
  force: boolean;
}): PublishDecision {
  const { record: r } = i;
  if (i.force) return { publish: true, why: 'forced' };
  if (r.lastOk === null) return { publish: true, why: 'first' };
  if (r.lastError !== null) return { publish: true, why: 'retry' };
  if (r.lastOk.remote !== i.remote || r.lastOk.ref !== i.ref) return { publish: true, why: 'moved' };
  if (r.lastOk.key !== i.key) return { publish: true, why: 'changed' };
  if (Date.parse(r.lastOk.at) - i.now.getTime() > FUTURE_TOLERANCE_SEC * 1000) return { publish: true, why: 'clock' };
  const due = r.nextHeartbeatAt === null ? 0 : Date.parse(r.nextHeartbeatAt);
  if (!(i.now.getTime() < due)) return { publish: true, why: 'heartbeat' };
  return { publish: false, why: 'unchanged', nextHeartbeatAt: r.nextHeartbeatAt ?? i.now.toISOString() };
}

/**
 * Pure: the `publishedAt` of a status published at `now`: `now`, or 1 ms
 * after the host's previous status (`previous`, the publish record's
 * lastOk.at) when that one is dated after `now` but within
 * FUTURE_TOLERANCE_SEC of it. Readers remember the newest trusted status of
 * each host and take an older one for a replay (src/fleet/seen.ts): after
 * this host's clock ran up to 5 minutes ahead and was set back, a status
 * dated by the clock was older than the one before it, and stayed
 * `unverified` at every reader that had seen that one until the next
 * publish, up to a heartbeat later (49 minutes in review 17's run). A
 * previous status further ahead is left behind (the readers raised no mark
 * for it; decidePublish's 'clock').
 */
export function nextPublishedAt(previous: string | null | undefined, now: Date): Date {
  const p = previous === null || previous === undefined ? Number.NaN : Date.parse(previous);
  const t = now.getTime();
  return Number.isFinite(p) && p >= t && p + 1 <= t + FUTURE_TOLERANCE_SEC * 1000 ? new Date(p + 1) : now;
}

/**
 * Pure: the next heartbeat, jittered into [0.8, 1.0] x heartbeatSec after
 * `now` (`random` in [0, 1)), so a fleet started together spreads its
 * pushes, and a row is never stale (2 x heartbeat) while its host runs.
 */
export function nextHeartbeat(now: Date, heartbeatSec: number, random: number): string {
  const r = Math.min(Math.max(random, 0), 1);
  return new Date(now.getTime() + heartbeatSec * 1000 * (1 - 0.2 * r)).toISOString();
}

// ---------------------------------------------------------------- reading

export interface RowInput {
  host: string;
  ref: string;
  commit: string;
  /** A problem that makes the row invalid (bad ref name, malformed document, ...). */
  problem: string | null;
  status: StatusV1 | null;
  signature: { state: SignatureState; signer: string | null; detail: string | null };
  now: Date;
  newestVersion: string | null;
  /** semver comparison, injected (the reader uses the semver package). */
  versionLess: (a: string, b: string) => boolean;
}

function ago(iso: string | null, now: Date): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** A configured period (seconds, an integer) exactly: "6h", "30m", "90s" (it was rounded to hours: 1,800 s read "1h", 600 s "0h"). */
function periodText(sec: number): string {
  if (sec % 3600 === 0) return `${sec / 3600}h`;
  if (sec % 60 === 0) return `${sec / 60}m`;
  return `${sec}s`;
}

const short = (c: string | null | undefined): string => (c === null || c === undefined ? '-' : c.slice(0, 8));

/** Pure: the compartment texts of a status (the table's columns). */
export function columnsOf(s: StatusV1, now: Date): FleetRow['columns'] {
  const g = s.git;
  const git =
    g.relation === 'up-to-date'
      ? `on ${g.branch}`
      : g.relation === 'behind'
        ? `behind ${g.behind}`
        : g.relation === 'ahead'
          ? `ahead ${g.ahead}`
          : g.relation === 'diverged'
            ? `diverged +${g.ahead}/-${g.behind}`
            : g.relation === 'no-checkout'
              ? 'no checkout'
              : 'never fetched';
  const lock = s.lock.ageDays === null ? '-' : `${s.lock.ageDays}d ${s.lock.age}`;
  const sys = s.system;
  const system = [
    sys.runningIsDeployed === null
      ? 'unknown'
      : sys.runningIsDeployed
        ? `deployed${s.deployed?.generation == null ? '' : ` gen ${s.deployed.generation}`}`
        : 'not deployed',
    ...(sys.rebootNeeded ? ['reboot needed'] : []),
  ].join(', ');
  const b = s.boot;
  const boot = b.degraded ? 'DEGRADED' : `${b.verdict}${b.failures > 0 ? `, ${b.failures} failed` : ''}`;
  const golden = s.golden.storePath === null ? 'none' : `${short(s.golden.commit)} ${ago(s.golden.pinnedAt, now)}`;
  const d = s.dotfiles;
  const dotfiles = d.state === 'conflict' ? `conflict (${(d.parked?.paths ?? []).length})` : d.state;
  let lastRun = 'never';
  let lastAt = -Infinity;
  for (const [step, run] of Object.entries(s.runs)) {
    const t = Date.parse(run.at);
    if (t > lastAt) {
      lastAt = t;
      lastRun = `${step} ${run.result} ${ago(run.at, now)} ago`;
    }
  }
  return { git, lock, system, boot, golden, dotfiles, lastRun };
}

const EMPTY_COLUMNS: FleetRow['columns'] = {
  git: '-',
  lock: '-',
  system: '-',
  boot: '-',
  golden: '-',
  dotfiles: '-',
  lastRun: '-',
};

/**
 * Pure: one row of the fleet view. Order of precedence: invalid, unverified
 * (only where allowed signers are configured), stale (older than twice the
 * host's own heartbeat, or dated more than FUTURE_TOLERANCE_SEC ahead of the
 * reader's clock), then the status's own state. A stale or unverified row
 * is never healthy, whatever its document says.
 */
export function decideRow(i: RowInput): FleetRow {
  const base = {
    host: i.host,
    ref: i.ref,
    commit: i.commit,
    signature: i.signature,
  };
  if (i.problem !== null || i.status === null) {
    return {
      ...base,
      state: 'invalid',
      reasons: [i.problem ?? 'no status document'],
      notes: [],
      publishedAt: null,
      ageSec: null,
      stale: false,
      version: null,
      versionBehind: false,
      columns: EMPTY_COLUMNS,
      status: null,
    };
  }
  const s = i.status;
  const ageSec = Math.round((i.now.getTime() - Date.parse(s.publishedAt)) / 1000);
  // Dated ahead of the reader's clock by more than the tolerance: the host's
  // clock is wrong, so the status's age cannot be known, and a host that
  // went silent would look fresh until real time caught up with its date
  // (and its attested soak, publishedAt − healthySince, would grow with the
  // skew). It counts as stale: never healthy, and no wave counts it.
  const future = ageSec < -FUTURE_TOLERANCE_SEC;
  const stale = future || ageSec > 2 * s.heartbeatSec;
  const own = classifyStatus(s);
  const versionBehind = i.newestVersion !== null && i.versionLess(s.gitopsdVersion, i.newestVersion);
  const reasons: string[] = [];
  let state: HostState = own.state;
  if (i.signature.state === 'unverified') {
    state = 'unverified';
    reasons.push(`signature: ${i.signature.detail ?? 'not verified'}`);
  }
  if (stale) {
    if (state !== 'unverified') state = 'stale';
    reasons.push(
      future
        ? `stale: published ${ago(i.now.toISOString(), new Date(Date.parse(s.publishedAt)))} in the future, so its age cannot be known; fix the host's clock (NTP)`
        : `stale: last published ${ago(s.publishedAt, i.now)} ago (heartbeat ${periodText(s.heartbeatSec)})`,
    );
  }
  reasons.push(...own.reasons);
  if (versionBehind) {
    reasons.push(`gitopsd ${s.gitopsdVersion} is behind the fleet's newest ${i.newestVersion ?? ''}`);
    if (state === 'healthy') state = 'warning';
  }
  return {
    ...base,
    state,
    reasons,
    notes: statusNotes(s),
    publishedAt: s.publishedAt,
    ageSec,
    stale,
    version: s.gitopsdVersion,
    versionBehind,
    columns: columnsOf(s, i.now),
    status: s,
  };
}
