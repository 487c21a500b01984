/**
 * The observation behind `store-path-gone` (docs/upgrade.md "A store path
 * deleted under the evaluation"): the store objects a failed build's error
 * names as missing, looked at with lstat on a real directory. The error
 * texts are nix 2.34.8's (test/unit/failure/classify.test.ts), with the
 * store dir of this temporary store.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyFailure, storeObjectsNamedMissing } from '../../../src/failure/classify.js';
import { observeAbsent } from '../../../src/upgrade/system.js';

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
