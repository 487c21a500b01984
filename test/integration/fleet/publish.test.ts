/**
 * Publishing and reading fleet status with the real gitopsd, git and
 * ssh-keygen on two simulated hosts: the status ref after a run, its
 * status.json v1, skip when unchanged, the heartbeat (injected clock), an
 * unreachable status remote (the run unaffected; retried), signatures, and
 * the bad inputs a reader must survive.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createFleet, type Fleet, type FleetHost } from '../../harness/fleet.js';
import { tempDir } from '../../harness/temp.js';
import { run, tryRun } from '../../harness/exec.js';
import { repoRoot } from '../../helpers/cli.js';
import {
  configureHost,
  createStatusRemote,
  pushRawObject,
  pushRawStatus,
  readRemoteStatus,
  remoteRefs,
  signFleet,
} from './fixture.js';
import type { FleetView } from '../../../src/fleet/schema.js';
import type { StatusReport } from '../../../src/status/index.js';

let fleet: Fleet;
let pa: FleetHost;
let pb: FleetHost;
let dir: string;
let remote: string;
let signers: string;
let keys: Record<string, string> = {};

const T0 = '2026-11-22T12:00:00Z';
const at = (h: number): Record<string, string> => ({
  GITOPSD_TEST_NOW: new Date(Date.parse(T0) + h * 3600_000).toISOString(),
  TZ: 'UTC',
});

/** The git subcommands a GITOPSD_TRACE file shows, in order (the word after git's global options). */
async function tracedGit(file: string): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  return lines
    .map((l) => JSON.parse(l) as { event: string; cmd?: string; args?: string[] })
    .filter((e) => e.event === 'start' && e.cmd === 'git')
    .map((e) => {
      const a = e.args ?? [];
      let i = 0;
      while (i < a.length && (a[i] === '-c' || a[i] === '--git-dir' || a[i] === '-C')) i += 2;
      return a[i] ?? '';
    });
}

async function fleetStatus(h: FleetHost, args: string[] = [], env: Record<string, string> = at(0)) {
  const r = await h.gitopsd(['fleet', 'status', '--json', ...args], { env });
  let view: FleetView | null = null;
  try {
    view = JSON.parse(r.stdout) as FleetView;
  } catch {
    view = null;
  }
  return { ...r, view };
}

beforeAll(async () => {
  dir = await tempDir('gitopsd-fleet-publish');
  fleet = await createFleet({ dir: join(dir, 'fleet'), names: ['pa', 'pb'] });
  [pa, pb] = fleet.hosts as [FleetHost, FleetHost];
  remote = await createStatusRemote(join(dir, 'remotes'));
  ({ keys, signers } = await signFleet({
    hosts: fleet.hosts,
    dir,
    remote,
    extra: (h) => ({ metrics: { textfileDir: join(h.sim.root, 'metrics') } }),
  }));
});

