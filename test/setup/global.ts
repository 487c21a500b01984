/**
 * Runs once before all tests: builds dist/ (integration tests run the real
 * bin/gitopsd) unless `npm run build` already built these sources, and
 * prints the versions of the real tools the integration tests drive. A
 * missing or too-old tool fails the run; nothing is skipped.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { requireTools, describeTools } from '../harness/tools.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export default async function setup(): Promise<void> {
  // `npm run build` stamps dist/ with a digest of its inputs' content, HEAD
  // and the tree's state (scripts/build-stamp.mjs): when that matches the
  // sources now (npm run ci has just built), building again would make the
  // same dist/ (about 30 s of CI).
  const stamp = await execa('node', ['scripts/build-stamp.mjs', 'check'], { cwd: root, reject: false });
  if (stamp.exitCode === 0)
    process.stdout.write('dist/ was built from these sources (dist/.build-stamp): not building again\n');
  else await build();
  await requireTools();
  process.stdout.write(`integration tools:\n${await describeTools()}\n  node ${process.version}\n`);
}

async function build(): Promise<void> {
  // tsc emits even when a file has type errors; those fail `npm run typecheck`
  // (a separate CI step), so here they only warn and the tests still run.
  const build = await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, reject: false, all: true });
  if (build.exitCode !== 0) process.stdout.write(`warning: tsc reported errors:\n${String(build.all)}\n`);
  // The bins run the bundle (scripts/bundle.mjs), as the installed package does.
  await execa('node', ['scripts/bundle.mjs'], { cwd: root, stdio: 'inherit' });
  // The man page is read back from the bundle's --help (test/integration/cli/conventions.test.ts).
  await execa('node', ['scripts/gen-man.mjs'], { cwd: root, stdio: 'inherit' });
}
