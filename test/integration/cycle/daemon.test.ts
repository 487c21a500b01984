/**
 * `gitopsd daemon` as a real process: the built bin, real signals, a fake
 * start time (GITOPSD_TEST_NOW, then real elapsed time). The host is a
 * simulated one whose nix-config cannot be fetched, so each cycle ends
 * quickly (the scheduling is under test here, not the upgrade).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { removeTempDirs, tempDir } from '../../harness/temp.js';
import { repoRoot, runCli } from '../../helpers/cli.js';
import { DAEMON_NODE_FLAGS } from '../../../src/cycle/daemon-node.js';

afterAll(removeTempDirs);

interface LogLine {
  message: string;
  [k: string]: unknown;
}

interface Daemon {
  proc: ReturnType<typeof spawnDaemon>;
  lines: LogLine[];
  /** Resolves with the first log line (from the start) matching; rejects after `timeoutMs`. */
  waitFor(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  count(pred: (l: LogLine) => boolean): number;
}

// As gitopsd.service starts it (nix/module.nix daemonExec): node with the daemon's node flags.
const spawnDaemon = (host: SimHost, config: string, now: string, env: Record<string, string> = {}) =>
  execa('node', [...DAEMON_NODE_FLAGS, join(repoRoot, 'bin/gitopsd'), 'daemon', '--config', config], {
    reject: false,
    env: { ...host.env, GITOPSD_TEST_NOW: now, TZ: 'UTC', GITOPSD_CONFIG: undefined, ...env },
    stdin: 'ignore',
    timeout: 60_000,
  });

