import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDeps, type Deps } from '../../../src/core/deps.js';
import { silentLogger } from '../../../src/core/log.js';
import { parseConfig } from '../../../src/core/config.js';
import { EXIT, GitopsdError, LockHeldError, type ExitCode } from '../../../src/core/errors.js';
import {
  EXIT_SEVERITY,
  formatCycle,
  readCycleSection,
  runCycle,
  worstExitCode,
  type CycleStep,
} from '../../../src/cycle/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function makeDeps(): Deps {
  const dir = mkdtempSync(join(tmpdir(), 'gitopsd-cycle-'));
  dirs.push(dir);
  const config = parseConfig(
    JSON.stringify({ stateDir: join(dir, 'state'), nixConfig: { path: join(dir, 'nixos') } }),
    join(dir, 'c.json'),
    'testhost',
  );
  return {
    ...buildDeps({ configPath: join(dir, 'c.json'), config, env: { GITOPSD_TEST_NOW: '2026-03-10T04:00:00Z' } }),
    log: silentLogger,
  };
}

const step = (name: 'sync' | 'upgrade', exitCode: ExitCode, summary = `${name} did things`): CycleStep => ({
  name,
  run: () => Promise.resolve({ exitCode, summary }),
});

describe('worstExitCode', () => {
  it.each([
    [[], 0],
    [[0, 0], 0],
    [[0, 75], 75],
    [[75, 1], 1],
    [[1, 3], 3],
    [[3, 6], 6],
    [[6, 4], 4],
    [[4, 5], 5],
    [[5, 78], 78],
    [[78, 70], 70],
    [[0, 3, 75], 3],
    [[99 as ExitCode, 0], 70], // an unknown code is a bug: internal
  ] as Array<[ExitCode[], ExitCode]>)('worst of %j is %i', (codes, expected) => {
    expect(worstExitCode(codes)).toBe(expected);
  });

  it('ranks every documented exit code exactly once', () => {
    expect([...EXIT_SEVERITY].sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });
});

describe('runCycle', () => {
  it.each([
    // sync, upgrade, cycle exit
    [0, 0, 0],
    [1, 0, 1], // a parked dotfile conflict: the upgrade still ran and the cycle says 1
    [0, 3, 3], // a broken commit
    [75, 3, 3],
    [1, 4, 4],
    [75, 0, 75], // offline dotfiles remote
  ] as Array<[ExitCode, ExitCode, ExitCode]>)(
    'sync %i + upgrade %i exits %i; both steps always run',
    async (s, u, expected) => {
      const deps = makeDeps();
      const ran: string[] = [];
      const mk = (name: 'sync' | 'upgrade', code: ExitCode): CycleStep => ({
        name,
        run: () => {
          ran.push(name);
          return Promise.resolve({ exitCode: code, summary: `${name} result` });
        },
      });
      const r = await runCycle(deps, { steps: [mk('sync', s), mk('upgrade', u)], trigger: 'manual' });
      expect(ran).toEqual(['sync', 'upgrade']);
      expect(r.exitCode).toBe(expected);
      expect(r.steps.map((x) => x.status)).toEqual([s === 0 ? 'ok' : 'failed', u === 0 ? 'ok' : 'failed']);
    },
  );

  it('prints one line per step', async () => {
    const deps = makeDeps();
    const r = await runCycle(deps, {
      steps: [
        { ...step('sync', 0), skipReason: 'dotfiles.enable is false' },
        step('upgrade', 3, 'build of 1a2b failed\nlog tail line'),
      ],
      trigger: 'manual',
    });
    expect(formatCycle(r).split('\n')).toEqual([
      'sync: skipped: dotfiles.enable is false',
      'upgrade: failed (exit 3): build of 1a2b failed',
    ]);
    expect(r.exitCode).toBe(3);
  });

  it("a step that throws becomes a failed step with its error's exit code, and the next step still runs", async () => {
    const deps = makeDeps();
    const r = await runCycle(deps, {
      steps: [
        {
          name: 'sync',
          run: () =>
            Promise.reject(new GitopsdError('temporary', 'jj git fetch failed: remote unreachable; retry later')),
        },
        step('upgrade', 0, 'deployed abc'),
      ],
      trigger: 'manual',
    });
    expect(r.steps[0]).toMatchObject({
      status: 'failed',
      exitCode: 75,
      summary: 'jj git fetch failed: remote unreachable; retry later',
    });
    expect(r.steps[1]).toMatchObject({ status: 'ok', exitCode: 0 });
    expect(r.exitCode).toBe(75);
  });

  it('a non-gitopsd error (a bug) becomes exit 70', async () => {
    const deps = makeDeps();
    const r = await runCycle(deps, {
      steps: [{ name: 'sync', run: () => Promise.reject(new TypeError('x is undefined')) }, step('upgrade', 0)],
      trigger: 'manual',
    });
    expect(r.exitCode).toBe(70);
    expect(r.steps[0]?.summary).toMatch(/internal error: x is undefined/);
  });

  it('a busy sync lock skips the sync this time (75) and the upgrade runs', async () => {
    const deps = makeDeps();
    const r = await runCycle(deps, {
      steps: [
        { name: 'sync', run: () => Promise.reject(new LockHeldError('/x/sync.lock', 4242, 'sync')) },
        step('upgrade', 0),
      ],
      trigger: 'manual',
    });
    expect(r.steps[0]?.summary).toMatch(/^skipped this time: another gitopsd \(pid 4242/);
    expect(r.exitCode).toBe(75);
  });

  it('stops at a step boundary: a stop requested during sync keeps the upgrade from starting', async () => {
    const deps = makeDeps();
    let stop = false;
    const ran: string[] = [];
    const r = await runCycle(deps, {
      steps: [
        {
          name: 'sync',
          run: () => {
            ran.push('sync');
            stop = true; // SIGTERM arrives while sync runs
            return Promise.resolve({ exitCode: 0, summary: 'synced' });
          },
        },
        { name: 'upgrade', run: () => (ran.push('upgrade'), Promise.resolve({ exitCode: 0, summary: 'deployed' })) },
      ],
      trigger: 'schedule',
      shouldStop: () => stop,
    });
    expect(ran).toEqual(['sync']);
    expect(r.stopped).toBe(true);
    expect(r.steps[1]).toMatchObject({ step: 'upgrade', status: 'stopped', exitCode: 75 });
    expect(formatCycle(r)).toContain('upgrade: not run (exit 75)');
  });

  it('records the start before the first step and the end after the last', async () => {
    const deps = makeDeps();
    let duringStep: unknown;
    await runCycle(deps, {
      steps: [
        {
          name: 'upgrade',
          run: () => {
            duringStep = readCycleSection(deps);
            return Promise.resolve({ exitCode: 3, summary: 'build failed' });
          },
        },
      ],
      trigger: 'catch-up',
    });
    expect(duringStep).toMatchObject({ lastTrigger: 'catch-up', lastFinishedAt: null });
    expect((duringStep as { lastStartedAt: string }).lastStartedAt).toMatch(/^2026-03-10T04:00/);
    const after = readCycleSection(deps);
    expect(after.lastExitCode).toBe(3);
    expect(after.lastFinishedAt).not.toBeNull();
    expect(after.lastSteps).toEqual([{ step: 'upgrade', status: 'failed', exitCode: 3, summary: 'build failed' }]);
  });

  it('refuses to start while another command holds the host lock (75), running nothing', async () => {
    const deps = makeDeps();
    const held = deps.lock('upgrade');
    let ran = false;
    try {
      await expect(
        runCycle(deps, {
          steps: [{ name: 'upgrade', run: () => ((ran = true), Promise.resolve({ exitCode: 0, summary: '' })) }],
          trigger: 'manual',
        }),
      ).rejects.toBeInstanceOf(LockHeldError);
    } finally {
      held.release();
    }
    expect(ran).toBe(false);
    expect(readCycleSection(deps).lastStartedAt).toBeNull();
  });

  it('releases the host lock after the cycle', async () => {
    const deps = makeDeps();
    await runCycle(deps, { steps: [step('upgrade', 0)], trigger: 'manual' });
    const again = deps.lock('x'); // would throw if still held
    again.release();
  });
});
