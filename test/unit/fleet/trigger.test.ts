/**
 * The fleet trigger's pure decisions (src/fleet/trigger/decide.ts): which
 * trigger counts on a host, each refusal with its one-line reason; the
 * replay memory; the document `gitopsd trigger --fleet` signs; --expires.
 */
import { describe, expect, it } from 'vitest';
import {
  afterTriggerAccepted,
  afterTriggerJudged,
  decideTrigger,
  EMPTY_TRIGGER,
  pendingTrigger,
  triggerToJudge,
  planTrigger,
  TRIGGER_SEEN_MAX,
  type TriggerInput,
  type TriggerSection,
} from '../../../src/fleet/trigger/decide.js';
import { parseExpires } from '../../../src/fleet/trigger/cli.js';
import type { SignatureStatus } from '../../../src/upgrade/decide.js';

const NOW = new Date('2026-03-10T12:00:00Z');
const C = 'c'.repeat(40);
const NONCE = '0123456789abcdef0123456789abcdef';
const GOOD: SignatureStatus = { kind: 'good', signer: 'alice' };
const doc = (o: Record<string, unknown> = {}): string =>
  JSON.stringify({
    v: 1,
    nonce: NONCE,
    issuer: 'alice@laptop',
    issuedAt: '2026-03-10T11:30:00.000Z',
    expiresAt: '2026-03-10T12:30:00.000Z',
    hosts: [],
    reason: 'CVE fix',
    ...o,
  });
const input = (o: Partial<TriggerInput> = {}): TriggerInput => ({
  commit: C,
  signersFile: '/etc/gitopsd/trigger-signers',
  signature: GOOD,
  doc: doc(),
  host: 'web1',
  now: NOW,
  state: EMPTY_TRIGGER,
  ...o,
});
const seen = (nonce: string, commit = 'd'.repeat(40), expiresAt = '2026-03-10T12:30:00.000Z') => ({
  nonce,
  commit,
  expiresAt,
  acceptedAt: '2026-03-10T11:31:00.000Z',
  issuer: 'alice@laptop',
  signer: 'alice',
});

describe('decideTrigger', () => {
  it('a signed, unexpired, new trigger for every host counts', () => {
    const d = decideTrigger(input());
    expect(d).toMatchObject({
      kind: 'accept',
      trigger: { commit: C, nonce: NONCE, issuer: 'alice@laptop', signer: 'alice', reason: 'CVE fix' },
    });
    expect(d.line).toBe(
      'fleet trigger cccccccccccc from alice@laptop (signed by alice, expires 2026-03-10T12:30:00.000Z): CVE fix',
    );
  });

  it('a trigger naming this host counts', () => {
    expect(decideTrigger(input({ doc: doc({ hosts: ['db1', 'web1'] }) })).kind).toBe('accept');
  });

  it.each<[string, Partial<TriggerInput>, string, string]>([
    ['no signers file', { signersFile: null, signature: null }, 'no-signers', 'no trigger signers configured'],
    ['unsigned', { signature: { kind: 'unsigned' } }, 'unsigned', 'not signed'],
    [
      'signed by a key not in the file',
      { signature: { kind: 'untrusted', detail: 'No principal matched' } },
      'untrusted',
      'not from a key in /etc/gitopsd/trigger-signers (No principal matched)',
    ],
    [
      'an OpenPGP signature',
      { signature: { kind: 'untrusted', detail: 'it is an OpenPGP signature' } },
      'untrusted',
      'OpenPGP',
    ],
    ['no trigger.json', { doc: null }, 'malformed', 'has no trigger.json'],
    ['not JSON', { doc: '{' }, 'malformed', 'not valid JSON'],
    ['an unknown key', { doc: doc({ extra: 1 }) }, 'malformed', 'malformed'],
    ['a short nonce', { doc: doc({ nonce: 'abc' }) }, 'malformed', 'nonce'],
    [
      'a life over 24 h',
      { doc: doc({ issuedAt: '2026-03-10T11:00:00Z', expiresAt: '2026-03-11T11:00:01Z' }) },
      'malformed',
      'outside 60 s to 24 h',
    ],
    [
      'expired',
      { doc: doc({ issuedAt: '2026-03-10T10:00:00Z', expiresAt: '2026-03-10T11:00:00.000Z' }) },
      'expired',
      'expired at 2026-03-10T11:00:00.000Z',
    ],
    [
      'expiring this very instant',
      { doc: doc({ issuedAt: '2026-03-10T11:00:00Z', expiresAt: '2026-03-10T12:00:00.000Z' }) },
      'expired',
      'expired',
    ],
    [
      'issued in the future beyond the skew',
      { doc: doc({ issuedAt: '2026-03-10T12:05:01Z', expiresAt: '2026-03-10T13:00:00Z' }) },
      'not-yet-valid',
      'check the clocks',
    ],
    ['for other hosts', { doc: doc({ hosts: ['db1'] }) }, 'other-hosts', 'it is for db1, not for web1'],
    [
      'a replayed nonce',
      { state: { ...EMPTY_TRIGGER, seen: [seen(NONCE)] } },
      'replayed',
      `nonce ${NONCE} was already accepted`,
    ],
    [
      'a replayed commit',
      { state: { ...EMPTY_TRIGGER, seen: [seen('f'.repeat(32), C)] } },
      'replayed',
      'already accepted',
    ],
    [
      // Its nonce was pruned (a clock step, or the cap of 256): the signer's newest still refuses it (review D2).
      'a replay issued before the newest trigger accepted from its signer',
      { state: { ...EMPTY_TRIGGER, newestIssued: { alice: '2026-03-10T11:45:00.000Z' } } },
      'replayed',
      'issued at 2026-03-10T11:30:00.000Z, not after 2026-03-10T11:45:00.000Z, the newest trigger already accepted from alice',
    ],
    [
      // The newest itself, its nonce pruned (review 6, D2).
      'the newest trigger of its signer, pushed again after its nonce was pruned',
      { state: { ...EMPTY_TRIGGER, newestIssued: { alice: '2026-03-10T11:30:00.000Z' } } },
      'replayed',
      'not after 2026-03-10T11:30:00.000Z',
    ],
    [
      'one issued at the same instant as the newest, with its nonce remembered',
      { state: { ...EMPTY_TRIGGER, newestIssued: { alice: '2026-03-10T11:30:00.000Z' }, seen: [seen(NONCE)] } },
      'replayed',
      'already accepted',
    ],
  ])('ignored: %s', (_name, o, reason, text) => {
    const d = decideTrigger(input(o));
    expect(d).toMatchObject({ kind: 'ignore', reason });
    expect(d.line).toMatch(/^fleet trigger cccccccccccc ignored: /);
    expect(d.line).toContain(text);
    expect(d.line).not.toContain('\n');
  });

  it('an issuer clock ahead by less than the skew is accepted', () => {
    const d = decideTrigger(
      input({ doc: doc({ issuedAt: '2026-03-10T12:04:59Z', expiresAt: '2026-03-10T13:00:00Z' }) }),
    );
    expect(d.kind).toBe('accept');
  });
});

