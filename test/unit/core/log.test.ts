/**
 * The daemon's plain log backend writes what winston writes (src/core/log.ts):
 * the same lines, byte for byte once the timestamps are set aside, in both
 * formats, for the shapes the code logs (nested metadata, errors, secrets,
 * a `message` field, null and undefined values).
 */
import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, type LogFormat, type Logger } from '../../../src/core/log.js';

function sink(isTTY: boolean): { stream: Writable & { isTTY: boolean }; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    }),
    { isTTY },
  );
  return { stream, lines: () => chunks.join('').split('\n') };
}

const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;

function emitAll(log: Logger): void {
  const child = log.child({ module: 'daemon' });
  child.info('poll finished', { decision: 'idle', exitCode: 0, line: 'no new tip' });
  child.info('next cycle planned', { at: '2026-03-01T04:00:00.000Z', trigger: 'schedule', delayMs: 0 });
  child.warn('poll failed; the next poll retries', {
    err: Object.assign(new Error('fetch failed', { cause: new Error('exit 128') }), { code: 'X' }),
    line: 'offline',
  });
  child.error('the upgrade of this poll failed; a later poll retries it', { message: 'lock held by 42' });
  child.info('nested', { z: { b: 1, a: [2, { d: null, c: 'x' }] }, gone: undefined, token: 'secret' });
  child.debug('dropped at info', { x: 1 });
}

describe('createLogger: the plain backend writes what winston writes', () => {
  it.each<[LogFormat, boolean]>([
    ['json', false],
    ['text', false],
    ['auto', true],
    ['auto', false],
  ])('format %s (TTY %s)', (format, isTTY) => {
    const viaWinston = sink(isTTY);
    const plain = sink(isTTY);
    emitAll(createLogger({ level: 'info', format, stream: viaWinston.stream }));
    emitAll(createLogger({ level: 'info', format, stream: plain.stream, backend: 'plain' }));
    const w = viaWinston.lines().map((l) => l.replace(ISO, 'T'));
    const p = plain.lines().map((l) => l.replace(ISO, 'T'));
    expect(w.length).toBe(6); // five lines and the empty rest after the last newline
    expect(p).toEqual(w);
    expect(w.join('\n')).toContain('[redacted]');
  });
});

describe('createLogger: the text format escapes control characters in the message (review 16)', () => {
  it.each<'winston' | 'plain'>(['winston', 'plain'])('%s', (backend) => {
    const out = sink(true);
    // A `message` field is appended to the message: the sync's result quotes the dotfiles user's file names.
    createLogger({ level: 'info', format: 'text', stream: out.stream, backend }).warn('sync finished', {
      message: 'apply failed: \u001b]52;c;Y3VybA==\u0007\r\u001b[2Kfake',
    });
    const line = out.lines()[0] ?? '';
    expect(line).toContain('sync finished apply failed: \\u001b]52;c;Y3VybA==\\u0007\\r\\u001b[2Kfake');
    // eslint-disable-next-line no-control-regex -- the control characters are the point
    expect(line).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('createLogger: the text format escapes C1 controls and bidi overrides in the fields too (review 17)', () => {
  it.each<'winston' | 'plain'>(['winston', 'plain'])('%s', (backend) => {
    const out = sink(true);
    // JSON escapes only C0: a file name of the dotfiles user's in a field
    // (a refused target, a file jj will not snapshot) kept CSI (U+009B) and
    // a right-to-left override (U+202E), which reorders root's line.
    const target = 'notes\u202Etxt.exe\u009b2J';
    createLogger({ level: 'info', format: 'text', stream: out.stream, backend }).warn('target in $HOME refused', {
      target,
    });
    const line = out.lines()[0] ?? '';
    expect(line).toContain('"target":"notes\\u202etxt.exe\\u009b2J"');
    expect(line).not.toMatch(/[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/);
    // A name in another script stays as it is.
    const out2 = sink(true);
    createLogger({ level: 'info', format: 'text', stream: out2.stream, backend }).warn('x', { target: 'été.txt' });
    expect(out2.lines()[0]).toContain('"target":"été.txt"');
  });
});
