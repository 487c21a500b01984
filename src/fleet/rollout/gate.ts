/**
 * The rollout gate: may this host deploy commit C now? A pure decision from
 * the policy, the fleet's published statuses, the signed promote/halt
 * markers and the time; every host computes it on its own from the same
 * data, so there is no orchestrator (docs/rollout.md "The gate").
 *
 * Rule, in this order:
 * 1. A halt marker for C (signed by an allowed signer): halt.
 * 2. C in any readable status's known-bad list (fresh or stale; a
 *    signature refusal excepted, which is about trust, not the commit), or
 *    in the list of the newest trusted status of that host the reader
 *    remembers, on a row that is not trusted (`lastTrusted`: a replay, a
 *    refused signature, an invalid document): halt. C counts as bad.
 * 3. More failures of C anywhere than the host's wave allows (maxFailures):
 *    halt. C counts as bad.
 * 4. A promote marker for C: pass (it skips waves and soak, never 1-3).
 * 5. Wave 0: pass.
 * 6. Wave N > 0: pass when at least `required` hosts of wave N-1 have a
 *    fresh, trusted status reporting C deployed, healthy and booted well
 *    for at least the soak time, measured from the status's healthySince to
 *    its publishedAt (what the host has attested, not what we hope). Else
 *    wait; when some of wave N-1's hosts are stale, missing or unverified,
 *    the wait says "paused" and names them.
 *
 * Missing or stale data never passes a gate: it only fails to count.
 * A newer commit starts again at wave 0, since every count is of hosts on C.
 */
import { membersOf, requiredCount, waveOf, type Policy, type Wave } from './policy.js';

/** The parts of a published status (status.json v1, src/fleet/schema.ts) the gate reads. */
export interface GateStatus {
  publishedAt: string;
  healthySince: string | null;
  deployed: { commit: string } | null;
  /** runningIsDeployed: the running system is the deployed commit's (null: unknown). */
  system: { rebootNeeded: boolean; runningIsDeployed: boolean | null };
  boot: { verdict: 'ok' | 'failed' | 'pending' | 'none' };
  lastUpgrade: { commit: string | null; result: string } | null;
  knownBadCommits: readonly { commit: string; reason: string }[];
}

/** One host of the fleet view (a FleetRow, src/fleet/schema.ts), as the gate needs it. */
export interface GateRow {
  host: string;
  /** The reader's classification (healthy, warning, failed, reverted, degraded, stale, unverified, invalid). */
  state: string;
  stale: boolean;
  /** The document, or null when it could not be read or validated. */
  status: GateStatus | null;
  /**
   * On a row that is not trusted, the newest trusted status of its host the
   * reader remembers (FleetRow lastTrusted, src/fleet/seen.ts): its
   * known-bad marks halt as the row's own.
   */
  lastTrusted?: { knownBadCommits: readonly { commit: string; reason: string }[] };
}

/** A promote or halt marker whose signature checked out (src/fleet/rollout/markers.ts). */
export interface GateMarker {
  action: 'promote' | 'halt';
  commit: string;
  signer: string;
  at: string;
}

export interface GateInput {
  host: string;
  /** The commit this host would deploy. */
  commit: string;
  policy: Policy;
  rows: readonly GateRow[];
  /** Verified markers (any commit; the gate picks C's). */
  markers: readonly GateMarker[];
  now: Date;
}

export interface GateProgress {
  wave: number;
  previousWave: number | null;
  /** Hosts of wave N-1 (policy listing, plus unlisted known hosts for the last wave). */
  previousSize: number;
  required: number;
  /** Fresh, trusted hosts of wave N-1 healthy on C (soaked or not). */
  healthy: number;
  /** Of those, the ones soaked long enough. */
  soaked: number;
  /** Minutes the `required`-th best host has soaked (0 when not enough are healthy). */
  soakedMinutes: number;
  soakMinutes: number;
  /** Hosts of wave N-1 that cannot count: stale, missing, unverified or invalid. */
  blind: string[];
  failures: string[];
}

export type GateDecision =
  | { kind: 'pass'; why: 'wave-0' | 'promoted' | 'soaked'; line: string; progress: GateProgress }
  | { kind: 'wait'; why: 'soaking' | 'not-enough' | 'paused'; line: string; progress: GateProgress }
  | { kind: 'halt'; why: 'halted' | 'known-bad' | 'failures'; line: string; progress: GateProgress };

