/**
 * printable (src/core/printable.ts) on a JSON log line, as the daemon copies
 * its cycle child's stderr (src/cycle/child.ts): JSON.stringify escapes only
 * C0 controls, so C1 controls and bidi overrides from the dotfiles user's
 * file names arrive raw (review 17); printable escapes them, and the line
 * still parses to the same record.
 */
import { describe, expect, it } from 'vitest';
import { printable } from '../../../src/core/printable.js';

describe('printable on a JSON log line', () => {
  const record = { level: 'warn', msg: 'refused', target: 'a\u009b2Jb\u202ec\u001b]52;c;x\u0007 été 日本' };
  const line = JSON.stringify(record);

  it('JSON leaves C1 controls and bidi overrides raw', () => {
    expect(line).toContain('\u009b');
    expect(line).toContain('\u202e');
  });

  it('the escaped line has no control or bidi character and parses to the same record', () => {
    const out = printable(line);
    // eslint-disable-next-line no-control-regex -- the control characters are the point
    expect(out).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(JSON.parse(out)).toEqual(record);
    expect(out).toContain('été 日本');
  });
});
