import { describe, it, expect } from 'vitest';
import {
  decidePreflight,
  decideTarget,
  dirtyFilesMatter,
  inRebootWindow,
  planActivation,
  initInterfaceChanged,
  restoreSteps,
  rebootNeeded,
  lockCommitSubject,
  type TargetObservation,
  type TargetPolicy,
  type PreflightObservation,
} from '../../../src/upgrade/decide.js';
import { BadCommit } from '../../../src/core/deployments.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

const bad = (reason: BadCommit['reason']): BadCommit =>
  BadCommit.parse({
    commit: B,
    reason,
    at: '2026-01-01T04:00:00.000Z',
    message: 'x',
    storePath: null,
    logTail: '',
  });

/** Deployed A, running A, remote tip B one commit ahead, clean checkout at A. */
const base: TargetObservation = {
  tip: B,
  head: A,
  deployed: A,
  systemIsDeployed: true,
  rebootPending: false,
  badTip: null,
  tipDescendsFromDeployed: true,
  headContainsTip: false,
  localCommits: [],
  dirtyFiles: [],
  signature: { kind: 'not-required' },
};
const policy: TargetPolicy = { host: 'hosta', allowForcePush: false, commitLocalChanges: false, updateInputs: false };

describe('decideTarget', () => {
  it.each<[string, Partial<TargetObservation>, Partial<TargetPolicy>, string, Record<string, unknown>]>([
    ['a new commit is deployed', {}, {}, 'deploy', { reason: 'new-commit', rebase: false, commitDirty: false }],
    [
      'tip == deployed and the system is deployed: no-op',
      { tip: A, headContainsTip: true },
      {},
      'no-op',
      { push: false, commit: A },
    ],
    [
      'tip == deployed but the system drifted: redeploy',
      { tip: A, headContainsTip: true, systemIsDeployed: false },
      {},
      'deploy',
      { reason: 'drift' },
    ],
    [
      'first deployment',
      { deployed: null, tipDescendsFromDeployed: null, systemIsDeployed: false },
      {},
      'deploy',
      { reason: 'first-deployment' },
    ],
    ['a known-bad tip (build) is skipped', { badTip: bad('build-failed') }, {}, 'skip-bad', { commit: B }],
    ['a known-bad tip (boot rollback) is skipped', { badTip: bad('boot-rollback') }, {}, 'skip-bad', {}],
    [
      'a known-bad tip is skipped even when it is the deployed one and the system was rolled back',
      { tip: A, headContainsTip: true, systemIsDeployed: false, badTip: { ...bad('boot-rollback'), commit: A } },
      {},
      'skip-bad',
      { commit: A },
    ],
    [
      'a signature refusal is not sticky: re-verified, now good',
      { badTip: bad('signature'), signature: { kind: 'good', signer: 'alice' } },
      {},
      'deploy',
      {},
    ],
    ['force-push refused', { tipDescendsFromDeployed: false }, {}, 'refuse', { check: 'force-push' }],
    [
      'force-push allowed',
      { tipDescendsFromDeployed: false },
      { allowForcePush: true },
      'deploy',
      { reason: 'new-commit' },
    ],
    ['unsigned refused', { signature: { kind: 'unsigned' } }, {}, 'refuse', { check: 'signature' }],
    [
      'untrusted refused',
      { signature: { kind: 'untrusted', detail: 'No principal matched' } },
      {},
      'refuse',
      { check: 'signature' },
    ],
    [
      'force-push is checked before the signature',
      { tipDescendsFromDeployed: false, signature: { kind: 'unsigned' } },
      {},
      'refuse',
      { check: 'force-push' },
    ],
    [
      'dirty without commitLocalChanges: refused, files listed',
      { dirtyFiles: ['hosts.json', 'new.nix'] },
      {},
      'refuse',
      { check: 'local-changes', files: ['hosts.json', 'new.nix'] },
    ],
    [
      'dirty with commitLocalChanges: commit and rebase',
      { dirtyFiles: ['hosts.json'] },
      { commitLocalChanges: true },
      'deploy',
      { commitDirty: true, rebase: true, reason: 'local-changes' },
    ],
    [
      'an unpushed local commit without commitLocalChanges: refused',
      { localCommits: [{ sha: C, subject: 'tweak' }] },
      {},
      'refuse',
      { check: 'local-changes' },
    ],
    [
      "the producer's own flake.lock commit is rebased without commitLocalChanges",
      { localCommits: [{ sha: C, subject: lockCommitSubject('hosta') }] },
      { updateInputs: true },
      'deploy',
      { rebase: true, commitDirty: false },
    ],
    [
      "another host's flake.lock commit subject is not ours",
      { localCommits: [{ sha: C, subject: lockCommitSubject('hostb') }] },
      { updateInputs: true },
      'refuse',
      { check: 'local-changes' },
    ],
    [
      'deployed local commit not pushed yet, remote unchanged: no-op with push',
      { tip: A, head: C, deployed: C, headContainsTip: true, localCommits: [{ sha: C, subject: 'x' }] },
      { commitLocalChanges: true },
      'no-op',
      { push: true, commit: C },
    ],
    [
      'deployed local commit, remote moved: rebase and deploy',
      { tip: B, head: C, deployed: C, headContainsTip: false, localCommits: [{ sha: C, subject: 'x' }] },
      { commitLocalChanges: true },
      'deploy',
      { rebase: true },
    ],
    [
      'a producer with nothing new in git still updates its inputs',
      { tip: A, headContainsTip: true },
      { updateInputs: true },
      'deploy',
      { reason: 'update-inputs', rebase: false },
    ],
    [
      'no-op reports a pending reboot',
      { tip: A, headContainsTip: true, rebootPending: true },
      {},
      'no-op',
      { rebootPending: true },
    ],
  ])('%s', (_name, obs, pol, kind, fields) => {
    const d = decideTarget({ ...base, ...obs }, { ...policy, ...pol });
    expect(d.kind).toBe(kind);
    expect(d).toMatchObject(fields);
  });

  it('a refusal message says what to do next', () => {
    const d = decideTarget({ ...base, tipDescendsFromDeployed: false }, policy);
    expect(d.kind === 'refuse' && d.message).toMatch(/allowForcePush/);
  });
});

