/**
 * A simulated fleet for the rollout gate (B10, and the convergence unit
 * test). What is real: the policy parser and `decideGate`, exactly as every
 * host runs them. What is simulated: everything else. Each host "runs" every
 * `periodMin` simulated minutes, all in the same round, on the statuses
 * published at the end of the previous round (as if every host fetched the
 * status refs at the start of its run); a deploy takes one run; a host
 * publishes its status at the end of every run (heartbeat = period). No git,
 * no nix, no clock but the injected one: a round is a step of the clock.
 */
import { decideGate, type GateMarker, type GateRow, type GateStatus } from '../src/fleet/rollout/gate.js';
import { parsePolicy, waveOf, type Policy } from '../src/fleet/rollout/policy.js';

export const OLD = 'a'.repeat(40);
export const NEW = 'c'.repeat(40);

export interface SimOptions {
  hosts: number;
  /** Hosts listed in waves 0..n-2; the rest fall into the last wave. */
  waveSizes: readonly number[];
  policy: unknown;
  periodMin: number;
  /** Hosts on which NEW fails (its post-switch check): marked bad, reverted. */
  breaksOn?: (host: string, wave: number) => boolean;
  /** Hosts that stop publishing (from round `from` on). */
  silent?: { host: string; from: number }[];
  markers?: GateMarker[];
  /** No gate at all: every host deploys at its first run (the baseline). */
  noGate?: boolean;
  maxRounds: number;
}

export interface SimResult {
  /** Rounds until every host runs NEW (null: never within maxRounds). */
  rounds: number | null;
  minutes: number | null;
  /** Hosts that ran NEW at least once (deployed, even if reverted), by wave. */
  exposedByWave: number[];
  /** Hosts that failed on NEW, by wave. */
  failedByWave: number[];
  /** Per round: hosts on NEW at its end. */
  onNew: number[];
  /** Wall time (ms) of all gate decisions of each round. */
  decideMs: number[];
  /** The last gate line of a host of each wave. */
  lastLines: string[];
}

export const hostName = (i: number): string => `h${String(i).padStart(3, '0')}`;

export function makePolicy(o: Pick<SimOptions, 'waveSizes' | 'policy'>): Policy {
  const p = parsePolicy(JSON.stringify(o.policy), 'bench policy');
  if (!p.ok) throw new Error(p.error);
  return p.policy;
}

interface HostSim {
  name: string;
  wave: number;
  on: string;
  healthySince: string | null;
  bad: { commit: string; reason: string }[];
  lastUpgrade: { commit: string | null; result: string } | null;
  state: string;
  exposed: boolean;
  failed: boolean;
  published: GateStatus | null;
  publishedState: string;
}

export function simulateRollout(o: SimOptions): SimResult {
  const policy = makePolicy(o);
  const t0 = Date.parse('2026-03-02T04:00:00.000Z');
  const hosts: HostSim[] = Array.from({ length: o.hosts }, (_, i) => {
    const name = hostName(i);
    return {
      name,
      wave: waveOf(policy, name).index,
      on: OLD,
      healthySince: new Date(t0 - 86400000).toISOString(),
      bad: [],
      lastUpgrade: null,
      state: 'healthy',
      exposed: false,
      failed: false,
      published: null,
      publishedState: 'healthy',
    };
  });
  const publish = (h: HostSim, now: Date): void => {
    h.published = {
      publishedAt: now.toISOString(),
      healthySince: h.healthySince,
      deployed: { commit: h.on },
      system: { rebootNeeded: false, runningIsDeployed: true },
      boot: { verdict: 'ok' },
      lastUpgrade: h.lastUpgrade,
      knownBadCommits: h.bad,
    };
    h.publishedState = h.state;
  };
  for (const h of hosts) publish(h, new Date(t0 - 60000));
  const waves = policy.waves.length;
  const res: SimResult = {
    rounds: null,
    minutes: null,
    exposedByWave: Array.from({ length: waves }, () => 0),
    failedByWave: Array.from({ length: waves }, () => 0),
    onNew: [],
    decideMs: [],
    lastLines: Array.from({ length: waves }, () => ''),
  };
  const heartbeatMs = o.periodMin * 60000;
  for (let round = 1; round <= o.maxRounds; round++) {
    const now = new Date(t0 + round * o.periodMin * 60000);
    // What every host reads at the start of its run: last round's publishes.
    const rows: GateRow[] = hosts.flatMap((h) =>
      h.published === null
        ? []
        : [
            {
              host: h.name,
              state: now.getTime() - Date.parse(h.published.publishedAt) > 2 * heartbeatMs ? 'stale' : h.publishedState,
              stale: now.getTime() - Date.parse(h.published.publishedAt) > 2 * heartbeatMs,
              status: h.published,
            },
          ],
    );
    let ms = 0;
    for (const h of hosts) {
      if (h.on === NEW || h.bad.some((b) => b.commit === NEW)) continue;
      let pass = o.noGate === true;
      if (!pass) {
        const s = performance.now();
        const d = decideGate({ host: h.name, commit: NEW, policy, rows, markers: o.markers ?? [], now });
        ms += performance.now() - s;
        res.lastLines[h.wave] = d.line;
        pass = d.kind === 'pass';
        h.lastUpgrade = {
          commit: NEW,
          result: d.kind === 'wait' ? 'gated' : d.kind === 'halt' ? 'halted' : 'deployed',
        };
      }
      if (!pass) continue;
      h.exposed = true;
      res.exposedByWave[h.wave] = (res.exposedByWave[h.wave] ?? 0) + 1;
      if (o.breaksOn?.(h.name, h.wave) === true) {
        // The post-switch check fails: previous system back, commit marked bad.
        h.failed = true;
        res.failedByWave[h.wave] = (res.failedByWave[h.wave] ?? 0) + 1;
        h.bad = [...h.bad, { commit: NEW, reason: 'post-switch-failed' }];
        h.lastUpgrade = { commit: NEW, result: 'reverted' };
        h.state = 'reverted';
      } else {
        h.on = NEW;
        h.healthySince = now.toISOString();
        h.lastUpgrade = { commit: NEW, result: 'deployed' };
        h.state = 'healthy';
      }
    }
    res.decideMs.push(ms);
    for (const h of hosts) {
      if (o.silent?.some((x) => x.host === h.name && round >= x.from) === true) continue;
      publish(h, now);
    }
    const n = hosts.filter((h) => h.on === NEW).length;
    res.onNew.push(n);
    if (n === o.hosts) {
      res.rounds = round;
      res.minutes = round * o.periodMin;
      break;
    }
  }
  return res;
}

/** 100 hosts in 4 waves: 5 canaries, 15, 30, and the 50 unlisted ones. */
export const B10_FLEET = {
  hosts: 100,
  waveSizes: [5, 15, 30],
  policy: {
    v: 1,
    waves: [
      { name: 'canary', hosts: Array.from({ length: 5 }, (_, i) => hostName(i)) },
      {
        name: 'early',
        hosts: Array.from({ length: 15 }, (_, i) => hostName(5 + i)),
        requireHealthy: '100%',
        soakMinutes: 60,
      },
      {
        name: 'main',
        hosts: Array.from({ length: 30 }, (_, i) => hostName(20 + i)),
        requireHealthy: '80%',
        soakMinutes: 60,
        maxFailures: 1,
      },
      { name: 'rest', hosts: [], requireHealthy: '50%', soakMinutes: 120, maxFailures: 2 },
    ],
  },
  periodMin: 15,
  maxRounds: 200,
} as const satisfies Omit<SimOptions, 'breaksOn'>;