describe('afterTriggerAccepted', () => {
  const t = {
    commit: C,
    nonce: NONCE,
    issuer: 'alice@laptop',
    signer: 'alice',
    issuedAt: '2026-03-10T11:30:00.000Z',
    expiresAt: '2026-03-10T12:30:00.000Z',
    reason: '',
  };

  it('remembers the accepted trigger first and drops the expired ones', () => {
    const state: TriggerSection = {
      ...EMPTY_TRIGGER,
      seen: [seen('1'.repeat(32)), seen('2'.repeat(32), 'e'.repeat(40), '2026-03-10T11:59:59Z')],
    };
    const s = afterTriggerAccepted(state, t, NOW);
    expect(s.seen.map((e) => e.nonce)).toEqual([NONCE, '1'.repeat(32)]);
    expect(s.seen[0]).toMatchObject({ commit: C, acceptedAt: NOW.toISOString(), signer: 'alice' });
    // What it remembers is what decideTrigger refuses as a replay.
    expect(decideTrigger(input({ state: s })).kind).toBe('ignore');
  });

  it("keeps each signer's newest issuedAt, never pruned, and never moves it back", () => {
    const s = afterTriggerAccepted({ ...EMPTY_TRIGGER, newestIssued: { bob: '2026-01-01T00:00:00Z' } }, t, NOW);
    expect(s.newestIssued).toEqual({ bob: '2026-01-01T00:00:00Z', alice: '2026-03-10T11:30:00.000Z' });
    const later = { alice: '2026-03-10T11:40:00+00:00' };
    expect(afterTriggerAccepted({ ...EMPTY_TRIGGER, newestIssued: later }, t, NOW).newestIssued).toEqual(later);
  });

  it('refuses the old trigger after the host clock ran a day ahead and pruned its nonce (review D2a)', () => {
    // A accepted at NOW; the clock jumps a day ahead; B is accepted then, which prunes A's nonce
    // as expired by the skewed clock; the clock steps back; A, pushed again, is still refused.
    const a = afterTriggerAccepted(EMPTY_TRIGGER, t, NOW);
    const dayAhead = new Date(NOW.getTime() + 86_400_000);
    const b = {
      ...t,
      commit: 'b'.repeat(40),
      nonce: 'b'.repeat(32),
      issuedAt: dayAhead.toISOString(),
      expiresAt: new Date(dayAhead.getTime() + 3_600_000).toISOString(),
    };
    const afterB = afterTriggerAccepted(a, b, dayAhead);
    expect(afterB.seen.map((e) => e.nonce)).toEqual(['b'.repeat(32)]);
    expect(decideTrigger(input({ state: afterB }))).toMatchObject({ kind: 'ignore', reason: 'replayed' });
  });

  it(`keeps at most ${TRIGGER_SEEN_MAX}`, () => {
    const many = Array.from({ length: TRIGGER_SEEN_MAX + 5 }, (_, n) => seen(n.toString(16).padStart(32, '0')));
    expect(afterTriggerAccepted({ ...EMPTY_TRIGGER, seen: many }, t, NOW).seen).toHaveLength(TRIGGER_SEEN_MAX);
  });
});

