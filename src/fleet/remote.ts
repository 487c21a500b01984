/**
 * Which remote holds the status refs: fleet.statusRemote, else
 * nixConfig.url, else the URL of nixConfig.remote in the checkout
 * (`git remote get-url`, git-remote(1)).
 */
import { isAbsolute, resolve } from 'node:path';
import type { Deps } from '../core/deps.js';
import { GitopsdError } from '../core/errors.js';

/**
 * Pure: a `--remote` as given on the command line, with a relative local path
 * made absolute against `cwd`. git runs in gitopsd's own repositories, so
 * `--remote ./status.git` would otherwise name a path inside them (review 11:
 * "does not appear to be a git repository", exit 75). A URL (`scheme://`)
 * or an scp-like `host:path` is kept as it is; a path is local, as git reads
 * it (git's connect.c, url_is_local_not_ssh), when it has no colon, or a
 * slash before its first colon.
 */
export function absoluteRemote(given: string, cwd: string): string {
  if (given.includes('://') || isAbsolute(given)) return given;
  const colon = given.indexOf(':');
  const slash = given.indexOf('/');
  const local = colon < 0 || (slash >= 0 && slash < colon);
  return local ? resolve(cwd, given) : given;
}

export async function resolveStatusRemote(
  deps: Pick<Deps, 'config' | 'runner'>,
  timeoutMs: number,
  override?: string,
): Promise<string> {
  if (override !== undefined && override !== '') return absoluteRemote(override, process.cwd());
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
  if (override !== undefined && override !== '') return absoluteRemote(override, process.cwd());
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
