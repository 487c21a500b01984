/** The demo deletes demo-fleet/ only when it holds nothing the demo did not create (issue 18). */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { MANIFEST, checkWipe, decideWipe, listFiles, wrapperScript } from '../../../demo/fleet-dir.js';

describe('decideWipe', () => {
  it.each<[string, Parameters<typeof decideWipe>[0], string]>([
    ['no directory', { exists: false, files: [], manifest: null, force: false }, 'absent'],
    ['empty directory', { exists: true, files: [], manifest: null, force: false }, 'wipe'],
    ['only the files it listed', { exists: true, files: ['a', MANIFEST], manifest: ['a'], force: false }, 'wipe'],
    ['a file the user added', { exists: true, files: ['a', 'notes.txt'], manifest: ['a'], force: false }, 'refuse'],
    ['no list (not a finished demo run)', { exists: true, files: ['a'], manifest: null, force: false }, 'refuse'],
    ['a file the user added, --force', { exists: true, files: ['a', 'x'], manifest: ['a'], force: true }, 'wipe'],
  ])('%s: %s', (_n, input, kind) => {
    expect(decideWipe(input).kind).toBe(kind);
  });

  it('names the files it will not delete', () => {
    const d = decideWipe({ exists: true, files: ['a', 'mine/notes.txt'], manifest: ['a'], force: false });
    expect(d).toEqual({ kind: 'refuse', reason: 'it holds 1 file the demo did not create (mine/notes.txt)' });
  });

  it('reads a real directory: a file added after the run is found', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-demo-dir-'));
    mkdirSync(join(dir, 'alpha'));
    writeFileSync(join(dir, 'alpha', 'state.json'), '{}');
    writeFileSync(join(dir, MANIFEST), `${listFiles(dir).join('\n')}\n`);
    expect(checkWipe(dir, false)).toEqual({ kind: 'wipe' });
    writeFileSync(join(dir, 'alpha', 'my-notes.md'), 'keep me');
    expect(checkWipe(dir, false)).toMatchObject({ kind: 'refuse' });
    expect(checkWipe(dir, true)).toEqual({ kind: 'wipe' });
  });
});

describe('the demo-fleet/gitopsd wrapper', () => {
  it('is valid sh, refuses an unknown host with exit 64, and passes the host root and config', async () => {
    const script = wrapperScript({
      project: '/p',
      shimsDir: '/p/test/shims',
      hosts: [
        { name: 'alpha', root: "/d/alpha's root", config: '/d/alpha/config.json' },
        { name: 'beta', root: '/d/beta', config: '/d/beta/config.json' },
      ],
    });
    expect((await execa('sh', ['-n', '-c', script], { reject: false })).exitCode).toBe(0);
    const bad = await execa('sh', ['-c', script, 'gitopsd', 'delta', 'status'], { reject: false });
    expect(bad.exitCode).toBe(64);
    expect(bad.stderr).toContain('usage: gitopsd alpha|beta ARGS...');
    expect(script).toContain(`alpha) root='/d/alpha'\\''s root'; config='/d/alpha/config.json' ;;`);
    expect(script).toContain(`exec '/p/scripts/testbed' env SIM_ROOT="$root" GITOPSD_CONFIG="$config"`);
  });
});
