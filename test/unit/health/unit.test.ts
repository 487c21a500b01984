import { describe, it, expect } from 'vitest';
import { decideUnit, parseShow, type UnitProps, type UnitTrack } from '../../../src/health/unit.js';

/** `systemctl show -p Id,LoadState,...` output as systemd prints it: Service properties first, then Unit. */
const SSHD_ACTIVE = `Type=notify
Result=success
NRestarts=0
ExecMainExitTimestampMonotonic=0
ExecMainStatus=0
Id=sshd.service
LoadState=loaded
ActiveState=active
SubState=running
ActiveEnterTimestampMonotonic=8123456
`;
const TYPO_NOT_FOUND = `Type=simple
Result=success
NRestarts=0
ExecMainExitTimestampMonotonic=0
ExecMainStatus=0
Id=sshd.servce.service
LoadState=not-found
ActiveState=inactive
SubState=dead
ActiveEnterTimestampMonotonic=0
`;
const SOCKET = `Id=dbus.socket
LoadState=loaded
ActiveState=active
SubState=running
ActiveEnterTimestampMonotonic=2000000
`;

describe('parseShow', () => {
  it('one block per unit, matched by position (an alias shows its real Id)', () => {
    const m = parseShow(['sshd', 'sshd.servce', 'dbus.socket'], `${SSHD_ACTIVE}\n${TYPO_NOT_FOUND}\n${SOCKET}`);
    expect(m.get('sshd')).toMatchObject({
      id: 'sshd.service',
      loadState: 'loaded',
      activeState: 'active',
      type: 'notify',
      nRestarts: 0,
      activeEnterMonoUs: 8123456,
    });
    expect(m.get('sshd.servce')).toMatchObject({ loadState: 'not-found', activeState: 'inactive' });
    // A .socket has no Service properties: they are absent, not guessed.
    expect(m.get('dbus.socket')).toMatchObject({ type: null, result: null, nRestarts: null });
  });
  it.each<[string, string[], string]>([
    ['fewer blocks than units', ['a', 'b'], SSHD_ACTIVE],
    ['more blocks than units', ['a'], `${SSHD_ACTIVE}\n${SOCKET}`],
    ['empty output', ['a'], ''],
    ['a block without ActiveState', ['a'], 'Id=a.service\nLoadState=loaded\n'],
  ])('%s: every unit unknown (null), never healthy', (_n, units, out) => {
    for (const u of units) expect(parseShow(units, out).get(u)).toBeNull();
  });
  it('keeps "=" inside a value and ignores the order of lines', () => {
    const m = parseShow(['a'], 'ActiveState=active\nId=a=b.service\nLoadState=loaded\n');
    expect(m.get('a')).toMatchObject({ id: 'a=b.service', activeState: 'active' });
  });
});

function props(o: Partial<UnitProps>): UnitProps {
  return {
    id: 'x.service',
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    type: 'simple',
    result: 'success',
    nRestarts: 0,
    activeEnterMonoUs: 5_000_000,
    execMainExitMonoUs: 0,
    execMainStatus: 0,
    ...o,
  };
}
const track = (o: Partial<UnitTrack> = {}): UnitTrack => ({
  nRestarts: 0,
  activeEnterMonoUs: 5_000_000,
  sinceMs: 0,
  ...o,
});

