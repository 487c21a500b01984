/**
 * Poll mode with real git and nix: `gitopsd poll` (one poll) on a simulated
 * host, counted with the runner's trace (GITOPSD_TRACE), then the daemon as a
 * real process polling every daemon.pollIntervalSec; then the fleet-wide
 * trigger (`gitopsd trigger --fleet`, real ssh-keygen signatures) picked up
 * by a poll, and the triggers a poll ignores, each with its logged reason.
 * One nix-config repo and one host for the whole file.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec.js';
import { createNixConfigRepo, type NixConfigRepo } from '../../harness/nix-config.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { requireTools } from '../../harness/tools.js';
import { repoRoot } from '../../helpers/cli.js';
import { DAEMON_NODE_FLAGS } from '../../../src/cycle/daemon-node.js';
import { makeHost, readState, traced, upgrade, type TestHost } from '../upgrade/fixture.js';

let repo: NixConfigRepo;
let t: TestHost;
let base: string;
const gen = (version: string) => ({ hosta: { version, kernelVersion: '6.6.1' } });
const key = (n: string): string => join(base, `${n}_ed25519`);

beforeAll(async () => {
  await requireTools();
  base = await tempDir('poll');
  // alice may issue fleet triggers (daemon.triggerSignersFile); mallory may not.
  for (const n of ['alice', 'mallory'])
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', n, '-f', key(n)]);
  const pub = async (n: string) => (await readFile(`${key(n)}.pub`, 'utf8')).trim();
  await writeFile(join(base, 'trigger-signers'), `alice namespaces="git" ${await pub('alice')}\n`);
  repo = await createNixConfigRepo({ dir: join(base, 'config'), hosts: gen('v1') });
  t = await makeHost(repo, {
    name: 'hosta',
    label: 'poll',
    overrides: {
      daemon: { pollIntervalSec: 10, triggerSignersFile: join(base, 'trigger-signers') },
      log: { level: 'info', format: 'json' },
    },
  });
  const first = await upgrade(t);
  expect(first.exitCode, first.stderr).toBe(0);
});
afterAll(removeTempDirs);

describe('gitopsd poll', () => {
  it('a poll that finds nothing spends exactly one git process (git fetch --porcelain) and writes no state', async () => {
    const stateFile = join(t.host.paths.stateDir, 'state.json');
    const before = readFileSync(stateFile, 'utf8');
    const r = await traced(t, ['poll']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('no new tip');
    expect(r.commands).toHaveLength(1);
    expect(r.commands[0]?.[0]).toBe('git');
    expect(r.commands[0]).toContain('fetch');
    expect(r.commands[0]).toContain('--porcelain');
    // The fleet trigger rides on the same fetch.
    expect(r.commands[0]).toContain('+refs/gitopsd/trigger*:refs/gitopsd/trigger*');
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
  });

  it('a push is deployed by the next poll, which then records it; the poll after that is one fetch again', async () => {
    const c2 = await repo.commitGeneration(gen('v2'), 'v2');
    const r = await traced(t, ['poll', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      decision: { kind: string; reason: string; tip: string };
      upgrade: { kind: string };
    };
    expect(out.decision).toMatchObject({ kind: 'run', reason: 'new-tip', tip: c2 });
    expect(out.upgrade.kind).toBe('deployed');
    const s = await readState(t);
    expect(s.deployments?.current?.commit).toBe(c2);
    expect((s as unknown as { poll: unknown }).poll).toMatchObject({
      lastTip: c2,
      lastResult: 'deployed',
      retryAt: null,
    });
    expect((s as unknown as { runs: { upgrade: unknown } }).runs.upgrade).toMatchObject({ ok: true, commit: c2 });

    const again = await traced(t, ['poll']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.commands).toHaveLength(1);
  });

  it("a poll's fetch leaves the checkout's maintenance (git maintenance run --auto) to the daily run's fetch", async () => {
    // git-fetch(1): every fetch runs `git maintenance run --auto` unless told
    // not to. GIT_TRACE (git(1)) makes git log each command it starts.
    const gitTrace = async (args: string[], name: string): Promise<string> => {
      const file = join(base, `${name}.git-trace`);
      const r = await traced(t, args, { GIT_TRACE: file });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.commands.filter((c) => c[0] === 'git' && c.includes('fetch'))).toHaveLength(1);
      return readFile(file, 'utf8');
    };
    const poll = await gitTrace(['poll'], 'poll');
    expect(poll).toMatch(/built-in: git fetch .*--no-auto-maintenance/);
    expect(poll).not.toContain('maintenance run');
    // The daily run (`gitopsd upgrade`, nothing new) fetches with git's default.
    const daily = await gitTrace(['upgrade'], 'daily');
    expect(daily).not.toContain('--no-auto-maintenance');
    expect(daily).toMatch(/run_command: git maintenance run --auto/);
  });

  it('the daemon polls every daemon.pollIntervalSec: a push reaches the host at the next poll', async () => {
    // As gitopsd.service starts it (nix/module.nix): node with the daemon's node flags.
    const proc = execa('node', [...DAEMON_NODE_FLAGS, join(repoRoot, 'bin/gitopsd'), 'daemon', '--config', t.config], {
      reject: false,
      env: { ...t.host.env, TZ: 'UTC', GITOPSD_TEST_NOW: '2026-03-10T12:00:00Z', GITOPSD_CONFIG: undefined },
      stdin: 'ignore',
      timeout: 120_000,
    });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    let onLine: (() => void) | null = null;
    proc.stderr?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          lines.push({ message: text });
        }
        onLine?.();
      }
    });
    const waitFor = (pred: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${what}; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)),
          90_000,
        );
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit === undefined) return;
          clearTimeout(timer);
          onLine = null;
          resolve(hit);
        };
        onLine = check;
        check();
      });

    const started = await waitFor((l) => l['message'] === 'daemon started', 'daemon started');
    expect(started['pollIntervalSec']).toBe(10);
    // The first poll (10 s after start) finds nothing.
    await waitFor((l) => l['message'] === 'poll finished' && l['decision'] === 'idle', 'an idle poll');
    const c3 = await repo.commitGeneration(gen('v3'), 'v3');
    const pushedAt = Date.now();
    const linesAtPush = lines.length;
    const ran = await waitFor(
      (l) => l['message'] === 'poll finished' && l['decision'] === 'run',
      'a poll that upgrades',
    );
    expect(ran['exitCode']).toBe(0);
    // The next poll after the push deploys it: at most one poll (one already
    // under way when the push landed) finished idle in between.
    const between = lines.slice(linesAtPush, lines.indexOf(ran));
    expect(between.filter((l) => l['message'] === 'poll finished').length).toBeLessThanOrEqual(1);
    expect((await readState(t)).deployments?.current?.commit).toBe(c3);
    // Measured, not asserted: how long the push took to be deployed, in real time.
    console.log(`poll daemon: push to deployed in ${Date.now() - pushedAt} ms (interval 10 s)`);
    proc.kill('SIGTERM');
    const r = await proc;
    expect(r.exitCode).toBe(0);
    expect(lines.filter((l) => l['message'] === 'poll finished' && l['decision'] === 'run')).toHaveLength(1);
  });
});

/** The JSON log lines of a run (log.format json) with this message. */
const logLines = (stderr: string, message: string): Array<Record<string, unknown>> =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['message'] === message);

