/**
 * The per-host lock: one file, created with O_EXCL, holding the owner's PID.
 *
 * - A live holder: LockHeldError (exit 75) naming its PID.
 * - A dead holder (kill -9, power loss): taken over, with a warning. The
 *   takeover itself is serialised by a short-lived `<lock>.takeover` guard
 *   (also O_EXCL), so two processes that both see the same stale lock cannot
 *   both take it. A guard older than 30 s was left by a crash and is removed.
 */
import {
  closeSync,
  existsSync,
  linkSync,
  openSync,
  lstatSync,
  readFileSync,
  readlinkSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { readRegularFile } from './fs-read.js';
import { procStat } from './proc.js';

export { procStat } from './proc.js';
import { dirname } from 'node:path';
import { LockHeldError, GitopsdError, stateDirNotWritable, writeFailure } from './errors.js';
import type { Logger } from './log.js';
import { mkdirParents } from './atomic.js';
import { monotonicMs } from './clock.js';

export interface LockInfo {
  pid: number;
  command: string;
  startedAt: string;
  /**
   * The holder's identity beyond its PID, when the kernel gives one: the boot
   * (`/proc/sys/kernel/random/boot_id`), its PID and time namespaces, and the
   * process's start time (field 22 of `/proc/<pid>/stat`, clock ticks since
   * boot; proc(5)). A PID alone can name another process after a reboot or a
   * wrap of the PID space. Absent in lock files written before it existed,
   * or where /proc cannot be trusted for this process (see ownIdentity).
   */
  proc?: ProcIdentity;
}

/** A process as the kernel identifies it over its life: see LockInfo.proc. */
export interface ProcIdentity {
  boot: string;
  /** `readlink /proc/self/ns/pid` and `/proc/self/ns/time`, space-separated (namespaces(7)). */
  ns: string;
  start: number;
}

export interface HeldLock {
  readonly path: string;
  release(): void;
}

export interface LockOptions {
  path: string;
  command: string;
  log: Logger;
  now: () => Date;
  /** Whether a PID is alive; injectable for tests. */
  isAlive?: (pid: number) => boolean;
  /** This process's uid (null: unknown), for the error when the lock's directory cannot be written. */
  uid?: number | null;
}

const GUARD_STALE_MS = 30_000;

/** The largest lock file read, in bytes: ours is one line of JSON; a larger one is an unknown holder. */
const MAX_LOCK_BYTES = 64 * 1024;

/** The start time of process `pid` (procStat), or null. */
export function procStart(pid: number | 'self'): number | null {
  return procStat(pid)?.start ?? null;
}

let bootIdCache: string | null | undefined;
/** This boot's id (/proc/sys/kernel/random/boot_id; random(4)), or null without /proc. */
export function bootId(): string | null {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootIdCache = null;
    }
  }
  return bootIdCache;
}

/** This process's PID and time namespaces (ProcIdentity.ns), or null when /proc cannot say. */
function namespaces(): string | null {
  try {
    const pid = readlinkSync('/proc/self/ns/pid');
    let time = '';
    try {
      time = readlinkSync('/proc/self/ns/time'); // Linux >= 5.6
    } catch {
      // no time namespaces: every process shares the one clock
    }
    return `${pid} ${time}`;
  } catch {
    return null;
  }
}

let selfIdentity: ProcIdentity | null | undefined;
/**
 * This process's identity (LockInfo.proc), read once; null without /proc, or
 * when the /proc mounted here is another PID namespace's (`/proc/self` does
 * not name this process's PID, as after `unshare --pid` without a remount):
 * its /proc/<pid> entries would name other processes (review 7, L3).
 */
export function ownIdentity(): ProcIdentity | null {
  if (selfIdentity === undefined) {
    selfIdentity = null;
    try {
      const boot = bootId();
      const ns = namespaces();
      const start = procStart('self');
      if (readlinkSync('/proc/self') === String(process.pid) && boot !== null && ns !== null && start !== null) {
        selfIdentity = { boot, ns, start };
      }
    } catch {
      // no /proc
    }
  }
  return selfIdentity;
}

/**
 * Whether the holder named by a lock file is alive, and whether that answer
 * is sure. With its identity (LockInfo.proc) and this process's own
 * (ownIdentity), in the same PID and time namespaces:
 * - written in another boot: dead;
 * - /proc/<pid>/stat readable: alive only if process `pid` started when the
 *   holder did and is not a zombie (state Z or X: it has exited, only its
 *   exit status waits to be reaped; review 7, L2); sure both ways, since a
 *   PID reused after a wrap is a dead holder's;
 * - /proc/<pid> not visible although `isAlive(pid)` says the PID exists
 *   (/proc mounted with hidepid=, or systemd's ProtectProc=invisible, hides
 *   other users' processes, and the sync lock is shared by root and the
 *   dotfiles user): alive, not verified.
 * Otherwise (no identity on either side, or other namespaces, whose PIDs and
 * boot-relative times differ from ours: review 7, L3): `isAlive(pid)`,
 * which cannot tell a reused PID from the holder (`verified` false).
 */
