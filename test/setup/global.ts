/**
 * Runs once before all tests: builds dist/ (integration tests run the real
 * bin/gitopsd) unless `npm run build` just did, and prints the versions of
 * the real tools the integration tests drive. A missing or too-old tool
 * fails the run; nothing is skipped.
 */
import { execa } from 'execa';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { requireTools, describeTools } from '../harness/tools.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Newest mtime (ms) of the files under `path` (a file or a directory); 0 when it does not exist. */
function newest(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), st.mtimeMs);
}

/**
 * Whether `npm run build` already made dist/ from the sources as they are
 * now: every output is newer than every input. `npm run ci` builds just
 * before the tests, and this skips the second build (about 30 s of CI).
 * A checkout or edit gives a source a new mtime, so it always rebuilds then.
 */
function distIsFresh(): boolean {
  const inputs = [
    'src',
    'bin',
    'scripts/bundle.mjs',
    'scripts/gen-man.mjs',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ];
  const outputs = ['dist/bundle/gitopsd.js', 'dist/man/gitopsd.1', 'dist/cli/main.js'];
  const oldestOutput = Math.min(...outputs.map((o) => newest(join(root, o)) || -1));
  return oldestOutput > 0 && inputs.every((i) => newest(join(root, i)) < oldestOutput);
}

export default async function setup(): Promise<void> {
  if (distIsFresh()) process.stdout.write('dist/ is newer than every source: not building it again\n');
  else await build();
  await requireTools();
  process.stdout.write(`integration tools:\n${await describeTools()}\n  node ${process.version}\n`);
}

async function build(): Promise<void> {
  // tsc emits even when a file has type errors; those fail `npm run typecheck`
  // (a separate CI step), so here they only warn and the tests still run.
  const tsc = await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, reject: false, all: true });
  if (tsc.exitCode !== 0) process.stdout.write(`warning: tsc reported errors:\n${String(tsc.all)}\n`);
  // The bins run the bundle (scripts/bundle.mjs), as the installed package does.
  await execa('node', ['scripts/bundle.mjs'], { cwd: root, stdio: 'inherit' });
  // The man page is read back from the bundle's --help (test/integration/cli/conventions.test.ts).
  await execa('node', ['scripts/gen-man.mjs'], { cwd: root, stdio: 'inherit' });
}
