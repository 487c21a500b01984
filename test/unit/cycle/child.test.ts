import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { childCycleArgv, parseChildCycle } from '../../../src/cycle/child.js';
import { cycleChildExecArgv, DAEMON_NODE_FLAGS } from '../../../src/cycle/daemon-node.js';

describe("the daemon's cycle process", () => {
  it('argv: node flags, the script, cycle --json with the trigger and the config, and the log level when given', () => {
    expect(
      childCycleArgv(
        { execArgv: ['--enable-source-maps'], script: '/nix/store/x-gitopsd/bin/gitopsd.js' },
        '/etc/gitopsd/config.json',
        {
          trigger: 'catch-up',
          logLevel: 'debug',
        },
      ),
    ).toEqual([
      '--enable-source-maps',
      '/nix/store/x-gitopsd/bin/gitopsd.js',
      'cycle',
      '--json',
      '--trigger',
      'catch-up',
      '--config',
      '/etc/gitopsd/config.json',
      '--log-level',
      'debug',
    ]);
    expect(childCycleArgv({ execArgv: [], script: 's' }, 'c', { trigger: 'schedule' })).toEqual([
      's',
      'cycle',
      '--json',
      '--trigger',
      'schedule',
      '--config',
      'c',
    ]);
  });

  it("the daemon's own node flags (package.json daemonNodeFlags) stay out of the cycle's; the others are passed on", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      gitopsd: { daemonNodeFlags: string[] };
    };
    expect(DAEMON_NODE_FLAGS).toEqual(pkg.gitopsd.daemonNodeFlags);
    expect(DAEMON_NODE_FLAGS).toEqual(['--no-turbofan']);
    expect(cycleChildExecArgv(['--no-turbofan', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(cycleChildExecArgv(['--enable-source-maps', '--no-turbofan'], ['--no-turbofan'])).toEqual([
      '--enable-source-maps',
    ]);
    expect(cycleChildExecArgv(['--max-opt=2'], ['--no-turbofan'])).toEqual(['--max-opt=2']);
    expect(
      childCycleArgv({ execArgv: ['--no-turbofan', '--import', 'tsx'], script: 's' }, 'c', { trigger: 'schedule' }),
    ).toEqual(['--import', 'tsx', 's', 'cycle', '--json', '--trigger', 'schedule', '--config', 'c']);
    expect(
      childCycleArgv({ execArgv: ['--x'], script: 's', daemonNodeFlags: ['--x'] }, 'c', { trigger: 'schedule' }),
    ).toEqual(['s', 'cycle', '--json', '--trigger', 'schedule', '--config', 'c']);
  });

  it.each<[string, string, ReturnType<typeof parseChildCycle>]>([
    [
      'a cycle result',
      JSON.stringify({
        ok: false,
        exitCode: 75,
        trigger: 'schedule',
        startedAt: 'a',
        finishedAt: 'b',
        stopped: false,
        steps: [],
      }),
      {
        ok: true,
        result: {
          ok: false,
          exitCode: 75,
          trigger: 'schedule',
          startedAt: 'a',
          finishedAt: 'b',
          stopped: false,
          steps: [],
        } as never,
      },
    ],
    [
      "the CLI's error document (the cycle never started: the host lock is held)",
      JSON.stringify({ ok: false, exitCode: 75, error: 'another gitopsd (pid 12) holds the lock' }),
      { ok: false, exitCode: 75, error: 'another gitopsd (pid 12) holds the lock' },
    ],
    ['nothing (killed)', '', { ok: false, exitCode: null, error: null }],
    ['not JSON', 'Segmentation fault', { ok: false, exitCode: null, error: null }],
  ])('parse: %s', (_n, stdout, want) => {
    expect(parseChildCycle(stdout)).toEqual(want);
  });
});