function startDaemon(host: SimHost, config: string, now: string, env: Record<string, string> = {}): Daemon {
  const proc = spawnDaemon(host, config, now, env);
  const lines: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let buf = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let l: LogLine;
      try {
        l = JSON.parse(text) as LogLine;
      } catch {
        l = { message: text };
      }
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  return {
    proc,
    lines,
    count: (pred) => lines.filter(pred).length,
    waitFor: (pred, what, timeoutMs = 30_000) =>
      new Promise<LogLine>((resolve, reject) => {
        const seen = lines.find(pred);
        if (seen !== undefined) {
          resolve(seen);
          return;
        }
        const t = setTimeout(
          () =>
            reject(
              new Error(
                `daemon: no "${what}" log line within ${timeoutMs} ms; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      }),
  };
}

const msg = (m: string) => (l: LogLine) => l.message === m;

async function host(
  name: string,
): Promise<{ sim: SimHost; config: string; write: (o: Record<string, unknown>) => string }> {
  const sim = await createSimHost({
    dir: join(await tempDir(`gitopsd-daemon-${name}`), 'root'),
    name,
    services: ['sshd.service'],
  });
  const base = {
    nixConfig: { path: join(sim.root, 'etc/nixos-missing'), url: null },
    schedule: { cron: '0 4 * * *', randomizedDelaySec: 0, persistent: true },
    log: { level: 'info', format: 'json' },
  };
  const config = await sim.writeConfig(base);
  const write = (o: Record<string, unknown>): string => {
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), ...o }));
    return config;
  };
  return { sim, config, write };
}

function state(sim: SimHost): Record<string, Record<string, unknown>> {
  return JSON.parse(readFileSync(join(sim.paths.stateDir, 'state.json'), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
}

describe('gitopsd daemon (real process, real signals)', () => {
  it('runs the cycle at the slot, refuses a second daemon, reloads on SIGHUP (bad config kept out), stops on SIGTERM', async () => {
    const { sim, config, write } = await host('hosta');
    const d = startDaemon(sim, config, '2026-03-10T03:59:58Z');

    const first = await d.waitFor(msg('next cycle planned'), 'first plan');
    expect(first).toMatchObject({ trigger: 'schedule', slot: '2026-03-10T04:00:00.000Z', randomDelaySec: 0 });

    // One instance only.
    const second = await runCli(['daemon', '--config', config], { env: { ...sim.env, TZ: 'UTC' } });
    expect(second.exitCode).toBe(75);
    expect(second.stderr).toMatch(/daemon\.lock/);

    // The slot comes (2 s of real time after the fake start): one cycle.
    await d.waitFor(msg('cycle finished'), 'cycle finished');
    const next = await d.waitFor(
      (l) => l.message === 'next cycle planned' && l['slot'] === '2026-03-11T04:00:00.000Z',
      'second plan',
    );
    expect(next['trigger']).toBe('schedule');
    expect(state(sim)['cycle']).toMatchObject({ lastTrigger: 'schedule' });
    expect(String(state(sim)['cycle']?.['lastStartedAt'])).toMatch(/^2026-03-10T04:00:0/);

    // SIGHUP with a bad config: refused, the daemon keeps running.
    const good = readFileSync(config, 'utf8');
    writeFileSync(config, '{ "nixConfig": ');
    d.proc.kill('SIGHUP');
    const refused = await d.waitFor(msg('config reload refused; keeping the old config'), 'reload refused');
    expect(String(refused['reason'])).toMatch(/not valid JSON/);

    // SIGHUP with a good new config: the next run follows the new schedule.
    writeFileSync(config, good);
    write({ schedule: { cron: '30 5 * * *', randomizedDelaySec: 0, persistent: true } });
    d.proc.kill('SIGHUP');
    await d.waitFor(msg('config reloaded'), 'reloaded');
    await d.waitFor(
      (l) => l.message === 'next cycle planned' && l['slot'] === '2026-03-10T05:30:00.000Z',
      'plan after reload',
    );

    // SIGTERM while idle: the process ends by itself, exit 0.
    d.proc.kill('SIGTERM');
    const r = await d.proc;
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout).trim()).toBe('daemon stopped after 1 cycle');
    expect(d.count(msg('daemon stopped'))).toBe(1);
    // The lock is free again.
    const again = startDaemon(sim, config, '2026-03-10T06:00:00Z');
    await again.waitFor(msg('next cycle planned'), 'restart plan');
    again.proc.kill('SIGINT');
    expect((await again.proc).exitCode).toBe(0);
  });

  it('catches up once after start when a slot was missed, then follows the schedule', async () => {
    const { sim, config, write } = await host('hostb');
    // Each daemon cycle ends as `gitopsd cycle` does: recorded and published.
    const statusRemote = join(await tempDir('gitopsd-daemon-status'), 'status.git');
    await execa('git', ['init', '-q', '--bare', statusRemote]);
    write({ fleet: { enable: true, statusRemote } });
    mkdirSync(sim.paths.stateDir, { recursive: true });
    writeFileSync(
      join(sim.paths.stateDir, 'state.json'),
      JSON.stringify({ version: 1, cycle: { lastStartedAt: '2026-03-07T04:00:03.000Z' } }),
    );
    const trace = join(await tempDir('gitopsd-daemon-trace'), 'trace.jsonl');
    const d = startDaemon(sim, config, '2026-03-10T12:00:00Z', { GITOPSD_TRACE: trace });
    try {
      const plan = await d.waitFor(msg('next cycle planned'), 'catch-up plan');
      // The daemon runs with the unit's node flags (read once it has logged:
      // right after the spawn, the process may still be in execve).
      const cmdline = readFileSync(`/proc/${d.proc.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(1, 1 + DAEMON_NODE_FLAGS.length)).toEqual([...DAEMON_NODE_FLAGS]);
      expect(plan).toMatchObject({ trigger: 'catch-up', slot: '2026-03-08T04:00:00.000Z' });
      await d.waitFor(msg('cycle finished'), 'catch-up cycle');
      await d.waitFor(
        (l) => l.message === 'next cycle planned' && l['trigger'] === 'schedule',
        'schedule after catch-up',
      );
      expect(state(sim)['cycle']).toMatchObject({ lastTrigger: 'catch-up' });
      // The cycle child is a plain `gitopsd cycle`: node without the daemon's own flags (src/cycle/daemon-node.ts).
      const child = readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { event?: string; cmd?: string; args?: string[] })
        .filter((e) => e.event === 'start' && e.args?.includes('cycle') === true);
      expect(child).toHaveLength(1);
      expect(child[0]?.cmd).toBe(process.execPath);
      expect(child[0]?.args?.slice(0, 2)).toEqual([join(repoRoot, 'bin/gitopsd'), 'cycle']);
      for (const f of DAEMON_NODE_FLAGS) expect(child[0]?.args).not.toContain(f);
      // The nix-config cannot be fetched, so the cycle failed; the run record says so.
      expect(state(sim)['runs']?.['cycle']).toMatchObject({ ok: false, result: 'failed' });
      const refs = await execa('git', ['--git-dir', statusRemote, 'for-each-ref', '--format=%(refname)']);
      expect(refs.stdout.split('\n')).toEqual(['refs/gitopsd/status/hostb']);
      const published = await execa('git', [
        '--git-dir',
        statusRemote,
        'show',
        'refs/gitopsd/status/hostb:status.json',
      ]);
      expect(JSON.parse(published.stdout)).toMatchObject({ v: 1, host: 'hostb' });
    } finally {
      // Stopped however the checks end: a daemon left running writes its trace into a removed directory.
      d.proc.kill('SIGTERM');
    }
    const r = await d.proc;
    expect(r.exitCode).toBe(0);
    expect(d.count(msg('cycle starting'))).toBe(1);
  });

  it('SIGTERM during a cycle: the running step finishes, the daemon then stops by itself', async () => {
    const { sim, config } = await host('hostc');
    writeFileSync(
      join(sim.paths.stateDir, 'state.json'),
      JSON.stringify({ version: 1, cycle: { lastStartedAt: '2026-03-07T04:00:03.000Z' } }),
    );
    const d = startDaemon(sim, config, '2026-03-10T12:00:00Z');
    await d.waitFor(msg('cycle started'), 'cycle started');
    d.proc.kill('SIGTERM');
    const r = await d.proc;
    expect(r.exitCode).toBe(0);
    // The signal arrived during the cycle; the stop came after the cycle.
    expect(d.lines.find(msg('stop requested'))).toMatchObject({ signal: 'SIGTERM', during: 'cycle' });
    const order = d.lines
      .map((l) => l.message)
      .filter((m) => ['stop requested', 'cycle finished', 'daemon stopped'].includes(m));
    expect(order.at(-1)).toBe('daemon stopped');
    expect(order.indexOf('cycle finished')).toBeLessThan(order.indexOf('daemon stopped'));
    expect(state(sim)['cycle']?.['lastFinishedAt']).not.toBeNull();
  });

  it('a config that does not load makes the daemon exit 78 (systemd: RestartPreventExitStatus=78)', async () => {
    const { sim, config } = await host('hostd');
    writeFileSync(config, JSON.stringify({ nixConfig: { path: '/etc/nixos' }, schedule: { cron: 'every day' } }));
    const r = await runCli(['daemon', '--config', config], { env: sim.env });
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(/schedule\.cron/);
  });
});
