/** Wording people read in one line: counts, the lock's advice, a missing --store-path (issue 18). */
import { describe, it, expect } from 'vitest';
import { LockHeldError, stateDirNotWritable, storePathMissing } from '../../../src/core/errors.js';
import { exitCodeFor } from '../../../src/core/exit.js';
import { counted } from '../../../src/core/text.js';

describe('counted', () => {
  it.each([
    [0, 'attempt', '0 attempts'],
    [1, 'attempt', '1 attempt'],
    [2, 'attempt', '2 attempts'],
    [1, 'failure', '1 failure'],
    [21, 'failure', '21 failures'],
  ])('%d %s -> %s', (n, noun, want) => {
    expect(counted(n, noun)).toBe(want);
  });
  it('takes an irregular plural', () => {
    expect(counted(2, 'entry', 'entries')).toBe('2 entries');
  });
});

describe('LockHeldError advice', () => {
  it('a run ends by itself: wait and retry', () => {
    expect(new LockHeldError('/var/lib/gitopsd/gitopsd.lock', 42, 'cycle').message).toBe(
      'another gitopsd (pid 42, running "cycle") holds the lock /var/lib/gitopsd/gitopsd.lock; wait for it to finish and retry',
    );
  });
  it('a daemon never finishes: stop it with systemctl', () => {
    const m = new LockHeldError('/var/lib/gitopsd/daemon.lock', 42, 'daemon').message;
    expect(m).toContain('running "daemon"');
    expect(m).toContain('systemctl stop gitopsd.service');
    expect(m).not.toContain('wait for it to finish');
    expect(m.split('\n')).toHaveLength(1);
  });
});

describe('storePathMissing', () => {
  it('a relative path: says where it was read from and names a path that exists', () => {
    expect(storePathMissing('result/sw', { cwd: '/root', bootedSystem: '/nix/store/abc-nixos-system-h' }).message).toBe(
      '--store-path result/sw does not exist (a relative path, read from /root); pass the absolute path of an existing system store path, e.g. the booted system /nix/store/abc-nixos-system-h',
    );
  });
  it('an absolute path, booted system unreadable', () => {
    const e = storePathMissing('/nix/store/gone', { cwd: '/root', bootedSystem: null });
    expect(e.kind).toBe('usage');
    expect(e.message).toBe(
      '--store-path /nix/store/gone does not exist; pass the absolute path of an existing system store path',
    );
  });
});

describe('stateDirNotWritable: a command run by a user who cannot write stateDir', () => {
  const S = '/var/lib/gitopsd';
  it.each([
    [
      'not root, stateDir exists: refused (6), run it as root or as its owner',
      { dir: S, uid: 1000 },
      6,
      'gitopsd fleet publish cannot write its state directory /var/lib/gitopsd (EACCES: owned by uid 0, this process runs as uid 1000); run it as root (e.g. with sudo) or as the user that owns /var/lib/gitopsd',
    ],
    [
      'not root, no stateDir yet: names the directory that refused',
      { dir: '/var/lib', uid: 1000 },
      6,
      'gitopsd fleet publish cannot create its state directory /var/lib/gitopsd in /var/lib (EACCES: owned by uid 0, this process runs as uid 1000); run it as root (e.g. with sudo) or as the user that owns /var/lib',
    ],
    [
      'root: a failure (1), sudo would not help',
      { dir: S, uid: 0 },
      1,
      'gitopsd fleet publish cannot write its state directory /var/lib/gitopsd (EACCES, as root); check the permissions and attributes (lsattr) of /var/lib/gitopsd, and whether its filesystem maps root to another user (NFS root_squash)',
    ],
  ])('%s', (_what, i, code, message) => {
    const e = stateDirNotWritable({ command: 'fleet publish', stateDir: S, code: 'EACCES', owner: 0, ...i });
    expect(e.message).toBe(message);
    expect(exitCodeFor(e)).toBe(code);
  });
});
