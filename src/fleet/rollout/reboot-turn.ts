/**
 * Staggered reboots (issue 16, Deliver 4): may this host reboot now, so that
 * no more than `maxConcurrent` hosts of its reboot group are down at once?
 * A pure decision from the group's published statuses; the protocol, which
 * every host of the group follows on its own, is:
 *
 * 1. A host that needs a reboot first **announces** it: it publishes its
 *    status with `reboot.announcedAt` set (kind `announce`).
 * 2. It reads the statuses again. The hosts of its group holding a turn are
 *    those with an announcement: `rebooting` ones (a silent host may be
 *    down; one silent for long halts, step 5), `waiting` ones only while fresh (a waiting host has
 *    not gone down through the turns; one that went silent, powered off or
 *    retired, gives its place up after 2 x its heartbeat, else it would
 *    block the group for ever). Ordered by (announcedAt, host), the first
 *    `maxConcurrent` may go; so two hosts that announce in the same minute
 *    agree on who goes first.
 * 3. Confirm (`decideRebootConfirm`): a host whose turn came publishes
 *    `rebooting`, reads the statuses once more, and reboots only if at most
 *    `maxConcurrent` hosts of the group publish `rebooting`, itself
 *    included; else it backs off (publishes `waiting` again). This, not the
 *    order of step 2, is what keeps two hosts whose announcements crossed
 *    in flight from both going: of two hosts that each publish, then read,
 *    at least one reads after the other's publish, and backs off.
 * 4. After its boot validation passes, the host clears its announcement and
 *    publishes: its turn is given back.
 * 5. A host of the group whose boot failed (boot verdict failed, or a state
 *    of failed/reverted/degraded while it holds an announcement), or that
 *    went down to reboot and has published nothing since for 2 x its
 *    heartbeat, **halts** the turns: no other host of the group reboots
 *    until a person looks.
 *
 * An expected host (fleet.expectedHosts) with no row at all at the status
 * remote (never published, or its ref deleted; FleetView.missingHosts) has
 * unknown state and unknown group: it counts as possibly down in every
 * group. It holds one place, first in line as a `rebooting` peer does, at
 * step 2 and at step 3; it does not halt (nothing says it went down to
 * reboot). Without it, deleting the refs of the hosts that are down let
 * the next host go (review 15, row 6: 3 of 3 down under maxConcurrent 1).
 * The cost: a new host that has not published yet holds a place until its
 * first publish.
 *
 * The announcement's `state` (src/shared/reboot-turn.ts) refines this:
 * hosts already `rebooting` come first in the order (they are down, whatever
 * their announcedAt), a peer whose turn `failed` halts the group, and a
 * peer merely `waiting` that is unhealthy for another reason does not (it
 * has not rebooted). A row without `state` (an older publisher) counts as
 * rebooting.
 *
 * The upgrade asks this through src/cycle/reboot-turn.ts (announce, publish,
 * read again, decide) before `systemctl reboot`, when reboot.maxConcurrent is
 * set (docs/rollout.md "Reboots take turns").
 */

/** What the decision reads of one host's published status. */
export interface RebootRow {
  host: string;
  stale: boolean;
  /** The reader's state (healthy, warning, failed, reverted, degraded, stale, unverified, invalid). */
  state: string;
  reboot: { group: string; announcedAt: string | null; state?: 'waiting' | 'rebooting' | 'failed' | undefined } | null;
  bootVerdict: 'ok' | 'failed' | 'pending' | 'none' | null;
}

export type RebootTurn =
  | { kind: 'announce'; line: string }
  | { kind: 'go'; line: string }
  | { kind: 'wait'; line: string; holders: string[] }
  | { kind: 'halt'; line: string; failed: string[] };

/** After publishing `rebooting`: reboot, or not (see decideRebootConfirm). */
export type RebootConfirm =
  | { kind: 'go'; line: string }
  | { kind: 'back-off'; line: string; down: string[] }
  | { kind: 'halt'; line: string; failed: string[] };

const FAILED_STATES = new Set(['failed', 'reverted', 'degraded']);
const UNTRUSTED = new Set(['unverified', 'invalid']);

/** A row without `state` (an older publisher) counts as rebooting. */
const rebooting = (r: RebootRow): boolean =>
  r.reboot?.announcedAt != null && r.reboot.state !== 'waiting' && r.reboot.state !== 'failed';