describe('publishing', () => {
  it('a run publishes status.json v1 on refs/gitopsd/status/<host>: one parentless commit, signed', async () => {
    const r = await pa.gitopsd(['cycle'], { env: at(0) });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const refs = await remoteRefs(remote);
    expect(Object.keys(refs)).toEqual(['refs/gitopsd/status/pa']);
    const s = await readRemoteStatus(dir, remote, 'refs/gitopsd/status/pa');
    const local = await pa.json<StatusReport>(['status']);
    expect(s).toMatchObject({
      v: 1,
      host: 'pa',
      gitopsdVersion: local.version,
      heartbeatSec: 3600,
      deployed: { commit: local.git.deployed?.commit, generation: local.system.deployedGeneration },
      git: { checkout: local.git.head, relation: 'up-to-date' },
      system: { running: local.system.current, booted: local.system.booted, bootDefault: local.system.profile },
      boot: { verdict: local.boot.verdict, failures: 0 },
      dotfiles: { state: 'in-sync' },
      runs: { cycle: { ok: true, exitCode: 0 } },
      knownBadCommits: [],
      previousPublishError: null,
    });
    // The clock starts at T0 (GITOPSD_TEST_NOW) and runs on with the run.
    const published = Date.parse(String(s['publishedAt']));
    expect(published - Date.parse(T0)).toBeGreaterThanOrEqual(0);
    expect(published - Date.parse(T0)).toBeLessThan(120_000);
    expect(typeof s['healthySince']).toBe('string');
    expect(Object.keys((s['lock'] as { inputs: object }).inputs).length).toBeGreaterThanOrEqual(0);
    // status shows the publish
    expect(local.publish).toMatchObject({ enabled: true, lastError: null, failures: 0, ref: 'refs/gitopsd/status/pa' });
    expect((await pa.gitopsd(['status'], { env: at(0) })).stdout).toMatch(
      /fleet publish\s+published .* refs\/gitopsd\/status\/pa/,
    );
  });

  it('nothing changed: not published again until the heartbeat is due (jittered into 0.8-1.0 x heartbeat)', async () => {
    const before = (await remoteRefs(remote))['refs/gitopsd/status/pa'];
    const same = await pa.gitopsd(['fleet', 'publish'], { env: at(0.1) });
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^unchanged; next heartbeat at /);
    const next = Date.parse(/next heartbeat at (\S+)/.exec(same.stdout)?.[1] ?? '');
    expect(next).toBeGreaterThanOrEqual(Date.parse(T0) + 0.8 * 3600_000);
    expect(next).toBeLessThanOrEqual(Date.parse(T0) + 3600_000);
    expect((await remoteRefs(remote))['refs/gitopsd/status/pa']).toBe(before);
    const beat = await pa.gitopsd(['fleet', 'publish'], { env: at(1.01) });
    expect(beat.exitCode, beat.stderr).toBe(0);
    expect(beat.stdout).toMatch(/published [0-9a-f]{12} to refs\/gitopsd\/status\/pa .*\(heartbeat, signed\)/);
    const after = (await remoteRefs(remote))['refs/gitopsd/status/pa'];
    expect(after).not.toBe(before);
    const republished = Date.parse(
      String((await readRemoteStatus(dir, remote, 'refs/gitopsd/status/pa'))['publishedAt']),
    );
    expect(republished - Date.parse(at(1.01)['GITOPSD_TEST_NOW'] ?? '')).toBeLessThan(60_000);
    const forced = await pa.gitopsd(['fleet', 'publish', '--force', '--json'], { env: at(1.02) });
    expect(JSON.parse(forced.stdout)).toMatchObject({ ok: true, kind: 'published', why: 'forced', signed: true });
    // With a record, a publish is 4 git processes: no ls-remote before the push.
    const trace = join(dir, 'publish-trace.jsonl');
    const again = await pa.gitopsd(['fleet', 'publish', '--force'], { env: { ...at(1.03), GITOPSD_TRACE: trace } });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await tracedGit(trace)).toEqual(['hash-object', 'mktree', 'commit-tree', 'push']);
  });

  it('a host that lost its publish record overwrites its own ref: the push expecting no ref is refused, the ref is read, the push is made with that lease', async () => {
    const stateFile = join(pa.sim.paths.stateDir, 'state.json');
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
    delete state['fleet'];
    await writeFile(stateFile, JSON.stringify(state));
    const trace = join(dir, 'lost-record-trace.jsonl');
    const r = await pa.gitopsd(['fleet', 'publish', '--force', '--json'], {
      env: { ...at(1.04), GITOPSD_TRACE: trace },
    });
    expect(JSON.parse(r.stdout), r.stderr).toMatchObject({ ok: true, kind: 'published' });
    expect((await remoteRefs(remote))['refs/gitopsd/status/pa']).toBe(
      (JSON.parse(r.stdout) as { commit: string }).commit,
    );
    expect(await tracedGit(trace)).toEqual(['hash-object', 'mktree', 'commit-tree', 'push', 'ls-remote', 'push']);
  });

  it('an unreachable status remote: the run exits as it would, the failure is in status, the run record and metrics; the next run retries', async () => {
    await configureHost(pb, {
      fleet: {
        enable: true,
        statusRemote: join(dir, 'nowhere', 'status.git'),
        signingKey: keys['pb'],
        heartbeatSec: 3600,
      },
    });
    const r = await pb.gitopsd(['cycle'], { env: at(0) });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const s = await pb.json<StatusReport>(['status']);
    expect(s.publish.lastError).toMatch(
      /^cannot publish the fleet status to .*nowhere\/status\.git: .*does not appear to be a git repository.*; the run is unaffected and the next run retries$/,
    );
    expect(s.publish.failures).toBe(1);
    const state = JSON.parse(await readFile(join(pb.sim.paths.stateDir, 'state.json'), 'utf8')) as {
      runs: Record<string, { ok: boolean; publishError?: string }>;
    };
    expect(state.runs['cycle']?.ok).toBe(true);
    expect(state.runs['cycle']?.publishError).toMatch(/cannot publish/);
    const prom = await readFile(join(pb.sim.root, 'metrics', 'gitopsd.prom'), 'utf8');
    expect(prom).toMatch(/^gitopsd_fleet_publish_success 0$/m);
    expect(prom).toMatch(/^gitopsd_fleet_publish_failures 1$/m);
    expect((await pb.gitopsd(['status'])).stdout).toMatch(/fleet publish\s+failing \(1x\): cannot publish/);

    await configureHost(pb, {
      fleet: {
        enable: true,
        statusRemote: remote,
        signingKey: keys['pb'],
        heartbeatSec: 3600,
        allowedSignersFile: signers,
      },
    });
    const retry = await pb.gitopsd(['fleet', 'publish', '--json'], { env: at(0.05) });
    expect(JSON.parse(retry.stdout), retry.stderr).toMatchObject({ kind: 'published', why: 'first' });
    const doc = await readRemoteStatus(dir, remote, 'refs/gitopsd/status/pb');
    expect(doc['previousPublishError']).toMatch(/cannot publish/);
    // When the failed attempt was, and how many failed: a reader notes them (review 12).
    const failedAt = Date.parse(String(doc['previousPublishErrorAt']));
    expect(failedAt - Date.parse(T0)).toBeGreaterThanOrEqual(0);
    expect(failedAt).toBeLessThan(Date.parse(String(doc['publishedAt'])));
    expect(doc['previousPublishFailures']).toBe(1);
    // History, not a result: the next run does not push again only to drop it.
    const next = await pb.gitopsd(['fleet', 'publish'], { env: at(0.06) });
    expect(next.stdout, next.stderr).toMatch(/^unchanged; next heartbeat at /);
  });

  it('run by a user who cannot write stateDir (not root): exit 6 and one line saying to run it as root or as its owner; nothing changed', async () => {
    // As on NixOS: a world-readable config, stateDir 0755 root, the host published as root before.
    const base = await tempDir('gitopsd-fleet-nonroot');
    await chmod(base, 0o755);
    const stateDir = join(base, 'state');
    await mkdir(stateDir, { mode: 0o755 });
    const status = await createStatusRemote(join(base, 'remotes'));
    const config = join(base, 'config.json');
    const cfg = (state: string) => ({
      nixConfig: { path: join(base, 'nix-config') },
      stateDir: state,
      hostname: 'np',
      fleet: { enable: true, statusRemote: status, signingKey: null },
    });
    await writeFile(config, JSON.stringify(cfg(stateDir)), { mode: 0o644 });
    const gitopsd = join(repoRoot, 'bin', 'gitopsd');
    const asRoot = await tryRun(process.execPath, [gitopsd, 'fleet', 'publish', '--config', config]);
    expect(asRoot.exitCode, asRoot.stderr).toBe(0);
    const ref = (await remoteRefs(status))['refs/gitopsd/status/np'];
    const state = await readFile(join(stateDir, 'state.json'), 'utf8');
    const nobody = async (args: string[]) => {
      const uid = (await run('id', ['-u', 'nobody'])).stdout.trim();
      const gid = (await run('id', ['-g', 'nobody'])).stdout.trim();
      const argv = ['--reuid', uid, '--regid', gid, '--clear-groups', process.execPath, gitopsd, ...args];
      return { uid, r: await tryRun('setpriv', argv) };
    };
    const { uid, r } = await nobody(['fleet', 'publish', '--force', '--json', '--config', config]);
    expect(r.exitCode, r.stderr).toBe(6);
    const line = `gitopsd fleet publish cannot write its state directory ${stateDir} (EACCES: owned by uid 0, this process runs as uid ${uid}); run it as root (e.g. with sudo) or as the user that owns ${stateDir}`;
    expect(r.stderr).toBe(`gitopsd: ${line}\n`);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, exitCode: 6, error: line });
    expect((await remoteRefs(status))['refs/gitopsd/status/np']).toBe(ref);
    expect(await readFile(join(stateDir, 'state.json'), 'utf8')).toBe(state);
    // No stateDir yet, in a directory this user cannot write: the same, naming
    // that directory (it was an internal error with a stack trace, exit 70).
    await writeFile(config, JSON.stringify(cfg(join(base, 'none', 'state'))));
    const fresh = (await nobody(['fleet', 'publish', '--config', config])).r;
    expect(fresh.exitCode, fresh.stderr).toBe(6);
    expect(fresh.stderr).toBe(
      `gitopsd: gitopsd fleet publish cannot create its state directory ${join(base, 'none', 'state')} in ${base} (EACCES: owned by uid 0, this process runs as uid ${uid}); run it as root (e.g. with sudo) or as the user that owns ${base}\n`,
    );
  });
});

