/**
 * One process as /proc/<pid>/stat describes it (proc(5)), for the runner
 * (the descendants of a timed-out command) and the locks (who holds one).
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** Field 3: R, S, D, T, Z (zombie), X (dead), ... */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 22: clock ticks after boot; with the PID, tells a reused PID apart. */
  start: number;
}

/**
 * Process `pid` ('self': this one) from /proc/<pid>/stat, or null when there
 * is no such process, no /proc, or a line it cannot read. The command name
 * (field 2) is in parentheses and may hold spaces, ")" or a newline, so the
 * fields are counted after its last ")".
 */
export function procStat(pid: number | 'self'): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state), so field 4 is f[1] and field 22 is f[19].
  const state = f[0];
  const ppid = Number(f[1]);
  const start = Number(f[19]);
  return state !== undefined && Number.isInteger(ppid) && Number.isSafeInteger(start) ? { state, ppid, start } : null;
}