export function holderAlive(
  holder: LockInfo,
  isAlive: (pid: number) => boolean,
): { alive: boolean; verified: boolean } {
  if (holder.pid <= 0) return { alive: false, verified: false };
  const own = ownIdentity();
  if (holder.proc !== undefined && own !== null) {
    if (holder.proc.boot !== own.boot) return { alive: false, verified: true };
    if (holder.proc.ns === own.ns) {
      const stat = procStat(holder.pid);
      if (stat !== null) {
        const exited = stat.state === 'Z' || stat.state === 'X' || stat.state === 'x';
        return { alive: stat.start === holder.proc.start && !exited, verified: true };
      }
    }
  }
  return { alive: isAlive(holder.pid), verified: false };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLockInfo(path: string): LockInfo | null {
  let read: ReturnType<typeof readRegularFile>;
  try {
    // No-follow: the sync lock lives in a directory the dotfiles user can write.
    read = readRegularFile(path, MAX_LOCK_BYTES);
  } catch {
    return null;
  }
  if (read === 'missing') return null;
  // A symlink, FIFO or huge file is no lock of ours: an unknown, dead holder (taken over by unlink).
  if (read === 'not-regular' || 'tooLarge' in read) return { pid: -1, command: '?', startedAt: '?' };
  const text = read.text;
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number') {
      const p = v.proc as Partial<ProcIdentity> | undefined;
      return {
        pid: v.pid,
        command: String(v.command ?? '?'),
        startedAt: String(v.startedAt ?? '?'),
        ...(typeof p?.boot === 'string' && typeof p.ns === 'string' && typeof p.start === 'number'
          ? { proc: { boot: p.boot, ns: p.ns, start: p.start } }
          : {}),
      };
    }
  } catch {
    // A torn write (crash between create and write): treat as an unknown, dead holder.
  }
  return { pid: -1, command: '?', startedAt: '?' };
}

export function acquireLock(opts: LockOptions): HeldLock {
  try {
    return acquireLockIn(opts);
  } catch (err) {
    throw notWritable(err, opts) ?? err;
  }
}

/**
 * The error for a lock whose directory this process may not write or make
 * (EACCES, EPERM from mkdir or open; the user is not root, say), naming
 * the directory, its owner and the fix (stateDirNotWritable); null for any
 * other error. Before, a user without sudo got "cannot create the lock …:
 * EACCES: permission denied, open '….lock.<pid>.new'" (exit 1), or, with
 * no state directory yet, an internal error and a stack trace (exit 70).
 */
function notWritable(err: unknown, opts: LockOptions): GitopsdError | null {
  const e = err instanceof GitopsdError && err.cause !== undefined ? err.cause : err;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code !== 'EACCES' && code !== 'EPERM') return null;
  const stateDir = dirname(opts.path);
  let dir = stateDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  let owner: number | null = null;
  try {
    owner = statSync(dir).uid;
  } catch {
    // unknown
  }
  return stateDirNotWritable({ command: opts.command, stateDir, dir, code, owner, uid: opts.uid ?? null, cause: err });
}

function acquireLockIn(opts: LockOptions): HeldLock {
  const isAlive = opts.isAlive ?? processAlive;
  mkdirParents(dirname(opts.path));
  const info = lockInfo(opts);
  let noPidLooks = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    if (tryCreate(opts.path, info)) return held(opts.path, info);
    const holder = readLockInfo(opts.path);
    if (holder === null) continue; // released in between: try again
    if (holder.pid > 0 && holderAlive(holder, isAlive).alive) {
      throw new LockHeldError(opts.path, holder.pid, holder.command);
    }
    // No PID in the file: either a holder that crashed between creating and
    // writing it, or one that is between those two calls right now (for
    // microseconds). A file younger than a second is looked at again, up to
    // 4 times 20 ms apart. Still without a PID and still young, it is a live
    // holder stalled between the two (a loaded machine): refused as busy
    // (exit 75, the next run retries), never taken over while it may be
    // alive (review 6, D5). Older than a second, it is a crash's.
    if (holder.pid <= 0 && youngerThan(opts.path, NO_PID_GRACE_MS)) {
      if (noPidLooks >= 4) {
        throw new GitopsdError(
          'temporary',
          `the lock ${opts.path} is being created by another process (no PID in it yet); retry`,
        );
      }
      noPidLooks += 1;
      Atomics.wait(SLEEPER, 0, 0, 20);
      continue;
    }
    takeOverStale(opts, holder);
  }
  throw new GitopsdError('temporary', `could not take the lock ${opts.path} after 8 attempts; retry`);
}

