/**
 * decideRebootTurn (src/fleet/rollout/reboot-turn.ts): the table of the
 * staggered-reboot decision, from the group's published statuses.
 */
import { describe, it, expect } from 'vitest';
import { decideRebootTurn, type RebootRow } from '../../../../src/fleet/rollout/reboot-turn.js';

const T = (m: number): string => new Date(Date.parse('2026-12-01T03:00:00Z') + m * 60000).toISOString();
const r = (host: string, announced: number | null, o: Partial<RebootRow> = {}): RebootRow => ({
  host,
  stale: false,
  state: 'healthy',
  reboot: { group: 'web', announcedAt: announced === null ? null : T(announced) },
  bootVerdict: 'ok',
  ...o,
});

describe('decideRebootTurn', () => {
  it.each<[string, RebootRow[], number, string]>([
    ['not announced yet: announce first', [r('me', null), r('b', 1)], 1, 'announce'],
    ['alone: go', [r('me', 0)], 1, 'go'],
    ['one ahead, max 1: wait', [r('me', 5), r('b', 1)], 1, 'wait'],
    ['one ahead, max 2: go', [r('me', 5), r('b', 1)], 2, 'go'],
    ['first announced: go', [r('me', 1), r('b', 5)], 1, 'go'],
    ['same minute: the host name breaks the tie (a < me)', [r('me', 1), r('a', 1)], 1, 'wait'],
    ['same minute: the host name breaks the tie (me < z)', [r('me', 1), r('z', 1)], 1, 'go'],
    ['a stale announcer still holds its turn', [r('me', 5), r('b', 1, { stale: true, state: 'stale' })], 1, 'wait'],
    ['another group does not count', [r('me', 5), r('b', 1, { reboot: { group: 'db', announcedAt: T(1) } })], 1, 'go'],
    ['a host back from its reboot gave its turn back', [r('me', 5), r('b', null)], 1, 'go'],
    ['a peer whose boot failed halts the turns', [r('me', 0), r('b', null, { bootVerdict: 'failed' })], 3, 'halt'],
    ['a peer reverted while holding a turn halts', [r('me', 0), r('b', 1, { state: 'reverted' })], 3, 'halt'],
    [
      'a peer failed for another reason, not rebooting: no halt',
      [r('me', 0), r('b', null, { state: 'failed' })],
      1,
      'go',
    ],
  ])('%s', (_name, rows, maxConcurrent, kind) => {
    expect(decideRebootTurn({ host: 'me', group: 'web', maxConcurrent, rows }).kind).toBe(kind);
  });

  it('the lines name the hosts ahead, or the failed ones', () => {
    expect(decideRebootTurn({ host: 'me', group: 'web', maxConcurrent: 1, rows: [r('me', 5), r('b', 1)] }).line).toBe(
      'waiting for a reboot turn in group web: 1 host(s) ahead (b), at most 1 at once',
    );
    expect(
      decideRebootTurn({
        host: 'me',
        group: 'web',
        maxConcurrent: 1,
        rows: [r('me', 5), r('b', null, { bootVerdict: 'failed' })],
      }).line,
    ).toBe('reboot turns of group web halted: b did not come back well from a reboot; fix it first');
  });
});