describe('a trigger is judged until it is judged for good (review D1)', () => {
  const L = 'e'.repeat(40);
  it.each<[string, string | null, string | null, string | null, string | null]>([
    // name, moved, local, judged, want
    ['the fetch moved the ref', C, C, null, C],
    ['moved to a commit judged before (pushed again): judged again', C, C, C, C],
    ['not moved, never judged for good (judging failed, or a crash)', null, L, null, L],
    ['not moved, judged for good', null, L, L, null],
    ['not moved, judged an older one', null, L, C, L],
    ['no trigger ref', null, null, null, null],
  ])('%s', (_name, moved, local, judged, want) => {
    expect(triggerToJudge({ moved, local, state: { ...EMPTY_TRIGGER, judged } })).toBe(want);
  });

  it('accepted: seen, judged and pending in one write; pending until it expires', () => {
    const d = decideTrigger(input());
    const s = afterTriggerJudged(EMPTY_TRIGGER, C, d, NOW);
    expect(s).toMatchObject({ judged: C, pending: { commit: C, expiresAt: '2026-03-10T12:30:00.000Z' } });
    expect(s?.seen[0]?.nonce).toBe(NONCE);
    if (s === null) throw new Error('no section');
    expect(pendingTrigger(s, NOW)?.commit).toBe(C);
    expect(pendingTrigger(s, new Date('2026-03-10T12:30:00Z'))).toBeNull();
    expect(pendingTrigger({ ...s, pending: null }, NOW)).toBeNull();
  });

  it('ignored as issued in the future: nothing written, so later polls judge it again', () => {
    const d = decideTrigger(input({ now: new Date('2026-03-10T11:00:00Z') }));
    expect(d).toMatchObject({ kind: 'ignore', reason: 'not-yet-valid' });
    expect(afterTriggerJudged(EMPTY_TRIGGER, C, d, NOW)).toBeNull();
  });

  it('ignored for any other reason: judged once, and not written again', () => {
    const d = decideTrigger(input({ signature: { kind: 'unsigned' } }));
    const s = afterTriggerJudged(EMPTY_TRIGGER, C, d, NOW);
    expect(s).toEqual({ ...EMPTY_TRIGGER, judged: C });
    if (s === null) throw new Error('no section');
    expect(afterTriggerJudged(s, C, d, NOW)).toBeNull();
  });
});

describe('planTrigger', () => {
  const base = { nonce: NONCE, issuer: 'alice@laptop', now: NOW, hosts: [] as string[], reason: '' };

  it('signs what decideTrigger accepts', () => {
    const p = planTrigger({ ...base, expiresSec: 3600, hosts: ['web1', 'db1', 'web1'] });
    expect(p).toMatchObject({
      ok: true,
      doc: { issuedAt: NOW.toISOString(), expiresAt: '2026-03-10T13:00:00.000Z', hosts: ['db1', 'web1'] },
    });
    if (!p.ok) return;
    expect(decideTrigger(input({ doc: JSON.stringify(p.doc) })).kind).toBe('accept');
  });

  it.each<[string, number, string[], string]>([
    ['too short', 59, [], '--expires must be between 60 s and 24 h'],
    ['too long', 86401, [], '--expires must be between'],
    ['not a duration', Number.NaN, [], '--expires must be between'],
    ['a bad host name', 3600, ['web 1'], '--host "web 1" is not a host name'],
  ])('refuses %s', (_name, expiresSec, hosts, message) => {
    const p = planTrigger({ ...base, expiresSec, hosts });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.message).toContain(message);
  });
});

describe('parseExpires', () => {
  it.each<[unknown, number]>([
    ['1h', 3600],
    ['30m', 1800],
    ['90s', 90],
    ['2 hours', 7200],
    ['600', 600],
    ['soon', Number.NaN],
    ['', Number.NaN],
    [undefined, Number.NaN],
  ])('%s is %s s', (v, sec) => {
    expect(parseExpires(v)).toBe(sec);
  });
});
