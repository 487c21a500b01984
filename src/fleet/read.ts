/**
 * Reading the fleet: fetch every host's status ref into a bare repository of
 * the reader's own, read each status.json and commit header with one
 * `git cat-file` process (two with git older than 2.50), check signatures with one `git log` (results
 * cached by commit id, which covers the signature), and classify each host
 * (`decideRow`).
 *
 * Contract
 * - Inputs: the config (fleet.*, stateDir), the remote (`--remote` or
 *   resolveStatusRemote), the clock.
 * - Side effects: only the reader's repository and its verdict cache,
 *   `<stateDir>/fleet/view.git` (or a temporary directory, removed after,
 *   when stateDir is not writable, as for a person without root), and,
 *   with allowed signers, its memory of each host's newest trusted status,
 *   `<stateDir>/fleet/status-seen.json` (./seen.ts; none with a temporary
 *   view), written only when a mark rises.
 * - Failure modes: an unreadable remote is a GitopsdError 'temporary'
 *   (exit 75); an allowed-signers file that cannot be read or holds no key
 *   is 'usage' when --allowed-signers named it (64), else 'config' (78). A bad document, ref name or signature never fails the read:
 *   it becomes that host's row (state invalid or unverified) with the reason.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { writeFileAtomic } from '../core/atomic.js';
import { acquireShortLock } from '../core/lock.js';
import { GitopsdError } from '../core/errors.js';
import { BUILD, versionLine } from '../core/build-info.js';
import { decideRow, FUTURE_TOLERANCE_SEC } from './decide.js';
import {
  batchCheck,
  batchRead,
  batchReadFiltered,
  ensureViewRepo,
  fetchStatusRefs,
  removeStaleViewLocks,
  verifyCommits,
  VIEW_PREFIX,
} from './git.js';
import { resolveStatusRemote } from './remote.js';
import { decideSeen, keepAside, mergeSeen, nextSeen, readSeen, SEEN_FILE, writeSeen, type Seen } from './seen.js';
import { readSignersFile } from './signers-file.js';
import semverValid from 'semver/functions/valid.js';
import semverLt from 'semver/functions/lt.js';
import semverRsort from 'semver/functions/rsort.js';
import {
  BRANCH_REF_PREFIX,
  HOST_NAME,
  HOST_STATES,
  MAX_STATUS_BYTES,
  STATUS_REF_PREFIX,
  StatusV1,
  UNHEALTHY,
  type FleetRow,
  type FleetView,
  type HostState,
  type SignatureState,
} from './schema.js';

export interface ReadOptions {
  /** Only these hosts (all when empty). */
  hosts?: readonly string[];
  /** The status remote, instead of the configured one. */
  remote?: string;
  /** An allowed-signers file, instead of fleet.allowedSignersFile. */
  allowedSignersFile?: string;
}

// node:crypto (only with allowed signers) is required on first use: a read
// without signers never loads it (about 10 ms of a read of 1,000 hosts,
// docs/benchmarks.md B8). semver's three functions are imported, not its
// index (which loads its ranges and classes too), and statically, so that
// they are in the lean bundle and its code cache: required from
// node_modules at run time they were resolved and compiled on every read.
const req = createRequire(import.meta.url);

interface Entry {
  host: string;
  /** The ref at the remote. */
  ref: string;
  commit: string;
  problem: string | null;
}

/**
 * Can this process make or write `dir`: is the nearest existing directory on
 * its path writable? (A laptop's `~/.cache/gitopsd/fleet` before the first
 * read has two missing levels: looking only at the parent sent every read to
 * a temporary view, review 11.)
 */
