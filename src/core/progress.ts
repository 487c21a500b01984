/**
 * Progress of long commands. The runner calls `start(label)` for a command
 * marked with `progress`, feeds it every output line, and calls `done()`.
 *
 * - Every line goes to the log (info): a long build streams to the journal.
 * - On an interactive terminal, one status line on stderr shows what runs,
 *   for how long, and its latest output line; it is erased when the command
 *   ends. The log then stays at debug for the lines, so the screen is not
 *   flooded twice.
 */
import type { Logger } from './log.js';

export interface ProgressTicket {
  line(text: string): void;
  done(): void;
}

export interface Progress {
  start(label: string): ProgressTicket;
}

export function createProgress(opts: {
  log: Logger;
  stream: { isTTY?: boolean; columns?: number; write(s: string): boolean };
  monotonicMs: () => number;
  intervalMs?: number;
}): Progress {
  const tty = opts.stream.isTTY === true;
  const log = opts.log.child({ module: 'progress' });
  return {
    start(label: string): ProgressTicket {
      const t0 = opts.monotonicMs();
      let last = '';
      const draw = (): void => {
        const secs = Math.round((opts.monotonicMs() - t0) / 1000);
        const width = Math.max(20, (opts.stream.columns ?? 80) - 1);
        const text = `${label} (${secs}s)${last === '' ? '' : `: ${last}`}`;
        opts.stream.write(`\r\u001b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      };
      const timer = tty ? setInterval(draw, opts.intervalMs ?? 1000) : undefined;
      timer?.unref();
      if (tty) draw();
      log.info('started', { step: label });
      return {
        line(text: string): void {
          // eslint-disable-next-line no-control-regex -- stripping ANSI escapes is the point
          const clean = text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '').trim();
          if (clean === '') return;
          last = clean;
          if (tty) {
            log.debug('output', { step: label, line: clean });
            draw();
          } else {
            log.info('output', { step: label, line: clean });
          }
        },
        done(): void {
          if (timer) clearInterval(timer);
          if (tty) opts.stream.write('\r\u001b[2K');
          log.info('finished', { step: label, durationMs: Math.round(opts.monotonicMs() - t0) });
        },
      };
    },
  };
}

export const noProgress: Progress = { start: () => ({ line: () => undefined, done: () => undefined }) };
