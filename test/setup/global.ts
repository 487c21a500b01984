/**
 * Runs once before all tests: builds dist/ (integration tests run the real
 * bin/gitopsd) and prints the versions of the real tools the integration
 * tests drive. A missing or too-old tool fails the run; nothing is skipped.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export default async function setup(): Promise<void> {
  // tsc emits even when a file has type errors; those fail `npm run typecheck`
  // (a separate CI step), so here they only warn and the tests still run.
  const build = await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, reject: false, all: true });
  if (build.exitCode !== 0) process.stdout.write(`warning: tsc reported errors:\n${String(build.all)}\n`);
  const lines: string[] = [];
  for (const [cmd, args] of [
    ['git', ['--version']],
    ['jj', ['--version']],
    ['chezmoi', ['--version']],
    ['nix', ['--version']],
  ] as const) {
    try {
      const r = await execa(cmd, [...args]);
      lines.push(`  ${r.stdout.split('\n')[0] ?? ''}`);
    } catch {
      throw new Error(
        `${cmd} is not on PATH: run the tests through scripts/testbed (README "Quick start"), or install ${cmd}`,
      );
    }
  }
  lines.push(`  node ${process.version}`);
  process.stdout.write(`integration tools:\n${lines.join('\n')}\n`);
}
