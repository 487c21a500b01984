/**
 * The real steps of the cycle: the dotfile sync and the system upgrade,
 * adapted to the cycle's step interface (src/cycle/index.ts). Each step's
 * module is imported only when the step runs.
 */
import type { Deps } from '../core/deps.js';
import type { CycleStep } from './index.js';

export function cycleSteps(deps: Deps): CycleStep[] {
  return [
    {
      name: 'sync',
      skipReason: deps.config.dotfiles.enable ? undefined : 'dotfiles.enable is false',
      run: async () => {
        const { prepareSync, withSyncLock, runSync } = await import('../sync/index.js');
        // As `gitopsd sync` does: resolve the user (jj and chezmoi run as
        // them), then hold the same sync lock, so a sync started by hand or by
        // gitopsd-sync.service never overlaps the cycle's.
        const { runAs } = await prepareSync(deps);
        const r = await withSyncLock(deps, () => runSync(deps, runAs));
        return { exitCode: r.exitCode, summary: r.message, json: r };
      },
    },
    {
      name: 'upgrade',
      run: async () => {
        const [{ runUpgrade }, { fleetGate }, { fleetRebootTurn }] = await Promise.all([
          import('../upgrade/index.js'),
          import('../fleet/rollout/fleet-gate.js'),
          import('./reboot-turn.js'),
        ]);
        // The rollout gate and the reboot turn (docs/rollout.md), as `gitopsd upgrade` passes them.
        const r = await runUpgrade(deps, { dryRun: false, gate: fleetGate(deps), rebootTurn: fleetRebootTurn(deps) });
        return { exitCode: r.exitCode, summary: r.message, json: r };
      },
    },
  ];
}
