/**
 * src/core/atomic.ts mkdirParents: `mkdir -p` that returns where node's
 * recursive mkdirSync spins for ever (an ENOENT under an existing parent, as
 * procfs gives; review 8).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirParents } from '../../../src/core/atomic.js';
import { repoRoot } from '../../helpers/cli.js';

const base = mkdtempSync(join(tmpdir(), 'gitopsd-atomic-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('mkdirParents', () => {
  it('creates the missing directories from the top down with the mode, and accepts existing ones', () => {
    const dir = join(base, 'a', 'b', 'c');
    mkdirParents(dir, 0o700);
    for (const d of [join(base, 'a'), join(base, 'a', 'b'), dir]) expect(statSync(d).mode & 0o777).toBe(0o700);
    mkdirParents(dir);
    mkdirParents(base);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('throws ENOENT under /proc (node recursive mkdirSync never returns there), in a child with a timeout', async () => {
    // A child process: a regression would spin in synchronous code, which no test timeout can stop.
    const script = [
      `import { writeFileAtomic } from ${JSON.stringify(join(repoRoot, 'src/core/atomic.ts'))};`,
      `try { writeFileAtomic('/proc/gitopsd-nonexistent/x.html', 'x'); console.log('no error'); }`,
      `catch (err) { console.log(err.code); }`,
    ].join('\n');
    const r = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      timeout: 20_000,
      reject: false,
    });
    expect(r.timedOut, 'writeFileAtomic did not return within 20 s').toBe(false);
    expect(r.stdout.trim(), r.stderr).toBe('ENOENT');
  });
});
