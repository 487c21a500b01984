/**
 * The layer rules of eslint.config.js (docs/design.md "Layers") reject an
 * import that goes up or sideways, and let one that goes down pass. Each row
 * lints a small source text as if it were a file of that folder, with the
 * project's own config (type-aware rules off: the file is not on disk).
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(root, file) });
  return (r?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

describe('layer rules: an import that goes up or sideways fails the lint', () => {
  it.each<[string, string, string]>([
    [
      'golden -> boot-validate (up)',
      'src/golden/probe.ts',
      "import { x } from '../boot-validate/index.js';\nvoid x;\n",
    ],
    [
      'core -> cli (up, type only)',
      'src/core/probe.ts',
      "import type { X } from '../cli/main.js';\nexport type Y = X;\n",
    ],
    ['upgrade -> sync (sideways)', 'src/upgrade/probe.ts', "export { runSync } from '../sync/index.js';\n"],
    ['boot-validate -> upgrade (sideways)', 'src/boot-validate/probe.ts', "export * from '../upgrade/state.js';\n"],
    ['health -> golden (up)', 'src/health/probe.ts', "import '../golden/nix.js';\n"],
    ['host -> upgrade (up)', 'src/host/probe.ts', "import { x } from '../upgrade/system.js';\nvoid x;\n"],
    ['cycle -> cli (up)', 'src/cycle/probe.ts', "import { exitCodeFor } from '../cli/exit.js';\nvoid exitCodeFor;\n"],
    [
      'status -> cycle (up, dynamic import)',
      'src/status/probe.ts',
      "export const f = async () => (await import('../cycle/schedule.js')).planNextRun;\n",
    ],
    [
      'fleet/rollout -> cli (up, dynamic, two levels)',
      'src/fleet/rollout/probe.ts',
      "export const f = () => import('../../cli/main.js');\n",
    ],
    [
      'golden -> upgrade (up, import type)',
      'src/golden/probe.ts',
      "export type T = import('../upgrade/state.js').UpgradeSection;\n",
    ],
    ['sync (non-boundary file) -> cycle (up)', 'src/sync/probe.ts', "import '../cycle/index.js';\n"],
  ])('%s', async (_name, file, code) => {
    const errors = await layerErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/imports go down the layers, never up or sideways between capabilities/);
  });
});

describe('layer rules: an import that goes down, or within a non-capability layer, passes', () => {
  it.each<[string, string, string]>([
    ['boot-validate -> golden', 'src/boot-validate/probe.ts', "import { x } from '../golden/index.js';\nvoid x;\n"],
    [
      'upgrade -> health, host, failure, core',
      'src/upgrade/probe.ts',
      "import '../health/checks.js';\nimport '../host/system.js';\nimport '../failure/classify.js';\nimport '../core/deps.js';\n",
    ],
    [
      'report -> status, fleet (same layer)',
      'src/report/probe.ts',
      "import '../status/index.js';\nimport '../fleet/publish.js';\n",
    ],
    [
      'cycle -> upgrade, sync (dynamic)',
      'src/cycle/probe.ts',
      "export const f = () => Promise.all([import('../upgrade/index.js'), import('../sync/index.js')]);\n",
    ],
    [
      'cli -> everything',
      'src/cli/probe.ts',
      "import '../cycle/index.js';\nimport '../fleet/cli.js';\nimport '../core/outcome.js';\n",
    ],
    ['golden -> shared', 'src/golden/probe.ts', "import '../shared/boot-state.js';\n"],
  ])('%s', async (_name, file, code) => {
    expect(await layerErrors(file, code)).toEqual([]);
  });

  it('keeps the child_process ban in every layer', async () => {
    const [r] = await eslint.lintText("import 'node:child_process';\n", {
      filePath: join(root, 'src/golden/probe.ts'),
    });
    expect(r?.messages.map((m) => m.message).join('\n')).toMatch(
      /'node:child_process' import is restricted from being used\. external commands go through src\/core\/runner\.ts/,
    );
  });

  it("keeps src/sync's node:fs ban next to its layer rules", async () => {
    const errors = await layerErrors('src/sync/probe.ts', "import 'node:fs';\nimport '../cycle/index.js';\n");
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/go through src\/sync\/fs-boundary.ts/);
  });
});
