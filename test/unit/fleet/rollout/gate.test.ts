import { describe, it, expect } from 'vitest';
import {
  decideGate,
  failuresOf,
  soakedMinutes,
  type GateMarker,
  type GateRow,
} from '../../../../src/fleet/rollout/gate.js';
import { parsePolicy, type Policy } from '../../../../src/fleet/rollout/policy.js';

const C = 'c'.repeat(40);
const OLD = 'a'.repeat(40);
const NOW = new Date('2026-03-01T12:00:00.000Z');
const minsAgo = (m: number): string => new Date(NOW.getTime() - m * 60000).toISOString();

function policyOf(doc: unknown): Policy {
  const p = parsePolicy(JSON.stringify(doc), 'test policy');
  if (!p.ok) throw new Error(p.error);
  return p.policy;
}

/** 9 hosts in 3 waves: w0 a0-a2, w1 b0-b2 (needs 3 of wave 0 for 60 min), w2 c0-c2 (needs 50% of wave 1 for 30 min, 1 failure allowed). */
const POLICY = policyOf({
  v: 1,
  waves: [
    { name: 'canary', hosts: ['a0', 'a1', 'a2'] },
    { hosts: ['b0', 'b1', 'b2'], requireHealthy: 3, soakMinutes: 60 },
    { hosts: ['c0', 'c1'], requireHealthy: '50%', soakMinutes: 30, maxFailures: 1 },
  ],
});

interface RowSpec {
  on?: string | null;
  healthyFor?: number | null;
  publishedAgo?: number;
  state?: string;
  stale?: boolean;
  boot?: 'ok' | 'failed' | 'pending' | 'none';
  rebootNeeded?: boolean;
  running?: boolean | null;
  bad?: { commit: string; reason: string }[];
  lastUpgrade?: { commit: string | null; result: string } | null;
  invalid?: boolean;
  /** The known-bad marks of the newest trusted status the reader remembers, on an untrusted row (FleetRow lastTrusted). */
  newerBad?: { commit: string; reason: string }[];
}

function row(host: string, s: RowSpec = {}): GateRow {
  if (s.invalid === true) return { host, state: 'invalid', stale: false, status: null };
  const publishedAgo = s.publishedAgo ?? 0;
  const healthyFor = s.healthyFor === undefined ? 120 : s.healthyFor;
  return {
    host,
    state: s.state ?? 'healthy',
    stale: s.stale ?? false,
    ...(s.newerBad === undefined ? {} : { lastTrusted: { knownBadCommits: s.newerBad } }),
    status: {
      publishedAt: minsAgo(publishedAgo),
      healthySince: healthyFor === null ? null : minsAgo(publishedAgo + healthyFor),
      deployed: s.on === null ? null : { commit: s.on ?? C },
      system: { rebootNeeded: s.rebootNeeded ?? false, runningIsDeployed: s.running === undefined ? true : s.running },
      boot: { verdict: s.boot ?? 'ok' },
      lastUpgrade: s.lastUpgrade === undefined ? null : s.lastUpgrade,
      knownBadCommits: s.bad ?? [],
    },
  };
}

/** The whole fleet on C, healthy for 120 min, unless overridden. */
function fleet(over: Record<string, RowSpec | 'absent'> = {}, base: RowSpec = {}): GateRow[] {
  const hosts = ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'x9'];
  return hosts.flatMap((h) => {
    const o = over[h];
    return o === 'absent' ? [] : [row(h, { ...base, ...(o ?? {}) })];
  });
}
const wave0Only = (spec: RowSpec): Record<string, RowSpec> => ({
  b0: { on: OLD },
  b1: { on: OLD },
  b2: { on: OLD },
  c0: { on: OLD },
  c1: { on: OLD },
  x9: { on: OLD },
  a0: spec,
  a1: spec,
  a2: spec,
});

const marker = (action: 'promote' | 'halt', commit = C): GateMarker => ({
  action,
  commit,
  signer: 'alice',
  at: minsAgo(5),
});

type Row = [
  name: string,
  host: string,
  rows: GateRow[],
  markers: GateMarker[],
  kind: 'pass' | 'wait' | 'halt',
  why: string,
  line: RegExp,
];

