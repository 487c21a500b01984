/**
 * Staggered reboots (docs/rollout.md "Reboots take turns"): this host's
 * reboot announcement, and the seam between the upgrade and the turn
 * decision that reads the fleet.
 *
 * The announcement is kept in the state file (key "rebootTurn") and
 * published in status.json v1 as `reboot` (docs/fleet.md). It sits below
 * the upgrade (which asks for a turn), boot validation (which gives the turn
 * back) and the fleet (which publishes it), so none of them imports another.
 *
 * Life of an announcement:
 * - waiting: the host needs a reboot, published it, and waits for its turn;
 * - rebooting: its turn came; set and published just before `systemctl reboot`;
 * - failed: it came back on another system than the one it rebooted into, or
 *   that system's boot validation failed: the turns of its group halt;
 * - gone: the boot validation passed on the system it rebooted into (or a
 *   person ran `gitopsd boot reset`): the turn is given back.
 */
import * as z from '../core/zod.js';
import type { StateStore } from '../core/state.js';

export const REBOOT_TURN_KEY = 'rebootTurn';

export const RebootAnnouncement = z.looseObject({
  /** reboot.group of the config at the time of the announcement. */
  group: z.string(),
  state: z.enum(['waiting', 'rebooting', 'failed']),
  /** When the host first asked for a turn (ISO); the turn order is (announcedAt, host). */
  announcedAt: z.string(),
  /** The toplevel store path the reboot is for (the boot default). */
  system: z.string(),
  /** When the state last changed (ISO). */
  since: z.string(),
});
export type RebootAnnouncement = z.infer<typeof RebootAnnouncement>;

/** The announcement in the state file; null when there is none (or it cannot be parsed: it is then dropped on the next write). */
export function readAnnouncement(state: StateStore): RebootAnnouncement | null {
  const raw = state.section(REBOOT_TURN_KEY);
  if (raw === undefined || raw === null) return null;
  const p = RebootAnnouncement.safeParse(raw);
  return p.success ? p.data : null;
}

export function writeAnnouncement(state: StateStore, a: RebootAnnouncement | null): void {
  state.updateSection(REBOOT_TURN_KEY, () => a);
}

/**
 * Pure: the announcement after a boot verdict on `booted`. Only a boot that
 * follows a turn (state rebooting) can fail the turn; a waiting host that was
 * rebooted by someone else into its system gives its place back too.
 */
export function announcementAfterBoot(
  a: RebootAnnouncement | null,
  v: { booted: string; ok: boolean; now: string },
): RebootAnnouncement | null {
  if (a === null) return null;
  if (v.ok && v.booted === a.system) return null;
  if (a.state === 'rebooting') return { ...a, state: 'failed', since: v.now };
  return a;
}

/**
 * The turn verdict the upgrade acts on (src/fleet/rollout/reboot-turn.ts decides it):
 * - go: reboot now (the announcement says rebooting, published);
 * - wait: not yet (others of the group are down, or the announcement could
 *   not be published); the next run asks again;
 * - halt: a host of the group did not come back well; no reboot until a person looks.
 */
export type RebootTurnVerdict = { kind: 'go' | 'wait' | 'halt'; line: string };

/** `system`: the toplevel the host would reboot into. */
export type RebootTurnAsk = (i: { system: string }) => Promise<RebootTurnVerdict>;
