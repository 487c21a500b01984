/**
 * The compile cache directory (src/cli/compile-cache.ts): used only when it
 * is a real directory of this user that no one else can write.
 */
import { describe, it, expect } from 'vitest';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheBase, compileCacheDir } from '../../../src/cli/compile-cache.js';

const uid = process.getuid?.() ?? 0;
const base = (): string => mkdtempSync(join(tmpdir(), 'gitopsd-cc-'));

describe('compileCacheDir', () => {
  it('creates the directory 0700 and uses it, then uses it again', () => {
    const b = base();
    const dir = compileCacheDir(b, uid);
    expect(dir).toBe(join(b, `gitopsd-compile-cache-${uid}`));
    expect(statSync(dir ?? '').mode & 0o777).toBe(0o700);
    expect(compileCacheDir(b, uid)).toBe(dir);
  });

  it('refuses a directory group or others can write or read', () => {
    const b = base();
    mkdirSync(join(b, `gitopsd-compile-cache-${uid}`), { mode: 0o700 });
    chmodSync(join(b, `gitopsd-compile-cache-${uid}`), 0o777);
    expect(compileCacheDir(b, uid)).toBeNull();
    chmodSync(join(b, `gitopsd-compile-cache-${uid}`), 0o750);
    expect(compileCacheDir(b, uid)).toBeNull();
  });

  it("refuses another user's directory (created first under this user's name)", () => {
    const b = base();
    // The directory belongs to `uid`; for uid + 1 it is another user's.
    mkdirSync(join(b, `gitopsd-compile-cache-${uid + 1}`), { mode: 0o700 });
    expect(compileCacheDir(b, uid + 1)).toBeNull();
  });

  it('refuses a symbolic link, even to a good directory', () => {
    const b = base();
    const good = compileCacheDir(base(), uid) ?? '';
    symlinkSync(good, join(b, `gitopsd-compile-cache-${uid}`));
    expect(compileCacheDir(b, uid)).toBeNull();
  });

  it('refuses a base others can write that is not sticky (they could swap the directory after the check); a sticky one is fine', () => {
    const b = base();
    chmodSync(b, 0o777);
    expect(compileCacheDir(b, uid)).toBeNull();
    chmodSync(b, 0o1777);
    expect(compileCacheDir(b, uid)).toBe(join(b, `gitopsd-compile-cache-${uid}`));
  });

  it('refuses a base owned by another user (its owner may rename what is in it, sticky or not)', () => {
    expect(uid, 'this case needs root (scripts/testbed runs as root)').toBe(0);
    const b = base();
    chownSync(b, 65534, 65534);
    expect(compileCacheDir(b, uid)).toBeNull();
  });

  it('refuses a base under a directory another user owns (they could rename the base away after the check)', () => {
    expect(uid, 'this case needs root (scripts/testbed runs as root)').toBe(0);
    const theirs = base();
    chownSync(theirs, 65534, 65534);
    chmodSync(theirs, 0o755);
    const b = join(theirs, 'base');
    mkdirSync(b, { mode: 0o700 });
    expect(compileCacheDir(b, uid)).toBeNull();
  });

  it('resolves a base given through a symbolic link once: the real directory is used, never the link, which its owner could point elsewhere', () => {
    expect(uid, 'this case needs root (scripts/testbed runs as root)').toBe(0);
    const real = realpathSync(base());
    const holder = base();
    const link = join(holder, 'link');
    symlinkSync(real, link);
    lchownSync(link, 65534, 65534);
    const want = join(real, `gitopsd-compile-cache-${uid}`);
    // lstat of "link/" follows the link: the old check took the path through it.
    expect(compileCacheDir(`${link}/`, uid)).toBe(want);
    expect(compileCacheDir(link, uid)).toBe(want);
    expect(compileCacheDir(`${link}/.`, uid)).toBe(want);
  });

  it('gives null when the directory cannot be made', () => {
    expect(compileCacheDir('/nonexistent/base', uid)).toBeNull();
  });
});

describe('cacheBase', () => {
  it("is systemd's $CACHE_DIRECTORY (its first path) when it names an absolute one, else $TMPDIR", () => {
    expect(cacheBase({ CACHE_DIRECTORY: '/var/cache/gitopsd/sync' })).toBe('/var/cache/gitopsd/sync');
    expect(cacheBase({ CACHE_DIRECTORY: '/var/cache/a:/var/cache/b' })).toBe('/var/cache/a');
    expect(cacheBase({})).toBe(tmpdir());
    expect(cacheBase({ CACHE_DIRECTORY: '' })).toBe(tmpdir());
    expect(cacheBase({ CACHE_DIRECTORY: 'relative/dir' })).toBe(tmpdir());
    expect(cacheBase({ CACHE_DIRECTORY: ':/var/cache/b' })).toBe(tmpdir());
  });
});