describe('dirtyFilesMatter', () => {
  /** Nothing new: tip = HEAD = deployed = A, the system is the deployed one. */
  const idle: TargetObservation = { ...base, tip: A, head: A, headContainsTip: true };
  it.each<[string, Partial<TargetObservation>, Partial<TargetPolicy>, boolean]>([
    ['nothing new, nothing to build: not looked for', {}, {}, false],
    ['a new tip', { tip: B, headContainsTip: false }, {}, true],
    ['local commits (HEAD ahead of the tip)', { head: C }, {}, true],
    ['the system drifted (a redeploy builds the checkout)', { systemIsDeployed: false }, {}, true],
    ['a reboot is pending', { rebootPending: true }, {}, true],
    ['the tip has a bad mark', { badTip: bad('build-failed') }, {}, true],
    ['before the first deployment', { deployed: null }, {}, true],
    ['commitLocalChanges: dirty files are a change to deploy', {}, { commitLocalChanges: true }, true],
    ['updateInputs: the producer runs nix flake update', {}, { updateInputs: true }, true],
  ])('%s', (_name, o, p, expected) => {
    const obs = { ...idle, ...o };
    const pol = { ...policy, ...p };
    expect(dirtyFilesMatter(obs, pol)).toBe(expected);
    if (!expected) {
      // Where they are not looked for, they could only have turned the no-op
      // into a refusal: never into a build, a checkout move or an activation.
      expect(decideTarget(obs, pol).kind).toBe('no-op');
      expect(decideTarget({ ...obs, dirtyFiles: ['hosts.json'] }, pol).kind).toBe('refuse');
    }
  });
});

