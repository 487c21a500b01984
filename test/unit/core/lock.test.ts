/**
 * acquireShortLock (src/core/lock.ts): the update lock of the state file.
 * Dead holders are taken over at once (a PID that now names another process,
 * or one of another boot, is dead); a live holder whose identity is known is
 * never taken over, one without it (an older lock file) after staleAfterMs
 * of monotonic time; a caller gives up with a 'temporary' error (exit 75)
 * after giveUpMs. Nested updates of one StateStore in one process do not
 * wait on themselves. acquireLock (the host lock) refuses a live holder and
 * takes over a dead one by the same test of identity.
 */
import { describe, it, expect } from 'vitest';
import { execa, execaSync } from 'execa';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acquireLock,
  acquireShortLock,
  ownIdentity,
  procStart,
  procStat,
  type ProcIdentity,
} from '../../../src/core/lock.js';
import { LockHeldError } from '../../../src/core/errors.js';
import { StateStore } from '../../../src/core/state.js';
import { GitopsdError } from '../../../src/core/errors.js';
import { exitCodeFor } from '../../../src/core/exit.js';
import { silentLogger, type Logger } from '../../../src/core/log.js';

const now = (): Date => new Date('2026-11-30T18:00:00Z');

function recordingLog(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { log: { ...silentLogger, warn: (msg: string) => void warnings.push(msg) }, warnings };
}

function deadPid(): number {
  // The PID of a process that has exited (and been reaped).
  return Number(execaSync('sh', ['-c', 'echo $$']).stdout.trim());
}

function holderFile(path: string, pid: number, proc?: ProcIdentity): void {
  writeFileSync(
    path,
    JSON.stringify({ pid, command: 'state update', startedAt: '2026-11-30T17:00:00.000Z', ...(proc ? { proc } : {}) }),
  );
}

/** The identity of the live parent process (the vitest worker's parent), as its lock file would carry it. */
function parentIdentity(): ProcIdentity {
  const own = ownIdentity();
  const start = procStart(process.ppid);
  if (own === null || start === null) throw new Error('no /proc in the test bed');
  return { ...own, start };
}

