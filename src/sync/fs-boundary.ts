/**
 * Every file operation of src/sync, in one audited module (docs/design.md
 * "Root and the user's files"). The rule: root never opens, writes, renames,
 * chmods, chowns or deletes a path inside a directory the dotfiles user can
 * write ($HOME, the chezmoi source dir, <stateDir>/sync).
 *
 * - Operations on the user's tree (`UserTree`) run in a process started as
 *   that user: `node fs-boundary-child.js` through the runner's RunAs, which
 *   drops uid, gid and supplementary groups and passes only the allowlisted
 *   environment (src/core/runner.ts). The kernel then judges every path
 *   component with the user's rights, so a symlink the user planted can only
 *   reach what the user could reach anyway. Without a privilege boundary
 *   (the sync already runs as the dotfiles user, or that user is root) the
 *   same code runs in-process.
 * - What root itself needs (the merge base handed to `git merge-file`) lives
 *   in a root-owned directory no one else can write (`privateTemp`).
 * - The child's answers are data from the user's side: parsed with zod and
 *   only reported or compared, never used as a path root acts on.
 *
 * src/sync/** may import node:fs only here (eslint no-restricted-imports).
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  fchownSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
  chmodSync,
  lchownSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as z from '../core/zod.js';
import type { RunAs, Runner } from '../core/runner.js';
import { GitopsdError } from '../core/errors.js';
import { mkdirParents } from '../core/atomic.js';
import type { ModeAttrs } from './decide.js';

// ---------------------------------------------------------------- protocol

export const PathKind = z.enum(['missing', 'file', 'dir', 'symlink', 'other']);
export type PathKind = z.infer<typeof PathKind>;

export const UserTreeRequest = z.discriminatedUnion('op', [
  z.object({ op: z.literal('kinds'), paths: z.array(z.string()) }),
  z.object({ op: z.literal('hash-files'), paths: z.array(z.string()) }),
  z.object({
    op: z.literal('remove-if-unchanged'),
    files: z.array(z.object({ path: z.string(), sha256: z.string() })),
  }),
  z.object({
    op: z.literal('write-in-place'),
    path: z.string(),
    content: z.string(),
    /** chezmoi mode attributes to give the file (decide.ts modeAttrsChange): true gained, false lost. */
    mode: z.optional(
      z.object({
        private: z.optional(z.boolean()),
        executable: z.optional(z.boolean()),
        readonly: z.optional(z.boolean()),
      }),
    ),
  }),
  z.object({ op: z.literal('remove-tree'), path: z.string() }),
  z.object({ op: z.literal('rename'), from: z.string(), to: z.string() }),
  z.object({ op: z.literal('read-text'), path: z.string() }),
]);
export type UserTreeRequest = z.infer<typeof UserTreeRequest>;

const Failure = z.object({ path: z.string(), why: z.string() });
export type Failure = z.infer<typeof Failure>;

const KindsReply = z.object({ kinds: z.array(PathKind) });
const TextReply = z.object({ text: z.nullable(z.string()) });
const HashesReply = z.object({ hashes: z.array(z.nullable(z.string())) });
const RemoveReply = z.object({ removed: z.array(z.string()), failed: z.array(Failure), kept: z.array(z.string()) });
const WriteReply = z.object({ refused: z.nullable(z.string()) });
const DoneReply = z.object({ done: z.literal(true) });

// ---------------------------------------------------------------- the user's side

/** O_NOFOLLOW: a symlink as the last component fails with ELOOP. O_NONBLOCK: a FIFO never hangs the open. */
const NOFOLLOW = constants.O_NOFOLLOW | constants.O_NONBLOCK;

function kindOf(path: string): PathKind {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (isMissing(err)) return 'missing';
    throw err;
  }
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  return 'other';
}

/** Whether nothing is at path (lstat: a dangling symlink is something); an lstat that fails otherwise counts as there. */
function isGone(path: string): boolean {
  try {
    return kindOf(path) === 'missing';
  } catch {
    return false;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

// node:crypto is required on first use: loading it with this module cost
// every sync about 5 ms (a profile of `gitopsd sync`), for the hashes taken
// only when a sync integrates remote changes, and by the removals after
// (docs/benchmarks.md, "Eighteenth session").
const requireBuiltin = createRequire(import.meta.url);

/** sha256 of a regular file opened without following a final symlink; null for anything else. */
function hashRegular(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const { createHash } = requireBuiltin('node:crypto') as typeof import('node:crypto');
    return createHash('sha256').update(readFileSync(fd)).digest('hex');
  } finally {
    closeSync(fd);
  }
}

/**
 * Overwrite an existing regular file in place (it keeps its owner, mode and
 * inode, as `git merge-file` without -p would). Refused, with the reason:
 * a symlink (ELOOP from O_NOFOLLOW), a missing file, anything but a regular
 * file, a file another uid owns.
 */
function writeInPlace(path: string, content: string, mode: ModeAttrs = {}): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'is a symbolic link';
    if (code === 'ENOENT') return 'no longer exists';
    return `cannot be opened for writing (${errText(err)})`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'is not a regular file';
    const me = typeof process.getuid === 'function' ? process.getuid() : st.uid;
    if (st.uid !== me) return `is owned by uid ${st.uid}, not by the dotfiles user`;
    ftruncateSync(fd, 0);
    const buf = Buffer.from(content, 'utf8');
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off, off);
    const perm = withModeAttrs(st.mode & 0o7777, mode);
    if (perm !== (st.mode & 0o7777)) fchmodSync(fd, perm);
    fsyncSync(fd);
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * A file's permission bits with chezmoi's mode attributes gained or lost,
 * as chezmoi reads them back (re-add: private = no group/other bits,
 * executable = any x bit, readonly = no w bit). A bit given to group and
 * other follows the owner's (umask 022, chezmoi's usual).
 */
