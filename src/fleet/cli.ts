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
