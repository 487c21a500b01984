/**
 * CLI handlers of `gitopsd fleet status` and `gitopsd fleet serve`
 * (`fleet publish` is composed in src/cli, since it needs the status
 * report). Exit codes of `fleet status`: 0 every host healthy (warnings
 * allowed), 1 some host is not, 75 the status remote could not be read.
 */
import type { Deps } from '../core/deps.js';
import { UsageError } from '../core/errors.js';
import type { Outcome } from '../core/outcome.js';
import { fleetExitCode, readFleet, type ReadOptions } from './read.js';
import { renderFleet } from './render.js';
import { HOST_NAME } from './schema.js';

type Args = Record<string, unknown>;

export function readOptions(args: Args): ReadOptions {
  const hosts = ((args['host'] as string[] | undefined) ?? []).flatMap((h) => String(h).split(','));
  for (const h of hosts) {
    if (!HOST_NAME.test(h)) throw new UsageError(`--host "${h}" is not a host name (letters, digits, ".", "_", "-")`);
  }
  const remote = args['remote'];
  const signers = args['allowed-signers'];
  return {
    hosts,
    ...(typeof remote === 'string' && remote !== '' ? { remote } : {}),
    ...(typeof signers === 'string' && signers !== '' ? { allowedSignersFile: signers } : {}),
  };
}

export async function fleetStatusCommand(deps: Deps, args: Args): Promise<Outcome> {
  const view = await readFleet(deps, readOptions(args));
  const html = args['html'];
  if (typeof html === 'string' && html !== '') {
    const [{ renderPage }, { writeFileAtomic }] = await Promise.all([import('./html.js'), import('../core/atomic.js')]);
    writeFileAtomic(html, renderPage(view, { refreshSec: null }));
  }
  if (deps.config.metrics.textfileDir !== null) {
    try {
      const { writeFleetMetrics } = await import('./metrics.js');
      await writeFleetMetrics(deps.config.metrics.textfileDir, view);
    } catch (err) {
      deps.log.warn('fleet metrics file not written', { error: (err as Error).message });
    }
  }
  const color = deps.interactive && deps.env['NO_COLOR'] === undefined;
  return { exitCode: fleetExitCode(view), text: renderFleet(view, { color }), json: view };
}

export async function fleetServeCommand(deps: Deps, args: Args): Promise<Outcome> {
  const { serveFleet } = await import('./serve.js');
  const listen = typeof args['listen'] === 'string' ? args['listen'] : deps.config.fleet.serve.listen;
  const refreshSec =
    typeof args['refresh'] === 'number' && Number.isFinite(args['refresh'])
      ? Math.max(1, Math.round(args['refresh']))
      : deps.config.fleet.serve.refreshSec;
  const r = await serveFleet(deps, {
    listen,
    refreshSec,
    read: readOptions(args),
    announce: (url) =>
      process.stderr.write(`gitopsd fleet serve: listening on ${url} (read-only; refresh every ${refreshSec} s)\n`),
  });
  return { exitCode: 0, text: `fleet serve stopped after ${r.refreshes} reads`, json: { ok: true, ...r } };
}

/**
 * `gitopsd fleet promote|halt <commit>` (docs/rollout.md "Halt and promote"):
 * write the signed marker at the status remote. Exit codes: 0 pushed;
 * 64 no --signing-key, or the commit is not one of the nix-config checkout;
 * 6 the marker would not count (its signature does not verify against the
 * allowed signers file): nothing pushed; 1 the key cannot sign; 75 the
 * remote cannot be written.
 */
export function fleetMarkerCommand(action: 'promote' | 'halt') {
  return async (deps: Deps, args: Args): Promise<Outcome> => {
    const [{ existsSync }, { writeMarker }, { resolveStatusRemote }] = await Promise.all([
      import('node:fs'),
      import('./rollout/markers.js'),
      import('./remote.js'),
    ]);
    const timeoutMs = deps.config.timeouts.gitSec * 1000;
    const given = typeof args['commit'] === 'string' ? args['commit'] : '';
    if (!/^[0-9a-f]{7,64}$/.test(given)) {
      throw new UsageError(`"${given}" is not a commit id; give the full id or a prefix of 7+ lowercase hex digits`);
    }
    const key = args['signing-key'];
    if (typeof key !== 'string' || key === '') {
      throw new UsageError(
        `no signing key: pass --signing-key PATH, a private SSH key whose public key is in the hosts' nixConfig.allowedSignersFile`,
      );
    }
    if (!existsSync(key)) throw new UsageError(`--signing-key ${key} does not exist; pass the private key's path`);
    const checkout = typeof args['checkout'] === 'string' ? args['checkout'] : deps.config.nixConfig.path;
    // The commit must be one of nix-config's: a typo would halt or promote nothing, silently.
    const rev = await deps.runner.run(
      'git',
      ['-C', checkout, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${given}^{commit}`],
      { timeoutMs, allowFailure: true, env: { GIT_TERMINAL_PROMPT: '0' } },
    );
    const commit = rev.stdout.trim();
    if (rev.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(commit)) {
      throw new UsageError(
        `unknown commit ${given}: it is not a commit of the nix-config checkout ${checkout}; fetch it there first (git -C ${checkout} fetch) or pass --checkout`,
      );
    }
    const signersArg = args['allowed-signers'];
    const signers =
      typeof signersArg === 'string' && signersArg !== '' ? signersArg : deps.config.nixConfig.allowedSignersFile;
    const remoteArg = args['remote'];
    const remote = await resolveStatusRemote(deps, timeoutMs, typeof remoteArg === 'string' ? remoteArg : undefined);
    const reason = typeof args['reason'] === 'string' ? args['reason'] : '';
    const who = deps.env['SUDO_USER'] ?? deps.env['USER'] ?? 'gitopsd';
    const w = await writeMarker(deps, {
      remote,
      action,
      commit,
      reason,
      at: deps.clock.now(),
      signingKey: key,
      who,
      timeoutMs,
      allowedSignersFile: signers,
    });
    const effect =
      action === 'halt'
        ? 'no host deploys it from its next run on; a newer commit starts again at wave 0'
        : "every host deploys it at its next run, past its wave's gate (a halt, a known-bad mark or too many failures still stop it)";
    const checked =
      w.signer === null
        ? 'signature not checked: no allowed signers file here (nixConfig.allowedSignersFile or --allowed-signers)'
        : `signed by ${w.signer}`;
    return {
      exitCode: 0,
      text: `${action === 'halt' ? 'halted' : 'promoted'} ${commit.slice(0, 12)}: ${w.ref} at ${remote} (${checked}); ${effect}`,
      json: { ok: true, action, commit, ref: w.ref, marker: w.marker, remote, signer: w.signer, reason },
    };
  };
}
