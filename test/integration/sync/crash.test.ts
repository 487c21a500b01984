/**
 * Crash safety: SIGKILL the sync at every checkpoint (each external command
 * and each state write) of a sync that integrates one file and parks
 * another, then run the sync again: it must complete with nothing lost, no
 * divergent or conflicted commits, and no conflict markers anywhere. A
 * checkpoint right before a command that writes nothing is not killed at:
 * it leaves the same state as the next one (test/harness/kill-points.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killPoints, type TraceCheckpoint } from '../../harness/kill-points.js';
import { removeTempDirs } from '../../harness/temp.js';
import {
  filesWithMarkers,
  jjIn,
  makeHost,
  makeRemote,
  readHome,
  remoteTree,
  snapshotDirs,
  sync,
  syncExpect,
  type Host,
  type Remote,
} from './fixture.js';

afterAll(removeTempDirs);

describe('a sync killed at any checkpoint is completed by the next one', () => {
  let remote: Remote;
  let a: Host;
  let b: Host;
  let restore: () => Promise<void>;
  let points: number[] = [];

  it('prepares a host whose next sync integrates .beta and parks .alpha', async () => {
    remote = await makeRemote({ dot_alpha: 'a1\na2\n', dot_beta: 'b1\n' });
    a = await makeHost(remote, 'hosta');
    b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    await writeFile(join(a.home, '.alpha'), 'a1\nA2-from-a\n');
    await syncExpect(a, 0);
    await writeFile(join(b.home, '.alpha'), 'a1\nA2-from-b\n');
    await writeFile(join(b.home, '.beta'), 'b1\nB2-from-b\n');
    restore = await snapshotDirs([remote.dir, b.root]);
    const trace = join(b.root, 'trace.jsonl');
    await syncExpect(b, 1, { GITOPSD_TRACE: trace });
    const checkpoints = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"checkpoint"'))
      .map((l) => JSON.parse(l) as TraceCheckpoint);
    // A kill right before a command that writes nothing leaves the state the
    // next kill point leaves (test/harness/kill-points.ts); those are skipped.
    points = killPoints(checkpoints);
    expect(points.length).toBeGreaterThan(20);
    process.stdout.write(
      `sync crash-injection points: ${points.length} of ${checkpoints.length} checkpoints (the rest precede a read-only command)\n`,
    );
  }, 600_000);

  it('recovers from a kill at every checkpoint', async () => {
    const failures: string[] = [];
    for (const n of points) {
      await restore();
      const killed = await sync(b, { env: { GITOPSD_FAULT_KILL_AT: String(n) } });
      // SIGKILLed: no exit code (the CLI helper reports -1), no JSON report.
      expect({ n, exitCode: killed.exitCode }).toEqual({ n, exitCode: -1 });
      let r = await sync(b);
      // One more run is allowed to finish a publish the kill interrupted.
      if (r.exitCode !== 1) r = await sync(b);
      const problems: string[] = [];
      if (r.exitCode !== 1 || r.json?.['kind'] !== 'conflict-parked')
        problems.push(`result ${r.exitCode} ${String(r.json?.['kind'])}: ${r.stderr.slice(-400)}`);
      const main = await remoteTree(remote);
      if (main.get('dot_beta') !== 'b1\nB2-from-b\n')
        problems.push(`main beta=${JSON.stringify(main.get('dot_beta'))}`);
      if (main.get('dot_alpha') !== 'a1\nA2-from-a\n')
        problems.push(`main alpha=${JSON.stringify(main.get('dot_alpha'))}`);
      const parked = await remoteTree(remote, 'sync/hostb').catch(() => new Map<string, string>());
      if (parked.get('dot_alpha') !== 'a1\nA2-from-b\n')
        problems.push(`parked alpha=${JSON.stringify(parked.get('dot_alpha'))}`);
      if ((await readHome(b, '.alpha')) !== 'a1\nA2-from-b\n') problems.push('home alpha changed');
      if ((await readHome(b, '.beta')) !== 'b1\nB2-from-b\n') problems.push('home beta changed');
      const troubled = await jjIn(b, [
        'log',
        '--no-graph',
        '-r',
        'conflicts() | divergent()',
        '-T',
        'change_id ++ "\\n"',
      ]);
      if (troubled.trim() !== '') problems.push(`conflicted/divergent: ${troubled.trim()}`);
      const marked = await filesWithMarkers(b.home, (p) => p.includes('/.jj') || p.endsWith('/.git'));
      if (marked.length > 0) problems.push(`markers in ${marked.join(', ')}`);
      if (problems.length > 0) failures.push(`kill at ${n}: ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
    // A guard, not a measurement: 74 points took 809 s in two idle CI runs; 68 took 904 s.
  }, 1_800_000);
});

describe('an edit made after integration but before apply', () => {
  it('is merged with the integrated change instead of reverting it', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\na2\na3\na4\n' });
    const a = await makeHost(remote, 'hosta');
    const b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    await writeFile(join(a.home, '.alpha'), 'A1-from-a\na2\na3\na4\n');
    await syncExpect(a, 0);
    const restoreB = await snapshotDirs([b.root]);
    const trace = join(b.root, '..', `${b.name}-apply-trace.jsonl`);
    await syncExpect(b, 0, { GITOPSD_TRACE: trace });
    const applyAt = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"checkpoint"'))
      .map((l) => JSON.parse(l) as { n: number; args?: string[] })
      .find((c) => c.args?.includes('apply'))?.n;
    expect(applyAt).toBeGreaterThan(0);
    await restoreB();
    // Killed right before `chezmoi apply`: the source is ahead of $HOME.
    const killed = await sync(b, { env: { GITOPSD_FAULT_KILL_AT: String(applyAt) } });
    expect(killed.json).toBeNull();
    expect(await readHome(b, '.alpha')).toBe('a1\na2\na3\na4\n');
    // The person edits another line of the same file meanwhile.
    await writeFile(join(b.home, '.alpha'), 'a1\na2\na3\nA4-from-b\n');
    await syncExpect(b, 0);
    const want = 'A1-from-a\na2\na3\nA4-from-b\n';
    expect((await remoteTree(remote)).get('dot_alpha')).toBe(want);
    expect(await readHome(b, '.alpha')).toBe(want);
    await syncExpect(a, 0);
    expect(await readHome(a, '.alpha')).toBe(want);
  });
});
