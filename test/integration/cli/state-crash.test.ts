/**
 * kill -9 a process that writes state in a loop, at many points: the state
 * file must always parse, as either the old document or the new one.
 */
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

const KILLS = 40;

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
        const m = /^wrote (\d+)$/.exec(line);
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
});