describe('reading', () => {
  // Read after the last publish above (pa's at 1.04 h): a status dated
  // ahead of the reader's clock by more than 5 min counts as stale.
  it('fleet status: one verified row per host; --host filters; the text table has the compartments', async () => {
    const { exitCode, view, stderr } = await fleetStatus(pa, [], at(1.1));
    expect(view, stderr).not.toBeNull();
    expect(view?.hosts.map((h) => [h.host, h.signature.state, h.signature.signer])).toEqual([
      ['pa', 'verified', 'pa'],
      ['pb', 'verified', 'pb'],
    ]);
    expect(view?.signersConfigured).toBe(true);
    // pb's status says that a publish failed before it: a note, not a warning (review 12).
    expect(view?.hosts.find((h) => h.host === 'pa')?.state).toBe('healthy');
    expect(view?.hosts.find((h) => h.host === 'pb')).toMatchObject({
      state: 'healthy',
      reasons: [],
      notes: [expect.stringMatching(/^published after a failed publish attempt \(at \S+\): cannot publish/)],
    });
    expect(exitCode).toBe(0);
    // A host asked for that has no status at all is not healthy (exit 1), and
    // the rollout is not shown from some hosts' rows (review 11).
    const one = await fleetStatus(pa, ['--host', 'pb', '--host', 'gone'], at(1.1));
    expect(one.view?.hosts.map((h) => h.host)).toEqual(['pb']);
    expect(one.exitCode, one.stderr).toBe(1);
    const oneJson = JSON.parse(one.stdout) as { missingHosts: string[]; rollout: { progress: unknown; note: string } };
    expect(oneJson.missingHosts).toEqual(['gone']);
    expect(oneJson.rollout.progress).toBeNull();
    expect(oneJson.rollout.note).toMatch(/not shown with --host/);
    // A directory that does not exist is a typo on the command line (exit
    // 64, one line) and is not made (as root too); a page that cannot be
    // written is exit 75 and one line (here: FILE is a directory), not an
    // internal error.
    const missingDir = join(dir, 'no-such-dir');
    const page = await pa.gitopsd(['fleet', 'status', '--host', 'pb', '--html', join(missingDir, 'x.html')], {
      env: at(1.1),
    });
    expect([page.exitCode, page.stderr.trim()]).toEqual([
      64,
      `gitopsd: --html ${join(missingDir, 'x.html')}: the directory ${missingDir} does not exist; pass a file in an existing directory (it is not made); see gitopsd fleet status --help`,
    ]);
    expect(existsSync(missingDir)).toBe(false);
    const unwritable = await pa.gitopsd(['fleet', 'status', '--host', 'pb', '--html', dir], { env: at(1.1) });
    expect(unwritable.exitCode).toBe(75);
    expect(unwritable.stderr.trim()).toMatch(
      /^gitopsd: cannot write the fleet page --html \S+ \(EISDIR\); check that its directory exists and can be written, then run again$/,
    );
    const text = await pa.gitopsd(['fleet', 'status'], { env: at(1.1) });
    expect(text.stdout).toMatch(
      /host\s+state\s+Git\s+Lock\s+System\s+Boot\s+Golden\s+Dotfiles\s+version\s+last run\s+age\s+sig/,
    );
    expect(text.stdout).toMatch(/^pa\s+healthy\s+on main\s/m);
    expect(text.stdout).toMatch(/^pb: note: published after a failed publish attempt \(at /m);
    expect(text.stdout.includes('\u001b[')).toBe(false); // not a TTY: no ANSI
    const prom = await readFile(join(pa.sim.root, 'metrics', 'gitopsd-fleet.prom'), 'utf8');
    expect(prom).toMatch(/^gitopsd_fleet_hosts\{state="healthy"\} 2$/m);
    expect(prom).toMatch(/^gitopsd_fleet_hosts\{state="warning"\} 0$/m);
    expect(prom).toMatch(/^gitopsd_fleet_stale_hosts 0$/m);
    expect(prom).toMatch(/^gitopsd_fleet_missing_hosts 0$/m);
    expect(prom).toMatch(/^gitopsd_fleet_newest_status_age_seconds \d+(\.\d+)?$/m);
  });

  it('fleet.expectedHosts: an expected host that never published is missing (exit 1), in the JSON, the text, the page and the metrics', async () => {
    await configureHost(pa, { fleet: { expectedHosts: ['pa', 'pb', 'pc'] } });
    try {
      const r = await fleetStatus(pa, [], at(1.1));
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.view?.missingHosts).toEqual(['pc']);
      // Every row is still healthy: the exit code is the missing host's.
      expect(r.view?.hosts.map((h) => [h.host, h.state])).toEqual([
        ['pa', 'healthy'],
        ['pb', 'healthy'],
      ]);
      const prom = await readFile(join(pa.sim.root, 'metrics', 'gitopsd-fleet.prom'), 'utf8');
      expect(prom).toMatch(/^gitopsd_fleet_missing_hosts 1$/m);
      const page = join(dir, 'expected.html');
      const text = await pa.gitopsd(['fleet', 'status', '--html', page], { env: at(1.1) });
      expect(text.exitCode).toBe(1);
      expect(text.stdout).toContain(
        `no status at ${remote} for pc (fleet.expectedHosts): never published there, or its ref was deleted`,
      );
      const html = await readFile(page, 'utf8');
      expect(html).toMatch(/<p id="missing" class="missing">no status for 1 expected host\(s\): <code>pc<\/code>/);
      // pb's earlier failed publish is a note in its detail section (review 12).
      expect(html).toMatch(
        /<ul class="notes"><li>note: published after a failed publish attempt \(at [^)]+\): cannot publish/,
      );
      // --host narrows the list to the hosts asked for.
      const one = await fleetStatus(pa, ['--host', 'pa'], at(1.1));
      expect([one.exitCode, one.view?.missingHosts]).toEqual([0, []]);
    } finally {
      await configureHost(pa, { fleet: { expectedHosts: null } });
    }
  });

  it('a status older than twice its heartbeat is stale, never healthy (exit 1)', async () => {
    const { exitCode, view } = await fleetStatus(pa, [], at(5));
    expect(view?.hosts.map((h) => [h.host, h.state, h.stale])).toEqual([
      ['pa', 'stale', true],
      ['pb', 'stale', true],
    ]);
    expect(exitCode).toBe(1);
  });

  it('an unreachable status remote: exit 75, one line naming it', async () => {
    const r = await pa.gitopsd(['fleet', 'status', '--remote', join(dir, 'nowhere', 'x.git')]);
    expect(r.exitCode).toBe(75);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot read the status remote .*nowhere\/x\.git .*check the URL/);
  });

  it('an allowed-signers file that cannot be read: exit 64 when an option named it, 78 when the config did; one line, at once', async () => {
    const none = join(dir, 'none');
    // From the command line: a usage error, found before the remote is read
    // (fleet status runs from its lean bundle), and fleet serve exits at
    // once, not with a 503 page for ever (review 11).
    for (const command of ['status', 'serve']) {
      const listen = command === 'serve' ? ['--listen', '127.0.0.1:0'] : [];
      const r = await pa.gitopsd(['fleet', command, ...listen, '--allowed-signers', none, '--remote', join(dir, 'x')]);
      expect([r.exitCode, r.stderr.trim().split('\n')], r.stderr).toEqual([
        64,
        [
          `gitopsd: --allowed-signers ${none} cannot be read (ENOENT); pass the path of a readable allowed-signers file (ssh-keygen(1) "ALLOWED SIGNERS": <principal> namespaces="git" ssh-ed25519 AAAA…); see gitopsd fleet ${command} --help`,
        ],
      ]);
    }
    // From the config: the config's fault.
    await configureHost(pa, { fleet: { allowedSignersFile: none } });
    try {
      const r = await pa.gitopsd(['fleet', 'status']);
      expect([r.exitCode, r.stderr.trim().split('\n')]).toEqual([
        78,
        [
          `gitopsd: the allowed signers file ${none} cannot be read (ENOENT); fix fleet.allowedSignersFile or --allowed-signers`,
        ],
      ]);
    } finally {
      await configureHost(pa, { fleet: { allowedSignersFile: signers } });
    }
  });

  it("bad input: malformed, oversized, unknown version, bad ref name, another host's name, a parent, a forgery: each one row with the reason", async () => {
    const scratch = await tempDir('gitopsd-fleet-raw');
    const good = await readRemoteStatus(dir, remote, 'refs/gitopsd/status/pb');
    const cases: [string, Record<string, string | Buffer>, string | undefined][] = [
      ['refs/gitopsd/status/malformed', { 'status.json': '{"v": 1, "host": "malformed",' }, undefined],
      [
        'refs/gitopsd/status/huge',
        { 'status.json': JSON.stringify({ ...good, host: 'huge', pad: 'x'.repeat(70_000) }) },
        undefined,
      ],
      ['refs/gitopsd/status/future', { 'status.json': JSON.stringify({ v: 2, host: 'future' }) }, undefined],
      ['refs/gitopsd/status/-evil', { 'status.json': JSON.stringify({ ...good, host: '-evil' }) }, undefined],
      ['refs/gitopsd/status/claims', { 'status.json': JSON.stringify(good) }, keys['pb']],
      ['refs/gitopsd/status/binary', { 'status.json': Buffer.from([0xff, 0xfe, 0x00, 0x7b]) }, undefined],
      ['refs/gitopsd/status/nofile', { 'other.txt': 'hello' }, undefined],
      ['refs/gitopsd/status/dirfile', { 'status.json/x': 'hello' }, undefined],
      [
        'refs/gitopsd/status/schema',
        { 'status.json': JSON.stringify({ ...good, host: 'schema', boot: { verdict: 'maybe' } }) },
        undefined,
      ],
    ];
    for (const [ref, files, key] of cases) {
      await pushRawStatus({ scratch, remote, ref, files, ...(key === undefined ? {} : { signingKey: key }) });
    }
    // Refs at a blob and at a tree, not a commit; the tree holds a document
    // that is valid for its host (it passed as an unsigned status, review 12).
    for (const type of ['blob', 'tree'] as const) {
      const content = JSON.stringify({ ...good, host: `${type}ref` });
      await pushRawObject({ scratch, remote, ref: `refs/gitopsd/status/${type}ref`, type, content });
    }
    // A ref at a blob over the size limit: git leaves it out of the read
    // (cat-file --filter), it is still named a blob.
    await pushRawObject({
      scratch,
      remote,
      ref: 'refs/gitopsd/status/hugeblobref',
      type: 'blob',
      content: 'x'.repeat(70_000),
    });
    // A forgery: pb's name and a healthy status, signed with pa's key.
    await pushRawStatus({
      scratch,
      remote,
      ref: 'refs/gitopsd/status/pb',
      files: { 'status.json': JSON.stringify({ ...good, publishedAt: at(1.2)['GITOPSD_TEST_NOW'] }) },
      signingKey: keys['pa'] ?? '',
    });
    const { exitCode, view, stderr } = await fleetStatus(pa, [], at(1.2));
    expect(exitCode, stderr).toBe(1);
    const row = (h: string) => view?.hosts.find((x) => x.host === h);
    expect(row('malformed')).toMatchObject({
      state: 'invalid',
      reasons: [expect.stringMatching(/^status\.json is not valid JSON/)],
    });
    expect(row('huge')).toMatchObject({
      state: 'invalid',
      reasons: [expect.stringMatching(/^status\.json is \d+ bytes, over the 65536-byte limit; not read$/)],
    });
    expect(row('future')).toMatchObject({
      state: 'invalid',
      reasons: [expect.stringMatching(/schema version 2, this gitopsd reads version 1/)],
    });
    expect(row('-evil')).toMatchObject({
      state: 'invalid',
      reasons: [expect.stringMatching(/ref name refs\/gitopsd\/status\/-evil does not end in a valid host name/)],
    });
    expect(row('claims')).toMatchObject({
      state: 'invalid',
      reasons: [`status.json claims host "pb" but is published on claims's ref`],
    });
    expect(row('binary')?.state).toBe('invalid');
    expect(row('nofile')).toMatchObject({ state: 'invalid', reasons: ['the commit has no status.json'] });
    expect(row('dirfile')).toMatchObject({
      state: 'invalid',
      reasons: ['status.json in the status commit is a directory, not a file'],
    });
    for (const type of ['blob', 'tree', 'hugeblob']) {
      expect(row(`${type}ref`)).toMatchObject({
        state: 'invalid',
        reasons: [
          `the ref points at a ${type === 'tree' ? 'tree' : 'blob'}, not a commit (a status ref holds a parentless commit); the host's own publishes replace it, and if no host of that name publishes, delete the ref at the remote`,
        ],
        status: null,
      });
    }
    expect(row('schema')).toMatchObject({
      state: 'invalid',
      reasons: [expect.stringMatching(/does not match schema v1 \(at boot\.verdict/)],
    });
    expect(row('pb')).toMatchObject({
      state: 'unverified',
      signature: { state: 'unverified', signer: 'pa', detail: "signed by pa's key, not pb's" },
    });
    expect(row('pa')).toMatchObject({ state: 'healthy', signature: { state: 'verified' } });
    // Read again with nothing new at the remote: every document, bad ones too,
    // comes from the reader's cache by commit id (no cat-file), the refs from
    // the fetch's own output (no for-each-ref), the signatures from their
    // cache (no git log): one git process for the status refs. (The others
    // read the rollout and the update branches from pa's nix-config checkout.)
    // The view is the same.
    const trace = join(dir, 'fleet-reread.jsonl');
    const again = await fleetStatus(pa, [], { ...at(1.2), GITOPSD_TRACE: trace });
    expect(await tracedGit(trace)).toEqual(['fetch', 'rev-parse', 'ls-tree', 'ls-remote']);
    // (The injected clock runs on from its start, so ages may differ by a second.)
    const sameness = (v: FleetView | null) =>
      v?.hosts.map(({ ageSec: _age, columns: { lastRun: _l, ...columns }, ...rest }) => ({ ...rest, columns }));
    expect(sameness(again.view)).toEqual(sameness(view));
    // --json is one line (docs/fleet.md "--json"): the same JSON, without
    // indentation (the harness strips the final newline).
    expect(again.stdout).toBe(JSON.stringify(again.view));
    // A host whose ref is gone at the remote is gone from the view (the fetch prunes it; the others are unchanged).
    await run('git', ['--git-dir', remote, 'update-ref', '-d', 'refs/gitopsd/status/nofile']);
    const pruned = await fleetStatus(pa, [], at(1.2));
    expect(sameness(pruned.view)).toEqual(sameness(view)?.filter((r) => r.host !== 'nofile'));
    // A read of one host (--host) keeps the others' cached documents: the next
    // read of the whole fleet starts no cat-file either.
    await fleetStatus(pa, ['--host', 'pa'], at(1.2));
    const afterOne = join(dir, 'fleet-after-one.jsonl');
    const whole = await fleetStatus(pa, [], { ...at(1.2), GITOPSD_TRACE: afterOne });
    expect(await tracedGit(afterOne)).toEqual(['fetch', 'rev-parse', 'ls-tree', 'ls-remote']);
    expect(sameness(whole.view)).toEqual(sameness(pruned.view));
    // A corrupt document cache is ignored with a warning naming it, never
    // fatal: everything is read again (the same view), and the cache written
    // again, so the read after it is quiet and reads nothing again.
    const cacheFile = join(pa.sim.paths.stateDir, 'fleet', 'view.git', 'gitopsd-documents.json');
    await writeFile(cacheFile, '{"v": 1, "reader": "trunc');
    const broken = await fleetStatus(pa, [], at(1.2));
    expect(broken.exitCode).toBe(whole.exitCode);
    expect(sameness(broken.view)).toEqual(sameness(pruned.view));
    expect(broken.stderr).toMatch(/status document cache ignored: every status is read again/);
    expect(broken.stderr).toContain(cacheFile);
    expect(broken.stderr).toContain('is not valid JSON');
    const repaired = join(dir, 'fleet-repaired.jsonl');
    const quiet = await fleetStatus(pa, [], { ...at(1.2), GITOPSD_TRACE: repaired });
    expect(await tracedGit(repaired)).toEqual(['fetch', 'rev-parse', 'ls-tree', 'ls-remote']);
    expect(quiet.stderr).not.toMatch(/document cache/);
    // Without allowed signers, the rows say unsigned / not checked, and nothing is unverified.
    await configureHost(pa, {
      fleet: {
        enable: true,
        statusRemote: remote,
        signingKey: keys['pa'],
        heartbeatSec: 3600,
        allowedSignersFile: null,
      },
    });
    const open = await fleetStatus(pa, [], at(1.2));
    expect(open.view?.signersConfigured).toBe(false);
    expect(open.view?.hosts.find((x) => x.host === 'malformed')?.signature.state).toBe('unsigned');
    expect(open.view?.hosts.find((x) => x.host === 'pa')?.signature.state).toBe('not-checked');
    expect(open.view?.hosts.find((x) => x.host === 'pb')?.state).not.toBe('unverified');
    // The real pb publishes again (forced): its lease sees a ref it did not write, refuses, and the run after overwrites it.
    const first = await pb.gitopsd(['fleet', 'publish', '--force', '--json'], { env: at(1.3) });
    const firstOut = JSON.parse(first.stdout) as { kind: string; error: string };
    expect(firstOut.kind, first.stderr).toBe('failed');
    expect(firstOut.error).toMatch(/changed under this host \(stale info\)/);
    expect(first.exitCode).toBe(75);
    const second = await pb.gitopsd(['fleet', 'publish', '--json'], { env: at(1.31) });
    expect(JSON.parse(second.stdout)).toMatchObject({ kind: 'published', why: 'retry' });
    await configureHost(pa, {
      fleet: {
        enable: true,
        statusRemote: remote,
        signingKey: keys['pa'],
        heartbeatSec: 3600,
        allowedSignersFile: signers,
      },
    });
    const fixed = await fleetStatus(pa, ['--host', 'pb'], at(1.32));
    expect(fixed.view?.hosts[0]).toMatchObject({ host: 'pb', signature: { state: 'verified', signer: 'pb' } });
  });
});
