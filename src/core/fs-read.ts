/**
 * Reading host paths that may legitimately be missing (a system link before
 * the first boot, a profile before the first deployment). "Missing" means
 * ENOENT, ENOTDIR or (for readlink) EINVAL; any other error, such as EACCES
 * or EIO, is real and propagates.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

const MISSING = new Set(['ENOENT', 'ENOTDIR']);

function missing(err: unknown, extra?: string): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return MISSING.has(code) || code === extra;
}

/** The fully resolved path, or null when it (or a link on the way) does not exist. */
export function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch (err) {
    if (missing(err)) return null;
    throw err;
  }
}

/** The raw target of a symlink, or null when it is missing or not a link. */
export function readlinkOrNull(p: string): string | null {
  try {
    return readlinkSync(p);
  } catch (err) {
    if (missing(err, 'EINVAL')) return null;
    throw err;
  }
}

/** A text file's content, or null when it does not exist. */
export function readFileOrNull(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch (err) {
    if (missing(err, 'EISDIR')) return null;
    throw err;
  }
}

/**
 * A regular file's content, read without following a symlink at the last
 * component (O_NOFOLLOW) and without hanging on a FIFO (O_NONBLOCK), so a
 * file in a directory another user can write (the sync state and lock in
 * <stateDir>/sync) never leads root to read what that name points at.
 * 'missing' when it does not exist; 'not-regular' for a symlink, FIFO,
 * device or directory (open(2): ELOOP with O_NOFOLLOW).
 */
export function readRegularFile(p: string): { text: string } | 'missing' | 'not-regular' {
  let fd: number;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (MISSING.has(code)) return 'missing';
    if (code === 'ELOOP') return 'not-regular';
    throw err;
  }
  try {
    if (!fstatSync(fd).isFile()) return 'not-regular';
    return { text: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}
