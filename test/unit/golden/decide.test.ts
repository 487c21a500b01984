import { describe, it, expect } from 'vitest';
import { decidePin } from '../../../src/golden/index.js';
import { parseGolden, withPinned, type GoldenRecord } from '../../../src/golden/state.js';

const P = '/nix/store/ppp-nixos-system';
const G = '/nix/store/ggg-nixos-system';
const base: Parameters<typeof decidePin>[0] = {
  target: P,
  isSystem: true,
  hasOk: true,
  badCommit: null,
  force: false,
  currentGolden: G,
};

describe('decidePin', () => {
  it.each<[string, Partial<typeof base>, string, RegExp | null]>([
    ['validated path: pin', {}, 'pin', null],
    ['already golden', { currentGolden: P }, 'already', null],
    ['no ok verdict: refused, says why and names --force', { hasOk: false }, 'refuse', /no ok boot verdict.*--force/],
    ['no ok verdict with --force: pinned (forced)', { hasOk: false, force: true }, 'pin', null],
    ['not a system', { isSystem: false }, 'refuse', /not a NixOS system/],
    ['not a system even with --force', { isSystem: false, force: true }, 'refuse', /not a NixOS system/],
    ['rolled-back path: refused', { badCommit: 'abcdef0123456789' }, 'refuse', /rolled back.*--force/],
    ['rolled-back path with --force', { badCommit: 'abcdef0123456789', force: true }, 'pin', null],
  ])('%s', (_n, over, kind, msg) => {
    const d = decidePin({ ...base, ...over });
    expect(d.kind).toBe(kind);
    if (msg !== null && d.kind === 'refuse') expect(d.message).toMatch(msg);
  });

  it('marks a pin without an ok verdict as forced', () => {
    expect(decidePin({ ...base, hasOk: false, force: true })).toMatchObject({ kind: 'pin', forced: true });
    expect(decidePin({ ...base, force: true })).toMatchObject({ kind: 'pin', forced: false });
  });
});

describe('withPinned', () => {
  const rec = (storePath: string, pinnedAt: string): GoldenRecord => ({
    storePath,
    generation: 1,
    pinnedAt,
    source: 'auto',
    forced: false,
    reason: '',
  });
  it('keeps the original record when the same path is pinned again', () => {
    const s1 = withPinned(parseGolden(undefined), rec(G, 't1'));
    expect(s1.changed).toBe(true);
    const s2 = withPinned(s1.section, rec(G, 't2'));
    expect(s2.changed).toBe(false);
    expect(s2.section.current?.pinnedAt).toBe('t1');
  });
  it('moves the old golden to a bounded history', () => {
    let s = parseGolden(undefined);
    for (let i = 0; i < 30; i++) s = withPinned(s, rec(`${P}${i}`, `t${i}`)).section;
    expect(s.current?.storePath).toBe(`${P}29`);
    expect(s.history.length).toBe(20);
    expect(s.history.at(-1)?.storePath).toBe(`${P}28`);
  });
});
