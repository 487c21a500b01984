/**
 * Reading host paths that may legitimately be missing (a system link before
 * the first boot, a profile before the first deployment). "Missing" means
 * ENOENT, ENOTDIR or (for readlink) EINVAL; any other error, such as EACCES
 * or EIO, is real and propagates.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, readlinkSync, realpathSync } from 'node:fs';

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
 * device or directory (open(2): ELOOP with O_NOFOLLOW); `{ tooLarge }` (its
 * size in bytes, or more than `maxBytes` when it grew while read) for a file
 * longer than `maxBytes`: at most `maxBytes` + 1 bytes are read, so a huge
 * (or sparse) file another user planted costs root no more memory than that
 * (review 16: a 1.9 GB sparse state.json made every `gitopsd status`
 * allocate 2 GB before it failed).
 */
export function readRegularFile(
  p: string,
  maxBytes: number,
): { text: string } | { tooLarge: number } | 'missing' | 'not-regular' {
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
    const st = fstatSync(fd);
    if (!st.isFile()) return 'not-regular';
    if (st.size > maxBytes) return { tooLarge: st.size };
    // Sized by fstat; a file that grows meanwhile is read on, up to the limit.
    let buf = Buffer.allocUnsafe(st.size + 1);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (len > maxBytes) return { tooLarge: len };
        const next = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(next, 0, 0, len);
        buf = next;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    return { text: buf.toString('utf8', 0, len) };
  } finally {
    closeSync(fd);
  }
}
