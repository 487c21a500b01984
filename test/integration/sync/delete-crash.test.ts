/**
 * A deletion another host made survives a kill -9 of the sync that brings
 * it in. hosta deletes .gamma, .delta and .epsilon from the source; hostb's
 * sync that integrates the deletion is stopped at its snapshot of the
 * managed files (`chezmoi managed`) while the person edits .delta, then
 * SIGKILLed at every kill point from there to the end of the state write
 * after apply (test/harness/kill-points.ts). The next sync
 * must do what the uninterrupted one does: remove the unedited .gamma (and
 * .epsilon, a template whose data changed: only the source differs),
 * keep the edited .delta and report it (code O, exit 1) until the person
 * acts. Before the write-ahead record (`pendingRemovals`), the hashes that
 * tell "unchanged" from "edited" lived only in the killed run's memory: the
 * next sync found the remote unmoved, took no snapshot, and left the files
 * in $HOME, unmanaged and unreported (and .epsilon stayed so even without
 * a kill).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { killPoints, type TraceCheckpoint } from '../../harness/kill-points.js';
import { removeTempDirs } from '../../harness/temp.js';
import { startCli, type CliResult } from '../../helpers/cli.js';
import {
  GIT_ENV,
  chezmoiArgs,
  makeHost,
  makeRemote,
  readHome,
  remoteTree,
  snapshotDirs,
  sync,
  syncExpect,
  untilStopped,
  type Host,
} from './fixture.js';

afterAll(removeTempDirs);

const EDIT = 'd1\nedited-on-hostb\n';

/**
 * hostb's sync, stopped at the snapshot's `chezmoi managed` while .delta is
 * edited, and (with `killAt`) SIGKILLed at that checkpoint number.
 */
async function syncEditingDelta(b: Host, env: Record<string, string>): Promise<CliResult> {
  const cli = startCli(['sync', '--config', b.config, '--json'], {
    env: { GITOPSD_FAULT_STOP_AT: 'cmd:chezmoi managed', ...env },
  });
  try {
    await untilStopped(cli.pid, cli.done);
    await writeFile(join(b.home, '.delta'), EDIT);
  } finally {
    process.kill(cli.pid, 'SIGCONT');
  }
  return cli.done;
}

