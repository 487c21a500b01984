import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Deps } from '../core/deps.js';
import { ConfigError, UsageError } from '../core/errors.js';
import type { Outcome } from '../core/outcome.js';

/** `gitopsd config check`: the config loaded (or the CLI already exited 78). */
export async function checkConfig(deps: Deps, opts: { rollout?: string | undefined } = {}): Promise<Outcome> {
  const base: Outcome = {
    exitCode: 0,
    text: `config ${deps.configPath} is valid; effective config:\n${JSON.stringify(deps.config, null, 2)}`,
    json: { ok: true, file: deps.configPath, config: deps.config },
  };
  if (opts.rollout === undefined) return base;
  const rollout = await checkRollout(deps, opts.rollout);
  return {
    exitCode: 0,
    text: `${base.text}\n${rollout.text}`,
    json: { ok: true, file: deps.configPath, config: deps.config, rollout: rollout.json },
  };
}

/**
 * `--rollout X`: validate gitopsd-rollout.json in a directory (a checkout's
 * working tree), a file, or at a commit of nixConfig.path (any revision git
 * understands). A bad policy is exit 78 with one line; an X that is none
 * of the three, 64.
 */
async function checkRollout(deps: Deps, where: string): Promise<{ text: string; json: unknown }> {
  const [{ readPolicyAt, readPolicyFile }, { POLICY_FILE }] = await Promise.all([
    import('../fleet/rollout/read-policy.js'),
    import('../fleet/rollout/policy.js'),
  ]);
  const isDir = existsSync(where) && statSync(where).isDirectory();
  const read = isDir
    ? readPolicyFile(join(where, POLICY_FILE))
    : existsSync(where)
      ? readPolicyFile(where)
      : await readPolicyAt(deps, deps.config.nixConfig.path, where).catch((err: unknown) => {
          // The option names nothing: the command line's fault (64, with the --help to read), not the config's.
          throw new UsageError(
            `--rollout ${where} is neither a file, a directory, nor a commit of ${deps.config.nixConfig.path} (${(err as Error).message.split('\n')[0] ?? ''}); pass a checkout, a file or a revision`,
          );
        });
  if (read.kind === 'none') {
    return {
      text: `rollout: no ${POLICY_FILE} in ${read.source}: no waves, every host deploys a new commit at once`,
      json: { policy: null, source: read.source },
    };
  }
  if (!read.ok) throw new ConfigError(read.error);
  const waves = read.policy.waves
    .map(
      (w) =>
        `${w.name}: ${w.hosts.length === 0 ? '(every unlisted host)' : w.hosts.join(', ')}${w.index === read.policy.waves.length - 1 && w.hosts.length > 0 ? ' + every unlisted host' : ''}` +
        (w.index === 0
          ? ''
          : `; after ${'count' in w.requireHealthy ? w.requireHealthy.count : `${w.requireHealthy.percent}%`} of wave ${w.index - 1} healthy for ${w.soakMinutes} min`) +
        `; halts above ${w.maxFailures} failure(s)`,
    )
    .join('\n  ');
  return { text: `rollout: ${read.source} is valid:\n  ${waves}`, json: { policy: read.policy, source: read.source } };
}
