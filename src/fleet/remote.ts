/**
 * Which remote holds the status refs: fleet.statusRemote, else
 * nixConfig.url, else the URL of nixConfig.remote in the checkout
 * (`git remote get-url`, git-remote(1)).
 */
import type { Deps } from '../core/deps.js';
import { GitopsdError } from '../core/errors.js';

export async function resolveStatusRemote(
  deps: Pick<Deps, 'config' | 'runner'>,
  timeoutMs: number,
  override?: string,
): Promise<string> {
  if (override !== undefined && override !== '') return override;
  const { fleet, nixConfig } = deps.config;
  if (fleet.statusRemote !== null) return fleet.statusRemote;
  if (nixConfig.url !== null) return nixConfig.url;
  return checkoutRemoteUrl(deps, timeoutMs, 'no status remote: fleet.statusRemote and nixConfig.url are unset');
}

/**
 * The nix-config remote (the fleet trigger's home, src/fleet/trigger): the
 * override, else nixConfig.url, else the checkout's remote's URL.
 */
export async function resolveNixConfigRemote(
  deps: Pick<Deps, 'config' | 'runner'>,
  timeoutMs: number,
  override?: string,
): Promise<string> {
  if (override !== undefined && override !== '') return override;
  if (deps.config.nixConfig.url !== null) return deps.config.nixConfig.url;
  return checkoutRemoteUrl(deps, timeoutMs, 'no nix-config remote: nixConfig.url is unset');
}

async function checkoutRemoteUrl(
  deps: Pick<Deps, 'config' | 'runner'>,
  timeoutMs: number,
  what: string,
): Promise<string> {
  const { nixConfig } = deps.config;
  const r = await deps.runner.run('git', ['-C', nixConfig.path, 'remote', 'get-url', '--', nixConfig.remote], {
    timeoutMs,
    allowFailure: true,
    env: { GIT_TERMINAL_PROMPT: '0' },
  });
  const url = r.stdout.trim();
  if (r.exitCode !== 0 || url === '') {
    throw new GitopsdError(
      'config',
      `${what}, and the checkout ${nixConfig.path} has no remote "${nixConfig.remote}"; set ${what.startsWith('no status') ? 'fleet.statusRemote' : 'nixConfig.url'} (or pass --remote)`,
    );
  }
  return url;
}
