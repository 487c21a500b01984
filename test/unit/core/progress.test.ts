/** Progress of long commands: log lines off a TTY, one erasable status line on a TTY. */
import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createProgress } from '../../../src/core/progress.js';
import { createLogger } from '../../../src/core/log.js';
import { createRunner } from '../../../src/core/runner.js';
import { noopTracer } from '../../../src/core/faults.js';

function sink(isTTY: boolean): { stream: Writable & { isTTY: boolean; columns: number }; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    }),
    { isTTY, columns: 60 },
  );
  return { stream, text: () => chunks.join('') };
}

describe('progress', () => {
  it('off a TTY: every output line is logged with the step, plus start and finish', async () => {
    const logs = sink(false);
    const log = createLogger({ level: 'info', format: 'json', stream: logs.stream });
    const screen = sink(false);
    let now = 0;
    const runner = createRunner({
      log,
      tracer: noopTracer,
      defaultTimeoutMs: 5000,
      progress: createProgress({ log, stream: screen.stream, monotonicMs: () => now }),
      monotonicMs: () => (now += 1000),
    });
    await runner.run('sh', ['-c', 'echo "building foo"; echo "copying bar" >&2'], { progress: 'building hosta' });
    await new Promise((r) => setImmediate(r));
    const lines = logs
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const outputs = lines.filter((l) => l['message'] === 'output').map((l) => l['line']);
    expect(outputs.sort()).toEqual(['building foo', 'copying bar']);
    expect(lines.every((l) => l['message'] !== 'output' || l['step'] === 'building hosta')).toBe(true);
    expect(lines.map((l) => l['message'])).toContain('started');
    expect(lines.map((l) => l['message'])).toContain('finished');
    expect(screen.text()).toBe('');
  });

  it('on a TTY: a status line with the label, the elapsed time and the last line, erased at the end', () => {
    const screen = sink(true);
    let now = 0;
    const p = createProgress({
      log: createLogger({ level: 'warn', format: 'json', stream: sink(false).stream }),
      stream: screen.stream,
      monotonicMs: () => now,
      intervalMs: 3_600_000,
    });
    const t = p.start('building hosta');
    now = 12_000;
    t.line('\u001b[1mcopying path /nix/store/abc-foo\u001b[0m');
    t.done();
    const out = screen.text();
    expect(out).toContain('building hosta (0s)');
    expect(out).toContain('building hosta (12s): copying path /nix/store/abc-foo');
    expect(out).not.toContain('\u001b[1m');
    expect(out.endsWith('\r\u001b[2K')).toBe(true);
    // Never wider than the terminal.
    for (const frame of out.split('\r\u001b[2K')) expect(frame.length).toBeLessThanOrEqual(59);
  });
});
