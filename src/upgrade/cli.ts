/**
 * `gitopsd upgrade [--dry-run] [--operation switch|boot]`: one upgrade run
 * under the per-host lock (src/upgrade/index.ts does the work).
 *
 * The rollout gate comes from the composition root (src/cli/main.ts passes
 * the fleet's gate, src/fleet/rollout/fleet-gate.ts): the upgrade sits below
 * the fleet and must not import it. A handler cannot be made without one, so
 * no caller can forget the gate. The same holds for the reboot turn
 * (src/cycle/reboot-turn.ts, asked when reboot.maxConcurrent is set).
 */
import type { Handler } from '../core/outcome.js';
import { withHostLock, type Deps } from '../core/deps.js';
import type { RolloutGate } from '../shared/rollout-gate.js';
import type { RebootTurnAsk } from '../shared/reboot-turn.js';
import { runUpgrade, upgradeResultName } from './index.js';

export function upgradeCommand(
  gateFor: (deps: Deps) => RolloutGate,
  rebootTurnFor: (deps: Deps) => RebootTurnAsk,
): Handler {
  return async (deps, args) => {
    const op = args['operation'];
    const operation = op === 'switch' || op === 'boot' ? op : undefined;
    const dryRun = args['dry-run'] === true;
    const gate = gateFor(deps);
    const rebootTurn = rebootTurnFor(deps);
    const r = await withHostLock(deps, 'upgrade', () => runUpgrade(deps, { dryRun, operation, gate, rebootTurn }));
    return {
      exitCode: r.exitCode,
      text: r.message,
      json: { ok: r.exitCode === 0, ...r },
      // For the run record, the hooks and the metrics (src/report/after-run.ts).
      run: {
        result: upgradeResultName(r),
        commit: r.commit,
        generation: r.kind === 'deployed' ? r.generation : null,
        error: r.exitCode === 0 ? null : r.message,
      },
    };
  };
}
