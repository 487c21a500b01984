/**
 * `gitopsd upgrade [--dry-run] [--operation switch|boot]`: one upgrade run
 * under the per-host lock (src/upgrade/index.ts does the work).
 */
import type { Handler } from '../core/outcome.js';
import { withHostLock } from '../core/deps.js';
import { runUpgrade } from './index.js';

export const upgradeCommand: Handler = async (deps, args) => {
  const op = args['operation'];
  const operation = op === 'switch' || op === 'boot' ? op : undefined;
  const dryRun = args['dry-run'] === true;
  const r = await withHostLock(deps, 'upgrade', () => runUpgrade(deps, { dryRun, operation }));
  return {
    exitCode: r.exitCode,
    text: r.message,
    json: { ok: r.exitCode === 0, ...r },
    // For the run record, the hooks and the metrics (src/report/after-run.ts).
    run: {
      result: r.kind === 'deployed' && r.reboot === 'pending' ? 'reboot-pending' : r.kind,
      commit: r.commit,
      generation: r.kind === 'deployed' ? r.generation : null,
      error: r.exitCode === 0 ? null : r.message,
    },
  };
};