const heldPid = (path: string): number => (JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid;

describe('acquireShortLock', () => {
  it('takes over at once a lock whose holder is dead, and logs it', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    holderFile(path, deadPid());
    const { log, warnings } = recordingLog();
    const lock = acquireShortLock({ path, command: 'state update', log, now });
    expect((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    expect(warnings).toEqual(['taking over a lock left by a dead process']);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a live holder without an identity (an older lock file) once it has held the lock for staleAfterMs', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    holderFile(path, process.ppid); // alive, and never releases
    const { log, warnings } = recordingLog();
    const lock = acquireShortLock({ path, command: 'state update', log, now, staleAfterMs: 40 });
    expect(heldPid(path)).toBe(process.pid);
    expect(warnings).toEqual([
      'taking over a lock held too long by a process gitopsd cannot identify (an older lock file, or no /proc)',
    ]);
    lock.release();
  });

  it('never takes over a live holder whose identity matches, however long it holds the lock (review 6, D5)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    holderFile(path, process.ppid, parentIdentity()); // a slow fsync, or a stopped process
    let err: unknown;
    try {
      acquireShortLock({ path, command: 'state update', log: silentLogger, now, staleAfterMs: 20, giveUpMs: 300 });
    } catch (e) {
      err = e;
    }
    expect(exitCodeFor(err as GitopsdError)).toBe(75);
    expect(heldPid(path)).toBe(process.ppid);
  });

  it('takes over at once a holder whose PID now names another process, or that wrote the file in another boot', () => {
    const id = parentIdentity();
    for (const proc of [
      { ...id, start: id.start + 1 }, // the PID was reused: another process, started later
      { ...id, boot: '00000000-0000-4000-8000-000000000000' }, // before a reboot
    ]) {
      const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
      holderFile(path, process.ppid, proc);
      const { log, warnings } = recordingLog();
      const lock = acquireShortLock({ path, command: 'state update', log, now, giveUpMs: 0 });
      expect(heldPid(path)).toBe(process.pid);
      expect(warnings).toEqual(['taking over a lock left by a dead process']);
      lock.release();
    }
  });

  it('counts a holder whose /proc entry it cannot see (hidepid) as alive while kill(pid, 0) finds it', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    // A PID with no /proc entry here stands for another user's process under
    // hidepid=: kill(pid, 0) answers EPERM for it, which processAlive reads as alive.
    const hidden = 4_000_000; // above the kernel's PID limit, so no /proc/<pid>
    holderFile(path, hidden, { ...parentIdentity(), start: 1 });
    expect(() =>
      acquireShortLock({
        path,
        command: 'state update',
        log: silentLogger,
        now,
        isAlive: (pid) => pid === hidden,
        giveUpMs: 50,
      }),
    ).toThrow(/could not take the lock/);
    expect(heldPid(path)).toBe(hidden);
    // And once it is gone for kill(pid, 0) too, it is dead.
    const lock = acquireShortLock({ path, command: 'state update', log: silentLogger, now, isAlive: () => false });
    expect(heldPid(path)).toBe(process.pid);
    lock.release();
  });

  it('writes its own identity into the lock it takes', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    const lock = acquireShortLock({ path, command: 'state update', log: silentLogger, now });
    const info = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; proc: ProcIdentity };
    expect(info.proc).toEqual(ownIdentity());
    expect(info.proc.start).toBe(procStart(process.pid));
    // Created through a name of its own and a hard link (review 7, L1): that name is gone.
    expect(existsSync(`${path}.${process.pid}.new`)).toBe(false);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over at once a holder that is a zombie (exited, not yet reaped; review 7, L2)', async () => {
    // `sleep 0` exits at once; its parent then execs `sleep 30`, which never reaps it.
    const parent = execa('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { reject: false, timeout: 60_000 });
    try {
      const zombie = await new Promise<number>((resolve) => {
        parent.stdout?.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
      });
      for (let i = 0; i < 200 && procStat(zombie)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
      const stat = procStat(zombie);
      expect(stat?.state).toBe('Z');
      const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
      holderFile(path, zombie, { ...parentIdentity(), start: stat?.start ?? -1 });
      const { log, warnings } = recordingLog();
      const lock = acquireShortLock({ path, command: 'state update', log, now, giveUpMs: 0 });
      expect(heldPid(path)).toBe(process.pid);
      expect(warnings).toEqual(['taking over a lock left by a dead process']);
      lock.release();
    } finally {
      parent.kill('SIGKILL');
      await parent;
    }
  });

  it('judges a holder written in other PID or time namespaces by its PID alone (review 7, L3)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    // Alive here, but its start time was read in another namespace: not comparable.
    holderFile(path, process.ppid, { ...parentIdentity(), ns: 'pid:[1] time:[1]', start: 1 });
    expect(() => acquireLock({ path, command: 'upgrade', log: silentLogger, now })).toThrow(LockHeldError);
  });

  it('leaves a fresh takeover guard alone whatever the injected clock says (review 7, L4)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    holderFile(path, deadPid());
    writeFileSync(`${path}.takeover`, ''); // another process is taking the lock over right now
    const hourAhead = (): Date => new Date(Date.now() + 3_600_000);
    expect(() =>
      acquireShortLock({ path, command: 'state update', log: silentLogger, now: hourAhead, giveUpMs: 30 }),
    ).toThrow(/could not take the lock/);
    expect(existsSync(`${path}.takeover`)).toBe(true);
  });

  it('release removes only the record its own acquisition wrote (review 7, L5)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    const lock = acquireLock({ path, command: 'upgrade', log: silentLogger, now });
    // Meanwhile the lock was taken over and taken again by this same PID (another acquisition).
    writeFileSync(path, JSON.stringify({ pid: process.pid, command: 'cycle', startedAt: '2026-11-30T19:00:00.000Z' }));
    lock.release();
    expect(existsSync(path)).toBe(true);
  });

  it('counts a lock file with no PID as a live holder while it is younger than a second, as dead after', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    writeFileSync(path, ''); // a holder between its create and its write, or one that crashed there
    const aged = (ms: number): void => {
      const t = new Date(Date.now() - ms);
      utimesSync(path, t, t);
    };
    // 300 ms old: live, so a caller that gives up at once leaves it alone.
    aged(300);
    expect(() => acquireShortLock({ path, command: 'state update', log: silentLogger, now, giveUpMs: 0 })).toThrow(
      /could not take the lock/,
    );
    expect(readFileSync(path, 'utf8')).toBe('');
    // Half a millisecond ahead of Date.now() (its mtime is finer than Date.now()): live too.
    const ahead = (Date.now() + 0.5) / 1000; // seconds, with the fraction a Date cannot hold
    utimesSync(path, ahead, ahead);
    expect(() => acquireShortLock({ path, command: 'state update', log: silentLogger, now, giveUpMs: 0 })).toThrow(
      /could not take the lock/,
    );
    // 5 s old: a crash's, taken over at once even by a caller that gives up at once.
    aged(5_000);
    const lock = acquireShortLock({ path, command: 'state update', log: silentLogger, now, giveUpMs: 0 });
    expect((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    lock.release();
  });

  it('gives up with a one-line temporary error (exit 75) after giveUpMs', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'state.json.update-lock');
    holderFile(path, process.ppid);
    let err: unknown;
    try {
      acquireShortLock({ path, command: 'state update', log: silentLogger, now, giveUpMs: 30 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GitopsdError);
    expect(exitCodeFor(err as GitopsdError)).toBe(75);
    expect((err as Error).message).toBe(
      `could not take the lock ${path} in 0 s (held by pid ${process.ppid}, "state update"); retry later`,
    );
    // The live holder's lock is untouched.
    expect((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid).toBe(process.ppid);
  });
});