/**
 * A short-held lock, for critical sections of milliseconds (the state file's
 * read-modify-write, src/core/state.ts). Where `acquireLock` refuses a live
 * holder, this one waits for it: it polls every `pollMs` (default 2 ms),
 * sleeping the thread (Atomics.wait, so the caller stays synchronous).
 *
 * A holder is taken over when it is dead (holderAlive: its PID is gone, or
 * names another process than the one that wrote the file, after a reboot or
 * a PID wrap; a file with no PID counts as dead once it is a second old).
 * A holder whose identity is known (LockInfo.proc) and alive is never taken
 * over, however long it holds the lock: a section slowed by a disk that
 * takes seconds to fsync, or a stopped (SIGSTOP) process, is waited for, and
 * a caller that waits `giveUpMs` gives up with nothing written (review 6,
 * D5: a takeover after 5 s let a second writer in beside a slow fsync, and
 * the later rename dropped the other's section). Only a holder without that
 * identity (a lock file of an older gitopsd, or no /proc) is taken over once
 * it has held the lock for `staleAfterMs` (default 5,000 ms) of this
 * process's monotonic clock, since its PID alone cannot tell it from a
 * reused one. The wall clock is not used, so a clock step neither takes a
 * live lock over early nor waits forever. Errors: GitopsdError 'temporary'
 * (exit 75) when the lock still cannot be taken after `giveUpMs` (default
 * 60,000 ms).
 */
