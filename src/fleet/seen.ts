/**
 * What a fleet reader remembers between reads, so that a replayed older
 * status does not read as current: per host, the newest `publishedAt` it
 * has seen in a trusted (verified) status, with that status's known-bad
 * marks.
 *
 * Why: a status ref holds one parentless commit, signed by the host. Anyone
 * who can push that ref can push back an older commit the host really
 * signed: it verifies, and until the host's next publish replaces it every
 * reader took the old state as current (a canary's "healthy on C" from
 * before it marked C known-bad). The reader cannot see the order at the
 * remote, but it can remember what it has seen: a status published before
 * the newest one it trusted is a replay (or a lagging mirror), and is not
 * trusted (docs/fleet.md "What a reader remembers").
 *
 * Contract
 * - The file: `<stateDir>/fleet/status-seen.json` (beside view.git, so a
 *   view made again keeps it), written by the reader only, atomically
 *   (temp file, fsync, rename, fsync of the directory), mode 0600, and only
 *   when a mark rises. A kill -9 at any instant leaves the old file or the
 *   new one. The reader (src/fleet/read.ts) holds `<file>.update-lock` from
 *   reading the file again to the rename, and merges (mergeSeen): two
 *   readers of one stateDir keep each other's marks.
 * - A missing file is an empty memory (a new reader). A file that cannot
 *   be read, is not JSON or not of this shape is an empty memory too, with
 *   the reason in `broken` (the reader warns and keeps the file aside): it
 *   only loses the protection until the hosts publish again, and never
 *   fails a read. An entry of the wrong shape is dropped.
 * - Only where allowed signers are configured: without them nothing is
 *   trusted, so nothing is remembered.
 */
import { readFileSync, renameSync } from 'node:fs';
import { sweepStaleTemps, writeFileAtomic } from '../core/atomic.js';
import { processAlive } from '../core/lock.js';
import type { Checkpoint } from '../core/faults.js';
import { FUTURE_TOLERANCE_SEC } from './decide.js';
import type { FleetRow } from './schema.js';

export const SEEN_FILE = 'status-seen.json';

export interface KnownBadMark {
  commit: string;
  reason: string;
}

/** The newest trusted status of one host that this reader has seen. */
export interface SeenMark {
  publishedAt: string;
  /** Its known-bad marks (none: empty), so that a replay does not hide them from the gate. */
  knownBadCommits: KnownBadMark[];
}

export type Seen = Record<string, SeenMark>;

function isSeenMark(m: unknown): m is SeenMark {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  // The date is parsed where it is compared (an unparsable one never marks a row older, and is replaced).
  return (
    typeof o['publishedAt'] === 'string' &&
    Array.isArray(o['knownBadCommits']) &&
    o['knownBadCommits'].every(
      (b: unknown) =>
        typeof b === 'object' &&
        b !== null &&
        typeof (b as Record<string, unknown>)['commit'] === 'string' &&
        typeof (b as Record<string, unknown>)['reason'] === 'string',
    )
  );
}

/** The memory in `file` (see the contract: never throws). */
export function readSeen(file: string): { seen: Seen; broken: string | null } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { seen: {}, broken: code === 'ENOENT' ? null : `cannot be read (${code ?? (err as Error).message})` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { seen: {}, broken: `is not valid JSON (${(err as Error).message})` };
  }
  const d = doc as { v?: unknown; hosts?: unknown } | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return { seen: {}, broken: 'is not a JSON object' };
  if (d.v !== 1) return { seen: {}, broken: `has version ${JSON.stringify(d.v) ?? 'none'}, not 1` };
  if (typeof d.hosts !== 'object' || d.hosts === null || Array.isArray(d.hosts))
    return { seen: {}, broken: 'has no "hosts" object' };
  const seen: Seen = {};
  for (const [host, m] of Object.entries(d.hosts)) if (isSeenMark(m)) seen[host] = m;
  return { seen, broken: null };
}

/**
 * Write the memory (atomically; see the contract). The temp files of
 * writers killed before their rename are removed first. The checkpoint
 * between the fsync of the new file and its rename has its own label,
 * `fleet-seen:before-rename`, so a test can stop or kill a reader exactly
 * there (GITOPSD_FAULT_STOP_AT, src/core/faults.ts).
 */
export function writeSeen(file: string, seen: Seen, checkpoint?: Checkpoint): void {
  sweepStaleTemps(file, processAlive);
  writeFileAtomic(file, JSON.stringify({ v: 1, hosts: seen }), {
    mode: 0o600,
    ...(checkpoint === undefined ? {} : { checkpoint: (_label, data) => checkpoint('fleet-seen:before-rename', data) }),
  });
}

/** Keep a broken memory file aside (`<file>.broken`), as the state's are: never silently reset. */
export function keepAside(file: string): void {
  try {
    renameSync(file, `${file}.broken`);
  } catch {
    // gone, or not ours to move: the next write replaces it
  }
}