describe('decideUnit', () => {
  it.each<[string, UnitProps | null, UnitTrack | null, number, number, string, RegExp]>([
    ['no answer', null, null, 0, 10_000, 'wait', /^unknown/],
    [
      'LoadState=not-found fails at once',
      props({ loadState: 'not-found', activeState: 'inactive' }),
      null,
      0,
      10_000,
      'failed',
      /^unit not found \(LoadState=not-found\)/,
    ],
    [
      'masked fails at once',
      props({ loadState: 'masked', activeState: 'inactive' }),
      null,
      0,
      10_000,
      'failed',
      /masked/,
    ],
    [
      'bad-setting fails at once',
      props({ loadState: 'bad-setting', activeState: 'inactive' }),
      null,
      0,
      10_000,
      'failed',
      /LoadState=bad-setting/,
    ],
    [
      'failed fails at once',
      props({ activeState: 'failed', result: 'exit-code' }),
      null,
      0,
      10_000,
      'failed',
      /^failed \(Result=exit-code/,
    ],
    [
      'oneshot finished with Result=success (inactive)',
      props({ type: 'oneshot', activeState: 'inactive', subState: 'dead', execMainExitMonoUs: 9_000_000 }),
      null,
      0,
      10_000,
      'healthy',
      /^oneshot finished/,
    ],
    [
      'oneshot with RemainAfterExit (active/exited)',
      props({ type: 'oneshot', activeState: 'active', subState: 'exited' }),
      null,
      0,
      10_000,
      'healthy',
      /^oneshot exited/,
    ],
    [
      'oneshot not run yet (inactive, no exit time)',
      props({ type: 'oneshot', activeState: 'inactive', subState: 'dead' }),
      null,
      0,
      10_000,
      'wait',
      /not run yet/,
    ],
    [
      'oneshot still running',
      props({ type: 'oneshot', activeState: 'activating', subState: 'start' }),
      null,
      0,
      10_000,
      'wait',
      /^oneshot activating/,
    ],
    [
      'oneshot that exited non-zero is failed',
      props({ type: 'oneshot', activeState: 'failed', result: 'exit-code' }),
      null,
      0,
      10_000,
      'failed',
      /Result=exit-code/,
    ],
    [
      'simple service inactive waits (a service is not a oneshot)',
      props({ activeState: 'inactive', subState: 'dead', execMainExitMonoUs: 9_000_000 }),
      null,
      0,
      10_000,
      'wait',
      /^inactive/,
    ],
    [
      'activating waits',
      props({ activeState: 'activating', subState: 'auto-restart', nRestarts: 3 }),
      null,
      0,
      10_000,
      'wait',
      /activating, NRestarts=3/,
    ],
    ['first active sample: settling', props({}), null, 0, 10_000, 'wait', /settling \(0 of 10 s/],
    ['active, unchanged, settle time not over', props({}), track(), 9_999, 10_000, 'wait', /settling \(9 of 10 s/],
    [
      'active, unchanged for the settle time',
      props({}),
      track(),
      10_000,
      10_000,
      'healthy',
      /^active, stable for 10 s/,
    ],
    [
      'NRestarts moved: settling starts again',
      props({ nRestarts: 1 }),
      track(),
      20_000,
      10_000,
      'wait',
      /restarted; settling \(0 of 10 s/,
    ],
    [
      'ActiveEnterTimestamp moved (a restart no poll saw): starts again',
      props({ activeEnterMonoUs: 6_000_000 }),
      track(),
      20_000,
      10_000,
      'wait',
      /restarted; settling/,
    ],
    ['settle 0: the first active sample counts', props({}), null, 0, 0, 'healthy', /^active$/],
    [
      'reloading counts as running',
      props({ activeState: 'reloading' }),
      track(),
      10_000,
      10_000,
      'healthy',
      /^reloading, stable/,
    ],
    [
      'a .socket (no Service properties) settles too',
      props({ type: null, result: null, nRestarts: null }),
      track({ nRestarts: null }),
      10_000,
      10_000,
      'healthy',
      /stable for 10 s/,
    ],
  ])('%s', (_name, p, t, nowMs, settleMs, kind, detail) => {
    const r = decideUnit({ props: p, track: t, nowMs, settleMs });
    expect(r.verdict.kind).toBe(kind);
    expect(r.verdict.detail).toMatch(detail);
  });

  it('remembers when the current stretch of being active began, and forgets it on a change', () => {
    const first = decideUnit({ props: props({}), track: null, nowMs: 1000, settleMs: 10_000 });
    expect(first.track).toEqual({ nRestarts: 0, activeEnterMonoUs: 5_000_000, sinceMs: 1000 });
    const same = decideUnit({ props: props({}), track: first.track, nowMs: 5000, settleMs: 10_000 });
    expect(same.track).toEqual(first.track);
    const silent = decideUnit({ props: null, track: same.track, nowMs: 5500, settleMs: 10_000 });
    expect(silent.track).toEqual(first.track);
    const down = decideUnit({
      props: props({ activeState: 'activating' }),
      track: same.track,
      nowMs: 6000,
      settleMs: 10_000,
    });
    expect(down.track).toBeNull();
  });
});
