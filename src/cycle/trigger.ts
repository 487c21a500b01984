/**
 * `gitopsd trigger`: run the upgrade now, through systemd, not through a
 * socket (docs/rollout.md "Triggers"). It asks systemd to start
 * gitopsd-upgrade.service (`systemctl start --no-block`), and returns when
 * the job is queued. Who may do that is systemd's and polkit's decision:
 * root, and the members of services.gitopsd.trigger.group through the rule
 * the NixOS module installs (nix/module.nix triggerRule). gitopsd opens no
 * port and creates no socket; the upgrade that runs is the scheduled one,
 * with its signatures, known-bad marks and rollout gate.
 *
 * Exit codes: 0 queued; 6 refused by systemd/polkit (systemctl exit 4,
 * EXIT_NOPERMISSION); 1 any other systemctl failure.
 */
import type { Deps } from '../core/deps.js';
import { GitopsdError } from '../core/errors.js';

/** The unit a trigger starts (nix/module.nix upgradeService). */
export const TRIGGER_UNIT = 'gitopsd-upgrade.service';

export async function triggerUpgrade(deps: Pick<Deps, 'runner' | 'config'>): Promise<string> {
  const r = await deps.runner.run('systemctl', ['start', '--no-block', '--no-ask-password', TRIGGER_UNIT], {
    allowFailure: true,
    timeoutMs: deps.config.timeouts.commandSec * 1000,
  });
  if (r.exitCode === 0)
    return `started ${TRIGGER_UNIT} (systemctl start --no-block); follow it with journalctl -u ${TRIGGER_UNIT} -f`;
  const why = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`;
  if (r.exitCode === 4) {
    throw new GitopsdError(
      'refused',
      `systemd refused to start ${TRIGGER_UNIT} (${why}): only root and members of the trigger group (services.gitopsd.trigger.group, default "gitopsd") may trigger; ask an admin to add you, then log in again`,
    );
  }
  throw new GitopsdError('failed', `systemctl start ${TRIGGER_UNIT} failed (exit ${r.exitCode}: ${why})`);
}