describe('a sync killed while it brings in a deletion from another host', () => {
  it('removes the unedited file and keeps and reports the edited one on the next run', async () => {
    const remote = await makeRemote({ dot_alpha: 'a1\n', dot_gamma: 'g1\n', dot_delta: 'd1\n' });
    // .epsilon is a template of data outside the source: when the data
    // changes, chezmoi lists it with only a Y column (the source changed,
    // $HOME is still what chezmoi wrote), and it is just as removable.
    const data = join(remote.dir, 'epsilon-data');
    await writeFile(data, 'e1\n');
    const seed = join(remote.dir, 'seed');
    await writeFile(join(seed, 'dot_epsilon.tmpl'), `{{ include "${data}" }}`);
    await run('git', ['-C', seed, 'add', '-A'], { env: GIT_ENV });
    await run('git', ['-C', seed, 'commit', '-qm', 'epsilon'], { env: GIT_ENV });
    await run('git', ['-C', seed, 'push', '-q', remote.url, 'main']);
    const a = await makeHost(remote, 'hosta');
    const b = await makeHost(remote, 'hostb');
    await syncExpect(a, 0);
    await syncExpect(b, 0);
    expect(await readHome(b, '.epsilon')).toBe('e1\n');
    await writeFile(data, 'e2\n');
    for (const t of ['.gamma', '.delta', '.epsilon']) {
      await run('chezmoi', [...chezmoiArgs(a), 'forget', '--force', join(a.home, t)]);
    }
    await syncExpect(a, 0);
    expect([...(await remoteTree(remote)).keys()]).toEqual(['dot_alpha']);

    // The remote too: a kill before the source change leaves a run that parks
    // .delta's edit and pushes sync/hostb.
    const restore = await snapshotDirs([remote.dir, b.root]);
    // The uninterrupted sync: what every recovery must end with.
    const trace = join(b.root, '..', `${b.name}-delete.trace`);
    const whole = await syncEditingDelta(b, { GITOPSD_TRACE: trace });
    const orphan = [{ target: '.delta', code: 'O', why: expect.stringContaining('chezmoi add ~/.delta') as unknown }];
    const report = (r: CliResult): unknown => (JSON.parse(r.stdout) as Record<string, unknown>)['uncapturable'];
    const want = JSON.stringify(report(whole));
    expect(whole.exitCode, whole.stderr).toBe(1);
    expect(report(whole)).toEqual(orphan);
    expect((JSON.parse(whole.stdout) as { removed: unknown }).removed).toEqual(['.epsilon', '.gamma']);
    const checkpoints = (await readFile(trace, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"checkpoint"'))
      .map((l) => JSON.parse(l) as TraceCheckpoint);
    const managedAt = checkpoints.find((c) => c.label === 'cmd:chezmoi' && c.args?.includes('managed'))?.n ?? 0;
    // The fast-forward: the first step that changes the source.
    const rebaseAt = checkpoints.find((c) => c.n > managedAt && c.args?.includes('rebase'))?.n ?? 0;
    expect(managedAt).toBeGreaterThan(0);
    expect(rebaseAt).toBeGreaterThan(managedAt);
    // The end of the window: the state write after apply (wcBase, heldBases,
    // the record cleared), the first rename after the source change.
    const windowEnd = checkpoints.find((c) => c.n > rebaseAt && c.label === 'atomic-write:before-rename')?.n ?? 0;
    expect(windowEnd).toBeGreaterThan(rebaseAt);
    // The kill points from the one right before the source changes (the
    // record, when there is one, is written; the source is not changed yet:
    // a record the next run must drop) to the end of the window. A kill
    // before the record's write leaves what a kill before any snapshot does,
    // and one after the window a run whose deletion step is done.
    const points = killPoints(checkpoints).filter((n) => n >= rebaseAt && n <= windowEnd);
    expect(points.filter((n) => n > rebaseAt).length).toBeGreaterThan(1);
    process.stdout.write(
      `deletion crash points: ${points.join(', ')} of ${checkpoints.length} checkpoints; the source changes at ${rebaseAt}\n`,
    );

    const failures: string[] = [];
    for (const n of points) {
      await restore();
      const killed = await syncEditingDelta(b, { GITOPSD_FAULT_KILL_AT: String(n) });
      expect({ n, exitCode: killed.exitCode }).toEqual({ n, exitCode: -1 });
      const r = await sync(b);
      const problems: string[] = [];
      if (n <= rebaseAt) {
        // Killed before the source changed: the next run captures the edit
        // first, so it meets the deletion as a modify/delete conflict
        // (parked), as an edit made before any sync does.
        if (r.exitCode !== 1 || r.json?.['kind'] !== 'conflict-parked')
          problems.push(`result ${r.exitCode} ${String(r.json?.['kind'])}: ${r.stderr.slice(-400)}`);
      } else if (r.exitCode !== 1 || r.json?.['kind'] !== 'edits-waiting')
        problems.push(`result ${r.exitCode} ${String(r.json?.['kind'])}: ${r.stderr.slice(-400)}`);
      else if (JSON.stringify(r.json['uncapturable']) !== want)
        problems.push(`uncapturable ${JSON.stringify(r.json['uncapturable'])}`);
      if ((await readHome(b, '.gamma')) !== null) problems.push('.gamma left in $HOME');
      if ((await readHome(b, '.epsilon')) !== null) problems.push('.epsilon left in $HOME');
      if ((await readHome(b, '.delta')) !== EDIT) problems.push('.delta edit lost');
      if (problems.length > 0) failures.push(`kill at ${n}: ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
    // The wait lasts until the person acts, as after an uninterrupted sync.
    const again = await syncExpect(b, 1);
    expect(again.json?.['uncapturable']).toEqual(orphan);
    await run('chezmoi', [...chezmoiArgs(b), 'add', join(b.home, '.delta')]);
    expect((await syncExpect(b, 0)).json?.['uncapturable']).toEqual([]);
    expect((await remoteTree(remote)).get('dot_delta')).toBe(EDIT);
  }, 600_000);
});
