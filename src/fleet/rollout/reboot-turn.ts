/**
 * Staggered reboots (issue 16, Deliver 4): may this host reboot now, so that
 * no more than `maxConcurrent` hosts of its reboot group are down at once?
 * A pure decision from the group's published statuses; the protocol, which
 * every host of the group follows on its own, is:
 *
 * 1. A host that needs a reboot first **announces** it: it publishes its
 *    status with `reboot.announcedAt` set (kind `announce`).
 * 2. It reads the statuses again. The hosts of its group holding a turn are
 *    those with an announcement (stale or not: a silent host may be down).
 *    Ordered by (announcedAt, host), the first `maxConcurrent` may go; so
 *    two hosts that announce in the same minute agree on who goes first.
 * 3. After its boot validation passes, the host clears its announcement and
 *    publishes: its turn is given back.
 * 4. A host of the group whose boot failed (boot verdict failed, or a state
 *    of failed/reverted/degraded while it holds an announcement) **halts**
 *    the turns: no other host of the group reboots until a person looks.
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

const FAILED_STATES = new Set(['failed', 'reverted', 'degraded']);

/** Pure: the turn of `host` in `group` (see the module comment). */
export function decideRebootTurn(i: {
  host: string;
  group: string;
  maxConcurrent: number;
  rows: readonly RebootRow[];
}): RebootTurn {
  const inGroup = i.rows.filter((r) => r.reboot?.group === i.group);
  const failed = inGroup
    .filter(
      (r) =>
        r.host !== i.host &&
        (r.bootVerdict === 'failed' ||
          r.reboot?.state === 'failed' ||
          (r.reboot?.announcedAt != null && r.reboot.state !== 'waiting' && FAILED_STATES.has(r.state))),
    )
    .map((r) => r.host)
    .sort();
  if (failed.length > 0) {
    return {
      kind: 'halt',
      line: `reboot turns of group ${i.group} halted: ${failed.join(', ')} did not come back well from a reboot; fix it first`,
      failed,
    };
  }
  const me = inGroup.find((r) => r.host === i.host);
  if (me?.reboot?.announcedAt == null) {
    return { kind: 'announce', line: `announcing a reboot to group ${i.group} before taking a turn` };
  }
  // Hosts already down come first: they hold a turn whatever their announcedAt says.
  const queued = (r: RebootRow): number => (r.reboot?.state === 'waiting' ? 1 : 0);
  const holders = inGroup
    .flatMap((r) =>
      r.reboot?.announcedAt == null ? [] : [{ host: r.host, queued: queued(r), at: Date.parse(r.reboot.announcedAt) }],
    )
    .sort((a, b) => a.queued - b.queued || a.at - b.at || a.host.localeCompare(b.host));
  const place = holders.findIndex((h) => h.host === i.host);
  const ahead = holders.slice(0, place).map((h) => h.host);
  if (place < i.maxConcurrent) {
    return {
      kind: 'go',
      line: `reboot turn ${place + 1} of at most ${i.maxConcurrent} in group ${i.group}: rebooting`,
    };
  }
  return {
    kind: 'wait',
    line: `waiting for a reboot turn in group ${i.group}: ${ahead.length} host(s) ahead (${ahead.slice(0, 5).join(', ')}), at most ${i.maxConcurrent} at once`,
    holders: ahead,
  };
}