describe('decidePreflight', () => {
  const ok: PreflightObservation = {
    disks: [
      { path: '/', freePercent: 50 },
      { path: '/nix', freePercent: 40 },
    ],
    systemState: 'running',
    uptimeSec: 1000,
  };
  const pol = { minFreeDiskPercent: 10, allowDegraded: false, minUptimeSec: 600 };
  it.each<[string, Partial<PreflightObservation>, Partial<typeof pol>, string[], RegExp | null]>([
    ['all good', {}, {}, [], null],
    ['system state not asked yet (nothing to deploy is known): no verdict on it', { systemState: null }, {}, [], null],
    [
      'system state not asked, the disk full: the disk alone',
      { systemState: null, disks: [{ path: '/', freePercent: 1 }] },
      {},
      ['disk'],
      /free space on \/ is 1%/,
    ],
    [
      'a full /nix, with the shortfall',
      { disks: [{ path: '/nix', freePercent: 4.25 }] },
      {},
      ['disk'],
      /\/nix is 4\.3%.*10%.*short by 5\.8 points/,
    ],
    ['exactly at the threshold passes', { disks: [{ path: '/', freePercent: 10 }] }, {}, [], null],
    ['degraded refused', { systemState: 'degraded' }, {}, ['system-state'], /"degraded"/],
    ['degraded allowed', { systemState: 'degraded' }, { allowDegraded: true }, [], null],
    ['starting is never allowed', { systemState: 'starting' }, { allowDegraded: true }, ['system-state'], /starting/],
    ['uptime too short, with the wait', { uptimeSec: 100 }, {}, ['uptime'], /100 s.*600 s.*500 s to go/],
    [
      'every failure is reported',
      { disks: [{ path: '/', freePercent: 1 }], systemState: 'maintenance', uptimeSec: 1 },
      {},
      ['disk', 'system-state', 'uptime'],
      null,
    ],
  ])('%s', (_n, obs, p, checks, msg) => {
    const v = decidePreflight({ ...ok, ...obs }, { ...pol, ...p });
    if (checks.length === 0) {
      expect(v.ok).toBe(true);
      return;
    }
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.failures.map((f) => f.check)).toEqual(checks);
    if (msg) expect(v.failures[0]?.message).toMatch(msg);
  });
});

describe('rebootNeeded', () => {
  const k = { kernel: '/nix/store/k1', initrd: '/nix/store/i1', kernelModules: '/nix/store/m1' };
  it.each<[string, Partial<typeof k>, boolean, string[]]>([
    ['identical', {}, false, []],
    ['kernel changed', { kernel: '/nix/store/k2' }, true, ['kernel']],
    ['initrd only (comin would miss this)', { initrd: '/nix/store/i2' }, true, ['initrd']],
    ['modules only', { kernelModules: '/nix/store/m2' }, true, ['kernelModules']],
  ])('%s', (_n, next, needed, changed) => {
    expect(rebootNeeded(k, { ...k, ...next })).toEqual({ needed, changed });
  });
});

describe('inRebootWindow', () => {
  const m = (hhmm: string): number => {
    const [h, mi] = hhmm.split(':').map(Number);
    return (h ?? 0) * 60 + (mi ?? 0);
  };
  it.each<[string, string, string, boolean]>([
    ['01:00', '05:00', '00:59', false],
    ['01:00', '05:00', '01:00', true],
    ['01:00', '05:00', '04:59', true],
    ['01:00', '05:00', '05:00', false],
    ['01:00', '05:00', '13:00', false],
    // across midnight
    ['23:00', '02:00', '22:59', false],
    ['23:00', '02:00', '23:00', true],
    ['23:00', '02:00', '23:59', true],
    ['23:00', '02:00', '00:00', true],
    ['23:00', '02:00', '01:59', true],
    ['23:00', '02:00', '02:00', false],
    ['23:00', '02:00', '12:00', false],
    // lower == upper: the whole day
    ['04:00', '04:00', '16:00', true],
  ])('window %s-%s at %s → %s', (lower, upper, at, inside) => {
    expect(inRebootWindow(m(at), { lower, upper })).toBe(inside);
  });
  it('no window: any time', () => {
    expect(inRebootWindow(m('12:34'), null)).toBe(true);
  });
});