/**
 * Upgrade results that are not a failure of the commit they name. A skipped
 * known-bad commit counts through the known-bad lists instead (knownBad).
 */
const NOT_A_FAILURE = new Set(['deployed', 'no-op', 'reboot-pending', 'gated', 'halted', 'refused', 'skipped-bad']);
/** Reader states that mean the host itself is not well. */
const BAD_STATES = new Set(['failed', 'reverted', 'degraded']);
const TRUSTED_STATES = new Set(['healthy', 'warning', 'failed', 'reverted', 'degraded']);

const short = (c: string): string => c.slice(0, 8);

/**
 * Pure: is this row's host healthy on `commit`, running it and booted well?
 * Running it: a host whose deployed commit is C but whose running system is
 * another (a person ran `nixos-rebuild switch --rollback`, an activation was
 * interrupted) is not testing C, so it does not count (review 14); nor does
 * one that cannot tell (null).
 */
export function healthyOn(row: GateRow, commit: string): boolean {
  const s = row.status;
  if (s === null || row.stale || !(row.state === 'healthy' || row.state === 'warning')) return false;
  return (
    s.deployed?.commit === commit &&
    s.healthySince !== null &&
    s.system.runningIsDeployed === true &&
    s.boot.verdict !== 'failed' &&
    s.boot.verdict !== 'pending' &&
    !s.system.rebootNeeded
  );
}

/**
 * Pure: attested minutes healthy on the deployed commit: publishedAt -
 * healthySince (never negative). With `now`, the soak ends at the reader's
 * clock at the latest: a status dated up to 5 minutes ahead (the clock skew
 * a fresh status may have, src/fleet/decide.ts FUTURE_TOLERANCE_SEC) added
 * those minutes to its soak (review 14).
 */
export function soakedMinutes(s: GateStatus, now?: Date): number {
  if (s.healthySince === null) return 0;
  const published = Date.parse(s.publishedAt);
  const end = now === undefined ? published : Math.min(published, now.getTime());
  const ms = end - Date.parse(s.healthySince);
  return Number.isFinite(ms) ? Math.max(0, Math.floor(ms / 60000)) : 0;
}

/** Pure: the hosts whose status shows a failure of `commit` that is not a known-bad mark. */
export function failuresOf(rows: readonly GateRow[], commit: string): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const s = r.status;
    if (s === null) continue;
    const upgradeFailed =
      s.lastUpgrade !== null && s.lastUpgrade.commit === commit && !NOT_A_FAILURE.has(s.lastUpgrade.result);
    const unwellOnIt = s.deployed?.commit === commit && BAD_STATES.has(r.state);
    if (upgradeFailed || unwellOnIt) out.push(r.host);
  }
  return out.sort();
}

function knownBad(rows: readonly GateRow[], commit: string): { host: string; reason: string } | null {
  for (const r of rows) {
    // A replayed, forged or broken status must not hide the marks of the
    // newest trusted one this reader saw (src/fleet/seen.ts): both lists count.
    for (const b of [...(r.status?.knownBadCommits ?? []), ...(r.lastTrusted?.knownBadCommits ?? [])]) {
      if (b.commit === commit && b.reason !== 'signature') return { host: r.host, reason: b.reason };
    }
  }
  return null;
}

function blindReason(r: GateRow | undefined, host: string): string {
  if (r === undefined) return `${host} (no status)`;
  if (r.stale) return `${host} (stale)`;
  return `${host} (${r.state})`;
}

