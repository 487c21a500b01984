/**
 * kill -9 a process that writes state in a loop, at many points: the state
 * file must always parse, as either the old document or the new one. And
 * two processes updating different sections at once lose neither's update
 * (the update lock, src/core/state.ts), even when one is killed inside it.
 */
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

const KILLS = 40;
const KILLS_IN_LOCK = 8;

function waitForWrites(
  child: { stdout: NodeJS.ReadableStream | null; once(ev: 'exit', fn: () => void): unknown },
  count: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let last = 0;
    let buf = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(?:wrote|updated) (\d+)$/.exec(line);
        if (m) {
          seen += 1;
          last = Number(m[1]);
          if (seen === count) resolve(last);
        }
      }
    });
    child.once('exit', () => reject(new Error(`writer exited after ${seen} writes`)));
  });
}

describe('state store under kill -9', () => {
  it(`survives ${KILLS} kills at varying points`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-state-crash-'));
    const file = join(dir, 'state.json');
    let lastCompleted = 0;
    for (let i = 0; i < KILLS; i++) {
      const child = execa('node', [join(repoRoot, 'test/fixtures/state-writer.mjs'), file], { reject: false });
      // Kill after a varying number of completed writes, so the kill lands at
      // a different point of the write cycle each time.
      const completed = await waitForWrites(child, 1 + (i % 7));
      child.kill('SIGKILL');
      const r = await child;
      expect(r.signal).toBe('SIGKILL');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { version: number; n: number; payload: string[] };
      expect(doc.version).toBe(1);
      // Old or new, never older than the last write the writer reported done.
      expect(doc.n).toBeGreaterThanOrEqual(completed);
      expect(doc.payload).toHaveLength(2000);
      expect(doc.payload[1999]).toBe(`${doc.n}:1999`);
      lastCompleted = doc.n;
    }
    expect(lastCompleted).toBeGreaterThanOrEqual(KILLS);
    // Temp files of killed writers are swept by the next write.
    const temps = readdirSync(dir).filter((f) => f.includes('.tmp-'));
    expect(temps.length).toBeLessThanOrEqual(1);
  });

  it('two processes updating different sections at once lose no update', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-state-race-'));
    const file = join(dir, 'state.json');
    const N = 1000;
    const updater = join(repoRoot, 'test/fixtures/state-updater.mjs');
    const go = join(dir, 'go');
    const children = ['a', 'b'].map((key) => execa('node', [updater, file, key, String(N), go]));
    // Both start updating at the same instant, so their updates interleave.
    await Promise.all(children.map((c) => new Promise((ok) => c.stdout?.once('data', ok))));
    writeFileSync(go, '');
    const results = await Promise.all(children);
    expect(results.map((r) => r.exitCode)).toEqual([0, 0]);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    // A read-modify-write without the lock loses some of these: the later
    // writer puts back the other's section as it read it.
    expect([doc['a'], doc['b']]).toEqual([N, N]);
    expect(existsSync(`${file}.update-lock`)).toBe(false);
  });

  it('an update killed while it holds the update lock does not block the next one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-state-lock-kill-'));
    const file = join(dir, 'state.json');
    const updater = join(repoRoot, 'test/fixtures/state-updater.mjs');
    let leftLocked = 0;
    for (let i = 0; i < KILLS_IN_LOCK; i++) {
      const child = execa('node', [updater, file, 'n', '0'], { reject: false });
      await waitForWrites(child, 1 + (i % 5));
      child.kill('SIGKILL');
      expect((await child).signal).toBe('SIGKILL');
      if (existsSync(`${file}.update-lock`)) leftLocked += 1;
      const before = (JSON.parse(readFileSync(file, 'utf8')) as { n: number }).n;
      // The dead holder's lock is taken over: the next update completes, once.
      const next = await execa('node', [updater, file, 'n', '1']);
      expect(next.stdout.trim()).toBe(`updated ${before + 1}`);
      expect(existsSync(`${file}.update-lock`)).toBe(false);
    }
    // Not asserted (timing decides where each kill lands), but reported: how
    // many kills landed inside the lock, so a run shows the takeover was exercised.
    console.info(`state-crash: ${leftLocked} of ${KILLS_IN_LOCK} kills left the update lock behind`);
  });
});
