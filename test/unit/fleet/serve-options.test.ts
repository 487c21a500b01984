/** `gitopsd fleet serve --refresh SEC`: the config's bounds, or a usage error (review 12). */
import { describe, it, expect } from 'vitest';
import { refreshSecOption } from '../../../src/fleet/cli.js';
import { exitCodeFor } from '../../../src/core/exit.js';

describe('fleet serve --refresh', () => {
  it('not given: the config value; 5 to 86400 whole seconds: as given', () => {
    expect(refreshSecOption(undefined, 60)).toBe(60);
    expect(refreshSecOption(5, 60)).toBe(5);
    expect(refreshSecOption(86400, 60)).toBe(86400);
  });

  it.each([[0], [1], [-5], [2.5], [86401], [Number.NaN]])('%s is a usage error (exit 64) naming the bounds', (v) => {
    let err: unknown;
    try {
      refreshSecOption(v, 60);
    } catch (e) {
      err = e;
    }
    expect(exitCodeFor(err)).toBe(64);
    expect((err as Error).message).toMatch(/^--refresh must be whole seconds from 5 to 86400.*; e\.g\. --refresh 60$/);
  });
});
