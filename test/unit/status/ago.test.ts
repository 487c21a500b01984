/** The ages in `gitopsd status` (issue 18: the demo's injected clock showed "-57s ago"). */
import { describe, expect, it } from 'vitest';
import { ago } from '../../../src/status/render.js';

const now = new Date('2026-11-30T12:00:00.000Z');

describe('ago', () => {
  it.each<[string | null, string]>([
    [null, 'never'],
    ['2026-11-30T11:59:15.000Z', '45s ago'],
    ['2026-11-30T11:55:00.000Z', '5m ago'],
    ['2026-11-30T09:00:00.000Z', '3h ago'],
    ['2026-11-27T12:00:00.000Z', '3d ago'],
    ['2026-11-30T12:00:57.000Z', '57s in the future, written while the clock was ahead'],
    ['2026-11-30T13:02:00.000Z', '62m in the future, written while the clock was ahead'],
  ])('%s -> %s', (iso, text) => {
    expect(ago(iso, now)).toBe(text);
  });
});
