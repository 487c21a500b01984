/**
 * Crash-safe file primitives. A reader sees the old content or the new,
 * never a mix: write a temp file in the same directory, fsync it, rename it
 * over the target, fsync the directory.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  mkdirSync,
  readdirSync,
  existsSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { Checkpoint } from './faults.js';

/**
 * `mkdir -p dir`: the missing directories from the top down, each with
 * `mode` (before the umask). Not node's `mkdirSync(dir, { recursive: true })`,
 * which never returns where mkdir(2) gives ENOENT under a parent that exists
 * (procfs: `mkdirSync('/proc/x/y', { recursive: true })` spins at 100% CPU,
 * node 24.22 in the test bed; review 8, `fleet status --html
 * /proc/nonexistent/x.html`). Here that ENOENT is thrown.
 */
export function mkdirParents(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d);) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

function tmpName(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}`);
}

/**
 * Remove temp files left by writers that were killed between create and
 * rename (their PID is part of the name and no longer runs).
 */
export function sweepStaleTemps(target: string, isAlive: (pid: number) => boolean): void {
  const prefix = `.${basename(target)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) safeUnlink(join(dirname(target), name));
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeFileAtomic(
  target: string,
  data: string,
  opts: { mode?: number; checkpoint?: Checkpoint } = {},
): void {
  mkdirParents(dirname(target));
  const tmp = tmpName(target);
  const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    safeUnlink(tmp);
    throw err;
  }
  closeSync(fd);
  opts.checkpoint?.('atomic-write:before-rename', { target });
  try {
    renameSync(tmp, target);
  } catch (err) {
    safeUnlink(tmp);
    throw err;
  }
  fsyncDir(dirname(target));
}

/** Point `link` at `target` atomically (symlink to a temp name, rename over). */
export function symlinkAtomic(target: string, link: string, opts: { checkpoint?: Checkpoint } = {}): void {
  mkdirParents(dirname(link));
  const tmp = tmpName(link);
  symlinkSync(target, tmp);
  opts.checkpoint?.('atomic-symlink:before-rename', { link });
  try {
    renameSync(tmp, link);
  } catch (err) {
    safeUnlink(tmp);
    throw err;
  }
  fsyncDir(dirname(link));
}

function safeUnlink(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // already gone
  }
}
