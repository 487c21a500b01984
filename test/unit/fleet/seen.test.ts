/**
 * The reader's memory of each host's newest trusted status (src/fleet/seen.ts):
 * an older row is unverified with a note; only a verified row dated no
 * further ahead than the tolerance raises the mark; a missing or broken
 * file is an empty memory, never an error.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decideSeen,
  mergeSeen,
  nextSeen,
  readSeen,
  writeSeen,
  type Seen,
  type SeenMark,
} from '../../../src/fleet/seen.js';
import type { FleetRow, StatusV1 } from '../../../src/fleet/schema.js';

const NOW = new Date('2026-12-01T06:00:00Z');
const C = 'c'.repeat(40);
const MARK: SeenMark = {
  publishedAt: '2026-12-01T05:00:00Z',
  knownBadCommits: [{ commit: C, reason: 'post-switch-failed' }],
};
const SEEN: Seen = { h1: MARK };

/** A row of h1 published at `publishedAt` (a document whose only read field here is knownBadCommits). */
function row(
  publishedAt: string,
  o: { signature?: FleetRow['signature']['state']; state?: FleetRow['state']; bad?: string[] } = {},
): FleetRow {
  const status = {
    publishedAt,
    knownBadCommits: (o.bad ?? []).map((commit) => ({ commit, reason: 'post-switch-failed', at: publishedAt })),
  } as unknown as StatusV1;
  return {
    host: 'h1',
    state: o.state ?? 'healthy',
    reasons: [],
    notes: [],
    signature: { state: o.signature ?? 'verified', signer: 'h1', detail: null },
    ref: 'refs/gitopsd/status/h1',
    commit: 'a'.repeat(40),
    publishedAt,
    ageSec: 0,
    stale: false,
    version: '0.1.0',
    versionBehind: false,
    columns: { git: '-', lock: '-', system: '-', boot: '-', golden: '-', dotfiles: '-', lastRun: '-' },
    status,
  };
}

describe('decideSeen: a row against the memory', () => {
  it('older than the mark: unverified, the note first, the newer status kept as lastTrusted', () => {
    const r = decideSeen(row('2026-12-01T04:00:00Z'), SEEN, NOW);
    expect(r.state).toBe('unverified');
    expect(r.reasons[0]).toBe(
      "older than the status of h1 this reader already saw (published 2026-12-01T05:00:00Z): a replayed status? the host's next publish replaces it",
    );
    expect(r.lastTrusted).toEqual(MARK);
  });

  it('a row that is not trusted (signature, invalid) keeps its reasons and carries lastTrusted, whatever its date', () => {
    const forged = { ...row('2026-12-01T05:30:00Z', { state: 'unverified', signature: 'unverified' }), reasons: ['x'] };
    expect(decideSeen(forged, SEEN, NOW)).toEqual({ ...forged, lastTrusted: MARK });
    const invalid = { ...row('2026-12-01T04:00:00Z'), status: null, publishedAt: null, state: 'invalid' as const };
    expect(decideSeen(invalid, SEEN, NOW)).toEqual({ ...invalid, lastTrusted: MARK });
  });

  it.each([
    ['equal', '2026-12-01T05:00:00Z'],
    ['equal, written another way', '2026-12-01T05:00:00.000Z'],
    ['newer', '2026-12-01T05:30:00Z'],
  ])('%s: unchanged', (_name, at) => {
    const r = row(at);
    expect(decideSeen(r, SEEN, NOW)).toBe(r);
  });

  it('another host, or no memory: unchanged', () => {
    const other = { ...row('2026-12-01T04:00:00Z'), host: 'h2' };
    expect(decideSeen(other, SEEN, NOW)).toBe(other);
    const r = row('2026-12-01T04:00:00Z');
    expect(decideSeen(r, {}, NOW)).toBe(r);
  });
});

