/**
 * Reading a checkout's refs from the files git keeps them in, without
 * starting a `git` process (docs/benchmarks.md B1 and B2: a `git rev-parse`
 * through the runner costs 10-20 ms, more than the rest of `status`).
 *
 * What git stores, from gitrepository-layout(5) and git-pack-refs(1):
 * - `$GIT_DIR/HEAD` holds either `ref: refs/heads/<name>` (a symbolic ref) or
 *   a bare object name (a detached HEAD);
 * - a loose ref `$GIT_DIR/<refname>` holds one object name and a newline;
 * - `$GIT_DIR/packed-refs` holds lines `<oid> <refname>`, plus a `# pack-refs
 *   with: …` header and peeled lines `^<oid>` under annotated tags; a loose
 *   ref wins over a packed one of the same name.
 *
 * Anything else answers `null`, and the caller asks git instead: a
 * repository in the reftable format (`extensions.refStorage = reftable`,
 * gitrepository-layout(5) "reftable/"), a `.git` file (a worktree or a
 * submodule), a checkout that another user owns (git's safe.directory
 * check), a symbolic ref that points at another symbolic ref, or any
 * content that is not exactly what the layout above describes. The reader
 * never guesses: a wrong answer here would make `status` or a no-op upgrade
 * miss a new commit, while `null` only costs one process.
 *
 * Checked against git itself by test/integration/core/git-refs.test.ts
 * (loose, packed, detached, reftable and worktree repositories, each compared
 * with `git rev-parse`).
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { readFileOrNull } from './fs-read.js';

/** A full object name: SHA-1 (40 hex) or SHA-256 (64 hex) repositories. */
const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** A ref name we resolve from files: only under refs/, no path tricks. */
const REFNAME = /^refs\/(?:[A-Za-z0-9._+@-]+\/)*[A-Za-z0-9._+@-]+$/;

/**
 * The git directory of a checkout when its refs can be read from files:
 * `<worktree>/.git` must be a directory (not a `gitdir:` file) and hold no
 * `reftable/` directory. Null otherwise.
 */
export function fileRefsGitDir(worktree: string): string | null {
  const gitDir = join(worktree, '.git');
  const kind = (p: string): 'dir' | 'other' | 'missing' => {
    try {
      return lstatSync(p).isDirectory() ? 'dir' : 'other';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'other';
    }
  };
  if (kind(gitDir) !== 'dir') return null;
  if (kind(join(gitDir, 'reftable')) !== 'missing') return null; // reftable/: ask git
  // git refuses a repository that another user owns (safe.directory,
  // git-config(1); setup.c ensure_valid_ownership checks the worktree and the
  // git dir against the effective uid). Reading its files would skip that
  // refusal, and root would read files another user controls: ask git, which
  // refuses with its own message (the upgrade explains it, src/upgrade/index.ts
  // explainUnreadableCheckout).
  const euid = process.geteuid?.();
  try {
    if (euid !== undefined && (lstatSync(worktree).uid !== euid || lstatSync(gitDir).uid !== euid)) return null;
  } catch {
    return null;
  }
  return gitDir;
}

/** Parse packed-refs text into refname -> oid (peeled `^` lines skipped). */
export function parsePackedRefs(text: string): Map<string, string> | null {
  const refs = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const sp = line.indexOf(' ');
    const oid = line.slice(0, sp);
    const name = line.slice(sp + 1);
    if (sp < 0 || !OID.test(oid) || !REFNAME.test(name)) return null; // not the documented layout
    refs.set(name, oid);
  }
  return refs;
}

/**
 * The object name `refname` (a full name under refs/) points at, from the
 * loose ref file or packed-refs. Null when the ref does not exist or cannot be
 * read from files with certainty.
 */
export function readRefFromFiles(gitDir: string, refname: string): string | null {
  if (!REFNAME.test(refname) || refname.split('/').some((p) => p === '.' || p === '..' || p.endsWith('.lock')))
    return null;
  const loose = readFileOrNull(join(gitDir, refname));
  if (loose !== null) {
    const oid = loose.trim();
    return OID.test(oid) ? oid : null; // a symbolic ref below refs/: let git resolve it
  }
  const packed = readFileOrNull(join(gitDir, 'packed-refs'));
  if (packed === null) return null;
  return parsePackedRefs(packed)?.get(refname) ?? null;
}

/** HEAD's object name (detached, or through one symbolic ref). Null when unsure. */
export function readHeadFromFiles(gitDir: string): string | null {
  const head = readFileOrNull(join(gitDir, 'HEAD'));
  if (head === null) return null;
  const t = head.trim();
  if (OID.test(t)) return t;
  const m = /^ref: (refs\/\S+)$/.exec(t);
  return m?.[1] === undefined ? null : readRefFromFiles(gitDir, m[1]);
}