describe('planActivation', () => {
  it.each<[string, Parameters<typeof planActivation>[0], ReturnType<typeof planActivation>]>([
    [
      'switch, no reboot needed',
      { operation: 'switch', rebootNeeded: false, rebootAllowed: true, inWindow: false },
      { kind: 'switch', rebootNeeded: false },
    ],
    [
      'kernel changed, reboot allowed, inside the window: boot + reboot now',
      { operation: 'switch', rebootNeeded: true, rebootAllowed: true, inWindow: true },
      { kind: 'boot', reboot: 'now' },
    ],
    [
      'kernel changed, reboot allowed, outside the window: boot, pending',
      { operation: 'switch', rebootNeeded: true, rebootAllowed: true, inWindow: false },
      { kind: 'boot', reboot: 'pending' },
    ],
    [
      'kernel changed, reboot not allowed: switch as asked, report',
      { operation: 'switch', rebootNeeded: true, rebootAllowed: false, inWindow: true },
      { kind: 'switch', rebootNeeded: true },
    ],
    [
      'operation boot, no reboot needed',
      { operation: 'boot', rebootNeeded: false, rebootAllowed: false, inWindow: true },
      { kind: 'boot', reboot: 'not-needed' },
    ],
    [
      'operation boot, reboot needed but not allowed',
      { operation: 'boot', rebootNeeded: true, rebootAllowed: false, inWindow: true },
      { kind: 'boot', reboot: 'not-allowed' },
    ],
    // switch-to-configuration exits 100 for switch and test when the init interface differs (main.rs).
    [
      'init interface changed, reboot not allowed: boot default only, never a live switch',
      { operation: 'switch', rebootNeeded: false, initChanged: true, rebootAllowed: false, inWindow: true },
      { kind: 'boot', reboot: 'not-allowed' },
    ],
    [
      'init interface changed, reboot allowed, inside the window: boot + reboot now',
      { operation: 'switch', rebootNeeded: false, initChanged: true, rebootAllowed: true, inWindow: true },
      { kind: 'boot', reboot: 'now' },
    ],
    [
      'init interface changed, reboot allowed, outside the window: boot, pending',
      { operation: 'switch', rebootNeeded: false, initChanged: true, rebootAllowed: true, inWindow: false },
      { kind: 'boot', reboot: 'pending' },
    ],
    [
      'init interface changed, operation boot: reboot needed',
      { operation: 'boot', rebootNeeded: false, initChanged: true, rebootAllowed: false, inWindow: false },
      { kind: 'boot', reboot: 'not-allowed' },
    ],
  ])('%s', (_n, input, plan) => {
    expect(planActivation(input)).toEqual(plan);
  });
});

describe("initInterfaceChanged (main.rs: the running system's file, empty when missing, against the new one)", () => {
  it.each<[string | null, string | null, boolean]>([
    ['systemd 2', 'systemd 2', false],
    ['systemd 2', 'systemd 3', true],
    // No /run/current-system/init-interface-version: main.rs reads it as "".
    [null, 'systemd 2', true],
    // Byte for byte: a trailing newline is a difference too.
    ['systemd 2', 'systemd 2\n', true],
    // The new file unreadable: switch-to-configuration decides (it stops with "File init-interface-version should exist").
    ['systemd 2', null, false],
  ])('%j → %j: %s', (running, next, want) => {
    expect(initInterfaceChanged(running, next)).toBe(want);
  });
});

describe('restoreSteps (revert, recover)', () => {
  it.each<[string, Parameters<typeof restoreSteps>[0], ReturnType<typeof restoreSteps>]>([
    [
      'a live plan',
      { operation: 'switch', previous: 'P', running: 'P', initChanged: false },
      [{ system: 'P', action: 'switch' }],
    ],
    [
      'a boot plan',
      { operation: 'boot', previous: 'P', running: 'R', initChanged: true },
      [{ system: 'P', action: 'boot' }],
    ],
    [
      'a live plan while a new init interface is owed a reboot: previous as the boot default, the running one live',
      { operation: 'switch', previous: 'P', running: 'R', initChanged: true },
      [
        { system: 'P', action: 'boot' },
        { system: 'R', action: 'test' },
      ],
    ],
    [
      'the same from a record without `running`: the boot default only',
      { operation: 'switch', previous: 'P', running: null, initChanged: true },
      [{ system: 'P', action: 'boot' }],
    ],
  ])('%s', (_n, input, steps) => {
    expect(restoreSteps(input)).toEqual(steps);
  });
});