describe('StateStore.update', () => {
  it('runs a nested update inside the outer one without waiting on itself', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gitopsd-state-')), 'state.json');
    const store = new StateStore({ file, log: silentLogger, now });
    store.update(() => {
      store.updateSection('inner', () => 1);
      return { ...store.read(), outer: 2 };
    });
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect([doc['inner'], doc['outer']]).toEqual([1, 2]);
    expect(existsSync(`${file}.update-lock`)).toBe(false);
  });

  it('releases the lock when the update function throws, and writes nothing', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gitopsd-state-')), 'state.json');
    const store = new StateStore({ file, log: silentLogger, now });
    store.updateSection('a', () => 1);
    expect(() =>
      store.updateSection('a', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(existsSync(`${file}.update-lock`)).toBe(false);
    expect(store.section('a')).toBe(1);
  });
});

describe('StateStore.update in a directory that does not exist yet', () => {
  it('creates it, as the atomic write did before the update lock (review 6, D3)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gitopsd-state-')), 'new', 'dir', 'state.json');
    new StateStore({ file, log: silentLogger, now }).updateSection('a', () => 1);
    expect((JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)['a']).toBe(1);
  });
});

describe('acquireLock (the host lock)', () => {
  it('refuses, as busy (exit 75), a lock file with no PID that is still young after 80 ms; takes it over once a second old', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    writeFileSync(path, ''); // a holder stalled between its create and its write, or a crash there
    let err: unknown;
    try {
      acquireLock({ path, command: 'upgrade', log: silentLogger, now });
    } catch (e) {
      err = e;
    }
    expect(exitCodeFor(err as GitopsdError)).toBe(75);
    expect((err as Error).message).toBe(
      `the lock ${path} is being created by another process (no PID in it yet); retry`,
    );
    expect(readFileSync(path, 'utf8')).toBe('');
    const t = new Date(Date.now() - 5_000);
    utimesSync(path, t, t); // a crash's, five seconds ago
    const { log, warnings } = recordingLog();
    const lock = acquireLock({ path, command: 'upgrade', log, now });
    expect(warnings).toEqual(['taking over a lock left by a dead process']);
    expect(heldPid(path)).toBe(process.pid);
    lock.release();
  });

  it('refuses a live holder, and takes over one whose PID was reused after a reboot (the lock is in the state dir)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gitopsd-lock-')), 'gitopsd.lock');
    holderFile(path, process.ppid, parentIdentity());
    expect(() => acquireLock({ path, command: 'upgrade', log: silentLogger, now })).toThrow(LockHeldError);
    // The same PID, alive, but written in another boot: before this change the
    // run was refused for as long as that unrelated process lived.
    holderFile(path, process.ppid, { ...parentIdentity(), boot: '00000000-0000-4000-8000-000000000000' });
    const { log, warnings } = recordingLog();
    const lock = acquireLock({ path, command: 'upgrade', log, now });
    expect(warnings).toEqual(['taking over a lock left by a dead process']);
    expect(heldPid(path)).toBe(process.pid);
    lock.release();
  });
});