export function writable(dir: string): boolean {
  let d = dir;
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) return false;
    d = up;
  }
  try {
    accessSync(d, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Pure: a commit object's header fields we need (git's commit object format). */
export function parseCommitHeader(raw: Buffer): { parents: number; signed: boolean; committedAt: Date | null } {
  const text = raw.toString('utf8');
  const end = text.indexOf('\n\n');
  const header = end < 0 ? text : text.slice(0, end);
  let parents = 0;
  let signed = false;
  let committedAt: Date | null = null;
  for (const line of header.split('\n')) {
    if (line.startsWith('parent ')) parents++;
    else if (line.startsWith('gpgsig ') || line.startsWith('gpgsig-sha256 ')) signed = true;
    else if (line.startsWith('committer ')) {
      const m = / (\d+) [+-]\d{4}$/.exec(line);
      if (m?.[1] !== undefined) committedAt = new Date(Number(m[1]) * 1000);
    }
  }
  return { parents, signed, committedAt };
}

/**
 * Pure: why a status ref that points at an object of `type` (git's object
 * type: blob, tree, tag) and not at a commit is refused, and what to do. The
 * host's own publish replaces such a ref (its lease reads what the ref holds
 * after a refused push, src/fleet/publish.ts); a ref no host publishes to
 * stays until it is deleted.
 */
export function notACommit(type: string): string {
  return `the ref points at a ${type}, not a commit (a status ref holds a parentless commit); the host's own publishes replace it, and if no host of that name publishes, delete the ref at the remote`;
}

/** Pure: the status document of one host, or the one-line reason it is refused. */
export function parseStatusDocument(
  raw: Buffer | undefined,
  size: number | null,
  host: string,
): { status: StatusV1 } | { problem: string } {
  if (size !== null && size > MAX_STATUS_BYTES) {
    return { problem: `status.json is ${size} bytes, over the ${MAX_STATUS_BYTES}-byte limit; not read` };
  }
  if (size === null || raw === undefined) return { problem: 'the commit has no status.json' };
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return { problem: `status.json is not valid JSON (${(err as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { problem: 'status.json is not a JSON object' };
  }
  const v = (doc as Record<string, unknown>)['v'];
  if (v !== 1) {
    return {
      problem: `status.json has schema version ${JSON.stringify(v) ?? 'none'}, this gitopsd reads version 1; upgrade gitopsd on this machine (or that host wrote garbage)`,
    };
  }
  const parsed = StatusV1.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = (issue?.path ?? []).map(String).join('.');
    return {
      problem: `status.json does not match schema v1 (at ${where === '' ? 'top level' : where}: ${issue?.message ?? 'invalid'})`,
    };
  }
  if (parsed.data.host !== host) {
    return { problem: `status.json claims host "${parsed.data.host}" but is published on ${host}'s ref` };
  }
  return { status: parsed.data };
}

export { signerKeyLines } from './signers-file.js';

/** Pure: the signature state of a commit from git's %G? / %GS. */
export function signatureState(i: {
  host: string;
  signed: boolean;
  signersConfigured: boolean;
  verdict: { code: string; signer: string } | undefined;
}): FleetRow['signature'] {
  if (!i.signersConfigured) {
    return { state: i.signed ? 'not-checked' : 'unsigned', signer: null, detail: null };
  }
  if (!i.signed) return { state: 'unverified', signer: null, detail: 'the status commit is not signed' };
  const v = i.verdict;
  if (v === undefined) return { state: 'unverified', signer: null, detail: 'the signature could not be checked' };
  const unverified = (detail: string): FleetRow['signature'] => ({
    state: 'unverified',
    signer: v.signer === '' ? null : v.signer,
    detail,
  });
  switch (v.code) {
    case 'G':
      if (v.signer !== i.host) return unverified(`signed by ${v.signer}'s key, not ${i.host}'s`);
      return { state: 'verified', signer: v.signer, detail: null };
    case 'U':
      return unverified('signed by a key that is not in the allowed signers file');
    case 'B':
      return unverified('bad signature');
    case 'N':
      return unverified('the status commit is not signed');
    default:
      return unverified(`the signature cannot be checked (git %G? = ${v.code})`);
  }
}

interface VerdictCache {
  signers: string;
  verdicts: Record<string, { code: string; signer: string }>;
}

function readCache(file: string, signersHash: string): VerdictCache {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as VerdictCache;
    if (doc.signers === signersHash && typeof doc.verdicts === 'object') return doc;
  } catch {
    // no cache, or a broken one: start over (it is only a cache)
  }
  return { signers: signersHash, verdicts: {} };
}

/** One status commit as read: its document or the reason it is refused, and whether it is signed. */
interface CachedDocument {
  host: string;
  status: StatusV1 | null;
  problem: string | null;
  signed: boolean;
}

