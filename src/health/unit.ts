/**
 * Unit semantics of the health checks: what `systemctl show` says about a
 * unit, and whether that unit is healthy, still coming up, or failed. Pure:
 * no I/O, time is a value.
 *
 * Sources of each fact:
 * - property names and values: org.freedesktop.systemd1(5) (the Unit and
 *   Service interfaces) and systemd's src/core/dbus-unit.c, dbus-service.c.
 * - output shape: systemctl(1) `show`; systemctl-show.c prints one
 *   `Key=value` line per property of the D-Bus GetAll reply that is named in
 *   `-p` (in the reply's order, not in the order of `-p`), and one blank line
 *   between units. A property the unit does not have (a .target has no
 *   `Result`) is not printed. A unit systemd cannot find is still printed,
 *   with `LoadState=not-found`, and the exit code is 0.
 * - `ActiveEnterTimestampMonotonic`: CLOCK_MONOTONIC in µs when the unit last
 *   entered `active`, 0 if never. `NRestarts`: automatic restarts (Restart=)
 *   since the unit was last started by hand (service.c flushes it then).
 * - a oneshot (Type=oneshot) goes activating → inactive when its process
 *   exits 0 (Result=success), or activating → active (SubState=exited) with
 *   RemainAfterExit=yes (systemd.service(5) "Type=").
 */

/** The properties gitopsd asks `systemctl show -p` for, once per poll. */
export const SHOW_PROPERTIES = [
  'Id',
  'LoadState',
  'ActiveState',
  'SubState',
  'Type',
  'Result',
  'NRestarts',
  'ActiveEnterTimestampMonotonic',
  'ExecMainExitTimestampMonotonic',
  'ExecMainStatus',
] as const;

/** One unit as `systemctl show` reported it; a property the unit lacks is null. */
export interface UnitProps {
  id: string | null;
  loadState: string | null;
  activeState: string | null;
  subState: string | null;
  /** Service units only (simple, exec, forking, oneshot, dbus, notify, notify-reload, idle). */
  type: string | null;
  /** success, exit-code, signal, core-dump, timeout, watchdog, start-limit-hit, ... */
  result: string | null;
  nRestarts: number | null;
  /** µs of CLOCK_MONOTONIC; 0 when never active. */
  activeEnterMonoUs: number | null;
  /** µs of CLOCK_MONOTONIC when the main process last exited; 0 when it never did. */
  execMainExitMonoUs: number | null;
  execMainStatus: number | null;
}

