/** `gitopsd status [--check-drift]`: observe only; takes no lock. */
import type { Handler } from '../core/outcome.js';
import { collectStatus } from './index.js';
import { renderStatus } from './render.js';

export const statusCommand: Handler = async (deps, args) => {
  const report = await collectStatus(deps);
  let drift: { expected: string | null; matches: boolean | null; error: string | null } | undefined;
  if (args['check-drift'] === true) {
    const { checkDrift } = await import('./drift.js');
    drift = await checkDrift(deps, report.system.current);
  }
  const json = drift === undefined ? report : { ...report, drift };
  let text = renderStatus(report, { color: deps.interactive && deps.env['NO_COLOR'] === undefined });
  if (drift !== undefined) {
    text +=
      drift.error !== null
        ? `\ndrift\n  check failed: ${drift.error}`
        : `\ndrift\n  the checkout ${drift.matches === true ? 'builds the running system' : `would build ${drift.expected ?? '?'}, not the running system`}`;
  }
  return { exitCode: 0, text, json };
};
