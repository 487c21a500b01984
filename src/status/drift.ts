/**
 * `status --check-drift`: would the checkout's commit build the running
 * system? Evaluates the toplevel's outPath (no build), which is slow, so it
 * is opt-in.
 */
import type { Deps } from '../core/deps.js';

export async function checkDrift(
  deps: Deps,
  current: string | null,
): Promise<{ expected: string | null; matches: boolean | null; error: string | null }> {
  const { path, flakeHost } = deps.config.nixConfig;
  try {
    const r = await deps.runner.run(
      'nix',
      ['eval', '--raw', `${path}#nixosConfigurations.${flakeHost}.config.system.build.toplevel.outPath`],
      { timeoutMs: deps.config.timeouts.buildSec * 1000 },
    );
    const expected = r.stdout.trim();
    return { expected, matches: current === null ? null : expected === current, error: null };
  } catch (err) {
    return { expected: null, matches: null, error: (err as Error).message };
  }
}