describe('decideGate', () => {
  it.each<Row>([
    // wave 0
    [
      'wave 0 deploys at once, nobody on C yet',
      'a0',
      fleet({}, { on: OLD }),
      [],
      'pass',
      'wave-0',
      /wave 0\): cccccccc deploys at once/,
    ],
    ['wave 0 deploys at once with no statuses at all', 'a1', [], [], 'pass', 'wave-0', /deploys at once/],
    [
      'wave 0 host halts when another wave-0 host marked C bad',
      'a1',
      fleet({ a0: { on: OLD, bad: [{ commit: C, reason: 'post-switch-failed' }] } }, { on: OLD }),
      [],
      'halt',
      'known-bad',
      /known bad on a0 \(post-switch-failed\)/,
    ],
    [
      'a stale status still counts for the known-bad list',
      'a1',
      fleet(
        { a0: { on: OLD, stale: true, state: 'stale', bad: [{ commit: C, reason: 'boot-rollback' }] } },
        { on: OLD },
      ),
      [],
      'halt',
      'known-bad',
      /known bad on a0/,
    ],
    [
      'an untrusted row (a replay, healthy on C) does not hide the known-bad mark of the newest trusted status the reader saw',
      'b0',
      fleet({
        a0: { state: 'unverified', newerBad: [{ commit: C, reason: 'post-switch-failed' }] },
        b0: { on: OLD },
      }),
      [],
      'halt',
      'known-bad',
      /known bad on a0 \(post-switch-failed\)/,
    ],
    [
      'a signature refusal is not a known-bad mark of the commit',
      'a1',
      fleet({ a0: { on: OLD, bad: [{ commit: C, reason: 'signature' }] } }, { on: OLD }),
      [],
      'pass',
      'wave-0',
      /deploys at once/,
    ],
    [
      'a known-bad mark of another commit does not matter',
      'a1',
      fleet({ a0: { bad: [{ commit: OLD, reason: 'build-failed' }] } }, { on: OLD }),
      [],
      'pass',
      'wave-0',
      /deploys at once/,
    ],
    [
      'one unmarked failure halts wave 0 (maxFailures 0)',
      'a2',
      fleet({ a0: { on: OLD, lastUpgrade: { commit: C, result: 'failed' } } }, { on: OLD }),
      [],
      'halt',
      'failures',
      /failed on 1 host\(s\) \(a0\), more than the 0 canary allows/,
    ],
    [
      'a host degraded on C is a failure',
      'a2',
      fleet({ a0: { state: 'degraded', on: C } }, { on: OLD }),
      [],
      'halt',
      'failures',
      /a0/,
    ],
    [
      'a gated or halted upgrade result is no failure',
      'a2',
      fleet(
        {
          a0: { on: OLD, lastUpgrade: { commit: C, result: 'gated' } },
          a1: { on: OLD, lastUpgrade: { commit: C, result: 'halted' } },
        },
        { on: OLD },
      ),
      [],
      'pass',
      'wave-0',
      /at once/,
    ],
    // wave 1: soak and counts
    [
      'wave 1 passes when all 3 wave-0 hosts soaked 60 min',
      'b0',
      fleet(wave0Only({ healthyFor: 60 })),
      [],
      'pass',
      'soaked',
      /3 of 3 canary hosts healthy on cccccccc for 60 of 60 min: deploying/,
    ],
    [
      'wave 1 waits while wave 0 soaks',
      'b0',
      fleet(wave0Only({ healthyFor: 40 })),
      [],
      'wait',
      'soaking',
      /^waiting: 3 of 3 canary hosts healthy on cccccccc for 40 of 60 min$/,
    ],
    [
      'the soak is the weakest of the required hosts',
      'b1',
      fleet({ ...wave0Only({ healthyFor: 90 }), a2: { healthyFor: 40 } }),
      [],
      'wait',
      'soaking',
      /for 40 of 60 min/,
    ],
    [
      'soak is measured to publishedAt, not to now',
      'b1',
      fleet(wave0Only({ healthyFor: 30, publishedAgo: 100 })),
      [],
      'wait',
      'soaking',
      /for 30 of 60 min/,
    ],
    [
      'only 2 of wave 0 on C: waiting, not enough',
      'b2',
      fleet({ ...wave0Only({ healthyFor: 90 }), a1: { on: OLD } }),
      [],
      'wait',
      'not-enough',
      /^waiting: 2 of 3 canary hosts healthy/,
    ],
    [
      'wave 0 on the old commit: a newer commit starts again at wave 0',
      'b0',
      fleet({}, { on: OLD }),
      [],
      'wait',
      'not-enough',
      /0 of 3 canary hosts healthy on cccccccc for 0 of 60 min/,
    ],
    [
      'a stale wave-0 host pauses wave 1',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a2: { healthyFor: 90, stale: true, state: 'stale' } }),
      [],
      'wait',
      'paused',
      /^paused: 2 of 3 canary hosts .*no fresh status from a2 \(stale\)/,
    ],
    [
      'a missing wave-0 host pauses wave 1',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a2: 'absent' }),
      [],
      'wait',
      'paused',
      /no fresh status from a2 \(no status\)/,
    ],
    [
      'an unverified wave-0 status does not count',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a1: { healthyFor: 90, state: 'unverified' } }),
      [],
      'wait',
      'paused',
      /a1 \(unverified\)/,
    ],
    [
      'an invalid wave-0 status does not count',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a1: { invalid: true } }),
      [],
      'wait',
      'paused',
      /a1 \(invalid\)/,
    ],
    [
      'a wave-0 host that needs a reboot has not booted well yet',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { healthyFor: 90, rebootNeeded: true, state: 'warning' } }),
      [],
      'wait',
      'not-enough',
      /2 of 3/,
    ],
    [
      'a wave-0 host with a pending boot verdict does not count',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { healthyFor: 90, boot: 'pending' } }),
      [],
      'wait',
      'not-enough',
      /2 of 3/,
    ],
    [
      'a wave-0 host deployed on C but running another system does not count (review 14)',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { healthyFor: 90, running: false } }),
      [],
      'wait',
      'not-enough',
      /2 of 3/,
    ],
    [
      'a wave-0 host that cannot tell what it runs does not count (review 14)',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { healthyFor: 90, running: null } }),
      [],
      'wait',
      'not-enough',
      /2 of 3/,
    ],
    [
      'a warning state (e.g. dotfiles conflict) still counts as healthy',
      'b0',
      fleet(wave0Only({ healthyFor: 90, state: 'warning' })),
      [],
      'pass',
      'soaked',
      /deploying/,
    ],
    [
      'healthySince null (not healthy now) does not count',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { healthyFor: null } }),
      [],
      'wait',
      'not-enough',
      /2 of 3/,
    ],
    [
      'known-bad on a wave-0 host halts wave 1',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { on: OLD, bad: [{ commit: C, reason: 'post-switch-failed' }] } }),
      [],
      'halt',
      'known-bad',
      /known bad on a0/,
    ],
    // wave 2 (last): percentage, unlisted hosts, maxFailures 1
    [
      'last wave: 50% of wave 1 (2 of 3) suffices',
      'c0',
      fleet({
        b0: { healthyFor: 30 },
        b1: { healthyFor: 45 },
        b2: { on: OLD },
        c0: { on: OLD },
        c1: { on: OLD },
        x9: { on: OLD },
      }),
      [],
      'pass',
      'soaked',
      /2 of 2 wave 1 hosts healthy on cccccccc for 30 of 30 min/,
    ],
    [
      'an unlisted host is in the last wave',
      'x9',
      fleet({
        b0: { healthyFor: 10 },
        b1: { healthyFor: 10 },
        b2: { on: OLD },
        c0: { on: OLD },
        c1: { on: OLD },
        x9: { on: OLD },
      }),
      [],
      'wait',
      'soaking',
      /wave 1 hosts healthy on cccccccc for 10 of 30 min/,
    ],
    [
      'a host never listed and never published is in the last wave too',
      'newhost',
      fleet({ b0: { healthyFor: 30 }, b1: { healthyFor: 30 } }),
      [],
      'pass',
      'soaked',
      /deploying/,
    ],
    [
      'last wave tolerates 1 failure',
      'c1',
      fleet({ a0: { on: OLD, lastUpgrade: { commit: C, result: 'failed' } }, b2: { on: OLD }, c1: { on: OLD } }),
      [],
      'pass',
      'soaked',
      /deploying/,
    ],
    [
      'last wave halts at 2 failures',
      'c1',
      fleet({
        a0: { on: OLD, lastUpgrade: { commit: C, result: 'failed' } },
        a1: { state: 'failed' },
        c1: { on: OLD },
      }),
      [],
      'halt',
      'failures',
      /failed on 2 host\(s\) \(a0, a1\), more than the 1 wave 2 allows/,
    ],
    [
      'a stale wave-1 host does not pause wave 2 when enough others count',
      'c0',
      fleet({ b2: { stale: true, state: 'stale' }, c0: { on: OLD } }),
      [],
      'pass',
      'soaked',
      /deploying/,
    ],
    [
      'two stale wave-1 hosts pause wave 2',
      'c0',
      fleet({
        b1: { stale: true, state: 'stale' },
        b2: { stale: true, state: 'stale' },
        b0: { healthyFor: 5 },
        c0: { on: OLD },
      }),
      [],
      'wait',
      'paused',
      /^paused: 1 of 2 .*for 5 of 30 min; no fresh status from b1 \(stale\), b2 \(stale\)/,
    ],
    [
      'one healthy wave-1 host and two stale: paused (their silence holds it)',
      'c0',
      fleet({
        b1: { stale: true, state: 'stale' },
        b2: { stale: true, state: 'stale' },
        b0: { on: OLD },
        c0: { on: OLD },
      }),
      [],
      'wait',
      'paused',
      /^paused: 0 of 2/,
    ],
    // markers
    [
      'promote passes a waiting wave',
      'b0',
      fleet(wave0Only({ healthyFor: 5 })),
      [marker('promote')],
      'pass',
      'promoted',
      /promoted past the gates by alice/,
    ],
    [
      'promote passes a paused wave',
      'c0',
      fleet({}, { on: OLD, stale: true, state: 'stale' }),
      [marker('promote')],
      'pass',
      'promoted',
      /promoted/,
    ],
    [
      'a promote of another commit does nothing',
      'b0',
      fleet(wave0Only({ healthyFor: 5 })),
      [marker('promote', OLD)],
      'wait',
      'soaking',
      /waiting/,
    ],
    [
      'promote does not override a known-bad mark',
      'b0',
      fleet({ ...wave0Only({ healthyFor: 90 }), a0: { on: OLD, bad: [{ commit: C, reason: 'build-failed' }] } }),
      [marker('promote')],
      'halt',
      'known-bad',
      /known bad/,
    ],
    ['halt stops wave 0', 'a0', fleet({}, { on: OLD }), [marker('halt')], 'halt', 'halted', /halted by alice/],
    [
      'halt wins over promote',
      'b0',
      fleet(wave0Only({ healthyFor: 90 })),
      [marker('promote'), marker('halt')],
      'halt',
      'halted',
      /halted by alice/,
    ],
    [
      'a halt of another commit does nothing',
      'a0',
      fleet({}, { on: OLD }),
      [marker('halt', OLD)],
      'pass',
      'wave-0',
      /at once/,
    ],
  ])('%s', (_name, host, rows, markers, kind, why, line) => {
    const d = decideGate({ host, commit: C, policy: POLICY, rows, markers, now: NOW });
    expect({ kind: d.kind, why: d.why }).toEqual({ kind, why });
    expect(d.line).toMatch(line);
    expect(d.line).not.toContain('\n');
  });

  it('counts progress for fleet status', () => {
    const d = decideGate({
      host: 'b0',
      commit: C,
      policy: POLICY,
      rows: fleet({ ...wave0Only({ healthyFor: 50 }), a2: { stale: true, state: 'stale' } }),
      markers: [],
      now: NOW,
    });
    expect(d.progress).toMatchObject({
      wave: 1,
      previousWave: 0,
      previousSize: 3,
      required: 3,
      healthy: 2,
      soaked: 0,
      blind: ['a2 (stale)'],
    });
  });

  it('requireHealthy 0 passes without waiting', () => {
    const p = policyOf({ v: 1, waves: [{ hosts: ['a'] }, { hosts: ['b'], requireHealthy: 0 }] });
    const d = decideGate({ host: 'b', commit: C, policy: p, rows: [], markers: [], now: NOW });
    expect(d.kind).toBe('pass');
    // The line does not claim a soak nobody measured (it said "0 of 0 wave 0 hosts ... for 60 of 60 min").
    expect(d.line).toBe(
      `wave 1: requireHealthy is 0, so ${C.slice(0, 8)} does not wait for wave 0 (soakMinutes does not apply): deploying`,
    );
  });
});

