/**
 * decideRollout and rolloutLines (src/fleet/rollout/progress.ts): the
 * progress `fleet status` shows, wave by wave, from the same inputs as the
 * gate.
 */
import { describe, it, expect } from 'vitest';
import type { GateRow } from '../../../../src/fleet/rollout/gate.js';
import { parsePolicy, type Policy } from '../../../../src/fleet/rollout/policy.js';
import { decideRollout, rolloutLines } from '../../../../src/fleet/rollout/progress.js';

const C = 'c'.repeat(40);
const OLD = 'a'.repeat(40);
const NOW = new Date('2026-03-01T12:00:00.000Z');
const minsAgo = (m: number): string => new Date(NOW.getTime() - m * 60000).toISOString();

function policyOf(doc: unknown): Policy {
  const p = parsePolicy(JSON.stringify(doc), 'test policy');
  if (!p.ok) throw new Error(p.error);
  return p.policy;
}

/** canary a0-a2; rest: b0-b2 plus every unlisted host, after 2 canaries for 60 min. */
const POLICY = policyOf({
  v: 1,
  waves: [
    { name: 'canary', hosts: ['a0', 'a1', 'a2'] },
    { name: 'rest', hosts: ['b0', 'b1', 'b2'], requireHealthy: 2, soakMinutes: 60 },
  ],
});

function row(
  host: string,
  o: { on?: string; healthyFor?: number; stale?: boolean; state?: string; last?: string } = {},
): GateRow {
  return {
    host,
    state: o.state ?? 'healthy',
    stale: o.stale ?? false,
    status: {
      publishedAt: minsAgo(0),
      healthySince: minsAgo(o.healthyFor ?? 600),
      deployed: { commit: o.on ?? OLD },
      system: { rebootNeeded: false, runningIsDeployed: true },
      boot: { verdict: 'ok' },
      lastUpgrade: o.last === undefined ? null : { commit: C, result: o.last },
      knownBadCommits: [],
    },
  };
}

const base = { commit: C, source: 'gitopsd-rollout.json at cccccccccccc', policy: POLICY, markers: [], now: NOW };

describe('decideRollout', () => {
  it('canaries soaking: wave 1 gated, counted, with the gate line', () => {
    const rows = [
      row('a0', { on: C, healthyFor: 40 }),
      row('a1', { on: C, healthyFor: 45 }),
      row('a2', { stale: true, state: 'stale' }),
      row('b0', { last: 'gated' }),
      row('b1', { last: 'gated' }),
      row('b2'),
      row('x9', { last: 'gated' }),
    ];
    const p = decideRollout({ ...base, rows });
    expect(p.total).toBe(7);
    expect(p.on).toBe(2);
    expect(p.waves.map((w) => [w.name, w.hosts, w.on, w.healthy, w.gated, w.blind, w.gate.kind])).toEqual([
      ['canary', ['a0', 'a1', 'a2'], 2, 2, [], ['a2'], 'pass'],
      ['rest', ['b0', 'b1', 'b2', 'x9'], 0, 0, ['b0', 'b1', 'x9'], [], 'wait'],
    ]);
    expect(rolloutLines(p)).toEqual([
      'rollout of cccccccc (gitopsd-rollout.json at cccccccccccc): 2/7 hosts on it',
      '  wave 0 (canary): 2/3 hosts on cccccccc, 2 healthy, 1 without a fresh status (a2); canary (wave 0): cccccccc deploys at once',
      '  wave 1 (rest): 0/4 hosts on cccccccc, 0 healthy, 3 gated; waiting: 2 of 2 canary hosts healthy on cccccccc for 40 of 60 min; no fresh status from a2 (stale)',
    ]);
  });

  it('a finished wave says done; a failure on the canary halts the next wave', () => {
    const rows = [
      row('a0', { on: C }),
      row('a1', { on: C }),
      row('a2', { on: C, state: 'reverted', last: 'reverted' }),
      row('b0', { last: 'halted' }),
      row('b1'),
      row('b2'),
    ];
    const p = decideRollout({ ...base, rows });
    expect(p.waves[0]?.failed).toEqual(['a2']);
    expect(p.waves[1]?.gate).toMatchObject({ kind: 'halt', why: 'failures' });
    const lines = rolloutLines(p);
    expect(lines[1]).toMatch(/^ {2}wave 0 \(canary\): 3\/3 hosts on cccccccc, 2 healthy, 1 failed \(a2\); halted: /);
    expect(lines[2]).toMatch(
      /^ {2}wave 1 \(rest\): 0\/3 hosts on cccccccc, 0 healthy; halted: cccccccc failed on 1 host/,
    );
  });

  it('every host on the commit: each wave done', () => {
    const rows = ['a0', 'a1', 'a2', 'b0', 'b1', 'b2'].map((h) => row(h, { on: C }));
    const lines = rolloutLines(decideRollout({ ...base, rows }));
    expect(lines).toEqual([
      'rollout of cccccccc (gitopsd-rollout.json at cccccccccccc): 6/6 hosts on it',
      '  wave 0 (canary): 3/3 hosts on cccccccc, 3 healthy; done',
      '  wave 1 (rest): 3/3 hosts on cccccccc, 3 healthy; done',
    ]);
  });
});
