/** The runner against real programs (sh, true, sleep): argv, env, timeout, typed errors, dry-run, trace. */
import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunner } from '../../../src/core/runner.js';
import { createTracer, noopTracer } from '../../../src/core/faults.js';
import { silentLogger } from '../../../src/core/log.js';
import { CommandFailed } from '../../../src/core/errors.js';

const runner = createRunner({ log: silentLogger, tracer: noopTracer, defaultTimeoutMs: 10_000 });

describe('runner', () => {
  it('passes argv verbatim, never through a shell', async () => {
    const weird = ['$(touch /tmp/pwned)', '; rm -rf /', 'a b', '-n', '*'];
    const r = await runner.run('printf', ['%s\\n', ...weird]);
    expect(r.stdout.split('\n').slice(0, 5)).toEqual(weird);
  });

  it('inherits the environment and adds explicit variables', async () => {
    const r = await runner.run('sh', ['-c', 'echo "$PATH|$GITOPSD_X"'], { env: { GITOPSD_X: 'y' } });
    expect(r.stdout.trim()).toBe(`${process.env['PATH']}|y`);
  });

  it('raises CommandFailed with the exit code and the stderr tail', async () => {
    const err = await runner
      .run('sh', ['-c', 'echo first >&2; echo "last words" >&2; exit 7'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    const cf = err as CommandFailed;
    expect(cf.exitCode).toBe(7);
    expect(cf.stderrTail).toContain('last words');
    expect(cf.message).toBe('sh exited 7: last words');
  });

  it('returns the result instead with allowFailure', async () => {
    const r = await runner.run('sh', ['-c', 'exit 3'], { allowFailure: true });
    expect(r.exitCode).toBe(3);
  });

  it('kills a command at its timeout, even with allowFailure', async () => {
    const err = await runner.run('sleep', ['30'], { timeoutMs: 200, allowFailure: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).timedOut).toBe(true);
    expect((err as CommandFailed).message).toMatch(/^sleep timed out/);
  });

  it("kills the command's own children at the timeout too, and returns at once", async () => {
    // sh dies on SIGTERM; without a tree kill its background sleep would live
    // on, holding the output pipe open, and the run would hang for 300 s.
    const err = await runner
      .run('sh', ['-c', 'sleep 300 & echo $!; wait'], { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).timedOut).toBe(true);
    const sleepPid = Number((err as CommandFailed).stdout.trim());
    expect(sleepPid).toBeGreaterThan(0);
    // Gone, or dead and waiting to be reaped by init (a zombie).
    const stat = existsSync(`/proc/${sleepPid}`) ? readFileSync(`/proc/${sleepPid}/stat`, 'utf8') : null;
    expect(stat === null || /\) Z /.test(stat), String(stat)).toBe(true);
  });

  it('reports a missing program as a CommandFailed that could not start', async () => {
    const err = await runner.run('gitopsd-no-such-program', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).exitCode).toBeUndefined();
  });

  it('skips mutating commands under dry-run, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gitopsd-runner-'));
    const dry = createRunner({ log: silentLogger, tracer: noopTracer, defaultTimeoutMs: 5000, dryRun: true });
    const skipped = await dry.run('touch', [join(dir, 'x')], { mutates: true });
    expect(skipped.skipped).toBe(true);
    const read = await dry.run('ls', [dir]);
    expect(read.stdout).toBe('');
  });

  it('writes a trace of checkpoints and commands', async () => {
    const trace = join(mkdtempSync(join(tmpdir(), 'gitopsd-trace-')), 'trace.jsonl');
    const traced = createRunner({
      log: silentLogger,
      tracer: createTracer({ traceFile: trace, killAt: undefined }),
      defaultTimeoutMs: 5000,
    });
    await traced.run('true', []);
    await traced.run('sh', ['-c', 'exit 2'], { allowFailure: true });
    const events = readFileSync(trace, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => `${String(e['event'])}:${String(e['cmd'] ?? e['label'])}`)).toEqual([
      'checkpoint:true',
      'start:true',
      'end:true',
      'checkpoint:sh',
      'start:sh',
      'end:sh',
    ]);
    expect(events[5]?.['exitCode']).toBe(2);
  });

  it('streams output lines as they arrive', async () => {
    const lines: string[] = [];
    await runner.run('sh', ['-c', 'echo one; echo two >&2; printf three'], { onLine: (l) => lines.push(l) });
    expect(lines.sort()).toEqual(['one', 'three', 'two']);
  });
});