describe('soakedMinutes and failuresOf', () => {
  it('soak is publishedAt - healthySince, floored, never negative', () => {
    const s = row('a', { healthyFor: 59.9 }).status;
    expect(s === null ? -1 : soakedMinutes(s)).toBe(59);
    const future = { ...row('a').status!, healthySince: minsAgo(-10), publishedAt: minsAgo(0) };
    expect(soakedMinutes(future)).toBe(0);
  });
  it('the soak ends at the reader clock at the latest (review 14: a status 4 min ahead attested 4 more)', () => {
    const ahead = { ...row('a').status!, healthySince: minsAgo(57), publishedAt: minsAgo(-4) };
    expect(soakedMinutes(ahead)).toBe(61);
    expect(soakedMinutes(ahead, NOW)).toBe(57);
    const p = policyOf({ v: 1, waves: [{ hosts: ['a'] }, { hosts: ['b'], soakMinutes: 60 }] });
    const rows: GateRow[] = [{ host: 'a', state: 'healthy', stale: false, status: ahead }];
    const d = decideGate({ host: 'b', commit: C, policy: p, rows, markers: [], now: NOW });
    expect([d.kind, d.line]).toEqual([
      'wait',
      `waiting: 1 of 1 wave 0 hosts healthy on ${C.slice(0, 8)} for 57 of 60 min`,
    ]);
  });
  it('failures exclude hosts merely on another commit', () => {
    expect(failuresOf(fleet({ a0: { state: 'failed', on: OLD } }), C)).toEqual([]);
  });
});
