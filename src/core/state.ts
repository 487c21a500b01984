/**
 * The state store: one versioned JSON document per file under stateDir.
 *
 * Writes are atomic (src/core/atomic.ts), so kill -9 at any instant leaves
 * either the old document or the new one. A file that does not parse is moved
 * aside to `<file>.corrupt-<time>` and reported as an error; it is never
 * silently replaced by an empty state. Each capability owns one top-level key
 * and validates its own part; unknown keys are kept, so an older gitopsd
 * never drops what a newer one wrote.
 *
 * Every change is a read-modify-write of the whole document (`update`), and
 * two processes may change it at once: a poll records its trigger section
 * while a `gitopsd upgrade` records its run after releasing the host lock.
 * So each update holds `<file>.update-lock` (src/core/lock.ts
 * `acquireShortLock`) from the read to the rename: without it, the later
 * writer would put back the section the other one had just written.
 */
import { renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { readRegularFile } from './fs-read.js';
import { mkdirParents, writeFileAtomic, sweepStaleTemps } from './atomic.js';
import { acquireShortLock, processAlive } from './lock.js';
import { StateCorruptError, GitopsdError, writeFailure } from './errors.js';
import type { Checkpoint } from './faults.js';
import type { Logger } from './log.js';

export const STATE_VERSION = 1;

/**
 * The largest state file read, in bytes (16 MiB). A state file holds bounded
 * histories and is tens of kilobytes; a larger one is not ours (one the
 * dotfiles user planted in <stateDir>/sync) and is moved aside unread.
 */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;

export type StateDoc = { version: number } & Record<string, unknown>;

/** State files whose update lock this process holds (for nested updates). */
const HELD = new Set<string>();

export interface StateStoreOptions {
  file: string;
  log: Logger;
  now: () => Date;
  checkpoint?: Checkpoint;
  mode?: number;
}

export class StateStore {
  readonly file: string;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly checkpoint: Checkpoint | undefined;
  private readonly mode: number;

  constructor(opts: StateStoreOptions) {
    this.file = opts.file;
    this.log = opts.log;
    this.now = opts.now;
    this.checkpoint = opts.checkpoint;
    this.mode = opts.mode ?? 0o644;
  }

  /** The whole document; an empty one when the file does not exist yet. */
  read(): StateDoc {
    let read: ReturnType<typeof readRegularFile>;
    try {
      // No-follow: the sync state lives in a directory the dotfiles user can write.
      read = readRegularFile(this.file, MAX_STATE_BYTES);
    } catch (err) {
      throw new GitopsdError('failed', `state file ${this.file} cannot be read: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (read === 'missing') return { version: STATE_VERSION };
    if (read === 'not-regular') return this.quarantine('is a symbolic link or not a regular file');
    if ('tooLarge' in read) {
      return this.quarantine(`is ${read.tooLarge} bytes, more than a state file can be (${MAX_STATE_BYTES})`);
    }
    const text = read.text;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return this.quarantine('is not valid JSON');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return this.quarantine('is not a JSON object');
    }
    const version = (doc as Record<string, unknown>)['version'];
    if (typeof version !== 'number') return this.quarantine('has no "version"');
    if (version > STATE_VERSION) {
      throw new GitopsdError(
        'failed',
        `state file ${this.file} was written by a newer gitopsd (state version ${version}, this one knows ${STATE_VERSION}); upgrade gitopsd, or move the file aside to start over`,
      );
    }
    return doc as StateDoc;
  }

  /** One capability's part of the document (undefined when never written). */
  section(key: string): unknown {
    return this.read()[key];
  }

  write(doc: StateDoc): void {
    const out = {
      ...doc,
      version: STATE_VERSION,
      updatedAt: this.now().toISOString(),
    };
    this.checkpoint?.('state:write', { file: this.file });
    sweepStaleTemps(this.file, processAlive);
    try {
      writeFileAtomic(this.file, `${JSON.stringify(out, null, 2)}\n`, {
        mode: this.mode,
        ...(this.checkpoint ? { checkpoint: this.checkpoint } : {}),
      });
    } catch (err) {
      // The previous document is intact (the temp file was removed).
      throw writeFailure(err, 'the state file', this.file) ?? err;
    }
  }

  /**
   * Read the document, let `fn` return the next one, write it: the unit of
   * every state change, under the update lock (see the file's comment). A
   * nested update in the same process runs inside the outer one's lock.
   */
  update(fn: (doc: StateDoc) => StateDoc): StateDoc {
    if (HELD.has(this.file)) {
      const next = fn(this.read());
      this.write(next);
      return next;
    }
    // The directory may not exist yet (a first run): the atomic write would
    // create it (src/core/atomic.ts), and the lock beside the file needs it first.
    mkdirParents(dirname(this.file));
    const lock = acquireShortLock({
      path: `${this.file}.update-lock`,
      command: 'state update',
      log: this.log,
      now: this.now,
    });
    HELD.add(this.file);
    try {
      const next = fn(this.read());
      this.write(next);
      return next;
    } finally {
      HELD.delete(this.file);
      lock.release();
    }
  }

  /** Replace one section: `update` of one top-level key. */
  updateSection<T>(key: string, fn: (current: unknown) => T): T {
    let out: T | undefined;
    this.update((doc) => {
      out = fn(doc[key]);
      return { ...doc, [key]: out };
    });
    return out as T;
  }

  private quarantine(why: string): never {
    const aside = `${this.file}.corrupt-${this.now().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, aside);
    } catch (err) {
      throw new StateCorruptError(
        `state file ${this.file} ${why} and could not be moved aside (${(err as Error).message}); move it away by hand`,
        { file: this.file },
      );
    }
    this.log.error('state file was corrupt and has been moved aside', {
      file: this.file,
      movedTo: aside,
      why,
    });
    throw new StateCorruptError(
      `state file ${this.file} ${why}; it was moved aside to ${aside} and the next run starts from an empty state (inspect the copy to recover history)`,
      { file: this.file, movedTo: aside },
    );
  }
}
