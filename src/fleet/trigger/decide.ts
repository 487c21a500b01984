/**
 * The fleet-wide "run now" (docs/rollout.md "Fleet-wide: a signed trigger
 * ref"): the pure part. A person with a signing key pushes a parentless,
 * SSH-signed commit to `refs/gitopsd/trigger` of the nix-config remote,
 * whose tree holds only `trigger.json`:
 *
 *     {"v":1,"nonce":"<32 hex>","issuer":"alice@laptop","issuedAt":"…",
 *      "expiresAt":"…","hosts":[],"reason":"…"}
 *
 * Hosts in daemon poll mode fetch the ref with the poll's one `git fetch`
 * (src/cycle/poll.ts) and judge it here: only a good SSH signature from a
 * key of the trigger signers file, before its expiry, with a nonce this host
 * has not accepted before, for this host (`hosts` empty: every host), counts.
 * A trigger that counts runs the upgrade at that poll instead of at the next
 * daily slot plus its random delay. It changes only WHEN the upgrade runs:
 * the upgrade checks the config commit's signature, known-bad marks, the
 * rollout gate and preflight as on any run.
 */
import * as z from '../../core/zod.js';
import type { SignatureStatus } from '../../upgrade/decide.js';

/** The ref at the nix-config remote, and where the poll's fetch keeps it in the checkout. */
export const TRIGGER_REF = 'refs/gitopsd/trigger';
/**
 * The poll's extra refspec. A glob and not the exact ref: git fails the
 * whole fetch when an exact source ref is missing (fatal: couldn't find
 * remote ref), and a fleet has no trigger most of the time. The glob also
 * matches e.g. refs/gitopsd/triggers/x, which is fetched and never judged.
 */
export const TRIGGER_REFSPEC = `+${TRIGGER_REF}*:${TRIGGER_REF}*`;
/** The file of the trigger commit's tree. */
export const TRIGGER_FILE = 'trigger.json';
/** Bounds of `expiresAt - issuedAt`: a longer life only widens the replay window. */
export const TRIGGER_MIN_LIFE_SEC = 60;
export const TRIGGER_MAX_LIFE_SEC = 24 * 3600;
/** How far in the future `issuedAt` may be (the issuer's clock may be ahead). */
export const TRIGGER_CLOCK_SKEW_SEC = 300;
/** A trigger.json larger than this is not read. */
export const TRIGGER_MAX_BYTES = 8192;

/** An RFC 3339 time with "Z" or an offset: a time without a zone would be read in the host's own zone (review D3). */
const iso = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time with Z or an offset' });
const hostname = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/));

export const TriggerDoc = z.strictObject({
  v: z.literal(1),
  /** 128 random bits in hex: what makes each trigger count once per host. */
  nonce: z.string().check(z.regex(/^[0-9a-f]{32}$/)),
  /** Who issued it, as they said (the signer is what is checked). */
  issuer: z.string().check(z.minLength(1), z.maxLength(200)),
  issuedAt: iso,
  expiresAt: iso,
  /** The hosts it is for; empty: every host. */
  hosts: z._default(z.array(hostname).check(z.maxLength(10000)), []),
  reason: z._default(z.string().check(z.maxLength(500)), ''),
});
export type TriggerDoc = z.infer<typeof TriggerDoc>;

/** State section "trigger" (src/core/state.ts): the nonces this host accepted and that have not expired yet. */
export const TRIGGER_KEY = 'trigger';
const SeenTrigger = z.object({
  nonce: z.string(),
  commit: z.string(),
  expiresAt: z.string(),
  acceptedAt: z.string(),
  issuer: z.string(),
  signer: z.string(),
});
export const TriggerSection = z.looseObject({
  seen: z._default(z.array(SeenTrigger), []),
  /**
   * Per signer, the issuedAt of the newest trigger accepted from it (ISO
   * 8601). A trigger that signer issued before it is a replay: unlike the
   * nonces, this is never pruned, so neither a clock step nor the nonce cap
   * can make an old trigger count again. One entry per signer.
   */
  newestIssued: z._default(z.record(z.string(), z.string()), {}),
  /** The last trigger commit judged for good (accepted, or ignored for a reason time does not change). */
  judged: z._default(z.nullable(z.string()), null),
  /** Accepted, and its upgrade not finished yet: a poll after a crash runs it (until it expires). */
  pending: z._default(z.nullable(z.object({ commit: z.string(), expiresAt: z.string(), line: z.string() })), null),
});
export type TriggerSection = z.infer<typeof TriggerSection>;
export const EMPTY_TRIGGER: TriggerSection = { seen: [], newestIssued: {}, judged: null, pending: null };
/** At most this many accepted triggers are remembered (the unexpired ones, newest first). */
export const TRIGGER_SEEN_MAX = 256;

export type TriggerIgnoreReason =
  'no-signers' | 'unsigned' | 'untrusted' | 'malformed' | 'expired' | 'not-yet-valid' | 'replayed' | 'other-hosts';

