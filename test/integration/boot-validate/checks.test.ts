/**
 * waitForHealthy against the real runner, the systemctl shim on a simulated
 * host, and real loopback tcp/http servers. Time is a clock value that only
 * moves when the code sleeps, so a unit can change state "between polls"
 * without any real waiting.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer as createTcpServer, type Server } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitForHealthy, type WaitDeps } from '../../../src/health/checks.js';
import { SHOW_PROPERTIES } from '../../../src/health/unit.js';
import { createRunner } from '../../../src/core/runner.js';
import { createLogger } from '../../../src/core/log.js';
import type { Tracer } from '../../../src/core/faults.js';
import { createSimHost, type SimHost } from '../../harness/sim-host.js';
import { tempDir, removeTempDirs } from '../../harness/temp.js';

let host: SimHost;
let tcp: Server;
let http: ReturnType<typeof createHttpServer>;
let tcpPort = 0;
let httpPort = 0;
let closedPort = 0;

function listen(s: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  host = await createSimHost({
    dir: await tempDir('checks'),
    name: 'checks',
    services: ['sshd.service', 'nginx.service'],
  });
  // The runner inherits this process's environment: put the shims first.
  process.env['PATH'] = host.env['PATH'];
  process.env['SIM_ROOT'] = host.root;
  tcp = createTcpServer((sock) => sock.end());
  tcpPort = await listen(tcp);
  http = createHttpServer((req, res) => {
    res.statusCode = req.url === '/bad' ? 503 : req.url === '/moved' ? 302 : 200;
    if (req.url === '/moved') res.setHeader('location', '/');
    res.end('x');
  });
  httpPort = await listen(http);
  const tmp = createTcpServer();
  closedPort = await listen(tmp);
  await new Promise((r) => tmp.close(r));
});

afterAll(async () => {
  await new Promise((r) => tcp.close(r));
  await new Promise((r) => http.close(r));
  await removeTempDirs();
});

/** Real runner; a clock that moves only on sleep; a tracer that keeps the commands run. */
function deps(onSleep: (n: number) => Promise<void> = () => Promise.resolve()): {
  d: WaitDeps;
  cmds: string[][];
  sleeps: number[];
} {
  const cmds: string[][] = [];
  const sleeps: number[] = [];
  let t = 0;
  const tracer: Tracer = {
    checkpoint: (_label, data) => {
      if (data && typeof data['cmd'] === 'string')
        cmds.push([data['cmd'], ...((data['args'] as string[] | undefined) ?? [])]);
    },
    event: () => undefined,
  };
  const log = createLogger({ level: 'error', format: 'json' });
  return {
    cmds,
    sleeps,
    d: {
      log,
      runner: createRunner({ log, tracer, defaultTimeoutMs: 20_000 }),
      clock: {
        now: () => new Date(t),
        monotonicMs: () => t,
        sleep: async (ms) => {
          sleeps.push(ms);
          t += ms;
          await onSleep(sleeps.length);
        },
      },
    },
  };
}

