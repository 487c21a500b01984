/**
 * The real steps of the cycle: the dotfile sync and the system upgrade,
 * adapted to the cycle's step interface (src/cycle/index.ts). Each step's
 * module is imported only when the step runs.
 */
import type { Deps } from '../core/deps.js';
import { NotImplementedError } from '../core/errors.js';
import type { CycleStep } from './index.js';

export function cycleSteps(deps: Deps): CycleStep[] {
  return [
    {
      name: 'sync',
      skipReason: deps.config.dotfiles.enable ? undefined : 'dotfiles.enable is false',
      // Wired to src/sync/index.ts once the dotfile sync issue (#5) lands.
      run: () => Promise.reject(new NotImplementedError('cycle sync step', 'the dotfile sync issue (#5)')),
    },
    {
      name: 'upgrade',
      run: async () => {
        const { runUpgrade } = await import('../upgrade/index.js');
        const r = await runUpgrade(deps, { dryRun: false });
        return { exitCode: r.exitCode, summary: r.message, json: r };
      },
    },
  ];
}