export function withModeAttrs(perm: number, mode: ModeAttrs): number {
  let m = perm;
  if (mode.readonly === true) m &= ~0o222;
  if (mode.readonly === false) m |= 0o200;
  if (mode.executable === true) m |= 0o100 | ((m & 0o040) >> 2) | ((m & 0o004) >> 2);
  if (mode.executable === false) m &= ~0o111;
  if (mode.private === true) m &= ~0o077;
  if (mode.private === false) m |= ((m & 0o500) >> 3) | ((m & 0o500) >> 6);
  return m;
}

/** Run one request with this process's own rights. The child entry and the in-process path both land here. */
export function performUserTree(req: UserTreeRequest): unknown {
  switch (req.op) {
    case 'kinds':
      return { kinds: req.paths.map(kindOf) };
    case 'hash-files':
      return { hashes: req.paths.map(hashRegular) };
    case 'remove-if-unchanged': {
      const removed: string[] = [];
      const failed: Failure[] = [];
      const kept: string[] = [];
      for (const f of req.files) {
        // Re-hashed right before the unlink: a file edited since the
        // snapshot is a person's edit and stays (and is reported).
        if (hashRegular(f.path) !== f.sha256) {
          if (!isGone(f.path)) kept.push(f.path);
          continue;
        }
        try {
          unlinkSync(f.path);
          removed.push(f.path);
        } catch (err) {
          failed.push({ path: f.path, why: errText(err) });
        }
      }
      return { removed, failed, kept };
    }
    case 'write-in-place':
      return { refused: writeInPlace(req.path, req.content, req.mode) };
    case 'remove-tree':
      rmSync(req.path, { recursive: true, force: true });
      return { done: true };
    case 'rename':
      renameSync(req.from, req.to);
      return { done: true };
    case 'read-text':
      return { text: readText(req.path) };
  }
}

/** A file's text (UTF-8), or null when it cannot be read (missing, a directory, no permission). */
function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- root's side