export interface AcceptedTrigger {
  commit: string;
  nonce: string;
  issuer: string;
  signer: string;
  /** ISO 8601, with Z or an offset. */
  issuedAt: string;
  expiresAt: string;
  reason: string;
}

export type TriggerDecision =
  | { kind: 'accept'; trigger: AcceptedTrigger; line: string }
  | { kind: 'ignore'; reason: TriggerIgnoreReason; line: string };

export interface TriggerInput {
  /** The trigger commit the poll's fetch brought. */
  commit: string;
  /** The trigger signers file in force (daemon.triggerSignersFile, else nixConfig.allowedSignersFile); null: none. */
  signersFile: string | null;
  /** upgrade/git.ts verifySignature against that file; null when there is no file. */
  signature: SignatureStatus | null;
  /** The text of trigger.json in the commit; null: missing or too large. */
  doc: string | null;
  host: string;
  now: Date;
  state: TriggerSection;
}

/**
 * Judge a trigger commit. Pure. The checks, in order, each with its one-line
 * reason: signers configured; a good signature from an allowed signer;
 * a well-formed trigger.json; a life within bounds; not issued in the
 * future (beyond the allowed clock skew); not expired; for this host;
 * nonce and commit not accepted before.
 */
export function decideTrigger(i: TriggerInput): TriggerDecision {
  const short = i.commit.slice(0, 12);
  const ignore = (reason: TriggerIgnoreReason, why: string): TriggerDecision => ({
    kind: 'ignore',
    reason,
    line: `fleet trigger ${short} ignored: ${why}`,
  });
  if (i.signersFile === null || i.signature === null) {
    return ignore(
      'no-signers',
      'no trigger signers configured (daemon.triggerSignersFile or nixConfig.allowedSignersFile), so no trigger counts',
    );
  }
  let signer: string;
  switch (i.signature.kind) {
    case 'good':
      signer = i.signature.signer;
      break;
    case 'unsigned':
      return ignore('unsigned', `not signed; sign it with a key listed in ${i.signersFile}`);
    case 'untrusted':
      return ignore(
        'untrusted',
        `its signature is not good or not from a key in ${i.signersFile} (${i.signature.detail})`,
      );
    case 'not-required':
      return ignore('untrusted', `its signature was not checked against ${i.signersFile}`);
  }
  if (i.doc === null)
    return ignore('malformed', `the commit has no ${TRIGGER_FILE} (or it is over ${TRIGGER_MAX_BYTES} bytes)`);
  let raw: unknown;
  try {
    raw = JSON.parse(i.doc);
  } catch {
    return ignore('malformed', `${TRIGGER_FILE} is not valid JSON`);
  }
  const p = TriggerDoc.safeParse(raw);
  if (!p.success) {
    const issue = p.error.issues[0];
    return ignore(
      'malformed',
      `${TRIGGER_FILE} is malformed (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`,
    );
  }
  const d = p.data;
  const issued = Date.parse(d.issuedAt);
  const expires = Date.parse(d.expiresAt);
  const lifeSec = (expires - issued) / 1000;
  if (lifeSec < TRIGGER_MIN_LIFE_SEC || lifeSec > TRIGGER_MAX_LIFE_SEC) {
    return ignore(
      'malformed',
      `its life (${Math.round(lifeSec)} s from issuedAt to expiresAt) is outside ${TRIGGER_MIN_LIFE_SEC} s to ${TRIGGER_MAX_LIFE_SEC / 3600} h`,
    );
  }
  const now = i.now.getTime();
  if (issued > now + TRIGGER_CLOCK_SKEW_SEC * 1000) {
    return ignore(
      'not-yet-valid',
      `issued at ${d.issuedAt}, more than ${TRIGGER_CLOCK_SKEW_SEC} s after this host's clock (${i.now.toISOString()}); check the clocks`,
    );
  }
  if (expires <= now)
    return ignore('expired', `expired at ${d.expiresAt} (issued by ${d.issuer}, signed by ${signer})`);
  if (d.hosts.length > 0 && !d.hosts.includes(i.host)) {
    return ignore('other-hosts', `it is for ${d.hosts.join(', ')}, not for ${i.host}`);
  }
  const seen = i.state.seen.find((s) => s.nonce === d.nonce || s.commit === i.commit);
  if (seen !== undefined) {
    return ignore(
      'replayed',
      `nonce ${d.nonce} was already accepted at ${seen.acceptedAt} (a replay of an old trigger)`,
    );
  }
  const newest = i.state.newestIssued[signer];
  // `<=`: the newest itself, pushed again after its nonce was pruned, is a
  // replay too (review 6, D2); two triggers of one signer in one millisecond are not made.
  if (newest !== undefined && issued <= Date.parse(newest)) {
    return ignore(
      'replayed',
      `issued at ${d.issuedAt}, not after ${newest}, the newest trigger already accepted from ${signer} (a replay of an old trigger)`,
    );
  }
  return {
    kind: 'accept',
    trigger: {
      commit: i.commit,
      nonce: d.nonce,
      issuer: d.issuer,
      signer,
      issuedAt: d.issuedAt,
      expiresAt: d.expiresAt,
      reason: d.reason,
    },
    line: `fleet trigger ${short} from ${d.issuer} (signed by ${signer}, expires ${d.expiresAt})${d.reason === '' ? '' : `: ${d.reason}`}`,
  };
}

