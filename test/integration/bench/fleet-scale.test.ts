/**
 * B8/B9's own code at small scale (bench/fleet-scale.ts, bench/b9-publish.ts),
 * with the real gitopsd and git: 4 hosts publish (gitopsd's CLI, its publish
 * step in this process, and plain git) and
 * every ref checks good; seeded refs are what B8 reads; and the check finds
 * a lost publish, a status that names another host and a commit with a
 * parent. The benchmark itself (1,000 hosts) runs only in `npm run bench`.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { tempDir } from '../../harness/temp.js';
import { publishFleet } from '../../../bench/b9-publish.js';
import {
  checkStatusRefs,
  createBareRemote,
  git,
  hostName,
  seedRemote,
  STATUS_PREFIX,
  urlPath,
} from '../../../bench/fleet-scale.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('gitopsd-bench-fleet-scale');
});

describe('B9 at 4 hosts', () => {
  it('every host publishes with gitopsd and with plain git; each ref is its own host parentless status', async () => {
    const f = await publishFleet(join(dir, 'b9'), 4, 2, false);
    expect(f.rounds.gitopsd1.errors).toEqual([]);
    expect(f.rounds.plain1.errors).toEqual([]);
    expect(f.rounds.nodeFloor.errors).toEqual([]);
    // The publish step in the benchmark's own process: its CPU is this process's.
    expect(f.rounds.step1.errors).toEqual([]);
    expect(f.rounds.step1.selfCpuMs).toBeGreaterThan(0);
    expect(f.checks.step).toEqual({ refs: 4, good: 4, problems: [] });
    expect(f.rounds.nodeFloor.cpuMs).toBeGreaterThan(0);
    expect(f.rounds.gitopsd1.results.map((r) => r.host)).toEqual(['h0001', 'h0002', 'h0003', 'h0004']);
    expect(f.rounds.gitopsd1.wallMs).toBeGreaterThan(0);
    expect(f.rounds.gitopsd1.cpuMs).toBeGreaterThan(0);
    expect(f.checks.gitopsd).toEqual({ refs: 4, good: 4, problems: [] });
    expect(f.checks.plain).toEqual({ refs: 4, good: 4, problems: [] });
  });
});

describe('the ref check', () => {
  it('finds a lost publish, a status naming another host, and a commit with a parent', async () => {
    const remote = await createBareRemote(join(dir, 'check.git'));
    const template = { v: 1, host: 'x', gitopsdVersion: '0.1.0' };
    const at = new Date('2026-11-30T00:00:00Z');
    await seedRemote(remote, { hosts: ['h0001', 'h0002'], template, main: true, at });
    const gd = urlPath(remote);
    const good = await checkStatusRefs(
      remote,
      new Map([
        ['h0001', null],
        ['h0002', null],
      ]),
    );
    expect(good).toEqual({ refs: 2, good: 2, problems: [] });
    // h0003: a document naming h0001, on a commit whose parent is h0001's.
    const blob = (
      await git(['--git-dir', gd, 'hash-object', '-w', '--stdin'], { input: JSON.stringify({ v: 1, host: 'h0001' }) })
    ).trim();
    const tree = (await git(['--git-dir', gd, 'mktree'], { input: `100644 blob ${blob}\tstatus.json\n` })).trim();
    const parent = (await git(['--git-dir', gd, 'rev-parse', `${STATUS_PREFIX}h0001`])).trim();
    const commit = (
      await git(['--git-dir', gd, 'commit-tree', '-p', parent, '-m', 'forged', tree], {
        env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      })
    ).trim();
    await git(['--git-dir', gd, 'update-ref', `${STATUS_PREFIX}h0003`, commit]);
    const bad = await checkStatusRefs(remote, new Map([1, 2, 3, 4].map((i) => [hostName(i - 1), null])));
    expect(bad.refs).toBe(3);
    expect(bad.good).toBe(2);
    expect(bad.problems.sort()).toEqual([
      'h0003: status.json names host "h0001"',
      'h0003: the status commit has a parent',
      'h0004: no ref at the remote (publish lost)',
    ]);
    // A reported commit that is not the ref's.
    const wrong = await checkStatusRefs(remote, new Map([['h0001', 'deadbeef0000']]));
    expect(wrong.problems).toContain(`h0001: the ref is ${parent}, the publisher reported deadbeef0000`);
  });
});
