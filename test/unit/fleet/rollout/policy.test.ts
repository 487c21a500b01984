import { describe, it, expect } from 'vitest';
import {
  membersOf,
  parsePolicy,
  requiredCount,
  unknownHostsError,
  waveOf,
} from '../../../../src/fleet/rollout/policy.js';

const SRC = 'gitopsd-rollout.json at 1a2b3c4d';

describe('parsePolicy', () => {
  it('fills the defaults', () => {
    const p = parsePolicy(JSON.stringify({ v: 1, waves: [{ hosts: ['a'] }, { hosts: [] }] }), SRC);
    expect(p).toEqual({
      ok: true,
      policy: {
        v: 1,
        waves: [
          { index: 0, name: 'wave 0', hosts: ['a'], requireHealthy: { count: 0 }, soakMinutes: 0, maxFailures: 0 },
          { index: 1, name: 'wave 1', hosts: [], requireHealthy: { percent: 100 }, soakMinutes: 60, maxFailures: 0 },
        ],
      },
    });
  });

  it.each<[string, string, RegExp]>([
    ['not JSON', '{"v": 1, waves', /is not valid JSON/],
    ['wrong version', '{"v": 2, "waves": [{"hosts": ["a"]}]}', /malformed: v must be 1/],
    ['no waves', '{"v": 1, "waves": []}', /waves must list at least one wave/],
    [
      'unknown key (typo)',
      '{"v": 1, "waves": [{"hosts": ["a"], "soakMinuts": 3}]}',
      /malformed: waves\.0 .*soakMinuts/,
    ],
    ['bad host name', '{"v": 1, "waves": [{"hosts": ["a b"]}]}', /waves\.0\.hosts\.0 must be a host name/],
    [
      'bad percentage',
      '{"v": 1, "waves": [{"hosts": ["a"]}, {"hosts": ["b"], "requireHealthy": "150%"}]}',
      /requireHealthy/,
    ],
    ['negative soak', '{"v": 1, "waves": [{"hosts": ["a"]}, {"hosts": ["b"], "soakMinutes": -1}]}', /soakMinutes/],
    ['host in two waves', '{"v": 1, "waves": [{"hosts": ["a"]}, {"hosts": ["a"]}]}', /"a" is already in wave 0/],
    [
      'empty middle wave',
      '{"v": 1, "waves": [{"hosts": []}, {"hosts": ["b"]}]}',
      /waves\.0\.hosts is empty; only the last wave/,
    ],
    ['a gate on wave 0', '{"v": 1, "waves": [{"hosts": ["a"], "soakMinutes": 5}]}', /wave 0 deploys at once/],
    [
      'count above the previous wave',
      '{"v": 1, "waves": [{"hosts": ["a"]}, {"hosts": ["b"], "requireHealthy": 2}]}',
      /is 2, but wave 0 has only 1 host/,
    ],
    ['an array', '[1]', /malformed/],
  ])('%s: one line naming the problem', (_n, text, re) => {
    const p = parsePolicy(text, SRC);
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.error).toMatch(re);
    expect(p.error.startsWith(SRC)).toBe(true);
    expect(p.error).not.toContain('\n');
  });
});

describe('waves', () => {
  const p = parsePolicy(
    JSON.stringify({ v: 1, waves: [{ hosts: ['a'] }, { hosts: ['b', 'c'], requireHealthy: '50%' }, { hosts: ['d'] }] }),
    SRC,
  );
  if (!p.ok) throw new Error(p.error);
  const policy = p.policy;
  it('an unlisted host is in the last wave', () => {
    expect(waveOf(policy, 'b').index).toBe(1);
    expect(waveOf(policy, 'zz').index).toBe(2);
    expect(membersOf(policy, 2, ['a', 'b', 'zz', 'd'])).toEqual(['d', 'zz']);
    expect(membersOf(policy, 1, ['a', 'zz'])).toEqual(['b', 'c']);
  });
  it.each<[{ count: number } | { percent: number }, number, number]>([
    [{ count: 2 }, 3, 2],
    [{ count: 5 }, 3, 3],
    [{ percent: 50 }, 3, 2],
    [{ percent: 34 }, 3, 2],
    [{ percent: 33 }, 3, 1],
    [{ percent: 100 }, 0, 0],
    [{ percent: 0 }, 9, 0],
  ])('requiredCount(%j, %i) = %i', (t, size, want) => {
    expect(requiredCount(t, size)).toBe(want);
  });
  it('unknown hosts: one line, null when all known', () => {
    expect(unknownHostsError(policy, ['a', 'b', 'c', 'd'], SRC)).toBeNull();
    const e = unknownHostsError(policy, ['a', 'b', 'd'], SRC);
    expect(e).toMatch(/names a host with no published status: "c" \(wave 1\); fix the spelling/);
  });
});
