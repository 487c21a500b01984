/** The man page's markdown (src/cli/man.ts) and the exit codes it shares with the README. */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCommandTree } from '../../../src/cli/main.js';
import { EXIT_MEANING, manPageMarkdown } from '../../../src/cli/man.js';
import { allCommands } from '../../../src/cli/usage.js';
import { repoRoot } from '../../helpers/cli.js';

describe('man page markdown', () => {
  it('has a heading for every command and the options of each', async () => {
    const tree = await readCommandTree('gitopsd', {});
    const md = manPageMarkdown(tree, { scriptName: 'gitopsd', version: '9.9.9' });
    expect(md.startsWith('# gitopsd(1) -- ')).toBe(true);
    for (const c of allCommands(tree).slice(1)) expect(md).toContain(`### gitopsd ${c.path.join(' ')}`);
    expect(md).toContain('`--check-drift`');
    expect(md).toContain('journalctl -u gitopsd-upgrade.service');
  });

  it("lists the exit codes exactly as the README's table does", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Exit codes'));
    const rows = [...table.matchAll(/^\| (\d+) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]]);
    expect(rows).toEqual(Object.entries(EXIT_MEANING).map(([c, m]) => [Number(c), m]));
  });
});
