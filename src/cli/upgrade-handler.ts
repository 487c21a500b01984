/**
 * `gitopsd upgrade`'s handler as the composition root builds it: the upgrade
 * with the rollout gate and the reboot turn of the fleet (docs/rollout.md).
 * Shared by the full CLI (./main.ts) and the lean bundle of `upgrade`
 * (./lean-upgrade.ts), so both run the same handler.
 */
import type { Handler } from '../core/outcome.js';

export async function loadUpgradeHandler(): Promise<Handler> {
  // Without the gate and the turn a real upgrade would ignore the waves and
  // reboot out of turn.
  const [{ upgradeCommand }, { fleetGate }, { fleetRebootTurn }] = await Promise.all([
    import('../upgrade/cli.js'),
    import('../fleet/rollout/fleet-gate.js'),
    import('../cycle/reboot-turn.js'),
  ]);
  return upgradeCommand(fleetGate, fleetRebootTurn);
}
