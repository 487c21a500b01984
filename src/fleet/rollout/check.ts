/**
 * The rollout gate as the upgrade asks it (src/shared/rollout-gate.ts):
 * observe (the policy at the commit, the fleet's statuses, the markers),
 * decide (`decideGate`), and say it in one line. Nothing is written.
 *
 * Contract
 * - Inputs: the checkout and commit, the config (hostname,
 *   nixConfig.allowedSignersFile for markers), the clock, and two readers
 *   injected by the composition root (the fleet's statuses, the markers),
 *   so this file needs no network of its own and its tests can pass values.
 * - Failure modes: no policy file: pass. A malformed policy or a wave naming
 *   an unknown host: refuse. The statuses or markers cannot be read:
 *   wait ("paused"), never pass. A config problem behind the read (no
 *   status remote, an unreadable allowed-signers file: a GitopsdError of
 *   kind 'config') is a refusal, not a wait: waiting would not fix it, and
 *   the run must say so. A git error reading the policy at the commit
 *   propagates (the upgrade already fetched that commit).
 */
import type { Deps } from '../../core/deps.js';
import { GitopsdError } from '../../core/errors.js';
import type { GateVerdict } from '../../shared/rollout-gate.js';
import { decideGate, type GateDecision, type GateMarker, type GateRow } from './gate.js';
import type { IgnoredMarker } from './markers.js';
import { unknownHostsError } from './policy.js';
import { readPolicyAt } from './read-policy.js';

export interface GateSources {
  readRows: () => Promise<readonly GateRow[]>;
  readMarkers: () => Promise<{ markers: GateMarker[]; ignored: IgnoredMarker[] }>;
}

/** The verdict, plus the decision when the gate got that far (for status and fleet status). */
export type GateCheck = GateVerdict & { decision: GateDecision | null };

export async function checkGate(
  deps: Pick<Deps, 'runner' | 'config' | 'clock' | 'log'>,
  i: { commit: string; checkout: string },
  src: GateSources,
): Promise<GateCheck> {
  const log = deps.log.child({ module: 'rollout' });
  const c = i.commit.slice(0, 8);
  const read = await readPolicyAt(deps, i.checkout, i.commit);
  if (read.kind === 'none') {
    return { kind: 'pass', line: `no ${read.source}: no waves, deploying at once`, decision: null };
  }
  if (!read.ok) return { kind: 'refuse', line: `not deploying ${c}: ${read.error}`, decision: null };
  const policy = read.policy;

  let rows: readonly GateRow[];
  let markers: GateMarker[];
  try {
    rows = await src.readRows();
    const m = await src.readMarkers();
    markers = m.markers;
    for (const x of m.ignored) log.warn('rollout marker ignored', { ref: x.ref, why: x.why });
  } catch (err) {
    const why = (err as Error).message.split('\n')[0] ?? 'unknown error';
    if (err instanceof GitopsdError && err.kind === 'config') {
      return { kind: 'refuse', line: `not deploying ${c}: ${read.source} asks for waves, but ${why}`, decision: null };
    }
    return { kind: 'wait', line: `paused: the fleet's statuses cannot be read (${why}); ${c} waits`, decision: null };
  }
  const unknown = unknownHostsError(policy, [...rows.map((r) => r.host), deps.config.hostname], read.source);
  if (unknown !== null) return { kind: 'refuse', line: `not deploying ${c}: ${unknown}`, decision: null };

  const decision = decideGate({
    host: deps.config.hostname,
    commit: i.commit,
    policy,
    rows,
    markers,
    now: deps.clock.now(),
  });
  return { kind: decision.kind, line: decision.line, decision };
}
