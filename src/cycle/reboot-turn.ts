/**
 * The real reboot turn that `gitopsd upgrade`, `gitopsd cycle` and the
 * daemon hand to the upgrade (UpgradeOptions.rebootTurn,
 * src/shared/reboot-turn.ts), when reboot.maxConcurrent is set. It composes
 * the status report (src/status), the publish and the read of the fleet
 * (src/fleet) and the pure decision (src/fleet/rollout/reboot-turn.ts), so it
 * lives here, above all of them.
 *
 * Contract (docs/rollout.md "Reboots take turns")
 * - observe: this host's announcement (state key "rebootTurn"); when it has
 *   none for reboot.group, it writes one (waiting, announcedAt = now).
 * - publish: the status with the announcement (only when it changed or the
 *   heartbeat is due: src/fleet/publish.ts decides), then read the group's
 *   statuses from the status remote.
 * - decide: `decideRebootTurn`. This host's own row at the remote must carry
 *   its announcement, else it waits (its peers cannot see it yet). The
 *   read's missingHosts (fleet.expectedHosts with no row) go in as data: each
 *   may be down, and holds a place (here and at the confirm).
 * - act: on go, the announcement becomes `rebooting` and is published.
 * - confirm: the statuses are read once more (`decideRebootConfirm`); only
 *   when at most maxConcurrent hosts of the group publish `rebooting`, this
 *   one included, is the verdict go (the caller then runs `systemctl
 *   reboot`). Else, or when that read fails, the host backs off: the
 *   announcement is `waiting` again (same announcedAt) and is published.
 *   Two hosts whose announcements crossed in flight (each read before the
 *   other's push landed) cannot both go: each published "rebooting" before
 *   its second read, so at least one of them sees the other's (review 15:
 *   5 hosts started together went 2 at once in 2 of 12 rounds before).
 *   A failed publish or read is a wait: the next run asks again.
 * - Crash at any point: the announcement in the state is kept and reused
 *   (same announcedAt: the host keeps its place); a crash after "rebooting"
 *   was published and before the reboot leaves the host first in line, and
 *   the next run confirms and goes again. A back-off whose publish fails
 *   leaves "rebooting" at the remote: peers wait (they count this host down)
 *   until the next run publishes "waiting".
 */
import type { Deps } from '../core/deps.js';
import {
  readAnnouncement,
  writeAnnouncement,
  type RebootAnnouncement,
  type RebootTurnAsk,
  type RebootTurnVerdict,
} from '../shared/reboot-turn.js';
import type { FleetRow } from '../fleet/schema.js';
import type { RebootRow } from '../fleet/rollout/reboot-turn.js';

export function fleetRebootTurn(deps: Deps): RebootTurnAsk {
  return async ({ system }) => askRebootTurn(deps, system);
}

/**
 * Pure: what the turn decision reads of a fleet row. A document whose
 * signature is refused cannot halt a group (its boot verdict and a failed
 * turn are not read), but its `rebooting` still counts as a host down: it
 * may be that host's own (a key the reader does not trust yet, or its
 * signed status replaced at the remote while it is down), and counting it
 * can only make others wait. Ignoring it let a second host go while the
 * first was down (review 15).
 */
export function rebootRowOf(r: Pick<FleetRow, 'host' | 'state' | 'stale' | 'status'>): RebootRow {
  const s = r.status;
  const trusted = s !== null && r.state !== 'unverified' && r.state !== 'invalid';
  const claimed = s?.reboot ?? null;
  const a = trusted || (claimed !== null && claimed.state !== 'waiting' && claimed.state !== 'failed') ? claimed : null;
  return {
    host: r.host,
    stale: r.stale,
    state: r.state,
    reboot: a === null ? null : { group: a.group, announcedAt: a.announcedAt, state: a.state },
    bootVerdict: trusted ? s.boot.verdict : null,
  };
}

