import type { Deps } from '../core/deps.js';
import type { Outcome } from './outcome.js';

/** `gitopsd config check`: the config loaded (or the CLI already exited 78). */
export function checkConfig(deps: Deps): Promise<Outcome> {
  return Promise.resolve({
    exitCode: 0,
    text: `config ${deps.configPath} is valid; effective config:\n${JSON.stringify(deps.config, null, 2)}`,
    json: { ok: true, file: deps.configPath, config: deps.config },
  });
}
