/** The per-host lock across real processes: held, refused, taken over after kill -9. */
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, existsSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

const holder = join(repoRoot, 'test/fixtures/lock-holder.mjs');

function firstLine(child: {
  stdout: NodeJS.ReadableStream | null;
  once(ev: 'exit', fn: () => void): unknown;
}): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', () => reject(new Error(`exited before a line; stderr-less output: ${buf}`)));
  });
}

describe('lock', () => {
  it('refuses a second holder with its PID, and releases on exit', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    const a = execa('node', [holder, lock], { stdin: 'pipe', reject: false });
    const held = await firstLine(a);
    expect(held).toBe(`held ${a.pid}`);
    const b = await execa('node', [holder, lock], { stdin: 'ignore', reject: false });
    expect(b.exitCode).toBe(75);
    expect(b.stdout).toContain(`refused LockHeldError another gitopsd (pid ${a.pid}, running "fixture")`);
    a.stdin?.end();
    await a;
    expect(existsSync(lock)).toBe(false);
    const c = await execa('node', [holder, lock], { stdin: 'ignore', reject: false });
    expect(c.stdout).toMatch(/^held \d+/);
  });

  it('takes over a lock left by a killed process, with a warning', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    const a = execa('node', [holder, lock], { stdin: 'pipe', reject: false });
    await firstLine(a);
    a.kill('SIGKILL');
    await a;
    expect(existsSync(lock)).toBe(true);
    const b = await execa('node', [holder, lock], { stdin: 'ignore', reject: false });
    expect(b.stdout).toMatch(/^held \d+/);
    expect(b.stderr).toContain('taking over a lock left by a dead process');
    expect(b.stderr).toContain(`"deadPid":${a.pid}`);
  });

  it('refuses a live holder in another PID namespace (its /proc not remounted) or time namespace (review 7, L3)', async () => {
    // unshare(1) from util-linux, as root in the test bed. In both, /proc/<pid>
    // as this process reads it does not describe the holder as it wrote itself.
    for (const ns of [
      ['--pid', '--fork'],
      ['--time', '--fork', '--boottime', '100000'],
    ]) {
      const lock = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
      const a = execa('unshare', [...ns, 'node', holder, lock], { stdin: 'pipe', reject: false });
      expect(await firstLine(a)).toMatch(/^held \d+/);
      const b = await execa('node', [holder, lock], { stdin: 'ignore', reject: false });
      expect(b.stdout).toMatch(/^refused LockHeldError another gitopsd \(pid \d+, running "fixture"\) holds the lock/);
      a.stdin?.end();
      await a;
      expect(existsSync(lock)).toBe(false);
    }
  });

  it('treats a torn lock file (crash between create and write) as stale once it is a second old, as busy before', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    // Fresh: its holder may be alive between its create and its write. The
    // file is made once the process is started (node's start-up took over a
    // second on a loaded machine, and the file was then a crash's).
    const young = execa('node', [holder, lock], { stdin: 'pipe', reject: false, env: { LOCK_HOLDER_WAIT: '1' } });
    expect(await firstLine(young)).toBe('ready');
    writeFileSync(lock, '');
    young.stdin?.end('go\n');
    expect((await young).stdout).toMatch(/is being created by another process \(no PID in it yet\); retry/);
    const t = new Date(Date.now() - 5_000);
    utimesSync(lock, t, t);
    const b = await execa('node', [holder, lock], { stdin: 'ignore', reject: false });
    expect(b.stdout).toMatch(/^held \d+/);
  });
});