export function acquireShortLock(
  opts: LockOptions & { pollMs?: number; staleAfterMs?: number; giveUpMs?: number },
): HeldLock {
  const isAlive = opts.isAlive ?? processAlive;
  const pollMs = opts.pollMs ?? 2;
  const staleAfterMs = opts.staleAfterMs ?? 5_000;
  const giveUpMs = opts.giveUpMs ?? 60_000;
  const info = lockInfo(opts);
  const start = monotonicMs();
  let seen: { holder: LockInfo; since: number } | null = null;
  for (;;) {
    if (tryCreate(opts.path, info)) return held(opts.path, info);
    const holder = readLockInfo(opts.path);
    if (holder !== null) {
      const t = monotonicMs();
      if (seen === null || seen.holder.pid !== holder.pid || seen.holder.startedAt !== holder.startedAt) {
        seen = { holder, since: t };
      }
      // No PID (pid -1): the holder may be between creating the file and
      // writing it (a file younger than a second), or crashed there.
      const h = holderAlive(holder, isAlive);
      const dead = holder.pid > 0 ? !h.alive : !youngerThan(opts.path, NO_PID_GRACE_MS);
      if (dead || (!h.verified && holder.pid > 0 && t - seen.since >= staleAfterMs)) {
        // Retried at once when the lock is gone or changed hands; while another
        // process holds the takeover guard, this loop waits (and gives up) as
        // for a live holder, instead of spinning until the guard is 30 s old.
        if (takeOverStale(opts, holder, dead ? 'dead' : 'unverified-stale')) continue;
      }
      if (t - start >= giveUpMs) {
        throw new GitopsdError(
          'temporary',
          `could not take the lock ${opts.path} in ${Math.round(giveUpMs / 1000)} s (held by pid ${holder.pid}, "${holder.command}"); retry later`,
        );
      }
    }
    Atomics.wait(SLEEPER, 0, 0, pollMs);
  }
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** What this process writes into a lock it takes. */
function lockInfo(opts: LockOptions): LockInfo {
  const proc = ownIdentity();
  return {
    pid: process.pid,
    command: opts.command,
    startedAt: opts.now().toISOString(),
    ...(proc !== null ? { proc } : {}),
  };
}

/** How long a lock file with no PID may be a live holder's, between its create and its write. */
const NO_PID_GRACE_MS = 1_000;

/**
 * Whether the file at `path` was modified less than `ms` ago by the wall
 * clock (lstat, no-follow), in either direction. The kernel's clock, not the
 * injected one (GITOPSD_TEST_NOW moves decisions, not file times; review 6,
 * D4). "Either direction" because a file created this instant can carry an
 * mtime a fraction of a millisecond after `Date.now()`, which truncates to
 * the millisecond: read as "in the future, so old", a live holder between
 * its create and its write was taken over (2 of 2,000 updates lost in a CI
 * run of test/integration/cli/state-crash.test.ts). A file more than `ms` in
 * the future (a clock stepped back) or gone counts as not younger: the caller
 * takes it over or retries, and never waits on it forever.
 */
function youngerThan(path: string, ms: number): boolean {
  try {
    return Math.abs(Date.now() - lstatSync(path).mtimeMs) < ms;
  } catch {
    return false;
  }
}

/**
 * Remove a lock file whose holder is dead ('dead'), or whose holder cannot be
 * told from a reused PID and has held it past staleAfterMs
 * ('unverified-stale'; acquireShortLock only), under the takeover guard.
 * Returns false when another process holds the guard (the lock is as it was).
 */
function takeOverStale(opts: LockOptions, holder: LockInfo, why: 'dead' | 'unverified-stale' = 'dead'): boolean {
  const guard = `${opts.path}.takeover`;
  try {
    // The kernel's clock, as the file's mtime is (review 7, L4: the injected
    // clock, GITOPSD_TEST_NOW, removed a guard another process held).
    const st = lstatSync(guard);
    if (Date.now() - st.mtimeMs > GUARD_STALE_MS) unlinkSync(guard);
  } catch {
    // no guard
  }
  let fd: number;
  try {
    fd = openSync(guard, 'wx', 0o644);
  } catch {
    return false; // another process is taking over; the caller retries
  }
  try {
    // Re-check under the guard: the lock may have changed hands meanwhile.
    const again = readLockInfo(opts.path);
    if (again !== null && again.pid === holder.pid && again.startedAt === holder.startedAt) {
      const message =
        why === 'dead'
          ? 'taking over a lock left by a dead process'
          : 'taking over a lock held too long by a process gitopsd cannot identify (an older lock file, or no /proc)';
      opts.log.warn(message, {
        lock: opts.path,
        deadPid: holder.pid,
        deadCommand: holder.command,
        since: holder.startedAt,
      });
      unlinkSync(opts.path);
    }
    return true; // removed, or it changed hands meanwhile: try again
  } finally {
    closeSync(fd);
    unlinkSync(guard);
  }
}

/**
 * Create the lock file `path` holding `info`, or return false when it exists.
 * The file appears with its content: it is written under a name of this
 * process's own (`<path>.<pid>.new`) and hard-linked to `path` (link(2)
 * fails with EEXIST when the lock exists, as O_EXCL does). Created empty and
 * written after, a live holder stalled between the two for over a second (a
 * loaded machine) read as a crash's file and was taken over: two holders
 * (review 7, L1). A filesystem without hard links falls back to O_EXCL and a
 * write. A kill -9 between the write and the unlink of the temporary name
 * leaves that small file; the next process with the same PID removes it.
 */
function tryCreate(path: string, info: LockInfo): boolean {
  const tmp = `${path}.${process.pid}.new`;
  try {
    unlinkSync(tmp); // a leftover of a killed process that had this PID
  } catch {
    // none
  }
  writeLockFile(tmp, info, path);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      return createInPlace(path, info);
    }
    throw (
      writeFailure(err, 'the lock', path) ??
      new GitopsdError('failed', `cannot create the lock ${path}: ${(err as Error).message}`, { cause: err })
    );
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/**
 * Write a new file `path` (O_EXCL: no symlink is followed) holding `info`; a
 * failed write leaves no file. Errors name `shownAs`, the lock itself, not
 * its temporary name (a full disk says "cannot write the lock <stateDir>/gitopsd.lock").
 */
function writeLockFile(path: string, info: LockInfo, shownAs: string = path): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    throw (
      writeFailure(err, 'the lock', shownAs) ??
      new GitopsdError('failed', `cannot create the lock ${shownAs}: ${(err as Error).message}`, { cause: err })
    );
  }
  // No fsync: the lock only excludes live processes, which all see the page
  // cache. After kill -9 the file holds the dead PID; after a power loss it
  // may be empty (read as an unknown, dead holder) or hold a PID of the
  // previous boot (told apart by LockInfo.proc). The fsync was a disk flush
  // on every poll, about 5 ms of each in a profile (B11).
  try {
    writeSync(fd, JSON.stringify(info));
  } catch (err) {
    closeSync(fd);
    unlinkSync(path);
    throw writeFailure(err, 'the lock', shownAs) ?? err;
  }
  closeSync(fd);
}

/** tryCreate without hard links: O_EXCL, then the write (the no-PID window exists again). */
function createInPlace(path: string, info: LockInfo): boolean {
  try {
    writeLockFile(path, info);
    return true;
  } catch (err) {
    if (err instanceof GitopsdError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'EEXIST')
      return false;
    throw err;
  }
}

function held(path: string, info: LockInfo): HeldLock {
  let released = false;
  return {
    path,
    release(): void {
      if (released) return;
      released = true;
      try {
        // Ours only if it is the record this acquisition wrote (review 7, L5):
        // the same PID with another start is a later acquisition's.
        const cur = readLockInfo(path);
        if (cur?.pid === info.pid && cur.startedAt === info.startedAt && cur.proc?.start === info.proc?.start) {
          unlinkSync(path);
        }
      } catch {
        // already gone
      }
    },
  };
}