describe('waitForHealthy on the simulated host', () => {
  it('passes when every unit is active and tcp, http and command checks pass, in one poll', async () => {
    await host.setUnitState('sshd.service', 'active');
    await host.setUnitState('nginx.service', 'active');
    const { d, cmds } = deps();
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'nginx.service'],
      checks: [
        { tcp: `127.0.0.1:${tcpPort}` },
        { http: `http://127.0.0.1:${httpPort}/` },
        { http: `http://127.0.0.1:${httpPort}/bad`, expectStatus: 503, name: 'expects 503' },
        { command: ['true'] },
      ],
      timeoutSec: 30,
      settleSec: 0,
    });
    expect(r.ok).toBe(true);
    expect(r.polls).toBe(1);
    expect(cmds).toEqual([
      ['systemctl', 'show', '-p', SHOW_PROPERTIES.join(','), 'sshd.service', 'nginx.service'],
      ['true'],
    ]);
    expect(r.results.map((x) => [x.name, x.ok, x.detail])).toEqual([
      ['sshd.service', true, 'active'],
      ['nginx.service', true, 'active'],
      [`tcp 127.0.0.1:${tcpPort}`, true, 'connected'],
      [`http http://127.0.0.1:${httpPort}/`, true, 'HTTP 200'],
      ['expects 503', true, 'HTTP 503'],
      ['command true', true, 'exit 0'],
    ]);
  });

  it('fails at once on a failed unit, although systemctl exits 0 because another unit is active', async () => {
    await host.setUnitState('sshd.service', 'failed');
    await host.setUnitState('nginx.service', 'active');
    const probe = await host.exec('systemctl', ['is-active', 'sshd.service', 'nginx.service']);
    expect(probe.exitCode).toBe(0);
    const { d, sleeps } = deps();
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'nginx.service'],
      checks: [],
      timeoutSec: 30,
      settleSec: 0,
    });
    expect(r).toMatchObject({ ok: false, failedFast: true, timedOut: false, polls: 1 });
    expect(r.results[0]).toMatchObject({
      name: 'sshd.service',
      ok: false,
      detail: 'failed (Result=exit-code, NRestarts=0)',
    });
    expect(sleeps).toEqual([]);
  });

  it('keeps waiting while a unit is activating, one systemctl call per poll', async () => {
    await host.setUnitState('sshd.service', 'activating');
    await host.setUnitState('nginx.service', 'active');
    const { d, cmds } = deps(async (n) => {
      if (n === 2) await host.setUnitState('sshd.service', 'active');
    });
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'nginx.service'],
      checks: [],
      timeoutSec: 30,
      settleSec: 0,
      pollMs: 1000,
    });
    expect(r).toMatchObject({ ok: true, polls: 3 });
    expect(cmds.filter((c) => c[0] === 'systemctl')).toHaveLength(3);
  });

  it('stops at the timeout with each failing check explained', async () => {
    await host.setUnitState('sshd.service', 'active');
    await host.setUnitState('nginx.service', 'activating');
    const { d, sleeps } = deps();
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'nginx.service'],
      checks: [
        { tcp: `127.0.0.1:${closedPort}` },
        { http: `http://127.0.0.1:${httpPort}/bad` },
        { http: `http://127.0.0.1:${httpPort}/moved` },
        { command: ['sh', '-c', 'echo boom >&2; exit 3'] },
      ],
      timeoutSec: 4,
      settleSec: 0,
      pollMs: 2000,
    });
    expect(r).toMatchObject({ ok: false, failedFast: false, timedOut: true, polls: 3 });
    expect(sleeps).toEqual([2000, 2000]);
    const by = Object.fromEntries(r.results.map((x) => [x.name, x.detail]));
    expect(by).toEqual({
      'sshd.service': 'active',
      'nginx.service': 'activating, NRestarts=0',
      [`tcp 127.0.0.1:${closedPort}`]: 'connect failed: ECONNREFUSED',
      [`http http://127.0.0.1:${httpPort}/bad`]: 'HTTP 503 (expected 2xx)',
      [`http http://127.0.0.1:${httpPort}/moved`]: 'HTTP 302 (expected 2xx)',
      'command sh -c echo boom >&2; exit 3': 'exit 3: boom',
    });
  });

  it('a unit systemd cannot find ("sshd.servce") fails at the first poll: one systemctl call, no wait', async () => {
    await host.setUnitState('sshd.service', 'active');
    const { d, cmds, sleeps } = deps();
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'sshd.servce'],
      checks: [],
      timeoutSec: 180,
      settleSec: 10,
    });
    expect(r).toMatchObject({ ok: false, failedFast: true, timedOut: false, polls: 1 });
    expect(cmds.filter((c) => c[0] === 'systemctl')).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(r.results[1]).toMatchObject({ name: 'sshd.servce', ok: false });
    expect(r.results[1]?.detail).toMatch(/^unit not found \(LoadState=not-found\)/);
  });

  it('a oneshot that finished with Result=success is healthy although systemctl is-active says inactive', async () => {
    await host.setUnitState('sshd.service', 'active');
    await host.setUnitState('setup.service', 'inactive');
    await host.setUnitProps('setup.service', {
      Type: 'oneshot',
      Result: 'success',
      ExecMainExitTimestampMonotonic: '4000000',
    });
    const probe = await host.exec('systemctl', ['is-active', 'setup.service']);
    expect(probe.stdout.trim()).toBe('inactive');
    const { d } = deps();
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'setup.service'],
      checks: [],
      timeoutSec: 30,
      settleSec: 0,
    });
    expect(r).toMatchObject({ ok: true, polls: 1 });
    expect(r.results[1]).toMatchObject({
      name: 'setup.service',
      ok: true,
      detail: 'oneshot finished (Result=success)',
    });
    await host.setUnitProps('setup.service', null);
  });

  it('settling: a restart between polls (the unit entered active again) starts the settle time again', async () => {
    await host.setUnitState('sshd.service', 'active');
    await host.setUnitState('nginx.service', 'active');
    // After the 2nd pause, nginx restarts: its ActiveEnterTimestamp moves.
    const { d, sleeps } = deps(async (n) => {
      if (n === 2) {
        await new Promise((r) => setTimeout(r, 20));
        await host.setUnitState('nginx.service', 'active');
      }
    });
    const r = await waitForHealthy(d, {
      services: ['sshd.service', 'nginx.service'],
      checks: [],
      timeoutSec: 60,
      settleSec: 10,
      pollMs: 5000,
    });
    // sshd settles at t=10 s; nginx, restarted at t=10 s, only at t=20 s.
    expect(r).toMatchObject({ ok: true, polls: 5 });
    expect(sleeps).toEqual([5000, 5000, 5000, 5000]);
    expect(r.results.map((x) => x.detail)).toEqual([
      'active, stable for 20 s, NRestarts=0',
      'active, stable for 10 s, NRestarts=0',
    ]);
  });
});