function num(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

function parseBlock(block: string): UnitProps {
  const kv = new Map<string, string>();
  for (const line of block.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const str = (k: string): string | null => kv.get(k) ?? null;
  return {
    id: str('Id'),
    loadState: str('LoadState'),
    activeState: str('ActiveState'),
    subState: str('SubState'),
    type: str('Type'),
    result: str('Result'),
    nRestarts: num(kv.get('NRestarts')),
    activeEnterMonoUs: num(kv.get('ActiveEnterTimestampMonotonic')),
    execMainExitMonoUs: num(kv.get('ExecMainExitTimestampMonotonic')),
    execMainStatus: num(kv.get('ExecMainStatus')),
  };
}

/**
 * Parse `systemctl show -p ... u1 u2 ...`: one block per unit, in the order
 * of the units (an alias is shown under its real Id, so blocks are matched by
 * position, not by Id). A block count that differs from the unit count, or a
 * block without LoadState/ActiveState, gives null for every unit: a short or
 * garbled answer must never pass validation.
 */
export function parseShow(units: readonly string[], stdout: string): Map<string, UnitProps | null> {
  const blocks = stdout
    .split(/\n[ \t]*\n/)
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const out = new Map<string, UnitProps | null>();
  const parsed = blocks.map(parseBlock);
  const usable = blocks.length === units.length && parsed.every((p) => p.loadState !== null && p.activeState !== null);
  units.forEach((u, i) => out.set(u, usable ? (parsed[i] ?? null) : null));
  return out;
}

/** What the settle rule remembers of a unit between polls. */
export interface UnitTrack {
  nRestarts: number | null;
  activeEnterMonoUs: number | null;
  /** Our own clock (deps.clock.monotonicMs) when this stretch of being active was first seen. */
  sinceMs: number;
}

export type UnitVerdict =
  /** Good: active and settled, or a oneshot that finished with Result=success. */
  | { kind: 'healthy'; detail: string }
  /** Not yet: activating, not settled yet, a oneshot still running, no answer. */
  | { kind: 'wait'; detail: string }
  /** Will not get better by waiting: ends the wait at once. */
  | { kind: 'failed'; detail: string };

/** systemd counts these ActiveStates as running (`is-active` exits 0). */
const RUNNING = new Set(['active', 'reloading', 'refreshing']);

/**
 * The verdict on one unit at one poll, and what to remember for the next.
 *
 * - LoadState not-found / masked / bad-setting / error: failed at once (no
 *   unit file, or one systemd refused; waiting cannot fix it).
 * - ActiveState failed: failed at once.
 * - Type=oneshot: healthy once it finished with Result=success (inactive with
 *   an exit time and ExecMainStatus=0, or active with RemainAfterExit);
 *   otherwise wait (still running, or not started yet).
 * - active (or reloading/refreshing): healthy only once it has stayed active
 *   for `settleMs` of our clock with NRestarts and ActiveEnterTimestamp
 *   unchanged; a change (a restart in between, even one no poll saw) starts
 *   the settle time again. settleMs 0: healthy at the first active sample.
 * - anything else (activating, inactive, deactivating): wait. No answer
 *   (systemctl failed or timed out): wait, keeping the settle track.
 */
export function decideUnit(input: {
  props: UnitProps | null;
  track: UnitTrack | null;
  nowMs: number;
  settleMs: number;
}): { verdict: UnitVerdict; track: UnitTrack | null } {
  const { props: p, track, nowMs, settleMs } = input;
  // No answer is no evidence of a restart: keep the settle track as it was.
  if (p === null) return { verdict: { kind: 'wait', detail: 'unknown (no answer from systemctl show)' }, track };
  switch (p.loadState) {
    case 'not-found':
      return {
        verdict: {
          kind: 'failed',
          detail: 'unit not found (LoadState=not-found): check the name in validation.services',
        },
        track: null,
      };
    case 'masked':
      return { verdict: { kind: 'failed', detail: 'unit masked (LoadState=masked)' }, track: null };
    case 'bad-setting':
    case 'error':
      return {
        verdict: { kind: 'failed', detail: `unit file not loaded (LoadState=${p.loadState}); see systemctl status` },
        track: null,
      };
    default:
      break;
  }
  const state = p.activeState ?? 'unknown';
  const restarts = p.nRestarts === null ? '' : `, NRestarts=${p.nRestarts}`;
  if (state === 'failed') {
    return { verdict: { kind: 'failed', detail: `failed (Result=${p.result ?? 'unknown'}${restarts})` }, track: null };
  }
  if (p.type === 'oneshot') {
    if (p.result !== null && p.result !== 'success')
      return { verdict: { kind: 'failed', detail: `oneshot ${state} (Result=${p.result})` }, track: null };
    if (state === 'active')
      return { verdict: { kind: 'healthy', detail: 'oneshot exited (Result=success)' }, track: null };
    const ran = (p.execMainExitMonoUs ?? 0) > 0;
    if (state === 'inactive' && ran && p.result === 'success' && (p.execMainStatus ?? 0) === 0)
      return { verdict: { kind: 'healthy', detail: 'oneshot finished (Result=success)' }, track: null };
    return {
      verdict: { kind: 'wait', detail: ran ? `oneshot ${state}` : `oneshot ${state}, not run yet this boot` },
      track: null,
    };
  }
  if (!RUNNING.has(state)) return { verdict: { kind: 'wait', detail: `${state}${restarts}` }, track: null };
  const same = track !== null && track.nRestarts === p.nRestarts && track.activeEnterMonoUs === p.activeEnterMonoUs;
  const next: UnitTrack = same
    ? track
    : { nRestarts: p.nRestarts, activeEnterMonoUs: p.activeEnterMonoUs, sinceMs: nowMs };
  const stableMs = nowMs - next.sinceMs;
  if (stableMs >= settleMs) {
    const detail = settleMs === 0 ? state : `${state}, stable for ${Math.floor(stableMs / 1000)} s${restarts}`;
    return { verdict: { kind: 'healthy', detail }, track: next };
  }
  const why = track !== null && !same ? 'restarted; ' : '';
  return {
    verdict: {
      kind: 'wait',
      detail: `${state}, ${why}settling (${Math.floor(stableMs / 1000)} of ${Math.ceil(settleMs / 1000)} s${restarts})`,
    },
    track: next,
  };
}
