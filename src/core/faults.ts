/**
 * Step boundaries and fault injection.
 *
 * Every external command and every durable write passes a checkpoint. The
 * runner's trace (GITOPSD_TRACE, a JSON-lines file) records each checkpoint,
 * so the reliability tests find the step boundaries from the program's own
 * log instead of a hand-kept list. GITOPSD_FAULT_KILL_AT=N makes the process
 * SIGKILL itself at the Nth checkpoint: a real kill -9, at a known point.
 * GITOPSD_FAULT_STOP_AT=LABEL makes it SIGSTOP itself at the first
 * checkpoint with that label (say `cmd:git`), so a test can act while it is
 * stopped (another user's move in a race) and then SIGCONT it. A label with
 * words after the program (`cmd:jj git fetch`) stops at the first command
 * of that program whose arguments hold those words in a row.
 * All three variables are test-only and read once, in the composition root.
 */
import { appendFileSync } from 'node:fs';

export type Checkpoint = (label: string, data?: Record<string, unknown>) => void;

export interface Tracer {
  checkpoint: Checkpoint;
  /** Append an event to the trace file (no-op without one). */
  event: (event: Record<string, unknown>) => void;
}

export function createTracer(opts: {
  traceFile: string | undefined;
  killAt: number | undefined;
  stopAt?: string | undefined;
}): Tracer {
  let n = 0;
  let stopped = false;
  const event = (e: Record<string, unknown>): void => {
    if (opts.traceFile === undefined) return;
    // Synchronous on purpose: the line must be on disk before a kill at the
    // next checkpoint, or the test would miscount the boundaries.
    appendFileSync(opts.traceFile, `${JSON.stringify({ pid: process.pid, ...e })}\n`);
  };
  const checkpoint: Checkpoint = (label, data) => {
    n += 1;
    event({ event: 'checkpoint', n, label, ...data });
    if (opts.killAt !== undefined && n === opts.killAt) {
      process.kill(process.pid, 'SIGKILL');
    }
    if (opts.stopAt !== undefined && !stopped && stopMatches(opts.stopAt, label, data)) {
      stopped = true;
      process.kill(process.pid, 'SIGSTOP');
    }
  };
  return { checkpoint, event };
}

/** Whether a checkpoint is the one GITOPSD_FAULT_STOP_AT names (see the file's comment). */
function stopMatches(stopAt: string, label: string, data: Record<string, unknown> | undefined): boolean {
  if (label === stopAt) return true;
  if (!stopAt.startsWith(`${label} `)) return false;
  const args = data?.['args'];
  if (!Array.isArray(args)) return false;
  return ` ${args.join(' ')} `.includes(` ${stopAt.slice(label.length + 1)} `);
}

export const noopTracer: Tracer = {
  checkpoint: () => undefined,
  event: () => undefined,
};