export async function askRebootTurn(deps: Deps, system: string): Promise<RebootTurnVerdict> {
  const max = deps.config.reboot.maxConcurrent;
  if (max === null) return { kind: 'go', line: 'no reboot turns (reboot.maxConcurrent is null)' };
  const group = deps.config.reboot.group;
  const log = deps.log.child({ module: 'reboot-turn' });
  const [
    { collectStatus },
    { publishStatus },
    { readFleet },
    { decideRebootTurn, decideRebootConfirm, ownRowProblem },
  ] = await Promise.all([
    import('../status/index.js'),
    import('../fleet/publish.js'),
    import('../fleet/read.js'),
    import('../fleet/rollout/reboot-turn.js'),
  ]);
  const now = deps.clock.now().toISOString();

  // Observe, and announce: keep the place in line of an earlier announcement for this group.
  const before = readAnnouncement(deps.state);
  let mine: RebootAnnouncement =
    before === null || before.group !== group
      ? { group, state: 'waiting', announcedAt: now, system, since: now }
      : { ...before, system };
  if (JSON.stringify(mine) !== JSON.stringify(before)) writeAnnouncement(deps.state, mine);

  const publish = async (): Promise<string | null> => {
    const o = await publishStatus(deps, await collectStatus(deps));
    return o.kind === 'failed' ? o.error : null;
  };
  const announced = await publish();
  if (announced !== null)
    return { kind: 'wait', line: `could not publish the reboot announcement (${announced}); the next run tries again` };

  const view = await readFleet(deps);
  const rows = view.hosts.map(rebootRowOf);
  const problem = ownRowProblem({
    host: deps.config.hostname,
    group,
    announcedAt: mine.announcedAt,
    own: rows.find((r) => r.host === deps.config.hostname),
  });
  if (problem !== null) return { kind: 'wait', line: problem };
  // view.missingHosts: the hosts of fleet.expectedHosts with no row (none without the list).
  const d = decideRebootTurn({
    host: deps.config.hostname,
    group,
    maxConcurrent: max,
    rows,
    missing: view.missingHosts,
  });
  log.info('reboot turn decided', { group, maxConcurrent: max, decision: d });
  switch (d.kind) {
    case 'announce':
      // Unreachable: our own row carries the announcement (checked above).
      return { kind: 'wait', line: d.line };
    case 'wait':
      return { kind: 'wait', line: d.line };
    case 'halt':
      return { kind: 'halt', line: d.line };
    case 'go':
      break;
  }
  // What we go back to when we may not go: waiting (or our own failed turn), in our place in line.
  const backTo: RebootAnnouncement =
    mine.state === 'rebooting' ? { ...mine, state: 'waiting', since: deps.clock.now().toISOString() } : mine;
  if (mine.state !== 'rebooting') {
    mine = { ...mine, state: 'rebooting', since: deps.clock.now().toISOString() };
    writeAnnouncement(deps.state, mine);
    const err = await publish();
    if (err !== null) {
      // Peers must see us down before we are: no reboot without it.
      writeAnnouncement(deps.state, backTo);
      return { kind: 'wait', line: `could not publish "rebooting" (${err}); the next run tries again` };
    }
  }

  // Confirm: the order above cannot see a peer whose announcement was still
  // in flight; the count of "rebooting" read after our own was published can
  // (decideRebootConfirm).
  const backOff = async (line: string, kind: 'wait' | 'halt'): Promise<RebootTurnVerdict> => {
    writeAnnouncement(deps.state, backTo);
    const err = await publish();
    if (err !== null)
      log.warn(
        'could not publish "waiting" after backing off; peers count this host down until the next run publishes',
        { error: err },
      );
    return { kind, line };
  };
  let again: { rows: RebootRow[]; missing: string[] };
  try {
    const v = await readFleet(deps);
    again = { rows: v.hosts.map(rebootRowOf), missing: v.missingHosts };
  } catch (err) {
    return backOff(
      `published "rebooting" but could not read the status remote again (${(err as Error).message}); not rebooting, the next run asks again`,
      'wait',
    );
  }
  const c = decideRebootConfirm({ host: deps.config.hostname, group, maxConcurrent: max, ...again });
  log.info('reboot turn confirmed', { group, maxConcurrent: max, decision: c });
  switch (c.kind) {
    case 'go':
      return { kind: 'go', line: d.line };
    case 'back-off':
      return backOff(c.line, 'wait');
    case 'halt':
      return backOff(c.line, 'halt');
  }
}