const remoteTrigger = (): Promise<string> =>
  run('git', ['--git-dir', repo.remoteDir, 'rev-parse', '--verify', '--quiet', 'refs/gitopsd/trigger']).then((r) =>
    r.stdout.trim(),
  );

/** A trigger built by hand (git plumbing), signed with `signer`'s key or unsigned, pushed to the remote. */
async function pushHandmadeTrigger(signer: string | null, doc: Record<string, unknown>): Promise<string> {
  const dir = join(base, 'handmade.git');
  await run('git', ['init', '-q', '--bare', dir]);
  const g = (args: string[], input?: string) =>
    run('git', ['--git-dir', dir, ...args], input === undefined ? {} : { input });
  const blob = (await g(['hash-object', '-w', '--stdin'], `${JSON.stringify(doc)}\n`)).stdout.trim();
  const tree = (await g(['mktree'], `100644 blob ${blob}\ttrigger.json\n`)).stdout.trim();
  const sign = signer === null ? [] : ['-c', 'gpg.format=ssh', '-c', `user.signingKey=${key(signer)}`];
  const c = await run(
    'git',
    [...sign, '--git-dir', dir, 'commit-tree', ...(signer === null ? [] : ['-S']), '-m', 'trigger', tree],
    {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'x',
        GIT_AUTHOR_EMAIL: 'x@invalid',
        GIT_COMMITTER_NAME: 'x',
        GIT_COMMITTER_EMAIL: 'x@invalid',
      },
    },
  );
  const commit = c.stdout.trim();
  await g(['push', '-q', repo.remoteDir, `+${commit}:refs/gitopsd/trigger`]);
  return commit;
}