/**
 * The documents of earlier reads, by host and commit id (`<view.git>/gitopsd-documents.json`,
 * written by this reader only, atomically, mode 0600). The verdicts are this
 * gitopsd's (another version may read a document differently), so the file
 * names the build that wrote it (`versionLine`), and a file of another build
 * or a missing one is an empty cache: everything is read again. So is a file
 * that cannot be read or parsed, or is not of this shape, with the reason in
 * `broken` (the reader warns: it is only a cache, never fatal). An entry of
 * the wrong shape is dropped (read again), never trusted.
 */
export function readDocCache(file: string): { documents: Record<string, unknown>; broken: string | null } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { documents: {}, broken: code === 'ENOENT' ? null : `cannot be read (${code ?? (err as Error).message})` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { documents: {}, broken: `is not valid JSON (${(err as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { documents: {}, broken: 'is not a JSON object' };
  const d = doc as { v?: unknown; reader?: unknown; documents?: unknown };
  // Another build's cache (an upgrade, or a downgrade): read everything again, nothing is wrong.
  if (d.reader !== versionLine(BUILD)) return { documents: {}, broken: null };
  if (d.v !== 1) return { documents: {}, broken: `has version ${JSON.stringify(d.v) ?? 'none'}, not 1` };
  if (typeof d.documents !== 'object' || d.documents === null || Array.isArray(d.documents))
    return { documents: {}, broken: 'has no "documents" object' };
  // Each entry's shape is checked when it is looked up (isCachedDocument),
  // not here: no copy of the 1,000 entries on every read.
  return { documents: d.documents as Record<string, unknown>, broken: null };
}

function isCachedDocument(d: unknown): d is CachedDocument {
  if (typeof d !== 'object' || d === null) return false;
  const c = d as Record<string, unknown>;
  return (
    typeof c['host'] === 'string' &&
    typeof c['signed'] === 'boolean' &&
    ((c['status'] === null && typeof c['problem'] === 'string') ||
      (typeof c['status'] === 'object' && c['status'] !== null && c['problem'] === null))
  );
}

export async function readFleet(deps: Deps, opts: ReadOptions = {}): Promise<FleetView> {
  const log = deps.log.child({ module: 'fleet-read' });
  const timeoutMs = deps.config.timeouts.gitSec * 1000;
  const remote = await resolveStatusRemote(deps, timeoutMs, opts.remote);
  const signersFile = opts.allowedSignersFile ?? deps.config.fleet.allowedSignersFile;
  const base = join(deps.paths.stateDir, 'fleet');
  // The view is made in base (renamed into place) and written inside: both must be ours to write.
  const own = writable(base) && writable(join(base, 'view.git'));
  const tmp = own ? null : mkdtempSync(join(tmpdir(), 'gitopsd-fleet-'));
  const dir = tmp === null ? join(base, 'view.git') : join(tmp, 'view.git');
  try {
    await ensureViewRepo(deps, dir, timeoutMs);
    // A lock a git killed with -9 left (git never removes one) would fail
    // every later fetch that writes a ref (git.ts decideStaleLocks). A
    // temporary repository is new: it has none.
    if (tmp === null) {
      for (const file of removeStaleViewLocks(dir, timeoutMs)) {
        log.warn('removed a lock file a killed git left in the fleet reader repository', { file });
      }
    }
    // An unreadable remote (or a timeout) is 'temporary': exit 75. The fetch
    // also lists the refs the repository then holds (no for-each-ref).
    const fetching = fetchStatusRefs(deps, { dir, remote, timeoutMs }).catch(async (err: unknown) => {
      // A corrupt object in the reader's own repository (a disk error, a
      // git killed mid-write on a file system that reorders writes): the
      // repository is only a copy of the status refs, so it is made again
      // and fetched whole, once. The documents already read stay valid
      // (keyed by commit id); the memory of trusted statuses is outside it.
      if (!(err instanceof GitopsdError) || err.detail['viewDamaged'] !== true || tmp !== null) throw err;
      log.warn('the fleet reader repository is damaged: it is made again and every status fetched anew', {
        dir,
        error: err.message,
      });
      rmSync(dir, { recursive: true, force: true });
      await ensureViewRepo(deps, dir, timeoutMs);
      return fetchStatusRefs(deps, { dir, remote, timeoutMs });
    });
    // Documents already read, by host and commit id: a commit id names its
    // status.json and header for good, so only new commits are read and
    // validated. (Two refs may hold one commit: the verdict depends on the host.)
    // Read while git fetches: the fetch never touches this file, and with
    // 1,000 hosts its read and parse cost 15-20 ms. The runner starts git
    // only after a few promise steps (it loads execa through import()), so
    // the read waits for them first (setImmediate runs after every queued
    // promise step); were git not started by then, the read is only not
    // overlapped, never wrong. The fetch may fail during the wait (git
    // cannot start): marked handled here, so node does not treat it as an
    // unhandled rejection (fatal by default); the await below throws it.
    void fetching.catch(() => undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const docCacheFile = join(dir, 'gitopsd-documents.json');
    const { documents: docCache, broken } = readDocCache(docCacheFile);
    // What this reader remembers of each host's newest trusted status
    // (./seen.ts): only where a status can be trusted (allowed signers) and
    // the reader's directory is its own (a temporary view forgets).
    const seenFile = signersFile !== null && tmp === null ? join(base, SEEN_FILE) : null;
    const memory = seenFile === null ? null : readSeen(seenFile);
    const refs = await fetching;
    const now = deps.clock.now();
    // One entry per host: both layouts may hold one; the newer document wins below.
    const entries: (Entry & { viewRef: string })[] = [];
    for (const r of refs) {
      const layout = r.ref.startsWith(VIEW_PREFIX.refs) ? 'refs' : 'heads';
      const host = r.ref.slice((layout === 'refs' ? VIEW_PREFIX.refs : VIEW_PREFIX.heads).length);
      const ref = `${layout === 'refs' ? STATUS_REF_PREFIX : BRANCH_REF_PREFIX}${host}`;
      const problem = HOST_NAME.test(host)
        ? null
        : `the ref name ${ref} does not end in a valid host name (letters, digits, ".", "_", "-"; at most 63); delete that ref at the remote`;
      entries.push({ host, ref, commit: r.commit, problem, viewRef: r.ref });
    }
    const wanted = opts.hosts !== undefined && opts.hosts.length > 0 ? new Set(opts.hosts) : null;
    const chosen = wanted === null ? entries : entries.filter((e) => wanted.has(e.host));

    const valid = chosen.filter((e) => e.problem === null);
    if (broken !== null) {
      log.warn('status document cache ignored: every status is read again', { file: docCacheFile, problem: broken });
    }
    const key = (e: Entry): string => `${e.host} ${e.commit}`;
    // Looked up once per entry (the key and the shape check are per entry, not per use).
    const hits = new Map<Entry, CachedDocument>();
    let malformed = 0;
    for (const e of valid) {
      const k = key(e);
      if (!Object.hasOwn(docCache, k)) continue;
      const d = docCache[k];
      // An entry of the wrong shape, or of another host, is read again, never trusted.
      if (isCachedDocument(d) && d.host === e.host) hits.set(e, d);
      else malformed++;
    }
    if (malformed > 0) {
      log.warn('status document cache entries malformed: those statuses are read again', {
        file: docCacheFile,
        entries: malformed,
      });
    }
    const cached = (e: Entry): CachedDocument | undefined => hits.get(e);
    const unread = valid.filter((e) => cached(e) === undefined);
    const blobName = (e: Entry): string => `${e.commit}:status.json`;
    // One process where git knows --filter (>= 2.50): oversized blobs are
    // left out by git itself; the sizes of those few are asked for after.
    // Older git: the sizes first, then only what may be read.
    const { sizes, objects } = await readUnread(deps, {
      dir,
      commits: unread.map((e) => e.commit),
      documents: unread.map(blobName),
      timeoutMs,
    });
    const readDocument = (e: Entry): CachedDocument => {
      const obj = objects.get(e.commit);
      if (obj === undefined && sizes.get(e.commit)?.type === 'blob')
        return { host: e.host, status: null, problem: notACommit('blob'), signed: false };
      if (obj === undefined)
        return { host: e.host, status: null, problem: 'the status commit could not be read', signed: false };
      // A ref may point at any object (git refuses a non-commit only under
      // refs/heads/). A blob's "<id>:status.json" is missing and a tree's may
      // name a real document: both read as a commit, the blob was "the commit
      // has no status.json" and a tree holding a valid status.json was read
      // as the host's status, unsigned (or unverified) (review 12).
      if (obj.type !== 'commit') return { host: e.host, status: null, problem: notACommit(obj.type), signed: false };
      const header = parseCommitHeader(obj.bytes);
      if (header.parents !== 0) {
        return {
          host: e.host,
          status: null,
          problem: `the status commit has ${header.parents} parent(s); a status commit has none`,
          signed: header.signed,
        };
      }
      const s = sizes.get(blobName(e));
      // A directory (or a submodule) named status.json is not "no status.json" (review 11).
      if (s !== undefined && s !== null && s.type !== 'blob') {
        return {
          host: e.host,
          status: null,
          problem: `status.json in the status commit is a ${s.type === 'tree' ? 'directory' : s.type}, not a file`,
          signed: header.signed,
        };
      }
      const parsed = parseStatusDocument(
        objects.get(blobName(e))?.bytes,
        s === undefined || s === null ? null : s.type === 'blob' ? s.size : null,
        e.host,
      );
      return 'status' in parsed
        ? { host: e.host, status: parsed.status, problem: null, signed: header.signed }
        : { host: e.host, status: null, problem: parsed.problem, signed: header.signed };
    };
    const read = valid.map((e) => {
      const c = cached(e);
      // A commit git could not give us this time is read again next time, not remembered.
      return {
        e,
        d: c ?? readDocument(e),
        remember: c !== undefined || objects.has(e.commit) || sizes.get(e.commit)?.type === 'blob',
      };
    });
    const documents = new Map(read.map((x) => [key(x.e), x.d]));
    const keep: [string, unknown][] = read.filter((x) => x.remember).map((x) => [key(x.e), x.d]);
    // A read of some hosts (--host) keeps the others' entries while their ref
    // still points at that commit (they are checked when next looked up): the
    // next read of the whole fleet reads only what changed.
    if (wanted !== null) {
      for (const e of entries) {
        if (!wanted.has(e.host) && e.problem === null && Object.hasOwn(docCache, key(e)))
          keep.push([key(e), docCache[key(e)]]);
      }
    }
    if (unread.length > 0 || broken !== null || malformed > 0 || keep.length !== Object.keys(docCache).length) {
      try {
        writeFileAtomic(
          docCacheFile,
          JSON.stringify({ v: 1, reader: versionLine(BUILD), documents: Object.fromEntries(keep) }),
          { mode: 0o600 },
        );
      } catch (err) {
        log.debug('status document cache not written', { error: (err as Error).message });
      }
    }

    // Signatures: git checks them (ssh-keygen -Y verify); results are cached
    // by commit id and by the content of the allowed-signers file.
    const signersConfigured = signersFile !== null;
    let verdicts = new Map<string, { code: string; signer: string }>();
    if (signersFile !== null) {
      // Unusable: exit 64 when --allowed-signers named it, 78 when the config did (./signers-file.ts).
      const signersText = readSignersFile(
        signersFile,
        opts.allowedSignersFile === undefined ? { key: 'fleet.allowedSignersFile' } : { option: '--allowed-signers' },
        '--allowed-signers',
      );
      const { createHash } = req('node:crypto') as typeof import('node:crypto');
      const signersHash = createHash('sha256').update(signersText).digest('hex');
      const cacheFile = join(dir, 'gitopsd-verdicts.json');
      const cache = readCache(cacheFile, signersHash);
      const signedCommits = valid.filter((e) => documents.get(key(e))?.signed === true).map((e) => e.commit);
      const todo = [...new Set(signedCommits)].filter((c) => cache.verdicts[c] === undefined);
      const fresh = await verifyCommits(deps, { dir, commits: todo, allowedSignersFile: signersFile, timeoutMs });
      verdicts = new Map([...Object.entries(cache.verdicts), ...fresh]);
      // The verdicts of the commits still at the remote: the chosen hosts' signed
      // ones, and (after a read of some hosts) those of the others, as for the documents.
      const still = wanted === null ? signedCommits : [...signedCommits, ...entries.map((e) => e.commit)];
      const keep = Object.fromEntries(still.flatMap((c) => (verdicts.has(c) ? [[c, verdicts.get(c)]] : [])));
      if (todo.length > 0 || Object.keys(keep).length !== Object.keys(cache.verdicts).length) {
        try {
          writeFileAtomic(cacheFile, JSON.stringify({ signers: signersHash, verdicts: keep }), { mode: 0o600 });
        } catch (err) {
          log.debug('signature verdict cache not written', { error: (err as Error).message });
        }
      }
    }

    // First pass: documents and signatures; then the fleet's newest version.
    const docs = chosen.map((e) => {
      const d =
        e.problem !== null
          ? { status: null, problem: e.problem, signed: false }
          : (documents.get(key(e)) ?? { status: null, problem: 'the status commit could not be read', signed: false });
      const signature = signatureState({
        host: e.host,
        signed: d.signed,
        signersConfigured,
        verdict: verdicts.get(e.commit),
      });
      return { e, status: d.status, problem: d.problem, signature };
    });
    const newestVersion = newestTrustedVersion(docs);
    const behind = new Map<string, boolean>();
    const versionLess = (a: string, b: string): boolean => {
      if (b !== newestVersion) return semverValid(a) !== null && semverLt(a, b);
      let r = behind.get(a);
      if (r === undefined) behind.set(a, (r = semverValid(a) !== null && semverLt(a, b)));
      return r;
    };

    let rows = docs.map((d) =>
      decideRow({
        host: d.e.host,
        ref: d.e.ref,
        commit: d.e.commit,
        problem: d.problem,
        status: d.status,
        signature: d.signature,
        now,
        newestVersion,
        versionLess,
      }),
    );
    if (seenFile !== null && memory !== null) rows = remember(rows, { file: seenFile, memory, now, deps });
    rows = onePerHost(rows).sort(compareHostNames);
    // The hosts that should have a row: the --host names, else fleet.expectedHosts.
    const expected = wanted !== null ? [...wanted] : deps.config.fleet.expectedHosts;
    return summarize({ rows, now, remote, signersConfigured, newestVersion, expected });
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}

type Sizes = Map<string, { type: string; size: number } | null>;
type Objects = Map<string, { type: string; bytes: Buffer }>;

/**
 * The status commits and their status.json blobs not in the document cache.
 * `sizes`: each document name's type and size (null: missing), and each
 * commit name that turned out to be an oversized blob (never read).
 * `objects`: the commits, and each document that is at most
 * MAX_STATUS_BYTES (a blob) or not a blob at all. One `cat-file` process with
 * git >= 2.50 (plus one `--batch-check` of the oversized, when there are
 * any); two with an older git, or when the one process's answer went over
 * the runner's limit (a huge tree named status.json: batchReadFiltered).
 */
async function readUnread(
  deps: Deps,
  i: { dir: string; commits: readonly string[]; documents: readonly string[]; timeoutMs: number },
): Promise<{ sizes: Sizes; objects: Objects }> {
  const { dir, timeoutMs } = i;
  const filtered = await batchReadFiltered(deps, {
    dir,
    names: [...new Set([...i.commits, ...i.documents])],
    timeoutMs,
    blobLimit: MAX_STATUS_BYTES + 1,
  });
  if (filtered === null) {
    const sizes: Sizes = await batchCheck(deps, { dir, names: i.documents, timeoutMs });
    const readable = i.documents.filter((n) => {
      const s = sizes.get(n);
      return s !== undefined && s !== null && s.type === 'blob' && s.size <= MAX_STATUS_BYTES;
    });
    const objects = await batchRead(deps, { dir, names: [...new Set([...i.commits, ...readable])], timeoutMs });
    return { sizes, objects };
  }
  const { objects, excluded, submodules } = filtered;
  const big: Sizes =
    excluded.size > 0 ? await batchCheck(deps, { dir, names: [...excluded], timeoutMs }) : (new Map() as Sizes);
  const sizes: Sizes = new Map();
  for (const n of i.documents) {
    const o = objects.get(n);
    sizes.set(
      n,
      o !== undefined
        ? { type: o.type, size: o.bytes.length }
        : submodules.has(n)
          ? { type: 'submodule', size: 0 }
          : (big.get(n) ?? null),
    );
  }
  for (const n of i.commits) {
    const b = big.get(n);
    if (b !== undefined && b !== null) sizes.set(n, b);
  }
  return { sizes, objects };
}

/**
 * The rows read with the reader's memory of each host's newest trusted
 * status (./seen.ts): an older one is unverified. The memory is written
 * only when a mark rises, and never fails the read: a broken file is kept
 * aside with a warning (the protection is lost until the hosts publish
 * again), a write that fails is a warning.
 */
function remember(
  rows: FleetRow[],
  o: { file: string; memory: { seen: Seen; broken: string | null }; now: Date; deps: Deps },
): FleetRow[] {
  const log = o.deps.log.child({ module: 'fleet-read' });
  if (o.memory.broken !== null) {
    log.warn(
      'the memory of the newest status of each host is broken and was put aside: a replayed older status is not caught until the hosts publish again',
      { file: o.file, problem: o.memory.broken, keptAs: `${o.file}.broken` },
    );
    keepAside(o.file);
  }
  const out = rows.map((r) => decideSeen(r, o.memory.seen, o.now));
  const next = nextSeen(o.memory.seen, out, o.now);
  if (next !== null) {
    try {
      // Another reader (fleet serve, a gate, a person's fleet status) may
      // have raised a mark since this one read the file: keep the newer of
      // each. The lock holds from that read to the rename: without it, a
      // reader that wrote in between lost its marks to this rename (review 17).
      const lock = acquireShortLock({
        path: `${o.file}.update-lock`,
        command: 'fleet reader memory',
        log,
        now: () => o.deps.clock.now(),
        giveUpMs: 10_000,
      });
      try {
        const since = readSeen(o.file);
        writeSeen(o.file, since.broken === null ? mergeSeen(since.seen, next, o.now) : next, o.deps.tracer.checkpoint);
      } finally {
        lock.release();
      }
    } catch (err) {
      log.warn('the memory of the newest status of each host was not written: a replay of an older one is not caught', {
        file: o.file,
        error: (err as Error).message,
      });
    }
  }
  return out;
}

/**
 * Pure: one row per host when both layouts (`refs/gitopsd/status/H` and
 * `refs/heads/gitopsd/status/H`) hold a status: a readable document beats an
 * invalid one, a trusted one (signature not refused) an unverified one, then
 * the newer `publishedAt` wins (a tie keeps the first, the
 * branch). The row kept names the other ref, which no publisher writes any
 * more (a host publishes to one layout), and is at least a warning: delete
 * that ref. Before, an invalid row (no date: NaN) never lost, so an invalid
 * branch hid a valid status and the row named neither ref (review 11).
 */
export function onePerHost(rows: readonly FleetRow[]): FleetRow[] {
  const byHost = new Map<string, FleetRow[]>();
  for (const r of rows) {
    const list = byHost.get(r.host);
    if (list === undefined) byHost.set(r.host, [r]);
    else list.push(r);
  }
  const when = (r: FleetRow): number =>
    r.status === null ? Number.NEGATIVE_INFINITY : Date.parse(r.publishedAt ?? '') || Number.NEGATIVE_INFINITY;
  // A document whose signature is refused may be anyone's: it never hides one
  // that is not (review 14). Before, a newer unsigned status at the other
  // layout hid a verified one, and with it the known-bad mark and failure
  // the rollout gate halts on (src/fleet/rollout/gate.ts).
  // (By state: a replay, older than a status the reader saw, is unverified with a good signature.)
  const trusted = (r: FleetRow): number => (r.status !== null && r.state !== 'unverified' ? 1 : 0);
  const better = (b: FleetRow, a: FleetRow): boolean =>
    trusted(b) !== trusted(a) ? trusted(b) > trusted(a) : when(b) > when(a);
  const out: FleetRow[] = [];
  for (const list of byHost.values()) {
    const best = list.reduce((a, b) => (better(b, a) ? b : a));
    const others = list.filter((r) => r !== best);
    if (others.length === 0) {
      out.push(best);
      continue;
    }
    const notes = others.map(
      (o) =>
        `also published at ${o.ref} (${o.status === null ? (o.reasons[0] ?? 'invalid') : o.state === 'unverified' && trusted(best) === 1 ? (o.reasons[0] ?? 'unverified') : `older, ${o.publishedAt ?? ''}`}), ignored: delete the ref this host no longer publishes to`,
    );
    out.push({
      ...best,
      state: best.state === 'healthy' ? 'warning' : best.state,
      reasons: [...best.reasons, ...notes],
    });
  }
  return out;
}

/**
 * Pure: the order of the rows, by host name in code-unit order (for host
 * names, which are ASCII: byte order, digits before upper case before lower
 * case), the same on every machine. It was the locale's collation
 * (`localeCompare`), which depends on the reader's LANG and cost about 10 ms
 * of ICU set-up on each read (docs/benchmarks.md B8); for lower-case names
 * the two orders are the same in English (test/unit/fleet/read.test.ts).
 */
export function compareHostNames(a: { host: string }, b: { host: string }): number {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

/**
 * Pure: the newest gitopsd version (semver) the fleet's statuses claim, the
 * mark against which a row is "(behind)"; null when none is valid semver.
 * A status whose signature is refused does not count: a forged document
 * claiming gitopsd 9.9.9 would otherwise mark every real host behind
 * (review 11). A fleet runs a handful of versions: each distinct one is
 * parsed once, not once per host.
 */
export function newestTrustedVersion(
  docs: readonly { status: { gitopsdVersion: string } | null; signature: { state: SignatureState } }[],
): string | null {
  const distinct = new Set(
    docs.flatMap((d) => (d.status === null || d.signature.state === 'unverified' ? [] : [d.status.gitopsdVersion])),
  );
  const versions = [...distinct].filter((v) => semverValid(v) !== null);
  return versions.length === 0 ? null : (semverRsort(versions)[0] ?? null);
}

/** Pure: the view's totals. */
export function summarize(i: {
  rows: FleetRow[];
  now: Date;
  remote: string;
  signersConfigured: boolean;
  newestVersion: string | null;
  /** The hosts that should have a row (--host, or fleet.expectedHosts); null or absent: no list. */
  expected?: readonly string[] | null;
}): FleetView {
  const counts = Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<HostState, number>;
  for (const r of i.rows) counts[r.state]++;
  // A status dated ahead by more than the tolerance has no known age
  // (decideRow): it must not hold the fleet's newest age at 0 for ever.
  const ages = i.rows.flatMap((r) =>
    r.ageSec === null || r.ageSec < -FUTURE_TOLERANCE_SEC ? [] : [Math.max(0, r.ageSec)],
  );
  return {
    v: 1,
    generatedAt: i.now.toISOString(),
    remote: i.remote,
    signersConfigured: i.signersConfigured,
    newestVersion: i.newestVersion,
    counts,
    staleHosts: i.rows.filter((r) => r.stale).length,
    newestAgeSec: ages.length === 0 ? null : Math.min(...ages),
    hosts: i.rows,
    missingHosts: missingHosts(i.expected ?? null, i.rows),
  };
}

/**
 * Pure: the expected hosts that have no row, each once, in the order given
 * (a host with any row, even an invalid one, is not missing: its row says
 * what is wrong).
 */
export function missingHosts(expected: readonly string[] | null, rows: readonly { host: string }[]): string[] {
  if (expected === null || expected.length === 0) return [];
  const found = new Set(rows.map((r) => r.host));
  return [...new Set(expected)].filter((h) => !found.has(h));
}

/** Pure: 0 when every host is healthy (warnings included) and no expected host is missing, else 1. */
export function fleetExitCode(view: FleetView): 0 | 1 {
  return view.missingHosts.length > 0 || view.hosts.some((r) => UNHEALTHY.has(r.state)) ? 1 : 0;
}
