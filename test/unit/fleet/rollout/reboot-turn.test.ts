/**
 * decideRebootTurn (src/fleet/rollout/reboot-turn.ts): the table of the
 * staggered-reboot decision, from the group's published statuses.
 */
import { describe, it, expect } from 'vitest';
import { decideRebootTurn, type RebootRow } from '../../../../src/fleet/rollout/reboot-turn.js';
import { announcementAfterBoot, type RebootAnnouncement } from '../../../../src/shared/reboot-turn.js';
import { rebootRowOf } from '../../../../src/cycle/reboot-turn.js';

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
    // With the announcement's state (src/shared/reboot-turn.ts).
    [
      'a host already rebooting holds a turn whatever its announcedAt',
      [
        r('me', 1, { reboot: { group: 'web', announcedAt: T(1), state: 'waiting' } }),
        r('b', 5, { reboot: { group: 'web', announcedAt: T(5), state: 'rebooting' } }),
      ],
      1,
      'wait',
    ],
    [
      'waiting peers ahead by announcedAt, max 2: one rebooting and one waiting ahead: wait',
      [
        r('me', 3, { reboot: { group: 'web', announcedAt: T(3), state: 'waiting' } }),
        r('a', 1, { reboot: { group: 'web', announcedAt: T(1), state: 'waiting' } }),
        r('b', 5, { reboot: { group: 'web', announcedAt: T(5), state: 'rebooting' } }),
      ],
      2,
      'wait',
    ],
    [
      'a peer whose turn failed halts',
      [r('me', 0), r('b', 1, { reboot: { group: 'web', announcedAt: T(1), state: 'failed' } })],
      3,
      'halt',
    ],
    [
      'a peer merely waiting that failed for another reason does not halt (it has not rebooted)',
      [r('me', 0), r('b', 1, { state: 'failed', reboot: { group: 'web', announcedAt: T(1), state: 'waiting' } })],
      2,
      'go',
    ],
    [
      'my own failed turn does not halt me',
      [r('me', 0, { reboot: { group: 'web', announcedAt: T(0), state: 'failed' } })],
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

describe('announcementAfterBoot', () => {
  const a = (state: RebootAnnouncement['state']): RebootAnnouncement => ({
    group: 'web',
    state,
    announcedAt: T(0),
    system: '/nix/store/new',
    since: T(1),
  });
  const now = T(9);
  it.each<[string, RebootAnnouncement | null, { booted: string; ok: boolean }, RebootAnnouncement | null]>([
    ['no announcement: none', null, { booted: '/nix/store/new', ok: true }, null],
    [
      'rebooting, ok on its system: the turn is given back',
      a('rebooting'),
      { booted: '/nix/store/new', ok: true },
      null,
    ],
    [
      'rebooting, failed on its system: failed',
      a('rebooting'),
      { booted: '/nix/store/new', ok: false },
      { ...a('failed'), since: now },
    ],
    [
      'rebooting, back on another system (a rollback): failed',
      a('rebooting'),
      { booted: '/nix/store/old', ok: true },
      { ...a('failed'), since: now },
    ],
    [
      'waiting, rebooted by someone into its system: given back',
      a('waiting'),
      { booted: '/nix/store/new', ok: true },
      null,
    ],
    ['waiting, another boot: still waiting', a('waiting'), { booted: '/nix/store/old', ok: false }, a('waiting')],
    ['failed stays failed on another ok boot', a('failed'), { booted: '/nix/store/old', ok: true }, a('failed')],
    ['failed, then ok on its system: given back', a('failed'), { booted: '/nix/store/new', ok: true }, null],
  ])('%s', (_name, before, v, after) => {
    expect(announcementAfterBoot(before, { ...v, now })).toEqual(after);
  });
});

describe('rebootRowOf', () => {
  const status = {
    boot: { verdict: 'failed' },
    reboot: { group: 'web', state: 'rebooting', announcedAt: T(0), system: '/nix/store/x' },
  } as unknown as NonNullable<Parameters<typeof rebootRowOf>[0]['status']>;
  it('reads the announcement and the boot verdict of a verified row', () => {
    expect(rebootRowOf({ host: 'b', state: 'failed', stale: false, status })).toEqual({
      host: 'b',
      stale: false,
      state: 'failed',
      reboot: { group: 'web', announcedAt: T(0), state: 'rebooting' },
      bootVerdict: 'failed',
    });
  });
  it('an unverified document counts for nothing (a forged status cannot halt a group)', () => {
    expect(rebootRowOf({ host: 'b', state: 'unverified', stale: false, status })).toMatchObject({
      reboot: null,
      bootVerdict: null,
    });
  });
});
