/**
 * readRegularFile's size limit (src/core/fs-read.ts), and what the state
 * store and the lock reader do with a file over it (review 16: a 1.9 GB
 * sparse state.json in the dotfiles user's <stateDir>/sync made root's
 * `gitopsd status` allocate 2 GB on every run). Sparse files cost no disk.
 */
import { describe, expect, it } from 'vitest';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRegularFile } from '../../../src/core/fs-read.js';
import { MAX_STATE_BYTES, StateStore } from '../../../src/core/state.js';
import { StateCorruptError } from '../../../src/core/errors.js';
import { readLockInfo } from '../../../src/core/lock.js';
import { silentLogger } from '../../../src/core/log.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'gitopsd-fs-read-'));

function sparse(p: string, bytes: number): void {
  closeSync(openSync(p, 'w'));
  truncateSync(p, bytes);
}

describe('readRegularFile', () => {
  it('reads a file up to the limit, exactly at it too', () => {
    const p = join(dir(), 'f');
    writeFileSync(p, 'été\n');
    // 6 bytes in UTF-8.
    expect(readRegularFile(p, 6)).toEqual({ text: 'été\n' });
    expect(readRegularFile(p, 5)).toEqual({ tooLarge: 6 });
  });

  it('a file over the limit is reported by its size, not read', () => {
    const p = join(dir(), 'f');
    sparse(p, 2 ** 31);
    expect(readRegularFile(p, 1024)).toEqual({ tooLarge: 2 ** 31 });
  });

  it('missing, a symlink, a directory', () => {
    const d = dir();
    expect(readRegularFile(join(d, 'none'), 10)).toBe('missing');
    writeFileSync(join(d, 'target'), 'x');
    symlinkSync(join(d, 'target'), join(d, 'link'));
    expect(readRegularFile(join(d, 'link'), 10)).toBe('not-regular');
    expect(readRegularFile(d, 10)).toBe('not-regular');
  });
});

describe('a state file or lock over the limit', () => {
  it('the state store moves a huge state file aside unread, naming its size', () => {
    const d = dir();
    const file = join(d, 'state.json');
    sparse(file, MAX_STATE_BYTES + 1);
    const store = new StateStore({ file, log: silentLogger, now: () => new Date('2026-12-01T00:00:00Z') });
    expect(() => store.read()).toThrow(StateCorruptError);
    expect(() => new StateStore({ file, log: silentLogger, now: () => new Date() }).read()).not.toThrow();
    expect(existsSync(file)).toBe(false);
    const aside = readdirSync(d).filter((n) => n.startsWith('state.json.corrupt-'));
    expect(aside).toHaveLength(1);
  });

  it('the error says what and how much', () => {
    const file = join(dir(), 'state.json');
    sparse(file, 2 ** 31);
    const store = new StateStore({ file, log: silentLogger, now: () => new Date('2026-12-01T00:00:00Z') });
    expect(() => store.read()).toThrow(
      new RegExp(`is ${2 ** 31} bytes, more than a state file can be \\(${MAX_STATE_BYTES}\\)`),
    );
  });

  it('a huge lock file is an unknown holder, as a symlink is', () => {
    const file = join(dir(), 'lock');
    sparse(file, 2 ** 31);
    expect(readLockInfo(file)).toEqual({ pid: -1, command: '?', startedAt: '?' });
  });
});