/**
 * The expected hosts with no row (`missing`, FleetView.missingHosts) other
 * than `host`, and what the lines say of them: that they may be down, and
 * how to release their place (one line: names beyond five are counted).
 */
function missingOf(i: { host: string; missing?: readonly string[] | undefined }): string[] {
  return [...new Set(i.missing ?? [])].filter((h) => h !== i.host).sort();
}

function missingNote(missing: readonly string[]): string {
  const one = missing.length === 1;
  const names =
    missing.length <= 5 ? missing.join(', ') : `${missing.slice(0, 5).join(', ')} and ${missing.length - 5} more`;
  return `${names} of fleet.expectedHosts ${one ? 'has' : 'have'} no status at the status remote (never published, or ${one ? 'its ref' : 'their refs'} deleted) and may be down; if ${one ? 'it was' : 'they were'} retired, remove ${one ? 'it' : 'them'} from fleet.expectedHosts`;
}

/**
 * Pure: the peers of `host` in `group` that halt the turns, and the line.
 * A peer that went down to reboot and stays silent (stale) did not come
 * back: it halts rather than holds one place, so that with maxConcurrent 2
 * or more a second host does not follow it into a system that may never boot.
 */
function haltOf(i: {
  host: string;
  group: string;
  rows: readonly RebootRow[];
}): { line: string; failed: string[] } | null {
  const peers = i.rows.filter((r) => r.host !== i.host && r.reboot?.group === i.group);
  const failed = peers
    .filter(
      (r) =>
        r.bootVerdict === 'failed' ||
        r.reboot?.state === 'failed' ||
        (r.reboot?.announcedAt != null && r.reboot.state !== 'waiting' && FAILED_STATES.has(r.state)),
    )
    .map((r) => r.host)
    .sort();
  const silent = peers
    .filter((r) => !failed.includes(r.host) && r.stale && rebooting(r))
    .map((r) => r.host)
    .sort();
  if (failed.length === 0 && silent.length === 0) return null;
  const why = [
    ...(failed.length === 0 ? [] : [`${failed.join(', ')} did not come back well from a reboot`]),
    ...(silent.length === 0
      ? []
      : [
          `${silent.join(', ')} went down to reboot and ${silent.length === 1 ? 'its status has' : 'their statuses have'} gone stale (gitopsd fleet status says why)`,
        ]),
  ];
  return {
    line: `reboot turns of group ${i.group} halted: ${why.join('; ')}; fix it first`,
    failed: [...failed, ...silent],
  };
}

/**
 * Pure: why this host's own row at the status remote does not carry the
 * announcement it just published (step 1), or null when it does. A row
 * that is unverified or invalid is not "not visible yet": the next run
 * would say the same for ever (its host key missing from the allowed
 * signers file, a status that does not parse), so it says which.
 */
export function ownRowProblem(i: {
  host: string;
  group: string;
  announcedAt: string;
  own: RebootRow | undefined;
}): string | null {
  const own = i.own;
  if (own !== undefined && UNTRUSTED.has(own.state)) {
    return `the status of ${i.host} at the status remote is ${own.state}, and a reboot turn needs this host's own status trusted; "gitopsd fleet status --host ${i.host}" says why (its host key missing from the allowed signers file?); the next run asks again`;
  }
  if (own?.reboot?.announcedAt !== i.announcedAt || own.reboot.group !== i.group) {
    return `the reboot announcement of ${i.host} is not visible at the status remote yet; the next run asks again`;
  }
  return null;
}