/** Pure: the gate's decision for one host and one commit (see the module comment). */
export function decideGate(i: GateInput): GateDecision {
  const c = short(i.commit);
  const known = i.rows.map((r) => r.host);
  const wave: Wave = waveOf(i.policy, i.host);
  const failures = failuresOf(i.rows, i.commit);
  const progress: GateProgress = {
    wave: wave.index,
    previousWave: wave.index === 0 ? null : wave.index - 1,
    previousSize: 0,
    required: 0,
    healthy: 0,
    soaked: 0,
    soakedMinutes: 0,
    soakMinutes: wave.soakMinutes,
    blind: [],
    failures,
  };
  const mine = i.markers.filter((m) => m.commit === i.commit);
  const halt = mine.find((m) => m.action === 'halt');
  if (halt !== undefined) {
    return {
      kind: 'halt',
      why: 'halted',
      line: `halted: ${c} was halted by ${halt.signer} at ${halt.at} (gitopsd fleet halt); a newer commit starts again at wave 0`,
      progress,
    };
  }
  const bad = knownBad(i.rows, i.commit);
  if (bad !== null) {
    return {
      kind: 'halt',
      why: 'known-bad',
      line: `halted: ${c} is known bad on ${bad.host} (${bad.reason}); it is not deployed anywhere, a newer commit starts again at wave 0`,
      progress,
    };
  }
  if (failures.length > wave.maxFailures) {
    return {
      kind: 'halt',
      why: 'failures',
      line: `halted: ${c} failed on ${failures.length} host(s) (${failures.slice(0, 5).join(', ')}), more than the ${wave.maxFailures} ${wave.name} allows`,
      progress,
    };
  }
  const promote = mine.find((m) => m.action === 'promote');
  if (promote !== undefined) {
    return {
      kind: 'pass',
      why: 'promoted',
      line: `promoted: ${c} was promoted past the gates by ${promote.signer} at ${promote.at}`,
      progress,
    };
  }
  if (wave.index === 0) {
    return { kind: 'pass', why: 'wave-0', line: `${wave.name} (wave 0): ${c} deploys at once`, progress };
  }

  const prevIndex = wave.index - 1;
  const prevName = i.policy.waves[prevIndex]?.name ?? `wave ${prevIndex}`;
  const members = membersOf(i.policy, prevIndex, known);
  const byHost = new Map(i.rows.map((r) => [r.host, r]));
  const required = requiredCount(wave.requireHealthy, members.length);
  const soaks: number[] = [];
  const blind: string[] = [];
  for (const h of members) {
    const r = byHost.get(h);
    if (r === undefined || r.stale || r.status === null || !TRUSTED_STATES.has(r.state)) {
      blind.push(blindReason(r, h));
      continue;
    }
    if (healthyOn(r, i.commit) && r.status !== null) soaks.push(soakedMinutes(r.status, i.now));
  }
  soaks.sort((a, b) => b - a);
  const soaked = soaks.filter((m) => m >= wave.soakMinutes).length;
  const p: GateProgress = {
    ...progress,
    previousSize: members.length,
    required,
    healthy: soaks.length,
    soaked,
    soakedMinutes: required === 0 ? wave.soakMinutes : (soaks[Math.min(required, soaks.length) - 1] ?? 0),
    blind,
  };
  if (required === 0) {
    // requireHealthy 0 (or "0%"): no host of wave N-1 must be healthy, so no
    // soak can be measured either; say so rather than "60 of 60 min" (review 14).
    return {
      kind: 'pass',
      why: 'soaked',
      line: `${wave.name}: requireHealthy is 0, so ${c} does not wait for ${prevName} (soakMinutes does not apply): deploying`,
      progress: p,
    };
  }
  const summary = `${Math.min(soaks.length, Math.max(required, soaked))} of ${required} ${prevName} hosts healthy on ${c} for ${Math.min(p.soakedMinutes, wave.soakMinutes)} of ${wave.soakMinutes} min`;
  if (soaked >= required) {
    return { kind: 'pass', why: 'soaked', line: `${wave.name}: ${summary}: deploying`, progress: p };
  }
  if (blind.length > 0 && soaks.length + blind.length >= required && soaks.length < required) {
    // The missing hosts could make the count: their silence is what holds us.
    return {
      kind: 'wait',
      why: 'paused',
      line: `paused: ${summary}; no fresh status from ${blind.slice(0, 5).join(', ')}${blind.length > 5 ? ', ...' : ''}`,
      progress: p,
    };
  }
  return {
    kind: 'wait',
    why: soaks.length >= required ? 'soaking' : 'not-enough',
    line: `waiting: ${summary}${blind.length > 0 ? `; no fresh status from ${blind.slice(0, 5).join(', ')}` : ''}`,
    progress: p,
  };
}