/** Pure: the note on a row older than the host's newest status this reader saw. */
export function replayNote(host: string, mark: SeenMark): string {
  return `older than the status of ${host} this reader already saw (published ${mark.publishedAt}): a replayed status? the host's next publish replaces it`;
}

/**
 * Pure: whether a mark can say what is older, by the reader's clock `now`:
 * its date parses and is no more than FUTURE_TOLERANCE_SEC ahead. A mark
 * further ahead was taken while this reader's clock ran ahead too (a host
 * reading its own status, a fleet whose time source jumped): kept, it made
 * every status of that host a replay until real time caught up with it
 * (hours, years), and the host's own reboot turns refused (its own row
 * untrusted). It is replaced by the next trusted status instead.
 */
function usable(mark: SeenMark, now: Date): boolean {
  const c = Date.parse(mark.publishedAt);
  return Number.isFinite(c) && c <= now.getTime() + FUTURE_TOLERANCE_SEC * 1000;
}

/**
 * Pure: a row read with the memory.
 * - A trusted row published before the newest trusted status this reader
 *   saw of that host is `unverified`, with the note first. Equal or newer:
 *   unchanged. A mark dated further ahead of `now` than the tolerance (see
 *   `usable`) marks nothing older.
 * - A row that is not trusted (that one, one whose signature is refused, an
 *   invalid one) carries the remembered status's date and known-bad marks
 *   as `lastTrusted`, so that the rollout gate still halts on them: pushing
 *   an older, a forged or a broken status over a host's ref does not hide
 *   that host's marks from this reader. Its reasons are its own (the
 *   signature's, the document's).
 */
export function decideSeen(row: FleetRow, seen: Seen, now: Date): FleetRow {
  if (!Object.hasOwn(seen, row.host)) return row;
  const mark = seen[row.host];
  if (mark === undefined) return row;
  const lastTrusted = { publishedAt: mark.publishedAt, knownBadCommits: mark.knownBadCommits };
  if (row.status === null || row.publishedAt === null || row.state === 'unverified' || row.state === 'invalid')
    return { ...row, lastTrusted };
  // The same text is the same date: a read with nothing new parses no date here.
  if (row.publishedAt === mark.publishedAt || !(Date.parse(row.publishedAt) < Date.parse(mark.publishedAt))) return row;
  if (!usable(mark, now)) return row;
  return { ...row, state: 'unverified', reasons: [replayNote(row.host, mark), ...row.reasons], lastTrusted };
}

/**
 * Pure: the memory after a read, or null when no mark rises (nothing to
 * write). Only a trusted row raises its host's mark: verified (so never a
 * row of a fleet without allowed signers), not `unverified` for any reason
 * (a replay included), and not dated more than FUTURE_TOLERANCE_SEC ahead of
 * the reader's clock, or a host whose clock ran ahead, once set right, would
 * be shut out until real time caught up with that date. A forger, who
 * cannot sign as the host, can therefore never raise a mark: a status dated
 * in the future that is not the host's cannot lock the host out.
 */
export function nextSeen(seen: Seen, rows: readonly FleetRow[], now: Date): Seen | null {
  let next: Seen | null = null;
  const limit = now.getTime() + FUTURE_TOLERANCE_SEC * 1000;
  for (const r of rows) {
    if (r.status === null || r.publishedAt === null) continue;
    if (r.signature.state !== 'verified' || r.state === 'unverified') continue;
    const cur = (next ?? seen)[r.host];
    if (cur !== undefined && cur.publishedAt === r.publishedAt) continue;
    const t = Date.parse(r.publishedAt);
    if (!Number.isFinite(t) || t > limit) continue;
    // An unparsable mark, or one too far ahead of this clock (`usable`), is replaced.
    if (cur !== undefined && usable(cur, now) && !(t > Date.parse(cur.publishedAt))) continue;
    next ??= { ...seen };
    next[r.host] = {
      publishedAt: r.publishedAt,
      knownBadCommits: r.status.knownBadCommits.map((b) => ({ commit: b.commit, reason: b.reason })),
    };
  }
  return next;
}

/**
 * Pure: two memories merged, the newer mark of each host (another reader
 * may have written in between). A mark that is not `usable` by `now` loses
 * to one that is, or the merge would write back what nextSeen replaced.
 */
export function mergeSeen(a: Seen, b: Seen, now: Date): Seen {
  const out: Seen = { ...a };
  for (const [host, m] of Object.entries(b)) {
    const cur = out[host];
    if (cur === undefined) out[host] = m;
    else if (usable(m, now) !== usable(cur, now)) {
      if (usable(m, now)) out[host] = m;
    } else if (Date.parse(m.publishedAt) > Date.parse(cur.publishedAt)) out[host] = m;
  }
  return out;
}
