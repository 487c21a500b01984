/**
 * The rollout of one commit across the fleet, wave by wave, for
 * `fleet status` (docs/rollout.md "Progress"): how many hosts of each wave
 * run it, how many are healthy on it, which wait at the gate or failed, and
 * what the wave's gate says now. Pure: the same inputs as `decideGate`
 * (gate.ts), so the progress shown is the decision each host of the wave
 * makes at its next run.
 */
import { decideGate, failuresOf, healthyOn, type GateMarker, type GateRow } from './gate.js';
import { membersOf, type Policy } from './policy.js';

export interface RolloutWave {
  index: number;
  name: string;
  /** Members (listed hosts; the last wave also gets every known host no wave lists). */
  hosts: string[];
  /** Hosts whose published status has C deployed. */
  on: number;
  /** Of those, fresh and healthy on C (what the next wave's gate counts). */
  healthy: number;
  /** Hosts whose last upgrade of C was held at the gate (`gated`). */
  gated: string[];
  /** Hosts where C failed (failuresOf, gate.ts). */
  failed: string[];
  /** Hosts with no fresh, trusted status: stale, missing, unverified or invalid. */
  blind: string[];
  /** The gate of this wave for C, as its hosts decide it now. */
  gate: { kind: 'pass' | 'wait' | 'halt'; why: string; line: string };
}

export interface RolloutProgress {
  commit: string;
  /** Where the policy came from (`gitopsd-rollout.json at <commit>`). */
  source: string;
  /** Hosts in the fleet view, and how many have C deployed. */
  total: number;
  on: number;
  waves: RolloutWave[];
}

const TRUSTED = new Set(['healthy', 'warning', 'failed', 'reverted', 'degraded']);

/** Pure: the rollout of `commit` under `policy`, from the fleet's rows and the verified markers. */
export function decideRollout(i: {
  commit: string;
  source: string;
  policy: Policy;
  rows: readonly GateRow[];
  markers: readonly GateMarker[];
  now: Date;
}): RolloutProgress {
  const known = i.rows.map((r) => r.host);
  const byHost = new Map(i.rows.map((r) => [r.host, r]));
  const failures = new Set(failuresOf(i.rows, i.commit));
  const waves: RolloutWave[] = i.policy.waves.map((w) => {
    const hosts = membersOf(i.policy, w.index, known);
    const rows = hosts.map((h) => ({ h, r: byHost.get(h) }));
    const on = rows.filter(({ r }) => r?.status?.deployed?.commit === i.commit).length;
    const healthy = rows.filter(({ r }) => r !== undefined && healthyOn(r, i.commit)).length;
    const gated = rows
      .filter(
        ({ r }) =>
          r?.status?.lastUpgrade?.commit === i.commit &&
          r.status.lastUpgrade.result === 'gated' &&
          r.status.deployed?.commit !== i.commit,
      )
      .map(({ h }) => h);
    const blind = rows
      .filter(({ r }) => r === undefined || r.stale || r.status === null || !TRUSTED.has(r.state))
      .map(({ h }) => h);
    // Every host of a wave decides the same: the gate depends on the host only through its wave.
    // An empty wave is the last one, which an unlisted name falls in.
    const asker = hosts[0] ?? '';
    const d = decideGate({
      host: asker,
      commit: i.commit,
      policy: i.policy,
      rows: i.rows,
      markers: i.markers,
      now: i.now,
    });
    return {
      index: w.index,
      name: w.name,
      hosts,
      on,
      healthy,
      gated,
      failed: hosts.filter((h) => failures.has(h)),
      blind,
      gate: { kind: d.kind, why: d.why, line: d.line },
    };
  });
  return {
    commit: i.commit,
    source: i.source,
    total: i.rows.length,
    on: i.rows.filter((r) => r.status?.deployed?.commit === i.commit).length,
    waves,
  };
}

/** Pure: the progress as text lines, e.g. "wave 1 (rest): 3/9 hosts on 1a2b3c4d, 3 healthy, 6 gated; waiting: ...". */
export function rolloutLines(p: RolloutProgress): string[] {
  const c = p.commit.slice(0, 8);
  const lines = [`rollout of ${c} (${p.source}): ${p.on}/${p.total} hosts on it`];
  for (const w of p.waves) {
    const parts = [`${w.on}/${w.hosts.length} hosts on ${c}`, `${w.healthy} healthy`];
    if (w.gated.length > 0) parts.push(`${w.gated.length} gated`);
    if (w.failed.length > 0) parts.push(`${w.failed.length} failed (${w.failed.slice(0, 5).join(', ')})`);
    if (w.blind.length > 0) parts.push(`${w.blind.length} without a fresh status (${w.blind.slice(0, 5).join(', ')})`);
    const gate = w.on === w.hosts.length && w.hosts.length > 0 && w.gate.kind === 'pass' ? 'done' : w.gate.line;
    lines.push(`  wave ${w.index} (${w.name}): ${parts.join(', ')}; ${gate}`);
  }
  return lines;
}
