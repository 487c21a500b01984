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
} from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { Checkpoint } from './faults.js';

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
  mkdirSync(dirname(target), { recursive: true });
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
  mkdirSync(dirname(link), { recursive: true });
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
