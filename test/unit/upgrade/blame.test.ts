import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decideRetry,
  failedDrvOf,
  findRetry,
  reexamineMark,
  withRetry,
  withoutRetries,
} from '../../../src/upgrade/blame.js';
import { classifyFailure } from '../../../src/failure/classify.js';
import { BadCommit, markApplies } from '../../../src/core/deployments.js';
import { resolveCommit } from '../../../src/upgrade/bad-cli.js';

const A = 'a'.repeat(40);
const key = { commit: A, flakeHost: 'hosta', lockBlob: 'l1' };
const full = classifyFailure({
  stage: 'build',
  tool: 'nh',
  exitCode: 1,
  signal: null,
  timedOut: false,
  output: 'error: writing to file: No space left on device\n',
});
const hang = classifyFailure({
  stage: 'activation',
  tool: 'switch-to-configuration test',
  exitCode: null,
  signal: null,
  timedOut: true,
  output: '',
});
const t0 = new Date('2026-11-30T04:00:00.000Z');

describe('retry records', () => {
  it('the first environmental failure retries at the next run; the second waits 1 h', () => {
    const one = withRetry([], { ...key, stage: 'build', verdict: full, now: t0 });
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ failures: 1, cause: 'disk-full', notBefore: t0.toISOString() });
    expect(decideRetry(findRetry(one, key), t0)).toEqual({ kind: 'go' });
    const two = withRetry(one, { ...key, stage: 'build', verdict: full, now: t0 });
    expect(two[0]?.failures).toBe(2);
    const gate = decideRetry(findRetry(two, key), new Date(t0.getTime() + 60_000));
    expect(gate.kind).toBe('wait');
    expect(decideRetry(findRetry(two, key), new Date(t0.getTime() + 3_600_000)).kind).toBe('go');
  });
  it('another cause starts the count over', () => {
    const one = withRetry([], { ...key, stage: 'build', verdict: full, now: t0 });
    const other = withRetry(one, { ...key, stage: 'activation', verdict: hang, now: t0 });
    expect(other[0]).toMatchObject({ failures: 1, cause: 'activation-hang' });
    expect(other[0]?.notBefore).toBe('2026-12-02T04:00:00.000Z');
  });
  it('another flakeHost or flake.lock is another attempt', () => {
    const one = withRetry([], { ...key, stage: 'build', verdict: full, now: t0 });
    expect(findRetry(one, { ...key, flakeHost: 'hostb' })).toBeNull();
    expect(findRetry(one, { ...key, lockBlob: 'l2' })).toBeNull();
    expect(withoutRetries(one, A)).toEqual([]);
  });
  it('refuses to record a failure caused by the commit', () => {
    const v = classifyFailure({
      stage: 'build',
      tool: 'nh',
      exitCode: 1,
      signal: null,
      timedOut: false,
      output: "error: syntax error, unexpected '}'\n",
    });
    expect(() => withRetry([], { ...key, stage: 'build', verdict: v, now: t0 })).toThrow(/mark/);
  });
  it('is bounded to 20 records', () => {
    let rs = withRetry([], { ...key, stage: 'build', verdict: full, now: t0 });
    for (let i = 0; i < 30; i++)
      rs = withRetry(rs, { ...key, commit: `c${i}`, stage: 'build', verdict: full, now: t0 });
    expect(rs).toHaveLength(20);
  });
});

describe('marks from the previous version', () => {
  const legacy = (message: string, logTail: string, reason = 'build-failed'): BadCommit =>
    BadCommit.parse({ commit: A, reason, at: '2026-01-01T00:00:00Z', message, storePath: null, logTail });
  it.each([
    ['error: writing to file: No space left on device', false],
    ["error: unable to download 'https://cache.example/x': Could not resolve host: cache.example", false],
    ['error: timed out after 3600 seconds', false],
    ["error: syntax error, unexpected '}', expecting ';'", true],
    ['error:', false], // the first line alone (issue 13, input 2): unknown, so rebuilt once
  ])('%s: keep=%s', (text, keep) => {
    const m = legacy(text, text);
    expect(m).toMatchObject({ class: 'caused-by-commit', cause: null, build: null, evidence: '' });
    expect(reexamineMark(m).keep).toBe(keep);
  });
  it("a fetcher's network error (real nix 2.34.8 output) is cleared only when the failed .drv is a fetcher", () => {
    const text = readFileSync(new URL('../../fixtures/nix-failures/fod-dep.txt', import.meta.url), 'utf8');
    const m = legacy('build failed', text);
    expect(reexamineMark(m).keep).toBe(true);
    expect(reexamineMark(m, ['/nix/store/xzrcrjlg47qm79234l0pwjxwgv0gc263-src-6821.drv'])).toMatchObject({
      keep: false,
      cause: 'network',
    });
  });
  it('a legacy post-switch mark is kept (a person can forget it)', () => {
    expect(reexamineMark(legacy('x', 'No space left on device', 'post-switch-failed')).keep).toBe(true);
  });
  it('a mark without a build identity applies to every build; one with applies to its own only', () => {
    const m = legacy('x', 'x');
    expect(markApplies(m, { flakeHost: 'any', lockBlob: null })).toBe(true);
    const withBuild = BadCommit.parse({
      ...m,
      build: {
        flakeHost: 'hosta',
        flakeAttr: '/c#nixosConfigurations.hosta.config.system.build.toplevel',
        lockBlob: 'l1',
      },
    });
    expect(markApplies(withBuild, { flakeHost: 'hosta', lockBlob: 'l1' })).toBe(true);
    expect(markApplies(withBuild, { flakeHost: 'hostb', lockBlob: 'l1' })).toBe(false);
    expect(markApplies(withBuild, { flakeHost: 'hosta', lockBlob: 'l2' })).toBe(false);
  });
});

describe('failedDrvOf and resolveCommit', () => {
  it('finds the .drv nix named', () => {
    expect(failedDrvOf("error: Cannot build '/nix/store/abc-x.drv'.\n       Reason: builder failed")).toBe(
      '/nix/store/abc-x.drv',
    );
    expect(failedDrvOf('error: syntax error')).toBeNull();
  });
  it('resolves a unique prefix, refuses ambiguous or unknown ones', () => {
    const B = `ab${'c'.repeat(38)}`;
    expect(resolveCommit('aaaaaaa', [A, B])).toBe(A);
    expect(() => resolveCommit('abc', [A, B])).toThrow(/at least 7 hex digits/);
    expect(() => resolveCommit('1234567', [A, B])).toThrow(/no bad mark or retry record/);
    expect(() => resolveCommit('aaaaaaa', [A, `${'a'.repeat(39)}b`])).toThrow(/ambiguous/);
  });
});
