/**
 * The fleet reader's memory (src/fleet/seen.ts, docs/fleet.md "What a
 * reader remembers") against clocks and a second reader, with real git,
 * ssh-keygen signatures and the built gitopsd (review 17).
 *
 * Two readers of one stateDir (a host's rollout gate and a `fleet status`,
 * or `fleet serve`) raise marks in the reader memory at the same time
 * (src/fleet/seen.ts, docs/fleet.md "What a reader remembers"): neither
 * loses the other's. Reader A stops between writing its new file and its
 * rename (GITOPSD_FAULT_STOP_AT); reader B raises another host's mark
 * meanwhile. Before review 17 B wrote its file, and A's rename, merged from
 * a read before B's write, dropped B's mark.
 */
import { it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createFleet, type FleetHost } from '../../harness/fleet.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { procStat } from '../../../src/core/proc.js';
import { startCli } from '../../helpers/cli.js';
import { createStatusRemote, signFleet } from './fixture.js';

let h1: FleetHost;
let h2: FleetHost;
const env = { GITOPSD_TEST_NOW: '2026-12-01T06:00:00Z', TZ: 'UTC' };

beforeAll(async () => {
  await requireTools();
  const dir = await tempDir('gitopsd-seen-race');
  const fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['h1', 'h2'] });
  [h1, h2] = fleet.hosts as [FleetHost, FleetHost];
  const remote = await createStatusRemote(join(dir, 'remotes'));
  await signFleet({ hosts: fleet.hosts, dir, remote, extra: () => ({ dotfiles: { enable: false } }) });
});
afterAll(removeTempDirs);

it("two readers of one stateDir raise marks at once: neither loses the other's", async () => {
  for (const h of [h1, h2]) expect((await h.gitopsd(['fleet', 'publish', '--force'], { env })).exitCode).toBe(0);
  const reader = (host: string, extra: Record<string, string> = {}): ReturnType<typeof startCli> =>
    startCli(['fleet', 'status', '--host', host, '--config', h1.config], { env: { ...h1.sim.env, ...env, ...extra } });
  const a = reader('h1', { GITOPSD_FAULT_STOP_AT: 'fleet-seen:before-rename' });
  let aEnded = false;
  void a.done.then(() => (aEnded = true));
  while (procStat(a.pid)?.state !== 'T') {
    if (aEnded) throw new Error(`reader A never stopped: ${JSON.stringify(await a.done)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const b = reader('h2');
  // B waits for A's section (or, before the fix, wrote its file at once); A goes on either way.
  await Promise.race([b.done, new Promise((r) => setTimeout(r, 3000))]);
  process.kill(a.pid, 'SIGCONT');
  expect((await a.done).exitCode).toBe(0);
  expect((await b.done).exitCode).toBe(0);
  const memory = JSON.parse(await readFile(join(h1.sim.paths.stateDir, 'fleet', 'status-seen.json'), 'utf8')) as {
    hosts: Record<string, unknown>;
  };
  expect(Object.keys(memory.hosts).sort()).toEqual(['h1', 'h2']);
});

async function rowOf(reader: FleetHost, host: string, at: string): Promise<{ state: string; reasons: string[] }> {
  const r = await reader.gitopsd(['fleet', 'status', '--json', '--host', host], {
    env: { ...env, GITOPSD_TEST_NOW: at },
  });
  const row = (JSON.parse(r.stdout) as { hosts: { state: string; reasons: string[] }[] }).hosts[0];
  if (row === undefined) throw new Error(`no row of ${host}: ${r.stdout}${r.stderr}`);
  return row;
}

async function publishAt(h: FleetHost, at: string): Promise<void> {
  const r = await h.gitopsd(['fleet', 'publish', '--force'], { env: { ...env, GITOPSD_TEST_NOW: at } });
  expect(r.exitCode, r.stderr).toBe(0);
}

it('a clock up to 5 min ahead, then set back: the next status is not a replay', async () => {
  // h2 publishes with its clock 250 s ahead; h1 reads it (the mark rises).
  await publishAt(h2, '2026-12-01T07:04:10Z');
  expect((await rowOf(h1, 'h2', '2026-12-01T07:00:00Z')).state).toBe('healthy');
  // h2's clock is set right and it publishes again. Before, that status was
  // dated 07:01, older than the mark, and h2 stayed unverified at h1 until
  // its next publish (a heartbeat: 49 minutes in review 17's run).
  await publishAt(h2, '2026-12-01T07:01:00Z');
  expect(await rowOf(h1, 'h2', '2026-12-01T07:01:00Z')).toMatchObject({ state: 'healthy' });
});

it("a reader's own clock a day ahead, then set back: its marks of that day do not shut the host out", async () => {
  // h1 publishes and reads its own status (its gate does) with its clock a day ahead.
  await publishAt(h1, '2026-12-02T08:00:00Z');
  expect((await rowOf(h1, 'h1', '2026-12-02T08:00:00Z')).state).toBe('healthy');
  // Set right: before, every status of h1 was a replay to h1 until real time
  // caught up with that day, its reboot turns refused for its own row.
  await publishAt(h1, '2026-12-01T08:10:00Z');
  expect(await rowOf(h1, 'h1', '2026-12-01T08:10:00Z')).toMatchObject({ state: 'healthy' });
});
