/**
 * The real rollout gate that `gitopsd upgrade`, `gitopsd cycle` and the
 * daemon hand to the upgrade (UpgradeOptions.gate, src/shared/rollout-gate.ts):
 * `checkGate` with the fleet's published statuses (`readFleet`, src/fleet/read.ts)
 * and the signed promote/halt markers (`readMarkers`, ./markers.ts).
 *
 * Contract
 * - No gitopsd-rollout.json in the commit being deployed: pass at once,
 *   and nothing is read from the status remote (a fleet without a policy
 *   behaves as before waves existed).
 * - With a policy: the status remote (fleet.statusRemote, else
 *   nixConfig.url, else the checkout's remote; src/fleet/remote.ts) is read
 *   once for the statuses and once for the markers. Statuses are checked
 *   against fleet.allowedSignersFile; markers against
 *   nixConfig.allowedSignersFile (the people who may sign nix-config).
 * - Side effects: only the reader's own cache repository
 *   (<stateDir>/fleet/view.git) and temporary directories; nothing at the
 *   remote changes.
 * - Failure modes: see ./check.ts (unreadable remote: wait; no status
 *   remote configured: refuse).
 */
import type { Deps } from '../../core/deps.js';
import type { RolloutGate } from '../../shared/rollout-gate.js';
import { checkGate, type GateCheck } from './check.js';

/** The gate for one command run; the remote is resolved at most once per ask. */
export function fleetGate(deps: Deps): RolloutGate {
  return async (i) => (await askFleetGate(deps, i)) satisfies GateCheck;
}

/** The gate's full answer (verdict, line and, when it got that far, the decision with its progress). */
export async function askFleetGate(deps: Deps, i: { commit: string; checkout: string }): Promise<GateCheck> {
  const timeoutMs = deps.config.timeouts.gitSec * 1000;
  let remote: Promise<string> | null = null;
  const statusRemote = async (): Promise<string> => {
    if (remote === null) {
      const { resolveStatusRemote } = await import('../remote.js');
      remote = resolveStatusRemote(deps, timeoutMs);
    }
    return remote;
  };
  return checkGate(deps, i, {
    readRows: async () => {
      const { readFleet } = await import('../read.js');
      // A FleetRow (src/fleet/schema.ts) is a GateRow: the gate reads its state, staleness and document.
      return (await readFleet(deps, { remote: await statusRemote() })).hosts;
    },
    readMarkers: async () => {
      const { readMarkers } = await import('./markers.js');
      return readMarkers(deps, {
        remote: await statusRemote(),
        allowedSignersFile: deps.config.nixConfig.allowedSignersFile,
        timeoutMs,
      });
    },
  });
}
