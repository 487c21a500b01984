/**
 * The observation behind `store-path-gone` (docs/upgrade.md "A store path
 * deleted under the evaluation"): the store objects a failed build's error
 * names as missing, looked at with lstat on a real directory. The error
 * texts are nix 2.34.8's (test/unit/failure/classify.test.ts), with the
 * store dir of this temporary store.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyFailure, failedDrvsNamed, storeObjectsNamedMissing } from '../../../src/failure/classify.js';
import { BadCommit } from '../../../src/core/deployments.js';
import { reexamineMark } from '../../../src/upgrade/blame.js';
import { observeAbsent, observeFixedOutputOrGone } from '../../../src/upgrade/system.js';

const base = mkdtempSync(join(tmpdir(), 'gitopsd-gone-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const store = join(base, 'store');
mkdirSync(store);
const present = join(store, 'rgg0wyrsypkfspspz37v6wqyj4g41rnw-source');
mkdirSync(present);
writeFileSync(join(present, 'x.nix'), '{ x = 1; }\n');
// A store object may itself be a symlink, and a dangling one is still there.
const link = join(store, 'a1w8kyxprcsj0n1fyw3s7fzd0ln1fa0a-link');
symlinkSync('/nonexistent-target', link);
const gone = join(store, 'cpvbn2gyfw4vqp6m17piq916vvbd1sf4-obj');

const importError = (path: string): string => `error:
       … while calling the 'import' builtin
         at «string»:1:1:
            1| import ${path}
             | ^

       error: path '${path}' does not exist
`;

function classify(output: string) {
  return classifyFailure({
    stage: 'build',
    tool: 'nh',
    exitCode: 1,
    signal: null,
    timedOut: false,
    output,
    goneStorePaths: observeAbsent(storeObjectsNamedMissing(output)),
  });
}

describe('observeAbsent', () => {
  it('names only the paths that are not there (ENOENT); a dangling symlink is there', () => {
    expect(observeAbsent([present, link, gone, join(present, 'x.nix')])).toEqual([gone]);
  });
});

describe('a missing path whose store object is gone is the environment; one whose object is there is the commit', () => {
  it('a file inside a deleted store object: store-path-gone', () => {
    const v = classify(importError(join(gone, 'sub.nix')));
    expect({ class: v.class, cause: v.cause }).toEqual({ class: 'environmental', cause: 'store-path-gone' });
  });
  it('a file the (present) input does not have: eval-error', () => {
    const v = classify(importError(join(present, 'missing.nix')));
    expect({ class: v.class, cause: v.cause }).toEqual({ class: 'caused-by-commit', cause: 'eval-error' });
  });
  it('a dangling symlink object named as missing: still there, eval-error', () => {
    const v = classify(importError(join(link, 'x.nix')));
    expect({ class: v.class, cause: v.cause }).toEqual({ class: 'caused-by-commit', cause: 'eval-error' });
  });
});

// Re-examining a mark an older gitopsd wrote (src/upgrade/index.ts): the
// real fod-dep output (nix 2.34.8: a fetcher's server down), its .drv named
// in this temporary store: read and fixed-output, read and not, or gone.
describe('observeFixedOutputOrGone: a legacy mark of a fetcher outage whose .drv a gc removed', () => {
  const named = '/nix/store/xzrcrjlg47qm79234l0pwjxwgv0gc263-src-6821.drv';
  const drv = join(store, 'xzrcrjlg47qm79234l0pwjxwgv0gc263-src-6821.drv');
  // The toplevel that needed it is named too: it is in this store, and not
  // fixed-output (named in /nix/store, it was read from the test bed's own
  // store, where a gc of another test removes it, and it then counted as gone).
  const namedTop = '/nix/store/hvrqwpbgihcfg2j5vlvxqimr3qrq7vxj-top-9935.drv';
  const top = join(store, 'hvrqwpbgihcfg2j5vlvxqimr3qrq7vxj-top-9935.drv');
  writeFileSync(top, `Derive([("out","${store}/x-top","","")],[],[],"x","/bin/sh",[],[])`);
  const text = readFileSync(new URL('../../fixtures/nix-failures/fod-dep.txt', import.meta.url), 'utf8');
  const mark = BadCommit.parse({
    commit: 'a'.repeat(40),
    reason: 'build-failed',
    at: '2026-01-01T00:00:00Z',
    message: 'build failed',
    storePath: null,
    logTail: text.replaceAll(named, drv).replaceAll(namedTop, top),
  });
  const reexamine = () => reexamineMark(mark, observeFixedOutputOrGone(failedDrvsNamed(mark.logTail))).keep;
  it('gone: cleared (kept before: a good commit marked for good)', () => {
    rmSync(drv, { force: true });
    expect(reexamine()).toBe(false);
  });
  it('there and fixed-output: cleared; there and not: kept', () => {
    writeFileSync(drv, `Derive([("out","${store}/x-src","r:sha256","${'0'.repeat(64)}")],[],[],"x","/bin/sh",[],[])`);
    expect(reexamine()).toBe(false);
    writeFileSync(drv, `Derive([("out","${store}/x-src","","")],[],[],"x","/bin/sh",[],[])`);
    expect(reexamine()).toBe(true);
  });
});