/** Pure: the turn of `host` in `group` (see the module comment). */
export function decideRebootTurn(i: {
  host: string;
  group: string;
  maxConcurrent: number;
  rows: readonly RebootRow[];
  /** Expected hosts with no row at the status remote (FleetView.missingHosts): possibly down, in every group. */
  missing?: readonly string[] | undefined;
}): RebootTurn {
  const inGroup = i.rows.filter((r) => r.reboot?.group === i.group);
  const halt = haltOf(i);
  if (halt !== null) return { kind: 'halt', ...halt };
  const me = inGroup.find((r) => r.host === i.host);
  if (me?.reboot?.announcedAt == null) {
    return { kind: 'announce', line: `announcing a reboot to group ${i.group} before taking a turn` };
  }
  // Hosts already down come first: they hold a turn whatever their announcedAt says.
  const queued = (r: RebootRow): number => (r.reboot?.state === 'waiting' ? 1 : 0);
  // A waiting peer gone silent (2 x its heartbeat) gives its place up: it is
  // not down through the turns, and would hold the line for ever (a host
  // powered off or retired while waiting). Should it come back, it
  // publishes before it reads, and step 3 still keeps the count.
  // An expected host without a row may be down (its ref deleted while it
  // reboots): it holds a place ahead of everyone, as a rebooting peer does.
  const missing = missingOf(i);
  const holders = [
    ...missing.map((host) => ({ host, queued: 0, at: Number.NEGATIVE_INFINITY })),
    ...inGroup.flatMap((r) =>
      r.reboot?.announcedAt == null || (r.host !== i.host && r.stale && queued(r) === 1)
        ? []
        : [{ host: r.host, queued: queued(r), at: Date.parse(r.reboot.announcedAt) }],
    ),
  ].sort((a, b) => a.queued - b.queued || a.at - b.at || a.host.localeCompare(b.host));
  const place = holders.findIndex((h) => h.host === i.host);
  const ahead = holders.slice(0, place).map((h) => h.host);
  if (place < i.maxConcurrent) {
    return {
      kind: 'go',
      line: `reboot turn ${place + 1} of at most ${i.maxConcurrent} in group ${i.group}: rebooting`,
    };
  }
  const why = missing.filter((h) => ahead.includes(h));
  return {
    kind: 'wait',
    line: `waiting for a reboot turn in group ${i.group}: ${ahead.length} host(s) ahead (${ahead.slice(0, 5).join(', ')}), at most ${i.maxConcurrent} at once${why.length === 0 ? '' : `; ${missingNote(why)}`}`,
    holders: ahead,
  };
}

/**
 * Pure: step 3 of the protocol. `rows` are read after this host published
 * `rebooting`. It may reboot only if that publish is visible and at most
 * `maxConcurrent` hosts of the group are `rebooting` (itself included);
 * else it backs off. Every host that saw too many backs off, whatever the
 * order says: a host that read before our publish landed may have gone
 * without seeing us, and is counted here. Two hosts that both back off lose
 * a run (the next one asks again); two that both go would be down together.
 * A peer that halts the turns since step 2 stops this host too. An
 * expected host with no row counts as down (see the module comment).
 */
export function decideRebootConfirm(i: {
  host: string;
  group: string;
  maxConcurrent: number;
  rows: readonly RebootRow[];
  /** Expected hosts with no row at the status remote (FleetView.missingHosts): each counts as down. */
  missing?: readonly string[] | undefined;
}): RebootConfirm {
  const halt = haltOf(i);
  if (halt !== null) return { kind: 'halt', ...halt };
  const inGroup = i.rows.filter((r) => r.reboot?.group === i.group);
  const me = inGroup.find((r) => r.host === i.host);
  // Our own "rebooting" counts only as we published it: signed, if signatures are checked.
  if (me === undefined || !rebooting(me) || UNTRUSTED.has(me.state)) {
    return {
      kind: 'back-off',
      line: `"rebooting" of ${i.host} is not visible at the status remote; not rebooting, the next run asks again`,
      down: [],
    };
  }
  const missing = missingOf(i);
  const down = [...inGroup.filter(rebooting).map((r) => r.host), ...missing].sort();
  if (down.length > i.maxConcurrent) {
    return {
      kind: 'back-off',
      line:
        missing.length === 0
          ? `${down.length} hosts of group ${i.group} publish "rebooting" at once (${down.slice(0, 5).join(', ')}), at most ${i.maxConcurrent}: backing off, the next run asks again`
          : `${down.length} hosts of group ${i.group} may be down at once (${down.slice(0, 5).join(', ')}), at most ${i.maxConcurrent}: backing off, the next run asks again; ${missingNote(missing)}`,
      down: down.filter((h) => h !== i.host),
    };
  }
  return {
    kind: 'go',
    line: `reboot turn confirmed in group ${i.group} (${down.length} of at most ${i.maxConcurrent} down)`,
  };
}