/**
 * Which trigger commit a poll judges, or null for none. Pure. The one the
 * fetch moved the ref to; else the one the local ref already holds, when it
 * was never judged for good (its judging failed, it was issued "in the
 * future" by this host's clock, or a crash came first), so a trigger is not
 * lost because one poll could not judge it. `local` is read from git's ref
 * files (no process); null when they cannot be read that way.
 */
export function triggerToJudge(i: {
  moved: string | null;
  local: string | null;
  state: TriggerSection;
}): string | null {
  if (i.moved !== null) return i.moved;
  return i.local !== null && i.local !== i.state.judged ? i.local : null;
}

/**
 * The section after judging `commit` as `d`, or null when nothing is to be
 * written. Pure. Accepted: remembered as seen (afterTriggerAccepted), judged,
 * and pending until its upgrade finishes. Ignored as not yet valid: nothing
 * (judged again at later polls, until it is valid or expired). Ignored for
 * any other reason: judged, so later polls do not read it again.
 */
export function afterTriggerJudged(
  state: TriggerSection,
  commit: string,
  d: TriggerDecision,
  now: Date,
): TriggerSection | null {
  if (d.kind === 'accept') {
    return {
      ...afterTriggerAccepted(state, d.trigger, now),
      judged: commit,
      pending: { commit, expiresAt: d.trigger.expiresAt, line: d.line },
    };
  }
  if (d.reason === 'not-yet-valid' || state.judged === commit) return null;
  return { ...state, judged: commit };
}

/** The accepted trigger whose upgrade did not finish (a crash), while it has not expired; else null. Pure. */
export function pendingTrigger(state: TriggerSection, now: Date): TriggerSection['pending'] {
  const p = state.pending;
  if (p === null) return null;
  const e = Date.parse(p.expiresAt);
  return !Number.isNaN(e) && e > now.getTime() ? p : null;
}

/**
 * The section after accepting `t`: `t` first, then the earlier ones that
 * have not expired (an expired nonce is refused as expired anyway), at most
 * TRIGGER_SEEN_MAX; and `t.issuedAt` as its signer's newest, unless an
 * accepted one was newer. Pure.
 */
export function afterTriggerAccepted(state: TriggerSection, t: AcceptedTrigger, now: Date): TriggerSection {
  const live = state.seen.filter((s) => {
    const e = Date.parse(s.expiresAt);
    return !Number.isNaN(e) && e > now.getTime();
  });
  const entry = {
    nonce: t.nonce,
    commit: t.commit,
    expiresAt: t.expiresAt,
    acceptedAt: now.toISOString(),
    issuer: t.issuer,
    signer: t.signer,
  };
  const prev = state.newestIssued[t.signer];
  const newest = prev !== undefined && Date.parse(prev) > Date.parse(t.issuedAt) ? prev : t.issuedAt;
  return {
    ...state,
    seen: [entry, ...live].slice(0, TRIGGER_SEEN_MAX),
    newestIssued: { ...state.newestIssued, [t.signer]: newest },
  };
}

/**
 * The document `gitopsd trigger --fleet` signs. Pure: the nonce and the
 * time come from the caller. Errors: `expiresSec` outside the bounds, or a
 * host name that is not one, as a one-line message (the CLI's usage error).
 */
export function planTrigger(i: {
  nonce: string;
  issuer: string;
  now: Date;
  expiresSec: number;
  hosts: readonly string[];
  reason: string;
}): { ok: true; doc: TriggerDoc } | { ok: false; message: string } {
  if (!Number.isFinite(i.expiresSec) || i.expiresSec < TRIGGER_MIN_LIFE_SEC || i.expiresSec > TRIGGER_MAX_LIFE_SEC) {
    return {
      ok: false,
      message: `--expires must be between ${TRIGGER_MIN_LIFE_SEC} s and ${TRIGGER_MAX_LIFE_SEC / 3600} h (e.g. 30m, 1h, 12h)`,
    };
  }
  const badHost = i.hosts.find((h) => !hostname.safeParse(h).success);
  if (badHost !== undefined)
    return {
      ok: false,
      message: `--host "${badHost}" is not a host name (letters, digits, ".", "_", "-"), as gitopsd fleet status lists them`,
    };
  const doc: TriggerDoc = {
    v: 1,
    nonce: i.nonce,
    issuer: i.issuer,
    issuedAt: i.now.toISOString(),
    expiresAt: new Date(i.now.getTime() + Math.round(i.expiresSec) * 1000).toISOString(),
    hosts: [...new Set(i.hosts)].sort(),
    reason: i.reason,
  };
  const check = TriggerDoc.safeParse(doc);
  if (!check.success) {
    return {
      ok: false,
      message: `the trigger is malformed (${check.error.issues[0]?.message ?? 'invalid'}); shorten --reason`,
    };
  }
  return { ok: true, doc };
}