const freshDoc = () => ({
  v: 1,
  nonce: Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32),
  issuer: 'someone',
  issuedAt: new Date(Date.now() - 60_000).toISOString(),
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  hosts: [],
});

interface PollJson {
  decision: { kind: string; reason?: string; line: string };
  trigger: { kind: string; reason?: string; line: string; trigger?: { nonce: string } } | null;
  upgrade: { kind: string } | null;
}

describe('fleet trigger (refs/gitopsd/trigger)', () => {
  let accepted = '';

  it('gitopsd trigger --fleet signs and pushes it; the next poll accepts it and runs the upgrade now', async () => {
    const w = await traced(t, [
      'trigger',
      '--fleet',
      '--signing-key',
      key('alice'),
      '--expires',
      '30m',
      '--reason',
      'test',
      '--json',
    ]);
    expect(w.exitCode, w.stderr).toBe(0);
    const out = JSON.parse(w.stdout) as {
      commit: string;
      signer: string;
      trigger: { nonce: string; expiresAt: string };
    };
    expect(out.signer).toBe('alice');
    expect(await remoteTrigger()).toBe(out.commit);
    accepted = out.commit;

    const p = await traced(t, ['poll', '--json']);
    expect(p.exitCode, p.stderr).toBe(0);
    const j = JSON.parse(p.stdout) as PollJson;
    expect(j.trigger).toMatchObject({ kind: 'accept', trigger: { nonce: out.trigger.nonce } });
    // Nothing new on the branch: without the trigger this poll would be idle until the daily slot.
    expect(j.decision).toMatchObject({ kind: 'run', reason: 'trigger' });
    expect(j.upgrade?.kind).toBe('no-op');
    expect(logLines(p.stderr, 'fleet trigger accepted')).toHaveLength(1);
    const s = (await readState(t)) as unknown as { trigger: { seen: Array<{ nonce: string; signer: string }> } };
    expect(s.trigger.seen[0]).toMatchObject({ nonce: out.trigger.nonce, signer: 'alice' });

    // The trigger ref did not move: the next poll is one fetch again.
    const again = await traced(t, ['poll']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.commands).toHaveLength(1);
  });

  it('the CLI refuses to push a trigger the hosts would ignore (exit 6), and --expires without --fleet (exit 64)', async () => {
    const w = await traced(t, ['trigger', '--fleet', '--signing-key', key('mallory')]);
    expect(w.exitCode).toBe(6);
    expect(w.stderr).toContain('not pushing the trigger: the hosts would ignore it');
    expect(await remoteTrigger()).toBe(accepted);
    // An --allowed-signers file that cannot be read is the command line's fault (it was 6, "the key is not in <file>").
    const f = await traced(t, [
      'trigger',
      '--fleet',
      '--signing-key',
      key('alice'),
      '--allowed-signers',
      '/nonexistent',
    ]);
    expect([f.exitCode, f.stderr.trim().split('\n')]).toEqual([
      64,
      [
        'gitopsd: --allowed-signers /nonexistent cannot be read (ENOENT); pass the path of a readable allowed-signers file (ssh-keygen(1) "ALLOWED SIGNERS": <principal> namespaces="git" ssh-ed25519 AAAA…); see gitopsd trigger --help',
      ],
    ]);
    expect(f.commands).toEqual([]);
    const u = await traced(t, ['trigger', '--expires', '1h']);
    expect(u.exitCode).toBe(64);
    expect(u.stderr).toContain('--expires only applies to a fleet trigger: add --fleet');
    expect(u.stderr).toContain('or drop it for a local trigger');
  });

  it.each<[string, () => Promise<string>, string, string]>([
    ['unsigned', () => pushHandmadeTrigger(null, freshDoc()), 'unsigned', 'not signed'],
    [
      'signed by a key not in the trigger signers',
      () => pushHandmadeTrigger('mallory', freshDoc()),
      'untrusted',
      'not from a key in',
    ],
    [
      'expired',
      async () => {
        // Issued two hours ago (the CLI's clock), for one hour.
        const w = await traced(t, ['trigger', '--fleet', '--signing-key', key('alice'), '--expires', '1h', '--json'], {
          GITOPSD_TEST_NOW: new Date(Date.now() - 2 * 3_600_000).toISOString(),
        });
        expect(w.exitCode, w.stderr).toBe(0);
        return (JSON.parse(w.stdout) as { commit: string }).commit;
      },
      'expired',
      'expired at',
    ],
    [
      'replayed (the accepted trigger pushed again)',
      async () => {
        await run('git', ['--git-dir', repo.remoteDir, 'update-ref', 'refs/gitopsd/trigger', accepted]);
        return accepted;
      },
      'replayed',
      'already accepted',
    ],
  ])('%s: ignored, the reason logged in one line, no upgrade', async (_name, push, reason, text) => {
    const before = await readState(t);
    const commit = await push();
    expect(await remoteTrigger()).toBe(commit);
    const p = await traced(t, ['poll', '--json']);
    expect(p.exitCode, p.stderr).toBe(0);
    const j = JSON.parse(p.stdout) as PollJson;
    expect(j.trigger).toMatchObject({ kind: 'ignore', reason });
    expect(j.decision.kind).toBe('idle');
    expect(j.upgrade).toBeNull();
    const logged = logLines(p.stderr, 'fleet trigger ignored');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ reason, commit });
    expect(String(logged[0]?.['line'])).toContain(text);
    expect(String(logged[0]?.['line'])).not.toContain('\n');
    // Only that it was judged: nothing seen, nothing pending, and the next poll does not read it again.
    type T = { trigger: { seen: unknown[]; judged: string | null; pending: unknown } };
    const after = (await readState(t)) as unknown as T;
    expect(after.trigger.seen).toEqual((before as unknown as T).trigger.seen);
    expect(after.trigger).toMatchObject({ judged: commit, pending: null });
    const again = await traced(t, ['poll']);
    expect(again.commands).toHaveLength(1);
  });

  it('issued in the future by this host clock: ignored, then accepted at a later poll once the clock is past it, without the ref moving', async () => {
    const issuedAt = Date.now() + 3_600_000;
    const w = await traced(t, ['trigger', '--fleet', '--signing-key', key('alice'), '--expires', '2h', '--json'], {
      GITOPSD_TEST_NOW: new Date(issuedAt).toISOString(),
    });
    expect(w.exitCode, w.stderr).toBe(0);
    const commit = (JSON.parse(w.stdout) as { commit: string }).commit;
    const early = await traced(t, ['poll', '--json']);
    expect((JSON.parse(early.stdout) as PollJson).trigger).toMatchObject({ kind: 'ignore', reason: 'not-yet-valid' });
    // The host clock catches up; the fetch brings nothing new, the local ref still holds the trigger.
    const later = await traced(t, ['poll', '--json'], { GITOPSD_TEST_NOW: new Date(issuedAt + 60_000).toISOString() });
    expect(later.exitCode, later.stderr).toBe(0);
    const j = JSON.parse(later.stdout) as PollJson;
    expect(j.trigger).toMatchObject({ kind: 'accept' });
    expect(j.decision).toMatchObject({ kind: 'run', reason: 'trigger' });
    type T = { trigger: { judged: string | null; pending: unknown } };
    expect(((await readState(t)) as unknown as T).trigger).toMatchObject({ judged: commit, pending: null });
  });
});