describe('nextSeen: which rows raise the mark', () => {
  it.each<[string, FleetRow, string | null]>([
    ['a verified newer row raises it', row('2026-12-01T05:30:00Z', { bad: [C] }), '2026-12-01T05:30:00Z'],
    ['an equal row does not', row('2026-12-01T05:00:00Z'), null],
    ['an older row does not', row('2026-12-01T04:00:00Z'), null],
    ['an unverified row (signature) never does', row('2026-12-01T05:30:00Z', { signature: 'unverified' }), null],
    [
      'an unverified row (a replay of a later mark, say) never does',
      row('2026-12-01T05:30:00Z', { state: 'unverified' }),
      null,
    ],
    ['an unsigned row (no allowed signers) never does', row('2026-12-01T05:30:00Z', { signature: 'unsigned' }), null],
    ['a signed, unchecked row never does', row('2026-12-01T05:30:00Z', { signature: 'not-checked' }), null],
    ['dated 5 min ahead (the tolerance) raises it', row('2026-12-01T06:05:00Z'), '2026-12-01T06:05:00Z'],
    ['dated further ahead never does', row('2026-12-01T06:05:01Z'), null],
  ])('%s', (_name, r, mark) => {
    const next = nextSeen(SEEN, [r], NOW);
    if (mark === null) expect(next).toBeNull();
    else {
      expect(next?.['h1']).toEqual({
        publishedAt: mark,
        knownBadCommits: (r.status?.knownBadCommits ?? []).map((b) => ({ commit: b.commit, reason: b.reason })),
      });
    }
  });

  it('a mark whose date cannot be parsed marks nothing older and is replaced', () => {
    const broken: Seen = { h1: { publishedAt: 'yesterday', knownBadCommits: [] } };
    const r = row('2026-12-01T04:00:00Z');
    expect(decideSeen(r, broken, NOW)).toBe(r);
    expect(nextSeen(broken, [r], NOW)?.['h1']?.publishedAt).toBe('2026-12-01T04:00:00Z');
  });

  it("a mark taken while the reader's clock ran ahead (beyond the tolerance) marks nothing older and is replaced", () => {
    // The host (or the fleet's time source) ran a day ahead: the host's own
    // gate read its own status, dated by that clock, as fresh. Once the clock
    // is set right, the mark must not make every status of the host a replay
    // for a day (its own reboot turns refused for its own row untrusted).
    const ahead: Seen = { h1: { publishedAt: '2026-12-02T06:00:00Z', knownBadCommits: MARK.knownBadCommits } };
    const r = row('2026-12-01T05:59:00Z');
    expect(decideSeen(r, ahead, NOW)).toBe(r);
    expect(nextSeen(ahead, [r], NOW)?.['h1']).toEqual({ publishedAt: '2026-12-01T05:59:00Z', knownBadCommits: [] });
    // Merged with a file another reader wrote, the mark that is usable wins, whatever the order.
    const set = { h1: { publishedAt: '2026-12-01T05:59:00Z', knownBadCommits: [] } };
    expect(mergeSeen(ahead, set, NOW)).toEqual(set);
    expect(mergeSeen(set, ahead, NOW)).toEqual(set);
    // So does a mark whose date cannot be parsed (before, the merge kept it, and every read wrote the file again).
    expect(mergeSeen({ h1: { publishedAt: 'yesterday', knownBadCommits: [] } }, set, NOW)).toEqual(set);
    // Within the tolerance, a mark still catches an older status.
    const near: Seen = { h1: { publishedAt: '2026-12-01T06:04:00Z', knownBadCommits: [] } };
    expect(decideSeen(r, near, NOW).state).toBe('unverified');
  });

  it('a new host gets a mark; the others are kept', () => {
    const next = nextSeen(SEEN, [{ ...row('2026-12-01T01:00:00Z'), host: 'h2' }], NOW);
    expect(next).toEqual({ h1: MARK, h2: { publishedAt: '2026-12-01T01:00:00Z', knownBadCommits: [] } });
  });

  it('mergeSeen keeps the newer mark of each host', () => {
    const later = { publishedAt: '2026-12-01T05:30:00Z', knownBadCommits: [] };
    expect(mergeSeen(SEEN, { h1: later }, NOW)).toEqual({ h1: later });
    expect(mergeSeen({ h1: later }, SEEN, NOW)).toEqual({ h1: later });
  });
});

describe('the memory file', () => {
  it('written and read back; missing is empty; broken is empty with the reason; a bad entry is dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-seen-'));
    try {
      const f = join(dir, 'status-seen.json');
      expect(readSeen(f)).toEqual({ seen: {}, broken: null });
      writeSeen(f, SEEN);
      expect(readSeen(f)).toEqual({ seen: SEEN, broken: null });
      writeFileSync(f, '{"v": 1, "hosts": {"h1": {"publishedAt": "x"}, "h2": ');
      expect(readSeen(f).seen).toEqual({});
      expect(readSeen(f).broken).toMatch(/^is not valid JSON/);
      writeFileSync(f, JSON.stringify({ v: 1, hosts: { h1: MARK, h2: { publishedAt: 5, knownBadCommits: [] } } }));
      expect(readSeen(f)).toEqual({ seen: SEEN, broken: null });
      writeFileSync(f, JSON.stringify({ v: 2, hosts: {} }));
      expect(readSeen(f).broken).toBe('has version 2, not 1');
      expect(existsSync(f)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