export interface UserTree {
  /** lstat of each path (a final symlink is reported, never followed). */
  kinds(paths: readonly string[]): Promise<PathKind[]>;
  /** sha256 of each path that is a regular file; null for a missing file, a symlink or anything else. */
  hashFiles(paths: readonly string[]): Promise<(string | null)[]>;
  /**
   * Unlink each file whose content still hashes to sha256; failures (EACCES…)
   * are returned, not thrown. `kept`: the paths left because something other
   * than that content is there (a person's edit).
   */
  removeIfUnchanged(
    files: readonly { path: string; sha256: string }[],
  ): Promise<{ removed: string[]; failed: Failure[]; kept: string[] }>;
  /**
   * Overwrite a regular file the user owns, and give it the mode attributes
   * in `mode` (withModeAttrs); returns why it was refused, or null when written.
   */
  writeInPlace(path: string, content: string, mode?: ModeAttrs): Promise<string | null>;
  /** rm -rf. */
  removeTree(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** A file's text, following symlinks (a read, never a write); null when unreadable. */
  readText(path: string): Promise<string | null>;
  /**
   * The entry names of a directory, read in this process, or null: null when
   * it cannot be read, and always with a privilege boundary (runAs set),
   * where the helper process would cost what the caller meant to save
   * (callers then ask the tool itself).
   */
  namesInProcess(dir: string): string[] | null;
}

/** The child entry, next to this module in dist/ (tsc) and in dist/bundle/ (scripts/bundle.mjs). */
const CHILD_SCRIPT = fileURLToPath(new URL('./fs-boundary-child.js', import.meta.url));

/**
 * The dotfiles user's tree, as that user: through a child process when a
 * privilege boundary exists (runAs set), in-process otherwise.
 */
export function userTree(opts: { runner: Runner; runAs: RunAs | undefined }): UserTree {
  const { runner, runAs } = opts;
  const call = async <T>(schema: z.ZodMiniType<T>, req: UserTreeRequest): Promise<T> => {
    if (runAs === undefined) return schema.parse(performUserTree(req));
    const r = await runner.run(process.execPath, [CHILD_SCRIPT], { user: runAs, input: JSON.stringify(req) });
    const parsed = schema.safeParse(safeJson(r.stdout));
    if (!parsed.success) {
      throw new GitopsdError(
        'internal',
        `the file helper run as ${runAs.name} answered ${req.op} with unexpected output (${r.stdout.slice(0, 200)}); please report`,
      );
    }
    return parsed.data;
  };
  return {
    kinds: async (paths) => (await call(KindsReply, { op: 'kinds', paths: [...paths] })).kinds,
    hashFiles: async (paths) =>
      paths.length === 0 ? [] : (await call(HashesReply, { op: 'hash-files', paths: [...paths] })).hashes,
    removeIfUnchanged: async (files) =>
      files.length === 0
        ? { removed: [], failed: [], kept: [] }
        : call(RemoveReply, { op: 'remove-if-unchanged', files: files.map((f) => ({ ...f })) }),
    writeInPlace: async (path, content, mode) =>
      (await call(WriteReply, { op: 'write-in-place', path, content, ...(mode !== undefined ? { mode } : {}) }))
        .refused,
    removeTree: async (path) => {
      await call(DoneReply, { op: 'remove-tree', path });
    },
    rename: async (from, to) => {
      await call(DoneReply, { op: 'rename', from, to });
    },
    readText: async (path) => (await call(TextReply, { op: 'read-text', path })).text,
    namesInProcess: (dir) => (runAs === undefined ? readNames(dir) : null),
  };
}

function readNames(dir: string): string[] | null {
  try {
    return readdirSync(dir);
  } catch {
    return null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- root's own directories

/**
 * Create <stateDir>/sync when missing and hand it to the dotfiles user (their
 * gitopsd-sync.service writes the sync state and lock there). Its parent is
 * root's state dir, so only root can create or replace the entry; a symlink
 * or non-directory there is refused rather than followed.
 */
export function ensureSyncDir(syncDir: string, runAs: RunAs | undefined): void {
  const kind = kindOf(syncDir);
  if (kind === 'missing') {
    // The state dir (root's) keeps the default mode: the user must be able
    // to pass through it to the sync dir.
    mkdirParents(dirname(syncDir));
    mkdirSync(syncDir, { mode: 0o700 });
    // lchown: never follows a link, even one that appeared in between.
    if (runAs !== undefined) lchownSync(syncDir, runAs.uid, runAs.gid);
    return;
  }
  if (kind !== 'dir') {
    throw new GitopsdError(
      'failed',
      `${syncDir} is a ${kind}, not a directory; remove it (the next sync recreates it for the dotfiles user)`,
    );
  }
}

/**
 * A fresh directory for files root hands to a process of the dotfiles user
 * (the merge base). With a privilege boundary it is `<stateDir>/tmp/merge-*`:
 * root-owned, mode 0711 (the user may open a file whose name root gives them,
 * but can neither list, create, rename nor delete anything there); files in
 * it are created O_EXCL and chowned on the descriptor. Without one it is in
 * the running user's own <stateDir>/sync. Leftovers of a killed run are
 * removed first (the caller holds the sync lock, so none is in use).
 */
export interface PrivateTemp {
  readonly dir: string;
  /** Create `name` with `content`, readable only by the dotfiles user (and root). */
  write(name: string, content: string): string;
  remove(): void;
}

export function privateTemp(opts: { stateDir: string; syncDir: string; runAs: RunAs | undefined }): PrivateTemp {
  const { runAs } = opts;
  const parent = runAs === undefined ? opts.syncDir : join(opts.stateDir, 'tmp');
  if (runAs !== undefined) {
    mkdirParents(parent);
    const st = lstatSync(parent);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw new GitopsdError(
        'failed',
        `${parent} must be a directory owned by root and writable by no one else (it holds files root hands to ${runAs.name}); remove it and run again`,
      );
    }
    // Root's own directory: 0711 lets the user open a file by its name, nothing more.
    if ((st.mode & 0o777) !== 0o711) chmodSync(parent, 0o711);
  }
  for (const name of readdirSync(parent)) {
    if (name.startsWith('merge-')) rmSync(join(parent, name), { recursive: true, force: true });
  }
  const dir = mkdtempSync(join(parent, 'merge-'));
  if (runAs !== undefined) chmodSync(dir, 0o711);
  return {
    dir,
    write(name, content) {
      const p = join(dir, name);
      const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
      try {
        if (runAs !== undefined) fchownSync(fd, runAs.uid, runAs.gid);
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return p;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
